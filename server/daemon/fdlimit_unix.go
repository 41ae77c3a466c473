//go:build unix

package daemon

import (
	"math"
	"syscall"
)

// descriptorLimit is the process's soft limit of open files, 0 if unknown.
func descriptorLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil || r.Cur > math.MaxInt32 {
		return 0
	}
	return int(r.Cur)
}
