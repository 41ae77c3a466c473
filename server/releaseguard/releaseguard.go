// Package releaseguard judges the guards of release plans: it implements
// release.Judge over the stored signal counts (server/signals) with the
// sequential test of server/guard.
//
// Decided:
//   - A step is judged on its own window: the counts since the step was
//     applied. Counts are stored per minute, so the window starts at the
//     minute of plan.StepStartedAt; what that minute held when the step
//     began is subtracted, from a mark the Judge leaves in the evidence of
//     the decision that advanced the plan (the runner stores that evidence
//     on the plan in the same move). The first step's mark is the one Mark
//     returns as the plan starts (the runner stores it with the start), so
//     the events of a previous plan of the flag in that minute are left
//     out. Mark first stores what the server has received (Flush), so
//     only counts of that plan still on their way from an SDK (reported
//     every 2 s) can land after the mark. Without a
//     mark (a resumed step) the window is the whole first minute: a few
//     seconds of the previous split at most.
//     Reports of SDKs arrive every few seconds, so the first seconds of a
//     window may still carry the previous split's events; with holds of
//     minutes this is negligible.
//   - Rates: exposures are the counts of event signals.Exposure; events
//     those of the guard's event name.
//   - Means (GuardSpec.Measure mean, e.g. latency): the observations are
//     the guard's event's count, sum and sum of squares per variant, judged
//     with Guard.JudgeNumeric (JudgeNumericBaseline at 100%); exposures do
//     not count. An event that carries no values yet waits for samples; a
//     sum of squares that cannot belong to the values (SDKs that predate
//     it send 0) waits too, and the evidence says why.
//   - The plan's Alpha (guard.DefaultAlpha unless set) is spent across its
//     steps with Guard.ForSteps(len(plan.Steps)).
//   - The 100% step has no control group left: it is judged with
//     Guard.JudgeBaseline against the control counts of the step before,
//     taken from the control arm of the decision that advanced the plan to
//     it (on the plan's evidence; for a mean, its count, mean and standard
//     deviation give back the sums). When there is none (the runner had no
//     evidence to store), the previous step's window is re-read from the
//     store: from the minute of its start (StepStartedAt minus its hold)
//     up to the minute of this step's start. A plan whose only step is
//     100% has no baseline: Check returns an EINVALID error, which pauses
//     the plan for a person.
package releaseguard

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/guard"
	"github.com/flagpole/flagpole/server/release"
)

// Signals is what the Judge reads of the signal store (server.SignalStore's
// read half).
type Signals interface {
	ListSignals(ctx context.Context, environment, flagKey string, since time.Time) ([]server.SignalCount, error)
}

// Judge implements release.Judge.
type Judge struct {
	Signals Signals
	// Alpha is the plan-wide false-rollback bound (default 0.05, the guard's
	// default when 0).
	Alpha float64
	// Now is the clock (default time.Now); must be the service's.
	Now func() time.Time
	// Flush, when set, stores the counts received but not stored yet;
	// Mark calls it first, so that they are in the mark (serve: the signal
	// aggregator's Flush).
	Flush func(context.Context) error
}

var (
	_ release.Judge  = (*Judge)(nil)
	_ release.Marker = (*Judge)(nil)
)

// Counts are one variant's exposures and events in a window, and the sum
// and sum of squares of the events' values (mean guards).
type Counts struct {
	Exposures  int64   `json:"exposures"`
	Events     int64   `json:"events"`
	Sum        float64 `json:"sum,omitempty"`
	SumSquares float64 `json:"sumSquares,omitempty"`
}

// Mark is what the minute of a decision held when it was made, per
// variant, so that the window of the step that follows can leave it out.
type Mark struct {
	Minute  time.Time `json:"minute"`
	Control Counts    `json:"control"`
	New     Counts    `json:"new"`
}

// Evidence is a guard.Decision with the step it judged and the Mark; it is
// what Check returns as the release.Decision's evidence.
type Evidence struct {
	guard.Decision
	Event string `json:"event"`
	// Measure is the guard's: "rate" or "mean".
	Measure string `json:"measure,omitempty"`
	Step    int    `json:"step"`
	Mark    *Mark  `json:"mark,omitempty"`
}

func (j *Judge) now() time.Time {
	if j.Now != nil {
		return j.Now()
	}
	return time.Now()
}

// Check judges step (1-based) of running plan p.
func (j *Judge) Check(ctx context.Context, p server.ReleasePlan, step int) (release.Decision, error) {
	if p.Guard == nil {
		return release.Decision{Verdict: release.Passing, Reason: "no guard"}, nil
	}
	if step < 1 || step > len(p.Steps) {
		return release.Decision{}, server.Invalid("step", "release plan %d has no step %d", p.ID, step)
	}
	g := guard.Guard{MaxRatio: p.Guard.MaxRatio, MaxDiff: p.Guard.MaxDiff, MinSamples: p.Guard.MinSamples, Alpha: j.Alpha}
	if err := g.Validate(); err != nil {
		return release.Decision{}, server.Invalid("guard", "%v", err)
	}
	g = g.ForSteps(len(p.Steps))

	now := j.now().UTC()
	start := p.StepStartedAt.UTC().Truncate(time.Minute)
	counts, err := j.Signals.ListSignals(ctx, p.Environment, p.FlagKey, start)
	if err != nil {
		return release.Decision{}, err
	}
	control, treatment := sum(counts, p, start, time.Time{})
	var prev *Evidence
	if len(p.Evidence) > 0 {
		var e Evidence
		if json.Unmarshal(p.Evidence, &e) == nil && e.Event == p.Guard.Event {
			prev = &e
		}
	}
	// Leave out what the step's first minute held before the step began.
	if prev != nil && prev.Mark != nil && prev.Step == step-1 && prev.Mark.Minute.Equal(start) {
		control = minus(control, prev.Mark.Control)
		treatment = minus(treatment, prev.Mark.New)
	}
	minute := now.Truncate(time.Minute)
	mc, mn := sum(counts, p, minute, minute.Add(time.Minute))
	ev := Evidence{Event: p.Guard.Event, Measure: measure(*p.Guard), Step: step, Mark: &Mark{Minute: minute, Control: mc, New: mn}}

	if p.Steps[step-1].Percent < 100 {
		if p.Guard.Mean() {
			ev.Decision = g.JudgeNumeric(numeric(control), numeric(treatment))
		} else {
			ev.Decision = g.Judge(rates(control), rates(treatment))
		}
		return decision(ev)
	}
	if step == 1 {
		return release.Decision{}, server.Invalid("steps", "a guarded release needs a step before 100%%: its control counts are the baseline of the last step")
	}
	var base Counts
	if prev != nil && prev.Step == step-1 && !prev.Baseline && (prev.Measure == measure(*p.Guard) || prev.Measure == "" && !p.Guard.Mean()) {
		base = Counts{Exposures: prev.Control.Samples, Events: prev.Control.Events}
		if p.Guard.Mean() {
			// The decision's count, mean and standard deviation give back
			// the sums.
			n, m, sd := float64(prev.Control.Samples), prev.Control.Mean, prev.Control.StdDev
			base = Counts{Events: prev.Control.Samples, Sum: n * m, SumSquares: max(n-1, 0)*sd*sd + n*m*m}
		}
	} else {
		// Re-read the previous step's window.
		from := p.StepStartedAt.Add(-p.Steps[step-2].Hold).UTC().Truncate(time.Minute)
		old, err := j.Signals.ListSignals(ctx, p.Environment, p.FlagKey, from)
		if err != nil {
			return release.Decision{}, err
		}
		base, _ = sum(old, p, from, start)
	}
	if p.Guard.Mean() {
		ev.Decision = g.JudgeNumericBaseline(numeric(base), numeric(treatment))
	} else {
		ev.Decision = g.JudgeBaseline(rates(base), rates(treatment))
	}
	return decision(ev)
}

// Mark returns the evidence to store on plan p as it starts: what the
// current minute holds, as the mark of step 0.
func (j *Judge) Mark(ctx context.Context, p server.ReleasePlan) (json.RawMessage, error) {
	if p.Guard == nil {
		return nil, nil
	}
	if j.Flush != nil {
		if err := j.Flush(ctx); err != nil {
			return nil, err
		}
	}
	minute := j.now().UTC().Truncate(time.Minute)
	counts, err := j.Signals.ListSignals(ctx, p.Environment, p.FlagKey, minute)
	if err != nil {
		return nil, err
	}
	mc, mn := sum(counts, p, minute, minute.Add(time.Minute))
	// Only what Check reads of it (as an Evidence of step 0), and why.
	b, err := json.Marshal(struct {
		Reason string `json:"reason"`
		Event  string `json:"event"`
		Step   int    `json:"step"`
		Mark   *Mark  `json:"mark"`
	}{"plan started: the counts of its first minute before the start are left out", p.Guard.Event, 0, &Mark{Minute: minute, Control: mc, New: mn}})
	if err != nil {
		return nil, fmt.Errorf("releaseguard: mark: %w", err)
	}
	return b, nil
}

func decision(ev Evidence) (release.Decision, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return release.Decision{}, fmt.Errorf("releaseguard: evidence: %w", err)
	}
	d := release.Decision{Reason: ev.Reason, Evidence: b}
	switch ev.Verdict {
	case guard.Passing:
		d.Verdict = release.Passing
	case guard.Regressed:
		d.Verdict = release.Regressed
	default:
		d.Verdict = release.Waiting
	}
	return d, nil
}

// sum adds the counts of p's control and new variants of minutes in
// [from, until) (until zero: no end).
func sum(counts []server.SignalCount, p server.ReleasePlan, from, until time.Time) (control, treatment Counts) {
	for _, c := range counts {
		if c.Minute.Before(from) || !until.IsZero() && !c.Minute.Before(until) {
			continue
		}
		var to *Counts
		switch c.Variant {
		case p.Control:
			to = &control
		case p.Variant:
			to = &treatment
		default:
			continue
		}
		switch c.Event {
		case server.Exposure:
			to.Exposures += c.Count
		case p.Guard.Event:
			to.Events += c.Count
			to.Sum += c.Sum
			to.SumSquares += c.SumSquares
		}
	}
	return control, treatment
}

func minus(a, b Counts) Counts {
	if a.Events <= b.Events {
		a.Sum, a.SumSquares = 0, 0
	} else {
		a.Sum -= b.Sum
		a.SumSquares = max(a.SumSquares-b.SumSquares, 0)
	}
	return Counts{Exposures: max(a.Exposures-b.Exposures, 0), Events: max(a.Events-b.Events, 0), Sum: a.Sum, SumSquares: a.SumSquares}
}

// numeric is a window's observations of a mean guard's event.
func numeric(c Counts) guard.Numeric {
	return guard.Numeric{N: c.Events, Sum: c.Sum, SumSq: c.SumSquares}
}

func measure(g server.GuardSpec) string {
	if g.Mean() {
		return server.MeasureMean
	}
	return server.MeasureRate
}

func rates(c Counts) guard.Rates {
	// Events beyond exposures (events tracked for contexts whose
	// evaluations were reported in another window) are capped, so a rate
	// stays a share.
	return guard.Rates{Exposures: c.Exposures, Events: min(c.Events, c.Exposures)}
}
