package usage

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/flagpole/flagpole/server"
)

// Why a flag is stale.
const (
	StaleNeverEvaluated = "never_evaluated" // no evaluation recorded since it was created, long ago
	StaleNotEvaluated   = "not_evaluated"   // last evaluated long ago
	StaleSingleVariant  = "single_variant"  // served one variant to everyone for long
)

// DefaultStaleAfter is how long a flag may go unevaluated, or serve a single
// variant, before it counts as stale.
const DefaultStaleAfter = 7 * 24 * time.Hour

// Verdict is a flag's usage in an environment with the staleness decision.
type Verdict struct {
	FlagUsage
	Stale       bool
	StaleReason string
	// EvaluationsLastDay sums the counts of Hourly in the last day.
	EvaluationsLastDay int64
}

// Judge decides whether a flag created at created is stale at now, given
// its usage u (zero when it was never evaluated).
func Judge(u FlagUsage, created, now time.Time, after time.Duration) (bool, string) {
	switch {
	case u.LastEvaluated.IsZero():
		if now.Sub(created) >= after {
			return true, StaleNeverEvaluated
		}
	case now.Sub(u.LastEvaluated) >= after:
		return true, StaleNotEvaluated
	case u.SingleVariant != "" && now.Sub(u.SingleVariantSince) >= after:
		return true, StaleSingleVariant
	}
	return false, ""
}

// FlagSource lists the flags (archived ones included) and the environments.
type FlagSource interface {
	ListFlags(ctx context.Context) ([]server.Flag, error)
	ListEnvironments(ctx context.Context) ([]string, error)
}

// Insights answers usage questions: the store's record plus the staleness
// decision for every flag, including those never evaluated.
type Insights struct {
	Store      Store
	Flags      FlagSource
	StaleAfter time.Duration    // DefaultStaleAfter when 0
	Now        func() time.Time // time.Now when nil
}

// Query selects verdicts; zero fields match everything.
type Query struct {
	Environment string
	FlagKey     string
	StaleOnly   bool
	// Hours is how many hours back the verdicts' Hourly goes: 0 means 24,
	// at most MaxHours.
	Hours int
}

// List returns a verdict per flag and environment, sorted by flag key then
// environment. Archived flags are left out: they are already retired.
func (in *Insights) List(ctx context.Context, q Query) ([]Verdict, error) {
	now, after := in.clock(), in.StaleAfter
	if after <= 0 {
		after = DefaultStaleAfter
	}
	flags, err := in.Flags.ListFlags(ctx)
	if err != nil {
		return nil, fmt.Errorf("usage: list flags: %w", err)
	}
	envs, err := in.Flags.ListEnvironments(ctx)
	if err != nil {
		return nil, fmt.Errorf("usage: list environments: %w", err)
	}
	if q.Environment != "" {
		if !contains(envs, q.Environment) {
			return nil, server.Errorf(server.ENOTFOUND, "environment %q not found", q.Environment)
		}
		envs = []string{q.Environment}
	}
	hours := q.Hours
	if hours == 0 {
		hours = 24
	}
	if hours < 0 || hours > MaxHours {
		return nil, server.Invalid("hours", "must be 0 (a day) to %d (a week), got %d", MaxHours, q.Hours)
	}
	day := now.Add(-24 * time.Hour)
	stored, err := in.Store.ListUsage(ctx, q.Environment, now.Add(-time.Duration(hours)*time.Hour))
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	byKey := make(map[[2]string]FlagUsage, len(stored))
	for _, u := range stored {
		byKey[[2]string{u.Environment, u.FlagKey}] = u
	}
	var out []Verdict
	found := false
	for _, f := range flags {
		if q.FlagKey != "" && f.Key != q.FlagKey {
			continue
		}
		found = true
		if f.Archived {
			continue
		}
		for _, env := range envs {
			u, ok := byKey[[2]string{env, f.Key}]
			if !ok {
				u = FlagUsage{Environment: env, FlagKey: f.Key}
			}
			v := Verdict{FlagUsage: u}
			v.Stale, v.StaleReason = Judge(u, f.CreatedAt, now, after)
			for _, h := range u.Hourly {
				if !h.Hour.Before(day) {
					v.EvaluationsLastDay += h.Count
				}
			}
			if q.StaleOnly && !v.Stale {
				continue
			}
			out = append(out, v)
		}
	}
	if q.FlagKey != "" && !found {
		return nil, server.Errorf(server.ENOTFOUND, "flag %q not found", q.FlagKey)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].FlagKey != out[j].FlagKey {
			return out[i].FlagKey < out[j].FlagKey
		}
		return out[i].Environment < out[j].Environment
	})
	return out, nil
}

func (in *Insights) clock() time.Time {
	if in.Now != nil {
		return in.Now()
	}
	return time.Now()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
