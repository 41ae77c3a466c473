package release_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/release"
	"github.com/flagpole/flagpole/server/service"
	"github.com/flagpole/flagpole/server/sqlite"
)

// clock is a manual clock shared by the service and the runner.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// judge is a fake Judge that returns what it is told, per step.
type judge struct {
	mu      sync.Mutex
	verdict map[int]release.Verdict
	checks  map[int]int
}

func (j *judge) set(step int, v release.Verdict) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.verdict[step] = v
}

func (j *judge) Check(_ context.Context, p server.ReleasePlan, step int) (release.Decision, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.checks[step]++
	v := j.verdict[step]
	ev, _ := json.Marshal(map[string]any{"verdict": v, "step": step, "control": map[string]int{"samples": 1000, "events": 10},
		"new": map[string]int{"samples": 1000, "events": 50}, "statistic": 9.1, "threshold": 5.3})
	return release.Decision{Verdict: v, Reason: "new 5% against control 1%", Evidence: ev}, nil
}

type fixture struct {
	t     *testing.T
	ctx   context.Context
	path  string
	clock *clock
	db    *sqlite.DB
	svc   *service.Service
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, ctx: t.Context(), path: filepath.Join(t.TempDir(), "flagpole.db"),
		clock: &clock{now: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}}
	f.open()
	if err := f.svc.EnsureDefaults(f.ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.CreateFlag(f.ctx, engine.Flag{Key: "checkout", Type: engine.TypeBoolean}); err != nil {
		t.Fatal(err)
	}
	return f
}

// open opens the database file (again: a restarted server).
func (f *fixture) open() {
	db, err := sqlite.Open(f.ctx, f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { db.Close() })
	f.db = db
	f.svc = service.New(db, service.WithClock(f.clock.Now))
}

func (f *fixture) runner(owner string, j release.Judge) *release.Runner {
	return &release.Runner{Service: f.svc, Judge: j, Owner: owner, Now: f.clock.Now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func (f *fixture) tick(r *release.Runner) {
	f.t.Helper()
	if err := r.Tick(f.ctx); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) plan(id int64) server.ReleasePlan {
	f.t.Helper()
	p, err := f.svc.GetPlan(f.ctx, "production", id)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// served returns the default serve of checkout in production as "on=P"
// (the new variant's percentage) or the single variant, and whether the
// flag is enabled.
func (f *fixture) served() (string, bool) {
	f.t.Helper()
	c, err := f.svc.GetConfig(f.ctx, "production", "checkout")
	if err != nil {
		f.t.Fatal(err)
	}
	if s := c.Default.Split; s != nil {
		b, _ := json.Marshal(s.Weights)
		return string(b), c.Enabled
	}
	return c.Default.Variant, c.Enabled
}

func (f *fixture) create(r service.PlanRequest) server.ReleasePlan {
	f.t.Helper()
	r.FlagKey, r.Environment = "checkout", "production"
	p, err := f.svc.CreatePlan(f.ctx, r)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func steps(hold time.Duration, percents ...int) []server.PlanStep {
	out := make([]server.PlanStep, len(percents))
	for i, p := range percents {
		out[i] = server.PlanStep{Percent: p, Hold: hold}
	}
	return out
}

// stepAudits returns the actor names of the configuration changes the
// plan made, oldest first.
func (f *fixture) stepAudits() []string {
	f.t.Helper()
	entries, _, err := f.svc.ListAudit(f.ctx, server.AuditFilter{Resource: "config", Key: "checkout", Environment: "production"}, "")
	if err != nil {
		f.t.Fatal(err)
	}
	var names []string
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.Actor.Kind == "system" && e.Actor.Source == "system" && strings.HasPrefix(e.Actor.Name, "release-plan/") {
			names = append(names, e.Actor.Name+" "+e.Action)
		}
	}
	return names
}

const (
	split10 = `[{"variant":"on","weight":10},{"variant":"off","weight":90}]`
	split50 = `[{"variant":"on","weight":50},{"variant":"off","weight":50}]`
)

func wantServed(t *testing.T, f *fixture, want string, enabled bool) {
	t.Helper()
	got, on := f.served()
	if got != want || on != enabled {
		t.Fatalf("served %s (enabled %v), want %s (enabled %v)", got, on, want, enabled)
	}
}

func wantState(t *testing.T, p server.ReleasePlan, state server.PlanState, step int) {
	t.Helper()
	if p.State != state || p.Step != step {
		t.Fatalf("plan %s at step %d (%s), want %s at step %d", p.State, p.Step, p.Reason, state, step)
	}
}

func TestRunnerAdvancesThroughSteps(t *testing.T) {
	f := newFixture(t)
	pub := &recorder{}
	f.svc = service.New(f.db, service.WithClock(f.clock.Now), service.WithPublisher(pub))
	p := f.create(service.PlanRequest{Steps: steps(time.Minute, 10, 50, 100), StartAt: f.clock.Now().Add(time.Minute)})
	r := f.runner("a", nil)

	f.tick(r)
	wantState(t, f.plan(p.ID), server.PlanScheduled, 0)
	f.clock.Add(time.Minute)
	f.tick(r)
	wantState(t, f.plan(p.ID), server.PlanRunning, 1)
	wantServed(t, f, split10, true)
	f.clock.Add(59 * time.Second)
	f.tick(r)
	wantState(t, f.plan(p.ID), server.PlanRunning, 1)
	f.clock.Add(time.Second)
	f.tick(r)
	wantState(t, f.plan(p.ID), server.PlanRunning, 2)
	wantServed(t, f, split50, true)
	f.clock.Add(time.Minute)
	f.tick(r)
	wantState(t, f.plan(p.ID), server.PlanRunning, 3)
	wantServed(t, f, "on", true)
	f.clock.Add(time.Minute)
	f.tick(r)
	got := f.plan(p.ID)
	wantState(t, got, server.PlanCompleted, 3)
	if got.EndedAt.IsZero() || got.StartedAt.IsZero() {
		t.Errorf("completed plan: started %v ended %v", got.StartedAt, got.EndedAt)
	}
	f.clock.Add(time.Minute)
	f.tick(r) // nothing left to do

	want := []string{"release-plan/1 step 1/3 release.step", "release-plan/1 step 2/3 release.step", "release-plan/1 step 3/3 release.step"}
	if got := f.stepAudits(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("plan changes in the audit:\n%v\nwant\n%v", got, want)
	}
	if n := len(pub.take()); n != 3 {
		t.Errorf("published %d changes, want one per step (3)", n)
	}
}

func TestRunnerResumesAfterRestart(t *testing.T) {
	f := newFixture(t)
	p := f.create(service.PlanRequest{Steps: steps(10*time.Minute, 10, 50, 100)})
	f.tick(f.runner("a", nil))
	f.clock.Add(10 * time.Minute)
	f.tick(f.runner("a", nil))
	wantState(t, f.plan(p.ID), server.PlanRunning, 2)

	// The server stops 4 minutes into step 2 and comes back 3 minutes
	// later, a new process with a new owner name: it waits for the old
	// lease, then holds step 2 for the remaining 3 minutes.
	f.clock.Add(4 * time.Minute)
	f.db.Close()
	f.clock.Add(3 * time.Minute)
	f.open()
	r := f.runner("b", nil)
	f.tick(r)
	wantState(t, f.plan(p.ID), server.PlanRunning, 2)
	wantServed(t, f, split50, true)
	f.clock.Add(2*time.Minute + 59*time.Second)
	f.tick(r)
	wantState(t, f.plan(p.ID), server.PlanRunning, 2)
	f.clock.Add(time.Second)
	f.tick(r)
	f.tick(r) // a second tick at the same time applies nothing twice
	wantState(t, f.plan(p.ID), server.PlanRunning, 3)
	want := []string{"release-plan/1 step 1/3 release.step", "release-plan/1 step 2/3 release.step", "release-plan/1 step 3/3 release.step"}
	if got := f.stepAudits(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("plan changes in the audit:\n%v\nwant\n%v", got, want)
	}
}

func TestRunnerLeaseOneReplica(t *testing.T) {
	f := newFixture(t)
	p := f.create(service.PlanRequest{Steps: steps(time.Second, 10, 50, 100)})
	a, b := f.runner("a", nil), f.runner("b", nil)
	f.tick(a)
	wantState(t, f.plan(p.ID), server.PlanRunning, 1)
	f.clock.Add(2 * time.Second)
	f.tick(b) // a holds the lease for 15 s
	wantState(t, f.plan(p.ID), server.PlanRunning, 1)
	f.tick(a)
	wantState(t, f.plan(p.ID), server.PlanRunning, 2)
	// a dies; b takes over once a's lease (renewed at +2 s) has run out.
	f.clock.Add(14 * time.Second)
	f.tick(b)
	wantState(t, f.plan(p.ID), server.PlanRunning, 2)
	f.clock.Add(2 * time.Second)
	f.tick(b)
	wantState(t, f.plan(p.ID), server.PlanRunning, 3)
	if got := f.plan(p.ID).LeaseOwner; got != "b" {
		t.Errorf("lease owner %q, want b", got)
	}
}

func TestManualChangePausesPlan(t *testing.T) {
	f := newFixture(t)
	p := f.create(service.PlanRequest{Steps: steps(time.Minute, 10, 50, 100)})
	r := f.runner("a", nil)
	f.tick(r)
	wantState(t, f.plan(p.ID), server.PlanRunning, 1)

	alice := server.NewContextWithActor(f.ctx, server.Actor{Kind: "user", Name: "alice", Source: "cli"})
	if _, err := f.svc.SetRollout(alice, "production", "checkout", service.Rollout{Percent: 30}, 0); err != nil {
		t.Fatal(err)
	}
	got := f.plan(p.ID)
	wantState(t, got, server.PlanPaused, 1)
	if !strings.Contains(got.Reason, "alice") {
		t.Errorf("pause reason %q does not name alice", got.Reason)
	}
	f.clock.Add(5 * time.Minute)
	f.tick(r)
	wantState(t, f.plan(p.ID), server.PlanPaused, 1)
	wantServed(t, f, `[{"variant":"on","weight":30},{"variant":"off","weight":70}]`, true)

	// Resuming re-applies step 1 and restarts its hold.
	if _, err := f.svc.ResumePlan(alice, "production", p.ID); err != nil {
		t.Fatal(err)
	}
	wantServed(t, f, split10, true)
	f.clock.Add(59 * time.Second)
	f.tick(r)
	wantState(t, f.plan(p.ID), server.PlanRunning, 1)
	f.clock.Add(time.Second)
	f.tick(r)
	wantState(t, f.plan(p.ID), server.PlanRunning, 2)
}

func TestGuardRegressionRollsBack(t *testing.T) {
	for _, action := range []string{server.RegressControl, server.RegressDisable} {
		t.Run(action, func(t *testing.T) {
			f := newFixture(t)
			j := &judge{verdict: map[int]release.Verdict{1: release.Passing, 2: release.Waiting}, checks: map[int]int{}}
			p := f.create(service.PlanRequest{Steps: steps(time.Minute, 10, 50, 100), OnRegression: action,
				Guard: &server.GuardSpec{Event: "error", MaxRatio: 1.2, MinSamples: 500}})
			r := f.runner("a", j)
			f.tick(r)
			f.clock.Add(time.Minute)
			f.tick(r)
			wantState(t, f.plan(p.ID), server.PlanRunning, 2)

			// Waiting for samples: the hold has passed but the step holds on.
			f.clock.Add(2 * time.Minute)
			f.tick(r)
			wantState(t, f.plan(p.ID), server.PlanRunning, 2)

			j.set(2, release.Regressed)
			f.tick(r)
			got := f.plan(p.ID)
			wantState(t, got, server.PlanRolledBack, 2)
			if !strings.Contains(string(got.Evidence), `"statistic":9.1`) || !strings.Contains(got.Reason, "new 5% against control 1%") {
				t.Errorf("rolled back plan: reason %q evidence %s", got.Reason, got.Evidence)
			}
			if action == server.RegressControl {
				wantServed(t, f, "off", true)
			} else {
				wantServed(t, f, split50, false)
			}
			entries, _, err := f.svc.ListAudit(f.ctx, server.AuditFilter{Resource: "release_plan", Environment: "production", Limit: 1}, "")
			if err != nil {
				t.Fatal(err)
			}
			if e := entries[0]; e.Action != "release.rollback" || e.Actor.Name != "release-plan/1" || !strings.Contains(string(e.After), `"statistic":9.1`) {
				t.Errorf("last plan audit entry %s by %s: %s; want release.rollback by release-plan/1 with the evidence", e.Action, e.Actor.Name, e.After)
			}
			if j.checks[1] < 1 || j.checks[2] < 2 {
				t.Errorf("guard checks per step %v: want every step checked on every tick", j.checks)
			}
			f.clock.Add(time.Hour)
			f.tick(r)
			wantState(t, f.plan(p.ID), server.PlanRolledBack, 2)
		})
	}
}

func TestScheduledChange(t *testing.T) {
	f := newFixture(t)
	at := f.clock.Now().Add(time.Hour)
	p := f.create(service.PlanRequest{Kind: server.KindSchedule, Action: server.ActionEnable, StartAt: at})
	r := f.runner("a", nil)
	f.clock.Add(59 * time.Minute)
	f.tick(r)
	wantServed(t, f, "on", false)
	f.clock.Add(time.Minute)
	f.tick(r)
	wantServed(t, f, "on", true)
	wantState(t, f.plan(p.ID), server.PlanCompleted, 1)
	if got := f.stepAudits(); len(got) != 1 || got[0] != "release-plan/1 step 1/1 release.step" {
		t.Errorf("scheduled change audit %v", got)
	}
}

// recorder is a Publisher that keeps every change.
type recorder struct {
	mu      sync.Mutex
	changes []server.Change
}

func (r *recorder) Publish(c server.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
}

func (r *recorder) take() []server.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.changes
	r.changes = nil
	return c
}

func TestRunnerStartStop(t *testing.T) {
	f := newFixture(t)
	p := f.create(service.PlanRequest{Steps: steps(time.Minute, 10, 100)})
	r := f.runner("a", nil)
	r.Interval = 10 * time.Millisecond
	r.Start()
	deadline := time.Now().Add(10 * time.Second)
	for f.plan(p.ID).State != server.PlanRunning {
		if time.Now().After(deadline) {
			t.Fatal("the started runner did not start the plan")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.Stop()
}

// badEventJudge refuses every check: the plan's event is unknown.
type badEventJudge struct{}

func (badEventJudge) Check(_ context.Context, p server.ReleasePlan, _ int) (release.Decision, error) {
	return release.Decision{}, server.Invalid("guard.event", "no signal %q is reported for flag %q", p.Guard.Event, p.FlagKey)
}

func TestPlanThatCannotMovePauses(t *testing.T) {
	f := newFixture(t)
	p := f.create(service.PlanRequest{Steps: steps(time.Minute, 50, 100),
		Guard: &server.GuardSpec{Event: "eror", MaxRatio: 1.2, MinSamples: 10}})
	r := f.runner("a", badEventJudge{})
	f.tick(r)
	wantState(t, f.plan(p.ID), server.PlanRunning, 1)
	f.tick(r)
	got := f.plan(p.ID)
	wantState(t, got, server.PlanPaused, 1)
	if !strings.Contains(got.Reason, `no signal "eror"`) {
		t.Errorf("reason %q does not say why", got.Reason)
	}
}

func TestRestartNeverSkipsGuardCheck(t *testing.T) {
	f := newFixture(t)
	p := f.create(service.PlanRequest{Steps: steps(time.Minute, 10, 100),
		Guard: &server.GuardSpec{Event: "error", MaxRatio: 1.2, MinSamples: 500}})
	first := &judge{verdict: map[int]release.Verdict{1: release.Passing}, checks: map[int]int{}}
	f.tick(f.runner("a", first))
	wantState(t, f.plan(p.ID), server.PlanRunning, 1)

	// Down for longer than the hold: the restarted server must still see
	// the guard pass before it takes step 2.
	f.db.Close()
	f.clock.Add(time.Hour)
	f.open()
	j := &judge{verdict: map[int]release.Verdict{1: release.Waiting}, checks: map[int]int{}}
	r := f.runner("b", j)
	f.tick(r)
	wantState(t, f.plan(p.ID), server.PlanRunning, 1)
	if j.checks[1] != 1 {
		t.Fatalf("after the restart step 1 was checked %d times, want 1", j.checks[1])
	}
	j.set(1, release.Passing)
	f.tick(r)
	wantState(t, f.plan(p.ID), server.PlanRunning, 2)
}

func TestStoppedRunnerHandsPlansOver(t *testing.T) {
	f := newFixture(t)
	p := f.create(service.PlanRequest{Steps: steps(time.Second, 10, 100)})
	a, b := f.runner("a", nil), f.runner("b", nil)
	f.tick(a)
	f.clock.Add(time.Second)
	f.tick(b)
	wantState(t, f.plan(p.ID), server.PlanRunning, 1) // a holds it
	a.Release(f.ctx)
	f.tick(b)
	got := f.plan(p.ID)
	wantState(t, got, server.PlanRunning, 2)
	if got.LeaseOwner != "b" {
		t.Errorf("lease owner %q after a handed the plan over, want b", got.LeaseOwner)
	}
}

// markingJudge is a judge that also marks plans as they start
// (release.Marker).
type markingJudge struct {
	*judge
	marked []int64
}

func (j *markingJudge) Mark(_ context.Context, p server.ReleasePlan) (json.RawMessage, error) {
	j.marked = append(j.marked, p.ID)
	return json.RawMessage(`{"mark":"at the start"}`), nil
}

// A guarded plan starts with its judge's mark as its evidence, which the
// judge of the first step reads.
func TestRunnerStoresTheStartMark(t *testing.T) {
	f := newFixture(t)
	j := &markingJudge{judge: &judge{verdict: map[int]release.Verdict{1: release.Waiting}, checks: map[int]int{}}}
	p := f.create(service.PlanRequest{Steps: steps(time.Minute, 10, 100), Guard: &server.GuardSpec{Event: "error", MaxRatio: 1.2, MinSamples: 500}})
	r := f.runner("a", j)
	f.tick(r)
	got := f.plan(p.ID)
	wantState(t, got, server.PlanRunning, 1)
	if string(got.Evidence) != `{"mark":"at the start"}` || len(j.marked) != 1 || j.marked[0] != p.ID {
		t.Errorf("started plan's evidence %s, marked %v; want the judge's mark", got.Evidence, j.marked)
	}
}
