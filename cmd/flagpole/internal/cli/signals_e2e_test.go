package cli_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk"
)

const guardedFile = `flags:
  - key: release
    type: boolean
    environments:
      production:
        enabled: true
        guarded: true
        default:
          split: {on: 50, off: 50}
`

type signalsJSON struct {
	Events []struct {
		Variant string  `json:"variant"`
		Event   string  `json:"event"`
		Count   int64   `json:"count"`
		Sum     float64 `json:"sum"`
		Squares float64 `json:"sumSquares"`
		Mean    float64 `json:"mean"`
		StdDev  float64 `json:"stddev"`
	} `json:"events"`
	Exposures []struct {
		Variant string `json:"variant"`
		Count   int64  `json:"count"`
	} `json:"exposures"`
}

// TestSignalsEndToEnd: a real SDK connected to a real `flagpole serve` over
// gRPC tracks events; they are attributed to the variant the guarded flag
// serves each context, stored per minute and read back with
// `flagpole flag signals`.
func TestSignalsEndToEnd(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok(t, "apply", "-f", writeFile(t, "flags.yaml", guardedFile))
	var before signalsJSON
	s.json(t, &before, "flag", "signals", "release", "--env", "production")
	if len(before.Events)+len(before.Exposures) != 0 {
		t.Fatalf("signals before any SDK: %+v", before)
	}

	p, err := sdk.NewProvider(s.addr, sdk.WithToken(s.sdkToken(t, "production")), sdk.WithServiceName("checkout"),
		sdk.WithTrackFlushInterval(100*time.Millisecond), sdk.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.InitWithContext(ctx, openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Shutdown)
	served := map[string]string{} // variant → a targeting key served it
	exposed := map[string]int64{}
	for i := 0; len(served) < 2 && i < 1000; i++ {
		key := fmt.Sprintf("user-%d", i)
		d := p.BooleanEvaluation(ctx, "release", false, openfeature.FlattenedContext{"targetingKey": key})
		exposed[d.Variant]++
		if served[d.Variant] == "" {
			served[d.Variant] = key
		}
	}
	if served["on"] == "" || served["off"] == "" {
		t.Fatalf("the 50/50 split served %v", served)
	}
	onCtx := openfeature.NewEvaluationContext(served["on"], nil)
	offCtx := openfeature.NewEvaluationContext(served["off"], nil)
	for range 3 {
		p.Track(ctx, "error", onCtx, openfeature.NewTrackingEventDetails(0))
	}
	p.Track(ctx, "latency", offCtx, openfeature.NewTrackingEventDetails(120))
	p.Track(ctx, "latency", offCtx, openfeature.NewTrackingEventDetails(80))

	want := fmt.Sprint(map[string]string{"on/error": "3 0", "off/latency": "2 200 20800 mean 100 sd 28.28",
		"exposed on": fmt.Sprint(exposed["on"]), "exposed off": fmt.Sprint(exposed["off"])})
	var got string
	deadline := time.Now().Add(20 * time.Second) // the SDK sends every 100ms, the server writes every 5s
	for time.Now().Before(deadline) {
		var v signalsJSON
		s.json(t, &v, "flag", "signals", "release", "--env", "production", "--since", "10m")
		sums := map[string]string{}
		for _, e := range v.Events {
			sums[e.Variant+"/"+e.Event] = fmt.Sprintf("%d %g", e.Count, e.Sum)
			if e.Squares != 0 {
				sums[e.Variant+"/"+e.Event] += fmt.Sprintf(" %g mean %g sd %.4g", e.Squares, e.Mean, e.StdDev)
			}
		}
		exp := map[string]int64{}
		for _, e := range v.Exposures {
			exp[e.Variant] += e.Count
		}
		for variant, n := range exp {
			sums["exposed "+variant] = fmt.Sprint(n)
		}
		if got = fmt.Sprint(sums); got == want {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if got != want {
		t.Fatalf("flag signals = %s\nwant %s", got, want)
	}
	table := s.ok(t, "flag", "signals", "release", "--env", "production")
	if !strings.Contains(table, "(exposures)") || !strings.Contains(table, "latency") ||
		!strings.Contains(table, "MEAN") || !strings.Contains(table, "STDDEV") || !strings.Contains(table, "28.28") {
		t.Errorf("table output:\n%s", table)
	}
	s.expectCode(t, 2, "flag", "signals", "release")
	s.expectCode(t, 2, "flag", "signals", "release", "--env", "production", "--since", "yesterday")
}
