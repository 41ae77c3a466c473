package adminui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/open-feature/go-sdk/openfeature"
)

// TestBrowserReleasePlanLatencyChart opens a flag whose mean (latency)
// guarded plan a real SDK fed: the new variant's requests take 4 ms, the
// control's 2 ms, so the guard mean(http.server.request.duration)<=1.2x
// rolls the plan back at its first step. The flag page shows the guard
// chart for a mean guard: each variant's mean latency per minute as a line
// of points (the new one above the control), the start of the step, and
// the decision in words with both variants' n, mean and standard
// deviation; its numbers table has one row per minute; axe finds no
// serious or critical violation.
func TestBrowserReleasePlanLatencyChart(t *testing.T) {
	tb := newTab(t)
	s, p := startGuardedFlag(t, "slow-checkout", "Slow checkout")

	const event = "http.server.request.duration"
	plan := s.mustCall(t, "POST", "/api/v1/release-plans", map[string]any{
		"flagKey": "slow-checkout", "environment": "production",
		"steps": []map[string]any{{"percent": 30, "hold": "3600s"}, {"percent": 100, "hold": "3600s"}},
		"guard": map[string]any{"event": event, "measure": "GUARD_MEASURE_MEAN", "maxRatio": 1.2, "minSamples": 100},
	})["plan"].(map[string]any)
	id := fmt.Sprint(plan["id"])

	serveUsers(t, func(ctx context.Context, n int, user string) {
		d := p.BooleanEvaluation(ctx, "slow-checkout", false, openfeature.FlattenedContext{"targetingKey": user})
		seconds := 0.002 + 0.0002*float64(n%5) // 2.0 to 2.8 ms
		if d.Value {
			seconds *= 2
		}
		p.Track(ctx, event, openfeature.NewEvaluationContext(user, nil), openfeature.NewTrackingEventDetails(seconds))
	})
	waitSDK(t, "the plan rolled back", func() (bool, string) {
		got := s.mustCall(t, "GET", "/api/v1/environments/production/release-plans/"+id, nil)["plan"].(map[string]any)
		return got["state"] == "rolled_back", fmt.Sprint(got["state"], " step ", got["step"], " ", got["reason"])
	})

	signIn(tb, s, "#/flags/slow-checkout/env/production")
	tb.do("latency chart", chromedp.WaitVisible(chromedp.CSS(`[data-guard-chart][data-measure=mean] svg circle[data-arm=new]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-guard-chart][data-measure=mean] svg circle[data-arm=control]`)))
	if got := tb.text(`[data-plan-state]`); got != "rolled back" {
		t.Errorf("plan state %q", got)
	}
	if got := tb.text(`.release .hint`); !strings.Contains(got, "mean "+event+" at most 1.2× control's") {
		t.Errorf("guard described as %q", got)
	}
	label := eval[string](tb, `(() => { const svg = document.querySelector('[data-guard-chart] svg');
		return svg.getAttribute('role') + '|' + svg.getAttribute('tabindex') + '|' + document.getElementById(svg.getAttribute('aria-labelledby')).textContent; })()`)
	if !strings.HasPrefix(label, "img|0|Mean "+event+" of on (new) and off (control) per minute: latest minute: new 0.00") ||
		!strings.Contains(label, "Decision at step 1: regressed, new mean 0.00") || !strings.Contains(label, "vs control mean 0.00") ||
		!strings.Contains(label, "stddev 0.000") || !strings.Contains(label, "tolerated up to 0.00") || !strings.Contains(label, "against threshold") {
		t.Errorf("chart role|tabindex|label = %q; want a focusable image with both means and the regressed decision in words", label)
	}
	// The new variant's points lie above the control's (smaller y in SVG).
	above := eval[bool](tb, `(() => {
		const ys = (arm) => [...document.querySelectorAll('[data-guard-chart] svg circle[data-arm=' + arm + ']')].map((c) => +c.getAttribute('cy'));
		return Math.max(...ys('new')) < Math.min(...ys('control'));
	})()`)
	if !above {
		t.Error("the new variant's mean latency is not drawn above the control's")
	}
	if got := tb.text(`[data-guard-chart] figcaption`); !strings.Contains(got, "regressed") || !strings.Contains(got, "(n ") {
		t.Errorf("caption %q", got)
	}
	if n := eval[int](tb, `document.querySelectorAll('[data-guard-chart] [data-step-start="1"]').length`); n != 1 {
		t.Errorf("%d marks of step 1's start, want 1", n)
	}
	if n := eval[int](tb, `document.querySelectorAll('[data-guard-chart] table tbody tr[data-minute]').length`); n < 1 {
		t.Error("the numbers table has no minute")
	}
	tb.checkAxe("flag page with a latency guarded plan")
	tb.screenshot("flag-release-latency", 1280)
	if errs := tb.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}
