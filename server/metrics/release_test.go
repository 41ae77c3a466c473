package metrics_test

import (
	"context"
	"testing"

	"github.com/flagpole/flagpole/server/metrics"
)

func TestReleasePlanSeries(t *testing.T) {
	m := metrics.New()
	m.WatchReleasePlans(func(context.Context) ([]metrics.PlanSample, error) {
		return []metrics.PlanSample{
			{ID: 7, FlagKey: "checkout", Environment: "production", State: "running", Step: 2, Percent: 25,
				Guard: &metrics.GuardSample{Event: "error", Step: 2, ControlSamples: 900, ControlEvents: 9, NewSamples: 300, NewEvents: 15, Statistic: 2.5, Threshold: 3.7}},
			{ID: 8, FlagKey: "search", Environment: "staging", State: "scheduled"},
		}, nil
	})
	fams := scrape(t, m)
	if got := find(t, fams, "flagpole_release_plans", map[string]string{"state": "running"}).GetGauge().GetValue(); got != 1 {
		t.Errorf("running plans = %v, want 1", got)
	}
	if got := find(t, fams, "flagpole_release_plans", map[string]string{"state": "paused"}).GetGauge().GetValue(); got != 0 {
		t.Errorf("paused plans = %v, want 0", got)
	}
	labels := map[string]string{"plan": "7", "flag": "checkout", "environment": "production", "state": "running"}
	if got := find(t, fams, "flagpole_release_plan_step", labels).GetGauge().GetValue(); got != 2 {
		t.Errorf("step = %v, want 2", got)
	}
	if got := find(t, fams, "flagpole_release_plan_percent", labels).GetGauge().GetValue(); got != 25 {
		t.Errorf("percent = %v, want 25", got)
	}
	plan := map[string]string{"plan": "7", "flag": "checkout", "environment": "production", "step": "2"}
	with := func(kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range plan {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"flagpole_release_guard_samples", with("arm", "control"), 900},
		{"flagpole_release_guard_samples", with("arm", "new"), 300},
		{"flagpole_release_guard_events", with("arm", "control", "event", "error"), 9},
		{"flagpole_release_guard_events", with("arm", "new", "event", "error"), 15},
		{"flagpole_release_guard_statistic", plan, 2.5},
		{"flagpole_release_guard_threshold", plan, 3.7},
	} {
		if got := find(t, fams, c.name, c.labels).GetGauge().GetValue(); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "plan" && l.GetValue() == "8" && f.GetName() != "flagpole_release_plan_step" && f.GetName() != "flagpole_release_plan_percent" {
					t.Errorf("unguarded plan 8 has a %s series", f.GetName())
				}
			}
		}
	}
}
