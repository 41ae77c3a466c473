package otelhook_test

import "golang.org/x/sys/unix"

// threadCPU is the CPU time the calling OS thread has used, in
// nanoseconds: unlike wall time, it does not grow while a busy machine
// runs something else.
func threadCPU() (int64, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return ts.Nano(), true
}
