package otelhook_test

import (
	"context"
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/open-feature/go-sdk/openfeature"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/sdk/enginepb"
	"github.com/flagpole/flagpole/sdk/otelhook"
)

// syncServer streams one snapshot of environment "production": checkout
// (boolean, a 50/50 split for country de), banner (string, static "b").
type syncServer struct {
	pb.UnimplementedSyncServiceServer
	snap *pb.Snapshot
}

func (s syncServer) Sync(stream grpc.BidiStreamingServer[pb.SyncRequest, pb.SyncResponse]) error {
	if _, err := stream.Recv(); err != nil {
		return err
	}
	if err := stream.Send(&pb.SyncResponse{Message: &pb.SyncResponse_Snapshot{Snapshot: s.snap}}); err != nil {
		return err
	}
	for {
		if _, err := stream.Recv(); err != nil {
			return nil
		}
	}
}

func testSnapshot(tb testing.TB) *pb.Snapshot {
	tb.Helper()
	states := []engine.FlagState{
		{
			Flag: engine.Flag{Key: "checkout", Type: engine.TypeBoolean},
			Config: engine.Config{Enabled: true, OffVariant: "off", Rules: []engine.Rule{{
				Conditions: []engine.Condition{{Attribute: "country", Operator: engine.OpIn, Values: []string{"de"}}},
				Serve:      engine.Serve{Split: &engine.Split{Weights: []engine.Weight{{Variant: "on", Weight: 50}, {Variant: "off", Weight: 50}}}},
			}}, Default: engine.Serve{Variant: "off"}},
		},
		{
			Flag:   engine.Flag{Key: "banner", Type: engine.TypeString, Variants: []engine.Variant{{Key: "a", Value: "hello"}, {Key: "b", Value: "hi"}}},
			Config: engine.Config{Enabled: true, OffVariant: "a", Default: engine.Serve{Variant: "b"}},
		},
	}
	snap := &pb.Snapshot{Environment: "production", Revision: 7}
	for _, st := range states {
		if err := engine.ValidateFlag(&st.Flag); err != nil {
			tb.Fatal(err)
		}
		fs, err := enginepb.FlagState("production", st)
		if err != nil {
			tb.Fatal(err)
		}
		snap.Flags = append(snap.Flags, fs)
	}
	return snap
}

// newClient starts a sync server, connects a real Flagpole provider to it
// under a domain of its own, and returns an OpenFeature client of that
// domain with the hooks added.
func newClient(tb testing.TB, hooks ...openfeature.Hook) *openfeature.Client {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	gs := grpc.NewServer()
	pb.RegisterSyncServiceServer(gs, syncServer{snap: testSnapshot(tb)})
	go gs.Serve(lis)
	tb.Cleanup(gs.Stop)
	p, err := sdk.NewProvider(lis.Addr().String(), sdk.WithEnvironment("production"), sdk.WithCacheDir(tb.TempDir()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	domain := tb.Name()
	if err := openfeature.SetNamedProviderWithContextAndWait(ctx, domain, p); err != nil {
		tb.Fatal(err)
	}
	c := openfeature.NewClient(domain)
	c.AddHooks(hooks...)
	return c
}

func newHook(tb testing.TB, opts ...otelhook.Option) *otelhook.Hook {
	tb.Helper()
	h, err := otelhook.New(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

func eventAttrs(tb testing.TB, span sdktrace.ReadOnlySpan) []map[string]string {
	tb.Helper()
	var out []map[string]string
	for _, e := range span.Events() {
		if e.Name != otelhook.EventName {
			tb.Errorf("span event %q, want only %q", e.Name, otelhook.EventName)
			continue
		}
		m := map[string]string{}
		for _, kv := range e.Attributes {
			if kv.Value.Type() != attribute.STRING {
				tb.Errorf("attribute %s is a %s, want a string", kv.Key, kv.Value.Type())
			}
			m[string(kv.Key)] = kv.Value.AsString()
		}
		out = append(out, m)
	}
	return out
}

var flagVersion = regexp.MustCompile(`^[0-9a-f]{16}$`)

// TestSpanEvents evaluates through a real Flagpole provider inside a span of
// the OpenTelemetry SDK and checks each evaluation's event against the
// semantic conventions: successes (split, static) and failures (unknown
// flag, wrong type).
func TestSpanEvents(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	c := newClient(t, newHook(t))
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	user := openfeature.NewEvaluationContext("user-42", map[string]any{"country": "de"})
	checkout, err := c.BooleanValueDetails(ctx, "checkout", false, user)
	if err != nil {
		t.Fatal(err)
	}
	banner, err := c.StringValueDetails(ctx, "banner", "", user)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.BooleanValueDetails(ctx, "missing", false, user); err == nil {
		t.Fatal("evaluating an unknown flag succeeded")
	}
	if _, err := c.IntValueDetails(ctx, "banner", 3, openfeature.NewEvaluationContext("", nil)); err == nil {
		t.Fatal("evaluating a string flag as an integer succeeded")
	}
	span.End()

	ended := rec.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans ended, want 1", len(ended))
	}
	checkoutVersion, _ := checkout.FlagMetadata["version"].(string)
	bannerVersion, _ := banner.FlagMetadata["version"].(string)
	for _, v := range []string{checkoutVersion, bannerVersion} {
		if !flagVersion.MatchString(v) {
			t.Fatalf("the provider's version metadata is %q, want 16 hex digits", v)
		}
	}
	want := []map[string]string{
		{
			"feature_flag.key": "checkout", "feature_flag.provider.name": sdk.Name,
			"feature_flag.result.variant": checkout.Variant, "feature_flag.result.reason": "split",
			"feature_flag.set.id": "production", "feature_flag.version": checkoutVersion,
			"feature_flag.context.id": "user-42",
		},
		{
			"feature_flag.key": "banner", "feature_flag.provider.name": sdk.Name,
			"feature_flag.result.variant": "b", "feature_flag.result.reason": "static",
			"feature_flag.set.id": "production", "feature_flag.version": bannerVersion,
			"feature_flag.context.id": "user-42",
		},
		{
			"feature_flag.key": "missing", "feature_flag.provider.name": sdk.Name,
			"feature_flag.result.reason": "error", "feature_flag.set.id": "production",
			"feature_flag.context.id": "user-42", "error.type": "flag_not_found",
			"feature_flag.error.message": "present",
		},
		{
			"feature_flag.key": "banner", "feature_flag.provider.name": sdk.Name,
			"feature_flag.result.reason": "error", "feature_flag.set.id": "production",
			"feature_flag.version": bannerVersion, "error.type": "type_mismatch",
			"feature_flag.error.message": "present",
		},
	}
	got := eventAttrs(t, ended[0])
	// Error messages are the provider's wording; only their presence is
	// part of the conventions.
	for _, m := range got {
		if msg, ok := m["feature_flag.error.message"]; ok && msg != "" {
			m["feature_flag.error.message"] = "present"
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("span events (-want +got):\n%s", diff)
	}
	if checkout.Variant != "on" && checkout.Variant != "off" {
		t.Errorf("checkout served variant %q", checkout.Variant)
	}
}

// TestNoSpan: without a recording span (none in the context, or one that
// is not sampled) the hook records nothing and the evaluation is served as
// without it.
func TestNoSpan(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.NeverSample()))
	c := newClient(t, newHook(t))
	ctx, span := tp.Tracer("test").Start(context.Background(), "unsampled")
	for _, ctx := range []context.Context{context.Background(), ctx} {
		got, err := c.StringValue(ctx, "banner", "", openfeature.NewEvaluationContext("u", nil))
		if err != nil || got != "hi" {
			t.Fatalf("banner = %q, %v; want hi", got, err)
		}
	}
	span.End()
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans recorded, want 0", n)
	}
}

// TestWithoutContextID leaves the targeting key out of the event.
func TestWithoutContextID(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	c := newClient(t, newHook(t, otelhook.WithoutContextID()))
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	if _, err := c.StringValue(ctx, "banner", "", openfeature.NewEvaluationContext("user-42", nil)); err != nil {
		t.Fatal(err)
	}
	span.End()
	got := eventAttrs(t, rec.Ended()[0])
	if len(got) != 1 {
		t.Fatalf("%d events, want 1", len(got))
	}
	if id, ok := got[0]["feature_flag.context.id"]; ok {
		t.Errorf("feature_flag.context.id = %q recorded despite WithoutContextID", id)
	}
	if got[0]["feature_flag.key"] != "banner" {
		t.Errorf("event attributes %v lack feature_flag.key banner", got[0])
	}
}

// TestMetric counts evaluations with a meter provider, also without a span.
func TestMetric(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	c := newClient(t, newHook(t, otelhook.WithMeterProvider(mp)))
	ctx := context.Background()
	user := openfeature.NewEvaluationContext("user-42", nil)
	for range 3 {
		if _, err := c.StringValue(ctx, "banner", "", user); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.BooleanValue(ctx, "missing", false, user); err == nil {
		t.Fatal("evaluating an unknown flag succeeded")
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != otelhook.MetricName {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok || !sum.IsMonotonic {
				t.Fatalf("%s is a %T, want a monotonic int64 sum", m.Name, m.Data)
			}
			for _, dp := range sum.DataPoints {
				got[dp.Attributes.Encoded(attribute.DefaultEncoder())] += dp.Value
			}
		}
	}
	want := map[string]int64{
		"feature_flag.key=banner,feature_flag.result.reason=static,feature_flag.result.variant=b,feature_flag.set.id=production": 3,
		"error.type=flag_not_found,feature_flag.key=missing,feature_flag.result.reason=error,feature_flag.set.id=production":     1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("evaluation counts (-want +got):\n%s", diff)
	}
}
