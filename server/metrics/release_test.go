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
			{ID: 9, FlagKey: "latency", Environment: "production", State: "running", Step: 1, Percent: 5,
				Guard: &metrics.GuardSample{Event: "http.server.request.duration", Step: 1, ControlSamples: 900, NewSamples: 300,
					Mean: true, ControlMean: 0.1, NewMean: 0.2, Statistic: 9, Threshold: 3.7}},
		}, nil
	})
	fams := scrape(t, m)
	if got := find(t, fams, "flagpole_release_plans", map[string]string{"state": "running"}).GetGauge().GetValue(); got != 2 {
		t.Errorf("running plans = %v, want 2", got)
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
	// A mean guard shows each arm's mean instead of event counts.
	mean := map[string]string{"plan": "9", "flag": "latency", "environment": "production", "step": "1", "event": "http.server.request.duration"}
	for arm, want := range map[string]float64{"control": 0.1, "new": 0.2} {
		mean["arm"] = arm
		if got := find(t, fams, "flagpole_release_guard_mean", mean).GetGauge().GetValue(); got != want {
			t.Errorf("flagpole_release_guard_mean%v = %v, want %v", mean, got, want)
		}
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "plan" && l.GetValue() == "9" && f.GetName() == "flagpole_release_guard_events" {
					t.Errorf("mean-guarded plan 9 has a %s series", f.GetName())
				}
				if l.GetName() == "plan" && l.GetValue() == "8" && f.GetName() != "flagpole_release_plan_step" && f.GetName() != "flagpole_release_plan_percent" {
					t.Errorf("unguarded plan 8 has a %s series", f.GetName())
				}
			}
		}
	}
}
