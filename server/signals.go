package server

import (
	"context"
	"encoding/json"
	"math"
	"time"

	"github.com/flagpole/flagpole/sdk/engine"
)

// Exposure is the Event of a SignalCount of exposures: evaluations of the flag
// that served the variant. Tracked events always have a name.
const Exposure = ""

// SignalCount is a number of events (or exposures) within one minute for the
// contexts a flag served a variant, with the sum of the events' values and
// the sum of their squares (0 from SDKs that predate it).
type SignalCount struct {
	Environment string
	FlagKey     string
	Variant     string
	Event       string    // Exposure for exposures
	Minute      time.Time // start of the minute, UTC
	Count       int64
	Sum         float64
	SumSquares  float64
}

// Mean is the mean value of the events, 0 without events.
func (c SignalCount) Mean() float64 {
	if c.Count <= 0 {
		return 0
	}
	return c.Sum / float64(c.Count)
}

// StdDev is the sample standard deviation of the events' values: 0 with
// fewer than two events, and 0 when the sum of squares is impossibly small
// (n·Σx² < (Σx)², e.g. SDKs that send none), beyond rounding.
func (c SignalCount) StdDev() float64 {
	if c.Count < 2 || !SumSquaresValid(c.Count, c.Sum, c.SumSquares) {
		return 0
	}
	n := float64(c.Count)
	return math.Sqrt(max(0, c.SumSquares-c.Sum*c.Sum/n) / (n - 1))
}

// SumSquaresValid reports whether sumSquares can be the sum of the squares
// of n values summing to sum: n·Σx² ≥ (Σx)² (Cauchy–Schwarz), with a
// relative slack for rounding. A zero sum of squares with a nonzero sum is
// invalid: the values were reported by an SDK that does not send squares.
func SumSquaresValid(n int64, sum, sumSquares float64) bool {
	if n <= 0 {
		return sum == 0 && sumSquares == 0
	}
	if math.IsNaN(sumSquares) || math.IsInf(sumSquares, 0) || sumSquares < 0 {
		return false
	}
	lhs, rhs := float64(n)*sumSquares, sum*sum
	return lhs >= rhs*(1-1e-9)
}

// SignalStore persists signal counts. server/sqlite and server/postgres
// implement it.
type SignalStore interface {
	// AddSignals adds counts to the stored ones in one transaction. Counts
	// of environments, flags or variants that do not exist are dropped.
	// Counts of minutes before pruneBefore are deleted.
	AddSignals(ctx context.Context, counts []SignalCount, pruneBefore time.Time) error
	// ListSignals returns a flag's counts in environment from the minute of
	// since on, sorted by minute, variant and event (exposures first).
	ListSignals(ctx context.Context, environment, flagKey string, since time.Time) ([]SignalCount, error)
}

// SignalRetention is how long signal counts are kept.
const SignalRetention = 7 * 24 * time.Hour

// DefinedVariants returns the variant keys of a stored flag definition (the JSON
// of engine.Flag), with a boolean flag's implicit on and off, or nil when
// it cannot be decoded. Stores use it to drop counts of unknown variants.
func DefinedVariants(definition []byte) map[string]bool {
	var f engine.Flag
	if err := json.Unmarshal(definition, &f); err != nil {
		return nil
	}
	out := make(map[string]bool, max(len(f.Variants), 2))
	for _, v := range f.Variants {
		out[v.Key] = true
	}
	if len(f.Variants) == 0 && f.Type == engine.TypeBoolean {
		out["on"], out["off"] = true, true
	}
	return out
}
