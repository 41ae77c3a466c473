package service_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/service"
)

func release(steps ...int) []server.PlanStep {
	out := make([]server.PlanStep, len(steps))
	for i, p := range steps {
		out[i] = server.PlanStep{Percent: p, Hold: time.Minute}
	}
	return out
}

func TestCreatePlanValidation(t *testing.T) {
	f := newFixture(t)
	f.createFlag(boolFlag("checkout"))
	f.createFlag(stringFlag("theme", "light", "dark"))
	ok := service.PlanRequest{FlagKey: "checkout", Environment: "staging", Steps: release(5, 50, 100)}
	guard := &server.GuardSpec{Event: "error", MaxRatio: 1.2, MinSamples: 500}
	past := time.Now().Add(-time.Hour)
	tests := []struct {
		name  string
		edit  func(r *service.PlanRequest)
		code  string
		field string
	}{
		{"no environment", func(r *service.PlanRequest) { r.Environment = "" }, server.EINVALID, "environment"},
		{"no flag", func(r *service.PlanRequest) { r.FlagKey = "" }, server.EINVALID, "flag_key"},
		{"unknown environment", func(r *service.PlanRequest) { r.Environment = "qa" }, server.ENOTFOUND, ""},
		{"unknown flag", func(r *service.PlanRequest) { r.FlagKey = "nope" }, server.ENOTFOUND, ""},
		{"empty steps", func(r *service.PlanRequest) { r.Steps = nil }, server.EINVALID, "steps"},
		{"step over 100", func(r *service.PlanRequest) { r.Steps = release(5, 150) }, server.EINVALID, "steps[1].percent"},
		{"step zero", func(r *service.PlanRequest) { r.Steps = release(0, 100) }, server.EINVALID, "steps[0].percent"},
		{"steps not increasing", func(r *service.PlanRequest) { r.Steps = release(5, 50, 50, 100) }, server.EINVALID, "steps[2].percent"},
		{"steps decreasing", func(r *service.PlanRequest) { r.Steps = release(50, 5, 100) }, server.EINVALID, "steps[1].percent"},
		{"last step not 100", func(r *service.PlanRequest) { r.Steps = release(5, 50) }, server.EINVALID, "steps[1].percent"},
		{"hold under 1s", func(r *service.PlanRequest) {
			r.Steps = release(5, 100)
			r.Steps[0].Hold = 500 * time.Millisecond
		}, server.EINVALID, "steps[0].hold"},
		{"unknown variant", func(r *service.PlanRequest) { r.Variant = "blue" }, server.EINVALID, "variant"},
		{"unknown control", func(r *service.PlanRequest) { r.Control = "blue" }, server.EINVALID, "control"},
		{"same variants", func(r *service.PlanRequest) { r.Variant, r.Control = "on", "on" }, server.EINVALID, "control"},
		{"string flag without variant", func(r *service.PlanRequest) { r.FlagKey = "theme" }, server.EINVALID, "variant"},
		{"start in the past", func(r *service.PlanRequest) { r.StartAt = past }, server.EINVALID, "start_at"},
		{"bad regression action", func(r *service.PlanRequest) { r.OnRegression = "panic" }, server.EINVALID, "on_regression"},
		{"unknown kind", func(r *service.PlanRequest) { r.Kind = "ramp" }, server.EINVALID, "kind"},
		{"guard without event", func(r *service.PlanRequest) { r.Guard = &server.GuardSpec{MaxRatio: 1.2, MinSamples: 1} }, server.EINVALID, "guard.event"},
		{"guard ratio under 1", func(r *service.PlanRequest) {
			r.Guard = &server.GuardSpec{Event: "error", MaxRatio: 0.5, MinSamples: 1}
		}, server.EINVALID, "guard.max_ratio"},
		{"guard without tolerance", func(r *service.PlanRequest) { r.Guard = &server.GuardSpec{Event: "error", MinSamples: 1} }, server.EINVALID, "guard.max_ratio"},
		{"guard negative diff", func(r *service.PlanRequest) { r.Guard = &server.GuardSpec{Event: "error", MaxDiff: -1, MinSamples: 1} }, server.EINVALID, "guard.max_diff"},
		{"guard without samples", func(r *service.PlanRequest) { r.Guard = &server.GuardSpec{Event: "error", MaxRatio: 2} }, server.EINVALID, "guard.min_samples"},
		{"guard unknown measure", func(r *service.PlanRequest) {
			r.Guard = &server.GuardSpec{Event: "latency", Measure: "median", MaxRatio: 1.2, MinSamples: 1}
		}, server.EINVALID, "guard.measure"},
		{"mean guard ratio under 1", func(r *service.PlanRequest) {
			r.Guard = &server.GuardSpec{Event: "latency", Measure: server.MeasureMean, MaxRatio: 0.9, MinSamples: 1}
		}, server.EINVALID, "guard.max_ratio"},
		{"mean guard negative excess", func(r *service.PlanRequest) {
			r.Guard = &server.GuardSpec{Event: "latency", Measure: server.MeasureMean, MaxRatio: 1.2, MaxDiff: -0.05, MinSamples: 1}
		}, server.EINVALID, "guard.max_diff"},
		{"schedule without time", func(r *service.PlanRequest) {
			r.Kind, r.Action, r.Steps = server.KindSchedule, server.ActionEnable, nil
		}, server.EINVALID, "start_at"},
		{"schedule with steps", func(r *service.PlanRequest) {
			r.Kind, r.Action, r.StartAt = server.KindSchedule, server.ActionEnable, time.Now().Add(time.Hour)
		}, server.EINVALID, "steps"},
		{"schedule unknown action", func(r *service.PlanRequest) {
			r.Kind, r.Action, r.Steps, r.StartAt = server.KindSchedule, "explode", nil, time.Now().Add(time.Hour)
		}, server.EINVALID, "action"},
		{"schedule serve without variant", func(r *service.PlanRequest) {
			r.Kind, r.Action, r.Steps, r.StartAt = server.KindSchedule, server.ActionServe, nil, time.Now().Add(time.Hour)
		}, server.EINVALID, "variant"},
		{"schedule serve unknown variant", func(r *service.PlanRequest) {
			r.Kind, r.Action, r.Steps, r.StartAt, r.Variant = server.KindSchedule, server.ActionServe, nil, time.Now().Add(time.Hour), "blue"
		}, server.EINVALID, "variant"},
		{"schedule with guard", func(r *service.PlanRequest) {
			r.Kind, r.Action, r.Steps, r.StartAt, r.Guard = server.KindSchedule, server.ActionEnable, nil, time.Now().Add(time.Hour), guard
		}, server.EINVALID, "guard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok
			tt.edit(&r)
			err := f.unchanged(func() error { _, err := f.svc.CreatePlan(f.ctx, r); return err })
			wantCode(t, err, tt.code, tt.field)
		})
	}
	plans, err := f.svc.ListPlans(f.ctx, server.PlanFilter{})
	if err != nil || len(plans) != 0 {
		t.Fatalf("after refused plans: %d plans, %v; want none", len(plans), err)
	}

	// The first plan is created; a second active one on the flag in that
	// environment is refused, naming the field.
	p, err := f.svc.CreatePlan(f.ctx, ok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Variant != "on" || p.Control != "off" || p.State != server.PlanScheduled || p.OnRegression != server.RegressControl {
		t.Errorf("created plan: variant %q control %q state %s on regression %q; want on, off, scheduled, control", p.Variant, p.Control, p.State, p.OnRegression)
	}
	err = f.unchanged(func() error { _, err := f.svc.CreatePlan(f.ctx, ok); return err })
	wantCode(t, err, server.EEXISTS, "flag_key")
	other := ok
	other.Environment = "development"
	if _, err := f.svc.CreatePlan(f.ctx, other); err != nil {
		t.Errorf("a plan of the flag in another environment: %v", err)
	}
}

func TestPlanPauseResumeCancel(t *testing.T) {
	f := newFixture(t)
	f.createFlag(boolFlag("checkout"))
	p, err := f.svc.CreatePlan(f.ctx, service.PlanRequest{FlagKey: "checkout", Environment: "staging", Steps: release(10, 100)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.GetPlan(f.ctx, "production", p.ID)
	wantCode(t, err, server.ENOTFOUND, "")
	err = f.unchanged(func() error { _, err := f.svc.ResumePlan(f.ctx, "staging", p.ID); return err })
	wantCode(t, err, server.EINVALID, "id")

	if p, err = f.svc.PausePlan(f.ctx, "staging", p.ID); err != nil || p.State != server.PlanPaused {
		t.Fatalf("PausePlan: %s, %v; want paused", p.State, err)
	}
	if p, err = f.svc.ResumePlan(f.ctx, "staging", p.ID); err != nil || p.State != server.PlanScheduled {
		t.Fatalf("ResumePlan of a plan that never started: %s, %v; want scheduled", p.State, err)
	}
	if p, err = f.svc.CancelPlan(f.ctx, "staging", p.ID); err != nil || p.State != server.PlanCancelled || p.EndedAt.IsZero() {
		t.Fatalf("CancelPlan: %s (ended %v), %v; want cancelled", p.State, p.EndedAt, err)
	}
	err = f.unchanged(func() error { _, err := f.svc.CancelPlan(f.ctx, "staging", p.ID); return err })
	wantCode(t, err, server.EINVALID, "id")

	var actions []string
	for _, e := range f.audit() {
		if e.Resource == "release_plan" {
			actions = append(actions, e.Action)
		}
	}
	want := []string{"release.cancel", "release.resume", "release.pause", "release.create"}
	if len(actions) != len(want) {
		t.Fatalf("plan audit actions %v, want %v", actions, want)
	}
	for i := range want {
		if actions[i] != want[i] {
			t.Errorf("plan audit actions %v, want %v", actions, want)
			break
		}
	}
}

func TestFlagUpdateKeepsPlanVariants(t *testing.T) {
	f := newFixture(t)
	theme := stringFlag("theme", "light", "dark", "blue")
	f.createFlag(theme)
	p, err := f.svc.CreatePlan(f.ctx, service.PlanRequest{FlagKey: "theme", Environment: "production",
		Steps: release(50, 100), Variant: "dark", Control: "blue"})
	if err != nil {
		t.Fatal(err)
	}
	theme.Variants = theme.Variants[:2]
	err = f.unchanged(func() error { _, err := f.svc.UpdateFlag(f.ctx, theme, 0); return err })
	if e := wantCode(t, err, server.EINVALID, "flag.variants"); !strings.Contains(e.Message, p.Name()) {
		t.Errorf("error %q does not name the plan", e.Message)
	}
	if _, err := f.svc.CancelPlan(f.ctx, "production", p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdateFlag(f.ctx, theme, 0); err != nil {
		t.Errorf("after the plan was cancelled: %v", err)
	}
}

// TestGuardedPlanMarksTheFlagGuardedWhileItRuns: a guarded plan's steps
// set Config.Guarded, so SDKs attribute tracked events; completing,
// rolling back and cancelling clear it, pausing keeps it.
func TestGuardedPlanMarksTheFlagGuardedWhileItRuns(t *testing.T) {
	f := newFixture(t)
	f.createFlag(boolFlag("checkout"))
	guard := &server.GuardSpec{Event: "error", MaxRatio: 1.2, MinSamples: 10}
	guarded := func() bool {
		t.Helper()
		c, err := f.svc.GetConfig(f.ctx, "staging", "checkout")
		if err != nil {
			t.Fatal(err)
		}
		return c.Guarded
	}
	start := func(g *server.GuardSpec) server.ReleasePlan {
		t.Helper()
		p, err := f.svc.CreatePlan(f.ctx, service.PlanRequest{FlagKey: "checkout", Environment: "staging", Steps: release(10, 100), Guard: g})
		if err != nil {
			t.Fatal(err)
		}
		if p, err = f.svc.AdvancePlan(f.ctx, p.ID, 0, nil); err != nil {
			t.Fatal(err)
		}
		return p
	}

	p := start(guard)
	if !guarded() {
		t.Fatal("step 1 of a guarded plan: not guarded")
	}
	if _, err := f.svc.PausePlan(f.ctx, "staging", p.ID); err != nil || !guarded() {
		t.Fatalf("paused (%v): guarded %v, want true", err, guarded())
	}
	if _, err := f.svc.CancelPlan(f.ctx, "staging", p.ID); err != nil || guarded() {
		t.Fatalf("cancelled (%v): guarded %v, want false", err, guarded())
	}

	p = start(guard)
	if _, err := f.svc.RollBackPlan(f.ctx, p.ID, 1, "errors", json.RawMessage(`{"verdict":"regressed"}`)); err != nil || guarded() {
		t.Fatalf("rolled back (%v): guarded %v, want false", err, guarded())
	}

	p = start(guard)
	if _, err := f.svc.AdvancePlan(f.ctx, p.ID, 1, nil); err != nil || !guarded() {
		t.Fatalf("step 2 (%v): guarded %v, want true", err, guarded())
	}
	if _, err := f.svc.CompletePlan(f.ctx, p.ID, nil); err != nil || guarded() {
		t.Fatalf("completed (%v): guarded %v, want false", err, guarded())
	}
	var unguards int
	for _, e := range f.audit() {
		if e.Resource == "config" && e.Action == "release.complete" {
			unguards++
			if e.Actor.Name != p.Name() {
				t.Errorf("the completing change's actor %q, want the plan", e.Actor.Name)
			}
		}
	}
	if unguards != 1 {
		t.Errorf("%d configuration changes on completion, want 1", unguards)
	}

	// An unguarded plan leaves the mark alone.
	start(nil)
	if guarded() {
		t.Error("an unguarded plan marked the flag guarded")
	}
}
