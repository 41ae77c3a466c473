package tracing

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/stats"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/service"
	"github.com/flagpole/flagpole/server/tracing/otlptest"
)

// clearEnv unsets every variable FromEnv reads.
func clearEnv(t *testing.T) {
	for _, name := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SDK_DISABLED",
		"OTEL_TRACES_EXPORTER", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "TRACEPARENT", "TRACESTATE", "BAGGAGE"} {
		t.Setenv(name, "")
	}
}

func TestOffUnlessAsked(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"no endpoint":          {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
		"SDK disabled":         {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"},
		"traces exporter none": {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1", "OTEL_TRACES_EXPORTER": "none"},
	} {
		t.Run(name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range env {
				t.Setenv(k, v)
			}
			tr, err := FromEnv(context.Background(), "flagpole")
			if err != nil || tr != nil {
				t.Fatalf("FromEnv = %v, %v; want nil, nil", tr, err)
			}
			if tr.Enabled() || len(tr.GRPCServerOptions()) != 0 || len(tr.GRPCDialOptions()) != 0 {
				t.Fatal("tracing off installs gRPC instrumentation")
			}
			h := http.NotFoundHandler()
			if got := tr.HTTPHandler(h); got == nil || tr.Routes(h) == nil {
				t.Fatal("tracing off lost the HTTP handler")
			}
			var st service.Store = fakeStore{}
			if tr.Store(st, "sqlite") != st {
				t.Fatal("tracing off wraps the store")
			}
			_, span := tr.Tracer().Start(context.Background(), "x")
			if span.IsRecording() {
				t.Fatal("tracing off records spans")
			}
		})
	}
}

func TestUnsupportedProtocol(t *testing.T) {
	clearEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	_, err := FromEnv(context.Background(), "flagpole")
	if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_PROTOCOL") || !strings.Contains(err.Error(), "http/json") {
		t.Fatalf("FromEnv with protocol http/json: %v; want an error naming the variable and value", err)
	}
}

// TestExport sends a span to a real OTLP receiver over each protocol,
// configured by the variables alone.
func TestExport(t *testing.T) {
	rcv := otlptest.Start(t)
	for _, tc := range []struct {
		protocol, endpointVar, endpoint string
	}{
		{"http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT", rcv.HTTPURL},
		{"grpc", "OTEL_EXPORTER_OTLP_ENDPOINT", rcv.GRPCURL},
		{"", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", rcv.HTTPURL + "/v1/traces"},
	} {
		t.Run(tc.protocol+tc.endpointVar, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(tc.endpointVar, tc.endpoint)
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", tc.protocol)
			t.Setenv("OTEL_SERVICE_NAME", "svc-"+t.Name())
			tr, err := FromEnv(context.Background(), "flagpole")
			if err != nil || !tr.Enabled() {
				t.Fatalf("FromEnv = %v, %v", tr, err)
			}
			_, span := tr.Tracer().Start(context.Background(), "hello")
			want := span.SpanContext().TraceID().String()
			span.End()
			if err := tr.ShutdownWithin(context.Background()); err != nil {
				t.Fatal(err)
			}
			rcv.WaitFor(t, 10*time.Second, func(spans []otlptest.Span) bool {
				for _, s := range spans {
					if s.TraceID == want && s.Name == "hello" && s.Service == "svc-"+t.Name() && s.Scope == ScopeName {
						return true
					}
				}
				return false
			})
		})
	}
}

// TestContextFromEnv continues the trace of TRACEPARENT.
func TestContextFromEnv(t *testing.T) {
	clearEnv(t)
	tr, rec := recording()
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	t.Setenv("TRACEPARENT", "00-"+traceID+"-00f067aa0ba902b7-01")
	_, span := tr.Tracer().Start(tr.ContextFromEnv(context.Background()), "cli")
	span.End()
	got := rec.Ended()[0]
	if got.SpanContext().TraceID().String() != traceID || got.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Fatalf("span trace %s parent %s; want the TRACEPARENT's", got.SpanContext().TraceID(), got.Parent().SpanID())
	}
}

// recording is tracing into an in-memory recorder.
func recording() (*Tracing, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	return &Tracing{provider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)),
		propagator: propagation.TraceContext{}}, rec
}

// fakeStore runs fn with no transaction and returns its error.
type fakeStore struct{}

func (fakeStore) Update(_ context.Context, fn func(service.Tx) error) error { return fn(nil) }
func (fakeStore) View(_ context.Context, fn func(service.Tx) error) error   { return fn(nil) }

func TestStoreSpans(t *testing.T) {
	tr, rec := recording()
	st := tr.Store(fakeStore{}, "sqlite")
	ok := func(service.Tx) error { return nil }
	// Background work: no span in the context, no span for its transaction.
	if err := st.Update(context.Background(), ok); err != nil {
		t.Fatal(err)
	}
	ctx, call := tr.Tracer().Start(context.Background(), "call")
	if err := st.View(ctx, ok); err != nil {
		t.Fatal(err)
	}
	notFound := server.Errorf(server.ENOTFOUND, "no flag x")
	if err := st.Update(ctx, func(service.Tx) error { return notFound }); err != notFound {
		t.Fatalf("Update returned %v, want the transaction's error", err)
	}
	broken := errors.New("disk I/O error")
	if err := st.Update(ctx, func(service.Tx) error { return broken }); err != broken {
		t.Fatalf("Update returned %v, want the transaction's error", err)
	}
	call.End()

	type span struct {
		name, errType string
		failed        bool
	}
	var got []span
	for _, s := range rec.Ended() {
		if s.Name() == "call" {
			continue
		}
		if s.Parent().SpanID() != call.SpanContext().SpanID() {
			t.Errorf("span %s is not a child of the call's span", s.Name())
		}
		attrs := attribute.NewSet(s.Attributes()...)
		if v, _ := attrs.Value("db.system.name"); v.AsString() != "sqlite" {
			t.Errorf("span %s: db.system.name %q, want sqlite", s.Name(), v.AsString())
		}
		v, _ := attrs.Value("error.type")
		got = append(got, span{s.Name(), v.AsString(), s.Status().Code == codes.Error})
	}
	want := []span{{"store.view", "", false}, {"store.update", "not_found", false}, {"store.update", "internal", true}}
	if len(got) != len(want) {
		t.Fatalf("store spans %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("store span %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestHTTPRoutes names HTTP spans after the mux pattern, through a
// middleware that copies the request, and leaves probes untraced.
func TestHTTPRoutes(t *testing.T) {
	tr, rec := recording()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/flags/{key}", func(w http.ResponseWriter, r *http.Request) {
		if !trace.SpanFromContext(r.Context()).IsRecording() {
			t.Error("the handler sees no recording span")
		}
	})
	mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {})
	copying := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), struct{}{}, 1)))
		})
	}
	h := tr.HTTPHandler(copying(tr.Routes(mux)))
	for _, path := range []string{"/api/v1/flags/checkout", "/healthz"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1 (none for /healthz)", len(spans))
	}
	if spans[0].Name() != "GET /api/v1/flags/{key}" || spans[0].SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q kind %s, want GET /api/v1/flags/{key}, server", spans[0].Name(), spans[0].SpanKind())
	}
	attrs := attribute.NewSet(spans[0].Attributes()...)
	if v, _ := attrs.Value("http.route"); v.AsString() != "/api/v1/flags/{key}" {
		t.Errorf("http.route = %q", v.AsString())
	}
}

// TestUntracedMethods: the SDKs' sync stream and health checks get no
// server span; every other call does.
func TestUntracedMethods(t *testing.T) {
	for method, traced := range map[string]bool{
		pb.SyncService_Sync_FullMethodName:           false,
		"/grpc.health.v1.Health/Check":               false,
		"/grpc.health.v1.Health/Watch":               false,
		pb.SyncService_WatchClients_FullMethodName:   true,
		pb.FlagService_CreateFlag_FullMethodName:     true,
		pb.EvaluationService_Evaluate_FullMethodName: true,
	} {
		if got := untracedMethods(&stats.RPCTagInfo{FullMethodName: method}); got != traced {
			t.Errorf("%s traced = %v, want %v", method, got, traced)
		}
	}
}

// TestUnreachableCollector: spans that cannot be exported are reported to
// ReportErrors' function, and shutting down does not hang on them.
func TestUnreachableCollector(t *testing.T) {
	clearEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", closed)
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "200") // ms, retries included
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "10")
	prev := otel.GetErrorHandler()
	t.Cleanup(func() { otel.SetErrorHandler(prev) })
	reported := make(chan error, 16)
	ReportErrors(func(err error) {
		select {
		case reported <- err:
		default:
		}
	})
	tr, err := FromEnv(context.Background(), "flagpole")
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.Tracer().Start(context.Background(), "lost")
	span.End()
	select {
	case err := <-reported:
		t.Logf("reported: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("a failed export was not reported")
	}
	start := time.Now()
	tr.ShutdownWithin(context.Background())
	if d := time.Since(start); d > ShutdownTimeout+time.Second {
		t.Fatalf("shutdown took %s", d)
	}
}
