package releaseguard

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/release"
)

type store struct {
	counts []server.SignalCount
	since  []time.Time
}

func (s *store) ListSignals(_ context.Context, env, flag string, since time.Time) ([]server.SignalCount, error) {
	s.since = append(s.since, since)
	var out []server.SignalCount
	for _, c := range s.counts {
		if c.Environment == env && c.FlagKey == flag && !c.Minute.Before(since) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *store) add(minute time.Time, variant, event string, n int64) {
	s.counts = append(s.counts, server.SignalCount{Environment: "production", FlagKey: "checkout", Variant: variant, Event: event, Minute: minute, Count: n})
}

var t0 = time.Date(2026, 3, 1, 10, 15, 0, 0, time.UTC)

func plan(steps ...int) server.ReleasePlan {
	p := server.ReleasePlan{ID: 7, FlagKey: "checkout", Environment: "production", State: server.PlanRunning,
		PlanSpec: server.PlanSpec{Kind: server.KindRelease, Variant: "on", Control: "off",
			Guard: &server.GuardSpec{Event: "error", MaxRatio: 1.2, MinSamples: 500}}}
	for _, s := range steps {
		p.Steps = append(p.Steps, server.PlanStep{Percent: s, Hold: time.Minute})
	}
	return p
}

func evidence(t *testing.T, d release.Decision) Evidence {
	t.Helper()
	var e Evidence
	if err := json.Unmarshal(d.Evidence, &e); err != nil {
		t.Fatalf("evidence %s: %v", d.Evidence, err)
	}
	return e
}

func TestCheckJudgesTheStepWindow(t *testing.T) {
	st := &store{}
	st.add(t0.Add(-time.Minute), "on", "error", 10_000) // before the step: not counted
	st.add(t0, "off", server.Exposure, 5_000)
	st.add(t0, "off", "error", 50)
	st.add(t0, "on", server.Exposure, 2_000)
	st.add(t0, "on", "error", 600)
	st.add(t0, "on", "latency", 9_999) // another event
	st.add(t0, "other", "error", 9_999)
	j := &Judge{Signals: st, Now: func() time.Time { return t0.Add(30 * time.Second) }}
	p := plan(10, 50, 100)
	p.Step, p.StepStartedAt = 1, t0.Add(5*time.Second)
	d, err := j.Check(context.Background(), p, 1)
	if err != nil {
		t.Fatal(err)
	}
	e := evidence(t, d)
	if d.Verdict != release.Regressed || e.Control.Samples != 5_000 || e.Control.Events != 50 || e.New.Samples != 2_000 || e.New.Events != 600 || e.Step != 1 {
		t.Errorf("Check = %v %s", d.Verdict, d.Evidence)
	}
	if e.Alpha != 0.05/3 {
		t.Errorf("alpha %g, want the plan's 0.05 spent over 3 steps", e.Alpha)
	}
	if e.Mark == nil || !e.Mark.Minute.Equal(t0) || e.Mark.New.Exposures != 2_000 {
		t.Errorf("mark %+v", e.Mark)
	}

	// Equal rates pass once both arms have their samples.
	st2 := &store{}
	for _, v := range []string{"on", "off"} {
		st2.add(t0, v, server.Exposure, 20_000)
		st2.add(t0, v, "error", 200)
	}
	j.Signals = st2
	if d, err := j.Check(context.Background(), p, 1); err != nil || d.Verdict != release.Passing {
		t.Errorf("A/A: %v %v %s", err, d.Verdict, d.Evidence)
	}
	// Too few samples wait.
	st3 := &store{}
	st3.add(t0, "on", server.Exposure, 100)
	st3.add(t0, "off", server.Exposure, 10_000)
	j.Signals = st3
	if d, err := j.Check(context.Background(), p, 1); err != nil || d.Verdict != release.Waiting {
		t.Errorf("few samples: %v %v %s", err, d.Verdict, d.Evidence)
	}
}

func TestCheckLeavesOutWhatTheFirstMinuteHeldBefore(t *testing.T) {
	st := &store{}
	st.add(t0, "off", server.Exposure, 1_000)
	st.add(t0, "on", server.Exposure, 1_000)
	st.add(t0, "on", "error", 900)
	p := plan(10, 50, 100)
	// Step 1's passing decision marked the minute; step 2 began after it.
	prev, _ := json.Marshal(Evidence{Event: "error", Step: 1, Mark: &Mark{Minute: t0,
		Control: Counts{Exposures: 1_000}, New: Counts{Exposures: 1_000, Events: 900}}})
	p.Step, p.StepStartedAt, p.Evidence = 2, t0.Add(20*time.Second), prev
	st.add(t0, "off", server.Exposure, 600)
	st.add(t0, "on", server.Exposure, 600)
	j := &Judge{Signals: st, Now: func() time.Time { return t0.Add(40 * time.Second) }}
	d, err := j.Check(context.Background(), p, 2)
	if err != nil {
		t.Fatal(err)
	}
	if e := evidence(t, d); d.Verdict == release.Regressed || e.New.Samples != 600 || e.New.Events != 0 || e.Control.Samples != 600 {
		t.Errorf("Check = %v %s", d.Verdict, d.Evidence)
	}
}

func TestCheckJudgesTheLastStepAgainstTheStepBefore(t *testing.T) {
	p := plan(50, 100)
	prev, _ := json.Marshal(json.RawMessage(`{"verdict":"passing","control":{"samples":50000,"events":500},"new":{"samples":50000,"events":510},"event":"error","step":1}`))
	p.Step, p.StepStartedAt, p.Evidence = 2, t0, prev
	st := &store{}
	st.add(t0, "on", server.Exposure, 20_000)
	st.add(t0, "on", "error", 1_000) // 5% against a 1% baseline
	j := &Judge{Signals: st, Now: func() time.Time { return t0.Add(30 * time.Second) }}
	d, err := j.Check(context.Background(), p, 2)
	if err != nil {
		t.Fatal(err)
	}
	if e := evidence(t, d); d.Verdict != release.Regressed || !e.Baseline || e.Control.Samples != 50_000 {
		t.Errorf("Check = %v %s", d.Verdict, d.Evidence)
	}

	// Without evidence, the step before is re-read from the store.
	p.Evidence = nil
	p.StepStartedAt = t0.Add(2 * time.Minute)
	st.add(t0, "off", server.Exposure, 9_999) // before the step before (held a minute)
	st.add(t0.Add(2*time.Minute), "on", server.Exposure, 20_000)
	st.add(t0.Add(2*time.Minute), "on", "error", 200)
	st.add(t0.Add(time.Minute), "off", server.Exposure, 50_000)
	st.add(t0.Add(time.Minute), "off", "error", 500)
	j.Now = func() time.Time { return t0.Add(150 * time.Second) }
	d, err = j.Check(context.Background(), p, 2)
	if err != nil {
		t.Fatal(err)
	}
	if e := evidence(t, d); d.Verdict != release.Passing || !e.Baseline || e.Control.Samples != 50_000 || e.Control.Events != 500 || e.New.Samples != 20_000 {
		t.Errorf("re-read baseline: %v %s", d.Verdict, d.Evidence)
	}

	// A guarded plan of one 100% step has nothing to compare with.
	one := plan(100)
	one.Step, one.StepStartedAt = 1, t0
	if _, err := j.Check(context.Background(), one, 1); server.ErrorCode(err) != server.EINVALID {
		t.Errorf("one-step plan: %v, want EINVALID", err)
	}
}

// A plan started in a minute in which a previous plan of the flag failed
// (rolled back, say) is not judged on that plan's events: the mark taken
// at its start leaves them out of its first step.
func TestFirstStepLeavesOutThePreviousPlansMinute(t *testing.T) {
	st := &store{}
	st.add(t0, "off", server.Exposure, 2_000) // the previous plan, rolled back at t0+10s
	st.add(t0, "on", server.Exposure, 400)
	st.add(t0, "on", "error", 120)
	p := plan(10, 50, 100)
	p.State = server.PlanScheduled
	j := &Judge{Signals: st, Now: func() time.Time { return t0.Add(15 * time.Second) }}
	mark, err := j.Mark(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	p.State, p.Step, p.StepStartedAt, p.Evidence = server.PlanRunning, 1, t0.Add(15*time.Second), mark
	st.add(t0, "off", server.Exposure, 900) // this plan's first step, healthy
	st.add(t0, "on", server.Exposure, 600)
	st.add(t0, "on", "error", 1)
	j.Now = func() time.Time { return t0.Add(40 * time.Second) }
	d, err := j.Check(context.Background(), p, 1)
	if err != nil {
		t.Fatal(err)
	}
	if e := evidence(t, d); d.Verdict == release.Regressed || e.New.Samples != 600 || e.New.Events != 1 || e.Control.Samples != 900 {
		t.Errorf("Check = %v %s; want only the counts since the start", d.Verdict, d.Evidence)
	}
	// Without the mark the previous plan's errors decide.
	p.Evidence = nil
	if d, err := j.Check(context.Background(), p, 1); err != nil || d.Verdict != release.Regressed {
		t.Errorf("without the mark: %v %v %s; want the minute's earlier errors to regress it", err, d.Verdict, d.Evidence)
	}
}

// Mark stores what the server received before it reads the minute, so
// that counts not yet stored are in the mark too.
func TestMarkFlushesFirst(t *testing.T) {
	st := &store{}
	st.add(t0, "on", "error", 10)
	j := &Judge{Signals: st, Now: func() time.Time { return t0.Add(15 * time.Second) },
		Flush: func(context.Context) error { st.add(t0, "on", "error", 30); return nil }}
	b, err := j.Mark(context.Background(), plan(10, 100))
	if err != nil {
		t.Fatal(err)
	}
	var e Evidence
	if err := json.Unmarshal(b, &e); err != nil || e.Mark == nil || e.Mark.New.Events != 40 || e.Step != 0 || e.Event != "error" {
		t.Errorf("mark %s (%v): want the 40 errors of the minute, stored and flushed", b, err)
	}
}

func (s *store) addValues(minute time.Time, variant, event string, n int64, mean, sd float64) {
	s.counts = append(s.counts, server.SignalCount{Environment: "production", FlagKey: "checkout", Variant: variant, Event: event, Minute: minute,
		Count: n, Sum: float64(n) * mean, SumSquares: float64(n-1)*sd*sd + float64(n)*mean*mean})
}

// TestCheckMeanGuard: a mean guard judges the event's values (count, sum,
// sum of squares) per variant, not its rate; the evidence carries n, mean
// and standard deviation; the 100% step is judged against the control of
// the decision that advanced the plan; SDKs without sums of squares wait.
func TestCheckMeanGuard(t *testing.T) {
	mean := func(p server.ReleasePlan) server.ReleasePlan {
		p.Guard = &server.GuardSpec{Event: "http.server.request.duration", Measure: server.MeasureMean, MaxRatio: 1.2, MaxDiff: 0.05, MinSamples: 500}
		return p
	}
	const ev = "http.server.request.duration"
	check := func(st *store, p server.ReleasePlan, step int) (release.Decision, Evidence) {
		t.Helper()
		j := &Judge{Signals: st, Now: func() time.Time { return p.StepStartedAt.Add(30 * time.Second) }}
		d, err := j.Check(context.Background(), p, step)
		if err != nil {
			t.Fatal(err)
		}
		return d, evidence(t, d)
	}
	p := mean(plan(10, 100))
	p.Step, p.StepStartedAt = 1, t0

	// Twice as slow (0.2 s against 0.1 s; tolerated min(0.12, 0.15)).
	st := &store{}
	st.add(t0, "off", server.Exposure, 5_000)
	st.add(t0, "on", server.Exposure, 2_000)
	st.addValues(t0, "off", ev, 5_000, 0.1, 0.03)
	st.addValues(t0, "on", ev, 2_000, 0.2, 0.06)
	st.add(t0, "on", "error", 2_000) // a rate of 100% errors: not what a mean guard judges
	d, e := check(st, p, 1)
	if d.Verdict != release.Regressed || e.Measure != "mean" || e.Signal != "numeric" || e.New.Samples != 2_000 ||
		math.Abs(e.New.Mean-0.2) > 1e-9 || math.Abs(e.New.StdDev-0.06) > 1e-6 || math.Abs(e.Control.Mean-0.1) > 1e-9 ||
		math.Abs(e.Control.StdDev-0.03) > 1e-6 || math.Abs(e.Limit-0.12) > 1e-9 || e.Statistic < e.Threshold {
		t.Errorf("2× slower: %v %s", d.Verdict, d.Evidence)
	}
	if !strings.Contains(d.Reason, "tolerated min(1.2× control, control + 0.05) = 0.12") {
		t.Errorf("reason: %s", d.Reason)
	}

	// +30 ms is within the absolute tolerance (+50 ms) but above 1.2×:
	// the new mean must stay within both, as a rate must.
	st = &store{}
	st.addValues(t0, "off", ev, 5_000, 0.1, 0.03)
	st.addValues(t0, "on", ev, 2_000, 0.13, 0.03)
	if d, _ := check(st, p, 1); d.Verdict != release.Regressed {
		t.Errorf("+30 ms, above 1.2×: %v %s", d.Verdict, d.Evidence)
	}

	// Within both (+10 ms, 1.1×): passing.
	st = &store{}
	st.addValues(t0, "off", ev, 5_000, 0.1, 0.03)
	st.addValues(t0, "on", ev, 2_000, 0.11, 0.03)
	d, e = check(st, p, 1)
	if d.Verdict != release.Passing {
		t.Fatalf("+10 ms: %v %s", d.Verdict, d.Evidence)
	}

	// The 100% step against that decision's control: the same latency as
	// the baseline passes, twice it regresses.
	last := mean(plan(10, 100))
	t1 := t0.Add(time.Minute)
	last.Step, last.StepStartedAt, last.Evidence = 2, t1, d.Evidence
	st = &store{}
	st.addValues(t1, "on", ev, 3_000, 0.1, 0.03)
	if d, e := check(st, last, 2); d.Verdict != release.Passing || !e.Baseline || e.Control.Samples != 5_000 || math.Abs(e.Control.StdDev-0.03) > 1e-6 {
		t.Errorf("100%%, same latency: %v %s", d.Verdict, d.Evidence)
	}
	st = &store{}
	st.addValues(t1, "on", ev, 3_000, 0.2, 0.06)
	if d, _ := check(st, last, 2); d.Verdict != release.Regressed {
		t.Errorf("100%%, twice as slow: %v %s", d.Verdict, d.Evidence)
	}

	// An SDK that sends no sums of squares: waiting, and the evidence says so.
	st = &store{}
	st.addValues(t0, "off", ev, 5_000, 0.1, 0.03)
	st.counts = append(st.counts, server.SignalCount{Environment: "production", FlagKey: "checkout", Variant: "on", Event: ev, Minute: t0, Count: 2_000, Sum: 400})
	if d, e := check(st, p, 1); d.Verdict != release.Waiting || !strings.Contains(e.Reason, "sum of squares") {
		t.Errorf("no sums of squares: %v %s", d.Verdict, d.Evidence)
	}
	// No values yet: waiting for samples.
	if d, _ := check(&store{}, p, 1); d.Verdict != release.Waiting || !strings.Contains(d.Reason, "waiting for 500 observations") {
		t.Errorf("no values: %v %s", d.Verdict, d.Reason)
	}
}
