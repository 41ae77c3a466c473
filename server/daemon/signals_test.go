package daemon_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk"
)

// TestSignalsOverHTTP: a guarded flag's tracked events, attributed by a
// real SDK, are stored and read back over the JSON API.
func TestSignalsOverHTTP(t *testing.T) {
	t.Parallel()
	clk := &testClock{}
	h := startHTTP(t, clk)
	setup(h)
	h.do("PUT", "/api/v1/flags/color/environments/production", `{"enabled":true,"offVariant":"red","guarded":true,
		"defaultServe":{"split":{"weights":[{"variant":"red","weight":50},{"variant":"blue","weight":50}]}}}`, 200)
	p, err := sdk.NewProvider(h.srv.GRPCAddr().String(), sdk.WithToken(testAdminToken), sdk.WithEnvironment("production"),
		sdk.WithTrackFlushInterval(20*time.Millisecond), sdk.WithInitTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Shutdown)
	ctx := context.Background()
	if err := p.InitWithContext(ctx, openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the guarded configuration in the SDK", func() bool {
		return p.StringEvaluation(ctx, "color", "", openfeature.FlattenedContext{"targetingKey": "u"}).Reason == openfeature.SplitReason
	})
	perVariant := map[string]int{}
	for i := range 40 {
		key := fmt.Sprintf("user-%d", i)
		v := p.StringEvaluation(ctx, "color", "", openfeature.FlattenedContext{"targetingKey": key}).Variant
		perVariant[v]++
		p.Track(ctx, "checkout.error", openfeature.NewEvaluationContext(key, nil), openfeature.NewTrackingEventDetails(1.5))
	}
	path := "/api/v1/flags/color/environments/production/signals?startTime=" + url.QueryEscape(clk.Now().Add(-10*time.Minute).Format(time.RFC3339))
	var got map[string]int
	waitFor(t, "the signals over HTTP", func() bool {
		res := h.do("GET", path, "", 200)
		got = map[string]int{}
		events, _ := res["events"].([]any)
		for _, e := range events {
			m := e.(map[string]any)
			if m["event"] != "checkout.error" || m["minuteTime"] == nil {
				t.Fatalf("event row %v", m)
			}
			var n int
			fmt.Sscan(fmt.Sprint(m["count"]), &n)
			if m["sum"] != 1.5*float64(n) {
				t.Fatalf("event row %v: sum is not 1.5 × count", m)
			}
			got[m["variant"].(string)] += n
		}
		return fmt.Sprint(got) == fmt.Sprint(perVariant)
	})
	h.do("GET", "/api/v1/flags/color/environments/production/signals?startTime=yesterday", "", 400)
}
