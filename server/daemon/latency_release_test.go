package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk/httpsignals"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/service"
)

// TestLatencyGuardedReleaseEndToEnd runs mean (latency) guarded release
// plans on the real server over real sockets: five service instances, each
// a real HTTP server wrapped by the SDK's httpsignals middleware with its
// own SDK connected to the server over gRPC, serve requests from real HTTP
// clients. The new variant of checkout takes twice as long (4 ms against
// 2 ms): its plan, guarded by mean(http.server.request.duration)<=1.2x, is
// rolled back with the mean evidence (per-variant n, mean, standard
// deviation, statistic, threshold) on the plan and in the audit trail.
// Search's new variant is as fast as its control: its plan completes.
func TestLatencyGuardedReleaseEndToEnd(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs release plans for several seconds")
	}
	srv, _, shop := startShop(t, 5, nil)
	ctx := context.Background()

	// Each instance: GET /checkout?user=U and GET /search?user=U, each
	// evaluating its flag for the user and sleeping the variant's latency.
	// Checkout's durations are tracked under the middleware's default
	// event, search's under its own.
	const searchEvent = "search.request.duration"
	latency := map[string]map[bool]time.Duration{
		"checkout": {true: 4 * time.Millisecond, false: 2 * time.Millisecond}, // the new variant is 2× slower
		"search":   {true: 2 * time.Millisecond, false: 2 * time.Millisecond}, // as fast as the control
	}
	var urls []string
	for _, p := range shop {
		mux := http.NewServeMux()
		for key, event := range map[string]string{"checkout": "", "search": searchEvent} {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				user := r.URL.Query().Get("user")
				httpsignals.SetContext(r.Context(), openfeature.NewEvaluationContext(user, nil))
				d := p.BooleanEvaluation(r.Context(), key, false, openfeature.FlattenedContext{"targetingKey": user})
				time.Sleep(latency[key][d.Value])
				io.WriteString(w, "ok\n")
			})
			mux.Handle("GET /"+key, (&httpsignals.Middleware{Tracker: p, DurationEvent: event, ErrorEvent: "-"}).Handler(h))
		}
		svc := httptest.NewServer(mux)
		t.Cleanup(svc.Close)
		urls = append(urls, svc.URL)
	}
	loadCtx, stop := context.WithCancel(ctx)
	var load sync.WaitGroup
	t.Cleanup(func() { stop(); load.Wait() })
	var requests atomic.Int64
	for i, url := range urls {
		for c := range 2 {
			load.Go(func() {
				client := &http.Client{Timeout: 5 * time.Second}
				for n := 0; loadCtx.Err() == nil; n++ {
					path := []string{"/checkout", "/search"}[n%2]
					req, _ := http.NewRequestWithContext(loadCtx, "GET", fmt.Sprintf("%s%s?user=u-%d-%d-%d", url, path, i, c, n), nil)
					resp, err := client.Do(req)
					if err != nil {
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					requests.Add(1)
				}
			})
		}
	}

	steps := []server.PlanStep{{Percent: 20, Hold: time.Second}, {Percent: 50, Hold: time.Second}, {Percent: 100, Hold: time.Second}}
	plans := map[string]server.ReleasePlan{}
	for key, event := range map[string]string{"checkout": httpsignals.DurationEvent, "search": searchEvent} {
		guard := &server.GuardSpec{Event: event, Measure: server.MeasureMean, MaxRatio: 1.2, MinSamples: 200}
		p, err := srv.Service.CreatePlan(ctx, service.PlanRequest{FlagKey: key, Environment: "production", Steps: steps, Guard: guard})
		if err != nil {
			t.Fatal(err)
		}
		plans[key] = p
	}
	ended := func(key string) server.ReleasePlan {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			p, err := srv.Service.GetPlan(ctx, "production", plans[key].ID)
			if err != nil {
				t.Fatal(err)
			}
			if !p.State.Active() {
				return p
			}
			if time.Now().After(deadline) {
				t.Fatalf("plan of %s still %s at step %d after 30 s (%d requests served): %s %s", key, p.State, p.Step, requests.Load(), p.Reason, p.Evidence)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	type arm struct {
		Samples int64   `json:"samples"`
		Mean    float64 `json:"mean"`
		StdDev  float64 `json:"stddev"`
	}
	type evidence struct {
		Verdict   string  `json:"verdict"`
		Measure   string  `json:"measure"`
		Signal    string  `json:"signal"`
		Baseline  bool    `json:"baseline"`
		Step      int     `json:"step"`
		Control   arm     `json:"control"`
		New       arm     `json:"new"`
		Statistic float64 `json:"statistic"`
		Threshold float64 `json:"threshold"`
		Limit     float64 `json:"limit"`
	}

	bad := ended("checkout")
	var ev evidence
	if err := json.Unmarshal(bad.Evidence, &ev); err != nil {
		t.Fatalf("evidence %s: %v", bad.Evidence, err)
	}
	if bad.State != server.PlanRolledBack || ev.Verdict != "regressed" || ev.Measure != "mean" || ev.Signal != "numeric" ||
		ev.Statistic < ev.Threshold || ev.New.Samples < 200 || ev.Control.Samples < 200 ||
		ev.New.Mean < 1.4*ev.Control.Mean || ev.Control.Mean < 0.002 || ev.New.StdDev <= 0 || ev.Control.StdDev <= 0 ||
		ev.New.Mean <= ev.Limit || !strings.Contains(bad.Reason, "rolled back") {
		t.Errorf("2× slower variant: plan %s (%s) with evidence %s; want rolled_back with the mean evidence", bad.State, bad.Reason, bad.Evidence)
	}
	c, err := srv.Service.GetConfig(ctx, "production", "checkout")
	if err != nil {
		t.Fatal(err)
	}
	if c.Default.Variant != "off" || c.Default.Split != nil {
		t.Errorf("after the rollback: %+v; want the control for everyone", c.Config)
	}
	entries, _, err := srv.Service.ListAudit(ctx, server.AuditFilter{Key: "checkout", Environment: "production"}, "")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if e.Action == "release.rollback" && e.Resource == "release_plan" {
			found = strings.Contains(string(e.After), `"measure":"mean"`) && strings.Contains(string(e.After), `"stddev"`)
		}
	}
	if !found {
		t.Error("no release.rollback audit entry of the plan with the mean evidence")
	}

	good := ended("search")
	ev = evidence{}
	if err := json.Unmarshal(good.Evidence, &ev); err != nil {
		t.Fatalf("evidence %s: %v", good.Evidence, err)
	}
	if good.State != server.PlanCompleted || ev.Verdict != "passing" || !ev.Baseline || ev.Step != len(steps) || ev.Measure != "mean" {
		t.Errorf("equally fast variant: plan %s (%s) with evidence %s; want completed, passing against the baseline at the last step",
			good.State, good.Reason, good.Evidence)
	}
	t.Logf("%d requests; rollback %s: %s; completion %s", requests.Load(), bad.Evidence, bad.Reason, good.Evidence)
}
