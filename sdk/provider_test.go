package sdk

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/sdk/enginepb"
	pb "github.com/flagpole/flagpole/sdk/syncpb"
)

func testFlags(t testing.TB) *pb.Snapshot {
	t.Helper()
	states := []engine.FlagState{
		{
			Flag: engine.Flag{Key: "checkout", Type: engine.TypeBoolean},
			Config: engine.Config{Enabled: true, OffVariant: "off", Rules: []engine.Rule{{
				Conditions: []engine.Condition{{Attribute: "country", Operator: engine.OpIn, Values: []string{"de", "fr"}}},
				Serve:      engine.Serve{Split: &engine.Split{Weights: []engine.Weight{{Variant: "on", Weight: 50}, {Variant: "off", Weight: 50}}}},
			}}, Default: engine.Serve{Variant: "off"}},
		},
		{
			Flag:   engine.Flag{Key: "banner", Type: engine.TypeString, Variants: []engine.Variant{{Key: "a", Value: "hello"}, {Key: "b", Value: "hi"}}},
			Config: engine.Config{Enabled: true, OffVariant: "a", Default: engine.Serve{Variant: "b"}},
		},
		{
			Flag:   engine.Flag{Key: "limit", Type: engine.TypeInteger, Variants: []engine.Variant{{Key: "low", Value: int64(10)}}},
			Config: engine.Config{Enabled: false, OffVariant: "low", Default: engine.Serve{Variant: "low"}},
		},
		{
			Flag:   engine.Flag{Key: "ratio", Type: engine.TypeFloat, Variants: []engine.Variant{{Key: "x", Value: 0.5}}},
			Config: engine.Config{Enabled: true, OffVariant: "x", Default: engine.Serve{Variant: "x"}},
		},
		{
			Flag:   engine.Flag{Key: "theme", Type: engine.TypeObject, Variants: []engine.Variant{{Key: "dark", Value: map[string]any{"bg": "#000"}}}},
			Config: engine.Config{Enabled: true, OffVariant: "dark", Default: engine.Serve{Variant: "dark"}},
		},
	}
	s := &pb.Snapshot{Environment: "production", Revision: 7}
	for _, st := range states {
		if err := engine.ValidateFlag(&st.Flag); err != nil {
			t.Fatal(err)
		}
		f, err := enginepb.FlagState("production", st)
		if err != nil {
			t.Fatal(err)
		}
		s.Flags = append(s.Flags, f)
	}
	return s
}

// offlineProvider is a provider holding flags without a server: it never
// starts its stream.
func offlineProvider(t testing.TB, opts ...Option) *Provider {
	t.Helper()
	p, err := NewProvider("127.0.0.1:1", opts...)
	if err != nil {
		t.Fatal(err)
	}
	p.startOnce.Do(func() {})
	if _, err := p.applySnapshot(testFlags(t)); err != nil {
		t.Fatal(err)
	}
	close(p.ready)
	t.Cleanup(p.Shutdown)
	return p
}

func TestEvaluateAllTypes(t *testing.T) {
	p := offlineProvider(t)
	ctx := context.Background()
	de := openfeature.FlattenedContext{"targetingKey": "user-1", "country": "de"}
	if r := p.BooleanEvaluation(ctx, "checkout", true, openfeature.FlattenedContext{"targetingKey": "u", "country": "us"}); r.Value || r.Variant != "off" || r.Reason != openfeature.DefaultReason {
		t.Errorf("checkout (us) = %+v", r)
	}
	if r := p.BooleanEvaluation(ctx, "checkout", false, de); r.Reason != openfeature.SplitReason || r.Error() != nil {
		t.Errorf("checkout (de) = %+v", r)
	}
	if r := p.StringEvaluation(ctx, "banner", "", de); r.Value != "hi" || r.Reason != openfeature.StaticReason {
		t.Errorf("banner = %+v", r)
	}
	if r := p.IntEvaluation(ctx, "limit", 0, de); r.Value != 10 || r.Reason != openfeature.DisabledReason {
		t.Errorf("limit = %+v", r)
	}
	if r := p.FloatEvaluation(ctx, "ratio", 0, de); r.Value != 0.5 {
		t.Errorf("ratio = %+v", r)
	}
	r := p.ObjectEvaluation(ctx, "theme", nil, de)
	m, ok := r.Value.(map[string]any)
	if !ok || m["bg"] != "#000" || r.FlagMetadata["version"] != p.state.Load().snap.VersionOf("theme") || r.FlagMetadata["flagSetId"] != "production" {
		t.Fatalf("theme = %+v", r)
	}
	m["bg"] = "changed" // the caller's copy; the snapshot must not change
	if r := p.ObjectEvaluation(ctx, "theme", nil, de); r.Value.(map[string]any)["bg"] != "#000" {
		t.Error("object value shared with the snapshot")
	}
	if r := p.BooleanEvaluation(ctx, "nope", true, de); !r.Value || r.ResolutionDetail().ErrorCode != openfeature.FlagNotFoundCode {
		t.Errorf("missing flag = %+v", r)
	}
	if r := p.IntEvaluation(ctx, "banner", 3, de); r.Value != 3 || r.ResolutionDetail().ErrorCode != openfeature.TypeMismatchCode {
		t.Errorf("wrong type = %+v", r)
	}
	if r := p.BooleanEvaluation(ctx, "checkout", true, openfeature.FlattenedContext{"country": "de"}); !r.Value || r.ResolutionDetail().ErrorCode != openfeature.TargetingKeyMissingCode {
		t.Errorf("no targeting key = %+v", r)
	}
}

func TestNotReady(t *testing.T) {
	p, err := NewProvider("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Shutdown)
	r := p.StringEvaluation(context.Background(), "banner", "dflt", nil)
	if r.Value != "dflt" || r.ResolutionDetail().ErrorCode != openfeature.ProviderNotReadyCode {
		t.Fatalf("before the first snapshot: %+v", r)
	}
}

func TestUsageCounts(t *testing.T) {
	p := offlineProvider(t)
	ctx := context.Background()
	for range 3 {
		p.StringEvaluation(ctx, "banner", "", nil)
	}
	p.IntEvaluation(ctx, "limit", 0, nil)
	p.BooleanEvaluation(ctx, "missing", false, nil) // errors are not counted
	got := map[string]int64{}
	for _, c := range p.usage.take() {
		got[c.flag+"/"+c.variant] = c.count
	}
	if len(got) != 2 || got["banner/b"] != 3 || got["limit/low"] != 1 {
		t.Fatalf("usage = %v", got)
	}
	if again := p.usage.take(); len(again) != 0 {
		t.Fatalf("counts not reset: %v", again)
	}
	// Counts survive a new snapshot of the same flags.
	p.StringEvaluation(ctx, "banner", "", nil)
	if _, err := p.applySnapshot(testFlags(t)); err != nil {
		t.Fatal(err)
	}
	p.StringEvaluation(ctx, "banner", "", nil)
	if c := p.usage.take(); len(c) != 1 || c[0].count != 2 {
		t.Fatalf("after swap: %v", c)
	}
}

func TestCacheRoundTrip(t *testing.T) {
	file := filepath.Join(t.TempDir(), "flags.cache")
	p := offlineProvider(t, WithCacheFile(file))
	if err := p.saveCache(); err != nil {
		t.Fatal(err)
	}
	q, err := NewProvider("127.0.0.1:1", WithCacheFile(file))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Shutdown)
	q.loadCache()
	if !q.cacheLoaded || q.Revision() != 7 {
		t.Fatalf("cache not loaded: revision %d", q.Revision())
	}
	if r := q.StringEvaluation(context.Background(), "banner", "", nil); r.Value != "hi" {
		t.Fatalf("from cache: %+v", r)
	}
	if err := os.WriteFile(file, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := NewProvider("127.0.0.1:1", WithCacheFile(file))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Shutdown)
	r.loadCache()
	if r.cacheLoaded || r.Revision() != 0 {
		t.Fatal("a corrupt cache was used")
	}
}

func TestNewProviderErrors(t *testing.T) {
	if _, err := NewProvider(""); err == nil {
		t.Error("empty address accepted")
	}
	if _, err := NewProvider("x:1", WithInitTimeout(0)); err == nil {
		t.Error("zero init timeout accepted")
	}
}

func BenchmarkEvaluation(b *testing.B) {
	p := offlineProvider(b)
	ctx := context.Background()
	evalCtx := openfeature.NewEvaluationContext("user-42", map[string]any{"country": "de"})
	for _, tc := range []struct {
		name     string
		provider openfeature.FeatureProvider
	}{
		{"provider=noop", openfeature.NoopProvider{}},
		{"provider=flagpole", p},
	} {
		if err := openfeature.SetNamedProviderWithContextAndWait(ctx, tc.name, tc.provider); err != nil {
			b.Fatal(err)
		}
		client := openfeature.NewClient(tc.name)
		b.Run(tc.name+"/flag=split", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				client.BooleanValue(ctx, "checkout", false, evalCtx)
			}
		})
		b.Run(tc.name+"/flag=static", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				client.StringValue(ctx, "banner", "", evalCtx)
			}
		})
	}
	flat := openfeature.FlattenedContext{"targetingKey": "user-42", "country": "de"}
	b.Run("provider=flagpole/direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.BooleanEvaluation(ctx, "checkout", false, flat)
		}
	})
	b.Run("provider=flagpole/direct-static", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.StringEvaluation(ctx, "banner", "", flat)
		}
	})
}

// TestProviderZeroAllocs holds the provider's own part of an evaluation to
// zero allocations, for every type and for a split.
func TestProviderZeroAllocs(t *testing.T) {
	p := offlineProvider(t)
	ctx := context.Background()
	flat := openfeature.FlattenedContext{"targetingKey": "user-42", "country": "de"}
	for name, eval := range map[string]func(){
		"split":  func() { p.BooleanEvaluation(ctx, "checkout", false, flat) },
		"string": func() { p.StringEvaluation(ctx, "banner", "", flat) },
		"int":    func() { p.IntEvaluation(ctx, "limit", 0, flat) },
		"float":  func() { p.FloatEvaluation(ctx, "ratio", 0, flat) },
	} {
		if allocs := testing.AllocsPerRun(1000, eval); allocs != 0 {
			t.Errorf("%s: %.1f allocations per evaluation", name, allocs)
		}
	}
}

// TestCountsFollowVariantKeys checks that counting maps the engine's
// variants to the counters' by key, as when the streamed definition lists
// variants in another order or not at all (a boolean flag's implicit
// on/off).
func TestCountsFollowVariantKeys(t *testing.T) {
	p := offlineProvider(t)
	st := p.state.Load()
	counters := map[string]*flagCounters{
		"banner":   {flag: "banner", variants: []string{"b", "x"}, counts: make([]atomic.Int64, 2)},
		"checkout": {flag: "checkout", counts: nil},
	}
	st = newState(st.snap, counters, nil, nil)
	p.state.Store(st)
	ctx := context.Background()
	p.StringEvaluation(ctx, "banner", "", nil)                                                                      // serves b
	p.BooleanEvaluation(ctx, "checkout", false, openfeature.FlattenedContext{"targetingKey": "u", "country": "us"}) // serves off, not counted
	p.IntEvaluation(ctx, "limit", 0, nil)                                                                           // no counters
	if n := counters["banner"].counts[0].Load(); n != 1 {
		t.Errorf("banner/b counted %d times, want 1", n)
	}
	if n := counters["banner"].counts[1].Load(); n != 0 {
		t.Errorf("banner/x counted %d times, want 0", n)
	}
}

// TestPerFlagVersionsAndChanges: each flag's metadata carries its own
// version, which a change of another flag leaves alone, and a change event
// lists only the flags whose definition changed, even when the server's
// change resends a flag as it was (issue 12: every flag's version was the
// environment's revision).
func TestPerFlagVersionsAndChanges(t *testing.T) {
	p := offlineProvider(t)
	ctx := context.Background()
	de := openfeature.FlattenedContext{"targetingKey": "user-1", "country": "de"}
	banner := p.StringEvaluation(ctx, "banner", "", de).FlagMetadata
	limit := p.IntEvaluation(ctx, "limit", 0, de).FlagMetadata
	if banner["version"] == limit["version"] || banner["version"] == "" {
		t.Fatalf("banner version %v, limit version %v: want two different versions", banner["version"], limit["version"])
	}
	// Revision 8 enables limit and resends banner unchanged.
	snap := testFlags(t)
	change := &pb.Change{Environment: "production", Revision: 8}
	for _, f := range snap.GetFlags() {
		switch f.GetFlag().GetKey() {
		case "limit":
			f.Config.Enabled = true
			change.Flags = append(change.Flags, f)
		case "banner":
			change.Flags = append(change.Flags, f)
		}
	}
	changed, err := p.applyChange(change)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(changed, []string{"limit"}) {
		t.Errorf("changed flags = %v, want [limit]", changed)
	}
	banner2 := p.StringEvaluation(ctx, "banner", "", de).FlagMetadata
	limit2 := p.IntEvaluation(ctx, "limit", 0, de).FlagMetadata
	if banner2["version"] != banner["version"] || limit2["version"] == limit["version"] {
		t.Errorf("versions: banner %v -> %v (want the same), limit %v -> %v (want a new one)", banner["version"], banner2["version"], limit["version"], limit2["version"])
	}
	if rev := p.Revision(); rev != 8 {
		t.Errorf("provider at revision %d, want 8", rev)
	}
}
