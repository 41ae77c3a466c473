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
			{ID: 7, FlagKey: "checkout", Environment: "production", State: "running", Step: 2, Percent: 25},
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
}
