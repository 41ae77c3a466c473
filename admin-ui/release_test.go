package adminui_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/server/daemon"
)

// TestBrowserReleasePlanTimelineAndChart opens a flag whose guarded release
// plan runs, fed by a real SDK: the control fails 1 request in 20, the new
// variant none (so the guard passes for certain and the plan advances to
// its second step, which holds for an hour). The flag page shows the plan's
// timeline with step 2 current, and the guard chart with both arms' rates
// and the passing decision of step 1, labelled; axe finds no serious or
// critical violation, and the chart is in the tab order. Pause, resume
// and cancel move the plan.
func TestBrowserReleasePlanTimelineAndChart(t *testing.T) {
	tb := newTab(t)
	s, p := startGuardedFlag(t, "guarded-checkout", "Guarded checkout")

	plan := s.mustCall(t, "POST", "/api/v1/release-plans", map[string]any{
		"flagKey": "guarded-checkout", "environment": "production",
		"steps": []map[string]any{{"percent": 20, "hold": "1s"}, {"percent": 50, "hold": "3600s"}, {"percent": 100, "hold": "3600s"}},
		"guard": map[string]any{"event": "error", "maxRatio": 1.5, "minSamples": 100},
	})["plan"].(map[string]any)
	id := fmt.Sprint(plan["id"])

	serveUsers(t, func(ctx context.Context, n int, user string) {
		d := p.BooleanEvaluation(ctx, "guarded-checkout", false, openfeature.FlattenedContext{"targetingKey": user})
		if !d.Value && n%20 == 0 {
			p.Track(ctx, "error", openfeature.NewEvaluationContext(user, nil), openfeature.TrackingEventDetails{})
		}
	})
	waitSDK(t, "the plan at step 2", func() (bool, string) {
		got := s.mustCall(t, "GET", "/api/v1/environments/production/release-plans/"+id, nil)["plan"].(map[string]any)
		return got["state"] == "running" && fmt.Sprint(got["step"]) == "2", fmt.Sprint(got["state"], " step ", got["step"], " ", got["reason"])
	})

	signIn(tb, s, "#/flags/guarded-checkout/env/production")
	tb.do("timeline and chart", chromedp.WaitVisible(chromedp.CSS(`[data-timeline] li[aria-current=step]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-guard-chart] svg rect[data-arm=control]`)))
	if got := eval[string](tb, `document.querySelector('[data-timeline] li[aria-current=step]').dataset.step`); got != "2" {
		t.Errorf("current step %q, want 2", got)
	}
	steps := eval[[]string](tb, `[...document.querySelectorAll('[data-timeline] li')].map((li) => li.dataset.stepStatus)`)
	if len(steps) != 3 || steps[0] != "done" || steps[1] != "current, running" || steps[2] != "pending" {
		t.Errorf("timeline %q, want done, current, pending", steps)
	}
	if got := tb.text(`[data-plan-state]`); got != "running" {
		t.Errorf("plan state %q", got)
	}
	if got := tb.text(`[data-timeline] li[data-step="2"]`); !strings.Contains(got, "hold 1h") {
		t.Errorf("step 2 reads %q, want its hold as 1h", got)
	}
	if got := tb.text(`[data-timeline] li[data-step="1"]`); !strings.Contains(got, "20%") || !strings.Contains(got, "applied") {
		t.Errorf("step 1 reads %q, want its percentage and when it was applied", got)
	}
	label := eval[string](tb, `(() => { const svg = document.querySelector('[data-guard-chart] svg');
		return svg.getAttribute('role') + '|' + svg.getAttribute('tabindex') + '|' + document.getElementById(svg.getAttribute('aria-labelledby')).textContent; })()`)
	if !strings.HasPrefix(label, "img|0|") || !strings.Contains(label, "step 1 (20%): new 0.00%, control ") || strings.Contains(label, "control 0.00%") || !strings.Contains(label, "Decision at step 1: passing") {
		t.Errorf("chart role|tabindex|label = %q; want a focusable image naming step 1's rates and the decision", label)
	}
	if got := eval[string](tb, `document.querySelector('[data-guard-chart] [data-decided]').getAttribute('data-decided')`); got != "passing" {
		t.Errorf("decided step marked %q", got)
	}
	if got := eval[int](tb, `document.querySelectorAll('[data-guard-chart] table tbody tr').length`); got != 3 {
		t.Errorf("numbers table has %d rows, want one per step", got)
	}
	// The chart is reached by Tab: focus moves onto it from the control before.
	focused := eval[bool](tb, `(() => { const svg = document.querySelector('[data-guard-chart] svg'); svg.focus(); return document.activeElement === svg; })()`)
	if !focused {
		t.Error("the guard chart cannot take the keyboard focus")
	}
	tb.checkAxe("flag page with a release plan")
	tb.checkLabels("flag page with a release plan")
	tb.screenshot("flag-release-plan", 1280)

	// Pause, resume and cancel from the panel; the plan's state follows.
	planState := func() string {
		return fmt.Sprint(s.mustCall(t, "GET", "/api/v1/environments/production/release-plans/"+id, nil)["plan"].(map[string]any)["state"])
	}
	// production is protected: each asks first.
	confirmed := func(action, then string) {
		t.Helper()
		tb.do(action, chromedp.Click(chromedp.CSS(`[data-action=release-`+action+`]`)),
			chromedp.WaitVisible(chromedp.CSS(`dialog[open] [data-confirm]`)))
		if action == "cancel" {
			tb.checkAxe("cancel confirmation")
		}
		tb.do("confirm "+action, chromedp.Click(chromedp.CSS(`dialog[open] [data-confirm]`)), chromedp.WaitVisible(chromedp.CSS(then)))
	}
	confirmed("pause", `[data-action=release-resume]`)
	if got := planState(); got != "paused" || tb.text(`[data-plan-state]`) != "paused" {
		t.Errorf("after Pause the plan is %s, the page says %q", got, tb.text(`[data-plan-state]`))
	}
	confirmed("resume", `[data-action=release-pause]`)
	if got := planState(); got != "running" {
		t.Errorf("after Resume the plan is %s", got)
	}
	confirmed("cancel", `[data-plan-state=cancelled]`)
	if got := planState(); got != "cancelled" {
		t.Errorf("after Cancel the plan is %s", got)
	}
	if n := eval[int](tb, `document.querySelectorAll('[data-action^=release-]').length`); n != 0 {
		t.Errorf("%d plan buttons on an ended plan", n)
	}
	if errs := tb.pageErrors(); len(errs) > 0 {
		t.Errorf("page errors: %q", errs)
	}
}

// startGuardedFlag starts a server whose release runner and signal store
// act within a tenth of a second, creates the flag, and connects a real SDK
// to production that reports tracked events every 50 ms.
func startGuardedFlag(t *testing.T, key, name string) (*testServer, *sdk.Provider) {
	t.Helper()
	s := startServer(t, func(c *daemon.Config) {
		c.ReleaseInterval = 50 * time.Millisecond
		c.UsageFlushInterval = 100 * time.Millisecond
	})
	s.createFlag(t, key, name, "")
	tok := s.mustCall(t, "POST", "/api/v1/tokens", map[string]any{"name": key + "-sdk", "scope": "sdk", "environments": []string{"production"}})
	p, err := sdk.NewProvider(s.GRPCAddr, sdk.WithToken(tok["secret"].(string)), sdk.WithServiceName("checkout"),
		sdk.WithTrackFlushInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := p.InitWithContext(ctx, openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.ShutdownWithContext(context.Background()) })
	return s, p
}

// serveUsers calls serve for user-0, user-1, … until the test ends, pausing
// 5 ms every 50 users.
func serveUsers(t *testing.T, serve func(ctx context.Context, n int, user string)) {
	ctx, stop := context.WithCancel(context.Background())
	var load sync.WaitGroup
	t.Cleanup(func() { stop(); load.Wait() })
	load.Go(func() {
		for n := 0; ctx.Err() == nil; n++ {
			serve(ctx, n, fmt.Sprint("user-", n))
			if n%50 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	})
}
