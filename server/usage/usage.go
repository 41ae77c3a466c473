// Package usage keeps flag usage insights: per flag and environment, when it
// was last evaluated, by which services, and which variants it served hour by
// hour over the last day. SDKs count evaluations locally and report the counts
// on their sync stream; remote evaluations (OFREP) are recorded directly. The
// Aggregator sums reports in memory and flushes them to the Store
// periodically, so an evaluation never waits for the database.
//
// From that record the package decides which flags are stale: not evaluated
// for a while, or serving one single variant to everyone for a while. Those
// are the flags that are safe to delete.
package usage

import (
	"context"
	"time"
)

// Count is a number of evaluations of a flag that served a variant to a
// service within one hour.
type Count struct {
	Environment string
	FlagKey     string
	Service     string
	Variant     string
	Hour        time.Time // start of the hour, UTC
	Count       int64
	// First and Last bound the evaluations' times within the hour.
	First time.Time
	Last  time.Time
}

// FlagUsage is what is known about a flag's use in one environment.
type FlagUsage struct {
	Environment    string
	FlagKey        string
	FirstEvaluated time.Time
	LastEvaluated  time.Time
	Services       []ServiceUsage // by name
	Hourly         []HourlyCount  // by hour then variant, the last day only
	// SingleVariant is the only variant served since SingleVariantSince,
	// or "" once more than one variant was served in a flush.
	SingleVariant      string
	SingleVariantSince time.Time
}

// ServiceUsage is when a service last evaluated the flag.
type ServiceUsage struct {
	Name     string
	LastSeen time.Time
}

// HourlyCount is how often a variant was served within one hour.
type HourlyCount struct {
	Hour    time.Time
	Variant string
	Count   int64
}

// Store persists usage. server/sqlite implements it.
type Store interface {
	// AddUsage merges counts into the stored usage in one transaction:
	// last-evaluated times move forward, services are remembered with their
	// last time, hourly counts add up, and the single-variant streak is
	// kept, restarted or broken. Hourly counts older than pruneBefore are
	// deleted.
	AddUsage(ctx context.Context, counts []Count, pruneBefore time.Time) error
	// ListUsage returns the usage of every flag in environment, or in every
	// environment when it is "", sorted by environment and flag key.
	// Hourly counts before since are left out.
	ListUsage(ctx context.Context, environment string, since time.Time) ([]FlagUsage, error)
}

// Retention is how long hourly counts are kept: the week the flag page
// charts (MaxHours), and a day to spare.
const Retention = 8 * 24 * time.Hour

// MaxHours is the most hours of hourly counts a query may ask for: a week.
const MaxHours = 7 * 24

// FlagCounts are the counts of one flag in one environment from one batch,
// as a store writes them: the time span they cover and the variants served
// (errors, with an empty variant, excluded).
type FlagCounts struct {
	Environment, FlagKey string
	First, Last          time.Time
	Variants             map[string]bool
	Counts               []Count
}

// GroupByFlag groups a batch of counts by environment and flag, in the
// order each pair first appears.
func GroupByFlag(counts []Count) []*FlagCounts {
	byKey := map[[2]string]*FlagCounts{}
	var out []*FlagCounts
	for _, c := range counts {
		k := [2]string{c.Environment, c.FlagKey}
		g := byKey[k]
		if g == nil {
			g = &FlagCounts{Environment: c.Environment, FlagKey: c.FlagKey, First: c.First, Last: c.Last, Variants: map[string]bool{}}
			byKey[k] = g
			out = append(out, g)
		}
		if c.First.Before(g.First) {
			g.First = c.First
		}
		if c.Last.After(g.Last) {
			g.Last = c.Last
		}
		if c.Variant != "" {
			g.Variants[c.Variant] = true
		}
		g.Counts = append(g.Counts, c)
	}
	return out
}
