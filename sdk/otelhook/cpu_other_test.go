//go:build !linux

package otelhook_test

// threadCPU is unavailable here: the benchmarks report wall time only.
func threadCPU() (int64, bool) { return 0, false }
