package metrics

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PlanSample is what the metrics show of one active release plan.
type PlanSample struct {
	ID          int64
	FlagKey     string
	Environment string
	State       string // scheduled, running or paused
	Step        int    // steps applied
	Percent     int    // the current step's percentage, 0 before the first
}

// WatchReleasePlans adds the series of active release plans, read with
// list at each scrape (bounded by a 2 s timeout):
// flagpole_release_plans{state} and, per plan,
// flagpole_release_plan_step and flagpole_release_plan_percent.
func (m *Metrics) WatchReleasePlans(list func(context.Context) ([]PlanSample, error)) {
	if m == nil {
		return
	}
	m.reg.MustRegister(planCollector{list})
}

var (
	plansDesc = prometheus.NewDesc("flagpole_release_plans",
		"Active release plans and scheduled changes by state (scheduled, running, paused).", []string{"state"}, nil)
	planStepDesc = prometheus.NewDesc("flagpole_release_plan_step",
		"Steps an active release plan has applied.", []string{"plan", "flag", "environment", "state"}, nil)
	planPercentDesc = prometheus.NewDesc("flagpole_release_plan_percent",
		"Percentage of contexts an active release plan serves the new variant.", []string{"plan", "flag", "environment", "state"}, nil)
)

type planCollector struct {
	list func(context.Context) ([]PlanSample, error)
}

func (c planCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- plansDesc
	ch <- planStepDesc
	ch <- planPercentDesc
}

func (c planCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	plans, err := c.list(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(plansDesc, err)
		return
	}
	byState := map[string]int{"scheduled": 0, "running": 0, "paused": 0}
	for _, p := range plans {
		byState[p.State]++
		labels := []string{strconv.FormatInt(p.ID, 10), p.FlagKey, p.Environment, p.State}
		ch <- prometheus.MustNewConstMetric(planStepDesc, prometheus.GaugeValue, float64(p.Step), labels...)
		ch <- prometheus.MustNewConstMetric(planPercentDesc, prometheus.GaugeValue, float64(p.Percent), labels...)
	}
	for state, n := range byState {
		ch <- prometheus.MustNewConstMetric(plansDesc, prometheus.GaugeValue, float64(n), state)
	}
}
