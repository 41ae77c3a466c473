//go:build !unix

package serve_test

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
