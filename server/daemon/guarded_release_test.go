package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/grpc"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/service"
	"github.com/flagpole/flagpole/server/testkit"
	"github.com/flagpole/flagpole/server/webhook"
)

// TestGuardedReleaseEndToEnd runs guarded release plans on the real
// server, judged by the default judge (server/releaseguard) over the
// signals that five real SDK instances report: a new variant that fails
// 30% of requests against the control's 1% is rolled back automatically,
// with the evidence on the plan, in the audit trail and in a release
// webhook; one as good as the control completes. While a plan runs its
// flag is guarded (the SDKs attribute tracked events to variants); once it
// has ended, not.
func TestGuardedReleaseEndToEnd(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs release plans for several seconds")
	}
	srv, conn, shop := startShop(t, 5, func(cfg *daemon.Config) {
		cfg.Webhooks = webhook.Options{Poll: 20 * time.Millisecond}
	})
	ctx := context.Background()
	hooks := newReceiver(t, nil)
	createWebhook(t, pb.NewWebhookServiceClient(conn), hooks, &pb.CreateWebhookRequest{
		Events: []string{webhook.KindReleaseStep, webhook.KindReleaseDone, webhook.KindReleaseRolled}})

	// Five service instances serve requests; a request evaluates both flags
	// and fails with the error rate of each variant it is served, tracking
	// "error". As in production, the SDK attributes a tracked event to
	// every guarded flag the context is served, so one flag's errors are
	// noise, spread evenly over the other's variants (independent buckets).
	errorRate := map[string]map[bool]float64{
		"checkout": {true: 0.30, false: 0.01}, // the new variant is broken
		"search":   {true: 0.01, false: 0.01}, // as good as the control
	}
	loadCtx, stop := context.WithCancel(ctx)
	var load sync.WaitGroup
	t.Cleanup(func() { stop(); load.Wait() })
	var requests atomic.Int64
	for i, p := range shop {
		load.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 14))
			for n := 0; loadCtx.Err() == nil; n++ {
				user := fmt.Sprintf("user-%d-%d", i, n)
				for key, rates := range errorRate {
					d := p.BooleanEvaluation(loadCtx, key, false, openfeature.FlattenedContext{"targetingKey": user})
					if rng.Float64() < rates[d.Value] {
						p.Track(loadCtx, "error", openfeature.NewEvaluationContext(user, nil), openfeature.TrackingEventDetails{})
					}
				}
				requests.Add(1)
				if n%20 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}

	guard := &server.GuardSpec{Event: "error", MaxRatio: 1.5, MinSamples: 300}
	steps := []server.PlanStep{{Percent: 20, Hold: time.Second}, {Percent: 50, Hold: time.Second}, {Percent: 100, Hold: time.Second}}
	plans := map[string]server.ReleasePlan{}
	for key := range errorRate {
		p, err := srv.Service.CreatePlan(ctx, service.PlanRequest{FlagKey: key, Environment: "production", Steps: steps, Guard: guard})
		if err != nil {
			t.Fatal(err)
		}
		plans[key] = p
	}
	guarded := func(key string) bool {
		c, err := srv.Service.GetConfig(ctx, "production", key)
		if err != nil {
			t.Fatal(err)
		}
		return c.Guarded
	}
	waitFor(t, "the plans running, their flags guarded", func() bool { return guarded("checkout") && guarded("search") })
	// While the plans run, /metrics shows what the guard judged.
	base := "http://" + srv.HTTPAddr().String()
	waitFor(t, "the guard's counts of the search plan in /metrics", func() bool {
		m := metricWith(scrapeMetrics(t, base), "flagpole_release_guard_samples", map[string]string{"flag": "search", "arm": "new"})
		return m.GetGauge().GetValue() > 0
	})

	ended := func(key string) server.ReleasePlan {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			p, err := srv.Service.GetPlan(ctx, "production", plans[key].ID)
			if err != nil {
				t.Fatal(err)
			}
			if !p.State.Active() {
				return p
			}
			if time.Now().After(deadline) {
				t.Fatalf("plan of %s still %s at step %d after 15 s (%d requests served): %s %s", key, p.State, p.Step, requests.Load(), p.Reason, p.Evidence)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	type evidence struct {
		Verdict  string `json:"verdict"`
		Baseline bool   `json:"baseline"`
		Step     int    `json:"step"`
		Control  struct {
			Samples, Events int64
		} `json:"control"`
		New struct {
			Samples, Events int64
		} `json:"new"`
		Statistic float64 `json:"statistic"`
		Threshold float64 `json:"threshold"`
	}

	bad := ended("checkout")
	var ev evidence
	if err := json.Unmarshal(bad.Evidence, &ev); err != nil {
		t.Fatalf("evidence %s: %v", bad.Evidence, err)
	}
	if bad.State != server.PlanRolledBack || ev.Verdict != "regressed" || ev.Statistic < ev.Threshold ||
		ev.New.Samples < guard.MinSamples || ev.Control.Samples < guard.MinSamples ||
		float64(ev.New.Events)/float64(ev.New.Samples) < 0.1 || !strings.Contains(bad.Reason, "rolled back") {
		t.Errorf("broken variant: plan %s (%s) with evidence %s; want rolled_back, regressed", bad.State, bad.Reason, bad.Evidence)
	}
	c, err := srv.Service.GetConfig(ctx, "production", "checkout")
	if err != nil {
		t.Fatal(err)
	}
	if c.Guarded || c.Default.Variant != "off" || c.Default.Split != nil {
		t.Errorf("after the rollback: %+v; want the control for everyone, not guarded", c.Config)
	}

	good := ended("search")
	ev = evidence{}
	if err := json.Unmarshal(good.Evidence, &ev); err != nil {
		t.Fatalf("evidence %s: %v", good.Evidence, err)
	}
	if good.State != server.PlanCompleted || ev.Verdict != "passing" || !ev.Baseline || ev.Step != len(steps) {
		t.Errorf("healthy variant: plan %s (%s) with evidence %s; want completed, passing against the baseline at the last step",
			good.State, good.Reason, good.Evidence)
	}
	if guarded("search") {
		t.Error("a completed plan left its flag guarded")
	}

	// The audit trail has the rollback with its evidence, by the plan.
	entries, _, err := srv.Service.ListAudit(ctx, server.AuditFilter{Key: "checkout", Environment: "production"}, "")
	if err != nil {
		t.Fatal(err)
	}
	var rollbacks []server.AuditEntry
	for _, e := range entries {
		if e.Action == "release.rollback" {
			rollbacks = append(rollbacks, e)
		}
	}
	var planEntry struct {
		State    string          `json:"state"`
		Evidence json.RawMessage `json:"evidence"`
	}
	if len(rollbacks) != 2 { // the plan's and its configuration change
		t.Fatalf("%d release.rollback audit entries, want the plan's and the configuration's", len(rollbacks))
	}
	for _, e := range rollbacks {
		if e.Actor.Source != server.System.Source || !strings.HasPrefix(e.Actor.Name, bad.Name()) {
			t.Errorf("rollback by %+v, want the plan", e.Actor)
		}
		if e.Resource != "release_plan" {
			continue
		}
		if err := json.Unmarshal(e.After, &planEntry); err != nil || planEntry.State != "rolled_back" ||
			!strings.Contains(string(planEntry.Evidence), `"verdict":"regressed"`) {
			t.Errorf("the rollback's audit entry %s (%v): want the plan rolled back with the evidence", e.After, err)
		}
	}

	// Release webhooks: steps of both plans, a rollback, a completion.
	waitFor(t, "the release webhooks", func() bool {
		kinds := map[string]int{}
		for _, r := range hooks.requests() {
			kinds[r.kind]++
		}
		return kinds[webhook.KindReleaseRolled] == 1 && kinds[webhook.KindReleaseDone] == 1 && kinds[webhook.KindReleaseStep] >= 1+len(steps)
	})
	for _, r := range hooks.requests() {
		var e webhook.Event
		if err := json.Unmarshal(r.body, &e); err != nil {
			t.Fatal(err)
		}
		if e.Kind == webhook.KindReleaseRolled && (e.Entry.Key != "checkout" || !strings.Contains(string(e.Entry.After), `"regressed"`)) {
			t.Errorf("release.rolled_back event %s: want checkout with the evidence", r.body)
		}
	}
	t.Logf("%d requests; rollback %s; completion %s", requests.Load(), bad.Evidence, good.Evidence)
}

// startShop starts a server whose release runner and signal store act
// within a tenth of a second (tune may change more), creates the boolean
// flags checkout and search, and connects n SDK instances, shop-0 to
// shop-n-1, to production that report tracked events every 50 ms.
func startShop(t *testing.T, n int, tune func(*daemon.Config)) (*daemon.Server, *grpc.ClientConn, []*sdk.Provider) {
	t.Helper()
	cfg := config(filepath.Join(t.TempDir(), "flagpole.db"))
	cfg.ReleaseInterval = 50 * time.Millisecond
	cfg.UsageFlushInterval = 100 * time.Millisecond // signals flush as often
	if tune != nil {
		tune(&cfg)
	}
	srv := daemon.New(cfg)
	conn := start(t, srv)
	ctx := context.Background()
	for _, key := range []string{"checkout", "search"} {
		if _, _, err := srv.Service.CreateFlag(ctx, engine.Flag{Key: key, Type: engine.TypeBoolean}); err != nil {
			t.Fatal(err)
		}
	}
	tok := testkit.Must(pb.NewTokenServiceClient(conn).CreateToken(ctx, &pb.CreateTokenRequest{
		Name: "shop", Scope: "sdk", Environments: []string{"production"}}))(t).GetSecret()
	var shop []*sdk.Provider
	for i := range n {
		p, err := sdk.NewProvider(srv.GRPCAddr().String(), sdk.WithToken(tok), sdk.WithInstanceID(fmt.Sprint("shop-", i)),
			sdk.WithTrackFlushInterval(50*time.Millisecond), sdk.WithInitTimeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Shutdown)
		if err := p.InitWithContext(ctx, openfeature.EvaluationContext{}); err != nil {
			t.Fatal(err)
		}
		shop = append(shop, p)
	}
	return srv, conn, shop
}
