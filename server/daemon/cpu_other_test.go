//go:build !unix

package daemon_test

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
