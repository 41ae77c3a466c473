//go:build !race

package ofrep_test

const raceEnabled = false
