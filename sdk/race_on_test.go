//go:build race

package sdk

// raceEnabled: the race detector makes sync.Pool drop objects at random, so
// allocation counts do not hold.
const raceEnabled = true
