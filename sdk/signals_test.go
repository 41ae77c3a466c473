package sdk

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/sdk/enginepb"
	pb "github.com/flagpole/flagpole/sdk/syncpb"
)

// releaseState is the flag "release": a guarded boolean flag that serves
// on to newPct percent of targeting keys, off to the rest; "plain" is the
// same flag unguarded.
func releaseState(t testing.TB, newPct int) []*pb.FlagState {
	t.Helper()
	var out []*pb.FlagState
	for _, key := range []string{"release", "plain"} {
		st := engine.FlagState{
			Flag: engine.Flag{Key: key, Type: engine.TypeBoolean},
			Config: engine.Config{Enabled: true, OffVariant: "off", Guarded: key == "release",
				Default: engine.Serve{Split: &engine.Split{Weights: []engine.Weight{{Variant: "on", Weight: newPct}, {Variant: "off", Weight: 100 - newPct}}}}},
		}
		if err := engine.ValidateFlag(&st.Flag); err != nil {
			t.Fatal(err)
		}
		f, err := enginepb.FlagState("production", st)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

func guardedProvider(t testing.TB, newPct int) *Provider {
	t.Helper()
	p := offlineProvider(t)
	if _, err := p.applySnapshot(&pb.Snapshot{Environment: "production", Revision: 8, Flags: releaseState(t, newPct)}); err != nil {
		t.Fatal(err)
	}
	return p
}

// keyServed returns a targeting key that the flag serves variant.
func keyServed(t testing.TB, p *Provider, flag, variant string) string {
	t.Helper()
	for i := range 10_000 {
		key := fmt.Sprintf("user-%d", i)
		if r := p.BooleanEvaluation(context.Background(), flag, false, openfeature.FlattenedContext{"targetingKey": key}); r.Variant == variant {
			return key
		}
	}
	t.Fatalf("no key is served %s", variant)
	return ""
}

func signalCounts(r *pb.SignalReport) map[string]string {
	out := map[string]string{}
	for _, c := range r.GetCounts() {
		out[c.GetFlagKey()+"/"+c.GetVariant()+"/"+c.GetEvent()] = fmt.Sprintf("%d %g %g", c.GetCount(), c.GetSum(), c.GetSumSquares())
	}
	for _, c := range r.GetExposures() {
		out["exposed "+c.GetFlagKey()+"/"+c.GetVariant()] = fmt.Sprint(c.GetCount())
	}
	return out
}

func TestTrackAttributesToServedVariant(t *testing.T) {
	p := guardedProvider(t, 10)
	ctx := context.Background()
	newKey, oldKey := keyServed(t, p, "release", "on"), keyServed(t, p, "release", "off")
	p.signals.take(time.Now(), time.Now()) // forget the exposures of the search
	p.BooleanEvaluation(ctx, "release", false, openfeature.FlattenedContext{"targetingKey": newKey})
	p.BooleanEvaluation(ctx, "plain", false, openfeature.FlattenedContext{"targetingKey": newKey}) // not guarded
	ecNew := openfeature.NewEvaluationContext(newKey, map[string]any{"plan": "pro"})
	ecOld := openfeature.NewEvaluationContext(oldKey, nil)
	p.Track(ctx, "error", ecNew, openfeature.NewTrackingEventDetails(0))
	p.Track(ctx, "latency", ecNew, openfeature.NewTrackingEventDetails(120.5))
	p.Track(ctx, "latency", ecNew, openfeature.NewTrackingEventDetails(79.5))
	p.Track(ctx, "latency", ecOld, openfeature.NewTrackingEventDetails(10))

	// Ramping 10% to 50% keeps newKey in the new variant.
	if _, err := p.applyChange(&pb.Change{Environment: "production", Revision: 9, Flags: releaseState(t, 50)[:1]}); err != nil {
		t.Fatal(err)
	}
	p.Track(ctx, "error", ecNew, openfeature.NewTrackingEventDetails(0))

	r := p.signals.take(time.Now().Add(-time.Second), time.Now())
	want := map[string]string{
		"release/on/error":    "2 0 0",
		"release/on/latency":  "2 200 20840.5", // 120.5² + 79.5²
		"release/off/latency": "1 10 100",
		"exposed release/on":  "1",
	}
	if got := signalCounts(r); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("report = %v\nwant %v", got, want)
	}
	if r.GetDropped() != 0 || r.GetStartTime() == nil || r.GetEndTime() == nil {
		t.Errorf("dropped %d, window %v-%v", r.GetDropped(), r.GetStartTime(), r.GetEndTime())
	}
	if again := p.signals.take(time.Now(), time.Now()); again != nil {
		t.Errorf("counts reported twice: %v", again)
	}
}

func TestTrackBounds(t *testing.T) {
	p := offlineProvider(t) // no guarded flag: Track counts nothing
	ec := openfeature.NewEvaluationContext("user-1", nil)
	p.Track(context.Background(), "error", ec, openfeature.NewTrackingEventDetails(1))
	if r := p.signals.take(time.Now(), time.Now()); r != nil || p.signals.active() {
		t.Fatalf("without guarded flags: %v", r)
	}

	p = guardedProvider(t, 50)
	for i := range 3 * maxSignalEvents {
		p.Track(context.Background(), fmt.Sprintf("event-%03d", i), ec, openfeature.NewTrackingEventDetails(1))
	}
	p.Track(context.Background(), strings.Repeat("x", maxSignalEventLen+1), ec, openfeature.NewTrackingEventDetails(1))
	p.Track(context.Background(), "error", openfeature.NewTargetlessEvaluationContext(nil), openfeature.NewTrackingEventDetails(1)) // no bucket
	r := p.signals.take(time.Now(), time.Now())
	if len(r.GetCounts()) != maxSignalEvents || r.GetDropped() != 2*maxSignalEvents+2 {
		t.Fatalf("%d counts, %d dropped; want %d, %d", len(r.GetCounts()), r.GetDropped(), maxSignalEvents, 2*maxSignalEvents+2)
	}

	// Unsent reports are kept, then merged with the next counts.
	p.Track(context.Background(), "event-000", ec, openfeature.NewTrackingEventDetails(1))
	if err := p.sendSignals(time.Now(), time.Now()); err != errNotConnected {
		t.Fatalf("send while disconnected: %v", err)
	}
	p.Track(context.Background(), "event-000", ec, openfeature.NewTrackingEventDetails(1))
	r = p.signals.take(time.Now(), time.Now())
	var n int64
	for _, c := range r.GetCounts() {
		n += c.GetCount()
	}
	if n != 2 {
		t.Fatalf("after a failed send: %d events reported, want 2: %v", n, r)
	}
}

func TestTrackDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops objects at random under the race detector")
	}
	p := guardedProvider(t, 50)
	details := openfeature.NewTrackingEventDetails(12.5)
	ec := openfeature.NewEvaluationContext("user-42", map[string]any{"country": "de"})
	p.Track(context.Background(), "latency", ec, details) // the first event of a name allocates its counters
	t.Run("context=same", func(t *testing.T) {
		if allocs := testing.AllocsPerRun(1000, func() { p.Track(context.Background(), "latency", ec, details) }); allocs != 0 {
			t.Errorf("%.1f allocations per Track", allocs)
		}
	})
	t.Run("context=new-every-call", func(t *testing.T) {
		ecs := make([]openfeature.EvaluationContext, 1001)
		for i := range ecs {
			ecs[i] = openfeature.NewEvaluationContext(fmt.Sprintf("user-%d", i), map[string]any{"country": "de"})
		}
		i := 0
		if allocs := testing.AllocsPerRun(1000, func() {
			p.Track(context.Background(), "latency", ecs[i%len(ecs)], details)
			i++
		}); allocs != 0 {
			t.Errorf("%.1f allocations per Track", allocs)
		}
	})
}

// TestTrackAttributesEachCallToItsKey: the scratch that holds the
// targeting key is reused, but every event counts for the variant its own
// key is served, whatever ran before it, on this goroutine or another.
func TestTrackAttributesEachCallToItsKey(t *testing.T) {
	p := guardedProvider(t, 50)
	ctx := context.Background()
	const users = 200
	ecs := make([]openfeature.EvaluationContext, users)
	want := map[string][2]float64{} // variant: count, sum
	for i := range ecs {
		key := fmt.Sprintf("user-%d", i)
		ecs[i] = openfeature.NewEvaluationContext(key, nil)
		v := p.BooleanEvaluation(ctx, "release", false, openfeature.FlattenedContext{"targetingKey": key}).Variant
		w := want[v]
		want[v] = [2]float64{w[0] + 4, w[1] + 4*float64(i)}
	}
	p.signals.take(time.Now(), time.Now()) // forget the exposures
	keyless := openfeature.NewTargetlessEvaluationContext(nil)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range users {
				i := (j*7 + g*53) % users // each goroutine its own order
				p.Track(ctx, "latency", ecs[i], openfeature.NewTrackingEventDetails(float64(i)))
				p.Track(ctx, "latency", keyless, openfeature.NewTrackingEventDetails(1e6)) // dropped: no bucket
			}
		}()
	}
	wg.Wait()
	r := p.signals.take(time.Now(), time.Now())
	got := map[string][2]float64{}
	for _, c := range r.GetCounts() {
		got[c.GetVariant()] = [2]float64{float64(c.GetCount()), c.GetSum()}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || r.GetDropped() != 4*users {
		t.Errorf("counts, sums per variant = %v, dropped %d\nwant %v, dropped %d", got, r.GetDropped(), want, 4*users)
	}
}

// BenchmarkTrack measures Track with one guarded flag (a split on the
// targeting key): the same context every time, and a new targeting key
// every time (whose boxing is the one allocation).
func BenchmarkTrack(b *testing.B) {
	p := guardedProvider(b, 50)
	ctx := context.Background()
	details := openfeature.NewTrackingEventDetails(12.5)
	b.Run("context=same", func(b *testing.B) {
		ec := openfeature.NewEvaluationContext("user-42", map[string]any{"country": "de"})
		b.ReportAllocs()
		for b.Loop() {
			p.Track(ctx, "latency", ec, details)
		}
	})
	b.Run("context=1000-users", func(b *testing.B) {
		ecs := make([]openfeature.EvaluationContext, 1000)
		for i := range ecs {
			ecs[i] = openfeature.NewEvaluationContext(fmt.Sprintf("user-%d", i), map[string]any{"country": "de"})
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			p.Track(ctx, "latency", ecs[i%len(ecs)], details)
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		ec := openfeature.NewEvaluationContext("user-42", map[string]any{"country": "de"})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				p.Track(ctx, "latency", ec, details)
			}
		})
	})
}

// TestTrackReadsOnlyThisContext: the reused scratch context never lends an
// attribute of an earlier event to a later one.
func TestTrackReadsOnlyThisContext(t *testing.T) {
	p := offlineProvider(t)
	st := engine.FlagState{
		Flag: engine.Flag{Key: "eu", Type: engine.TypeBoolean},
		Config: engine.Config{Enabled: true, OffVariant: "off", Guarded: true, Default: engine.Serve{Variant: "off"},
			Rules: []engine.Rule{{Conditions: []engine.Condition{{Attribute: "country", Operator: engine.OpIn, Values: []string{"de"}}},
				Serve: engine.Serve{Variant: "on"}}}},
	}
	if err := engine.ValidateFlag(&st.Flag); err != nil {
		t.Fatal(err)
	}
	f, err := enginepb.FlagState("production", st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.applySnapshot(&pb.Snapshot{Environment: "production", Revision: 8, Flags: []*pb.FlagState{f}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p.Track(ctx, "error", openfeature.NewEvaluationContext("u1", map[string]any{"country": "de"}), openfeature.NewTrackingEventDetails(0))
	p.Track(ctx, "error", openfeature.NewEvaluationContext("u2", nil), openfeature.NewTrackingEventDetails(0))
	p.Track(ctx, "error", openfeature.NewEvaluationContext("u3", map[string]any{"country": "fr"}), openfeature.NewTrackingEventDetails(0))
	got := signalCounts(p.signals.take(time.Now(), time.Now()))
	if want := map[string]string{"eu/on/error": "1 0 0", "eu/off/error": "2 0 0"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("report = %v, want %v", got, want)
	}
}
