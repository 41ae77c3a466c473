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
	Guard       *GuardSample
}

// GuardSample is the guard's last judgment of a plan's step: what each arm
// (control and the new variant) was exposed and how many guard events it
// saw, and the sequential test's statistic against its threshold (the plan
// rolls back when the statistic reaches it).
type GuardSample struct {
	Event                string
	Step                 int // the step judged
	ControlSamples       int64
	ControlEvents        int64
	NewSamples           int64
	NewEvents            int64
	Statistic, Threshold float64
	// Mean is set for a mean guard (latency): each arm's mean value of
	// Event in the judged window.
	Mean                 bool
	ControlMean, NewMean float64
}

// WatchReleasePlans adds the series of active release plans, read with
// list at each scrape (bounded by a 2 s timeout):
// flagpole_release_plans{state} and, per plan,
// flagpole_release_plan_step and flagpole_release_plan_percent, and per
// guarded plan once judged, flagpole_release_guard_samples{arm},
// flagpole_release_guard_events{arm,event}, flagpole_release_guard_statistic
// and flagpole_release_guard_threshold, and for a mean guard
// flagpole_release_guard_mean{arm,event}.
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
	guardSamplesDesc = prometheus.NewDesc("flagpole_release_guard_samples",
		"Exposures (rate guards) or observations (numeric guards) the guard last judged in the current step, by arm (control, new).",
		[]string{"plan", "flag", "environment", "step", "arm"}, nil)
	guardEventsDesc = prometheus.NewDesc("flagpole_release_guard_events",
		"Guard events the guard last judged in the current step, by arm (control, new).",
		[]string{"plan", "flag", "environment", "step", "arm", "event"}, nil)
	guardMeanDesc = prometheus.NewDesc("flagpole_release_guard_mean",
		"Mean value of the guard's event (mean guards, e.g. latency in seconds) the guard last judged in the current step, by arm (control, new).",
		[]string{"plan", "flag", "environment", "step", "arm", "event"}, nil)
	guardStatDesc = prometheus.NewDesc("flagpole_release_guard_statistic",
		"The guard's sequential test statistic (log mixture likelihood ratio) at its last judgment.",
		[]string{"plan", "flag", "environment", "step"}, nil)
	guardThresholdDesc = prometheus.NewDesc("flagpole_release_guard_threshold",
		"The statistic at which the guard rolls the plan back, log(1/alpha).",
		[]string{"plan", "flag", "environment", "step"}, nil)
)

type planCollector struct {
	list func(context.Context) ([]PlanSample, error)
}

func (c planCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- plansDesc
	ch <- planStepDesc
	ch <- planPercentDesc
	ch <- guardSamplesDesc
	ch <- guardEventsDesc
	ch <- guardMeanDesc
	ch <- guardStatDesc
	ch <- guardThresholdDesc
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
		if g := p.Guard; g != nil {
			id := append(labels[:3:3], strconv.Itoa(g.Step))
			for _, arm := range []struct {
				name            string
				samples, events int64
				mean            float64
			}{{"control", g.ControlSamples, g.ControlEvents, g.ControlMean}, {"new", g.NewSamples, g.NewEvents, g.NewMean}} {
				ch <- prometheus.MustNewConstMetric(guardSamplesDesc, prometheus.GaugeValue, float64(arm.samples), append(id[:4:4], arm.name)...)
				if g.Mean {
					ch <- prometheus.MustNewConstMetric(guardMeanDesc, prometheus.GaugeValue, arm.mean, append(id[:4:4], arm.name, g.Event)...)
				} else {
					ch <- prometheus.MustNewConstMetric(guardEventsDesc, prometheus.GaugeValue, float64(arm.events), append(id[:4:4], arm.name, g.Event)...)
				}
			}
			ch <- prometheus.MustNewConstMetric(guardStatDesc, prometheus.GaugeValue, g.Statistic, id...)
			ch <- prometheus.MustNewConstMetric(guardThresholdDesc, prometheus.GaugeValue, g.Threshold, id...)
		}
	}
	for state, n := range byState {
		ch <- prometheus.MustNewConstMetric(plansDesc, prometheus.GaugeValue, float64(n), state)
	}
}
