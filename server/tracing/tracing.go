// Package tracing gives the flagpole binary OpenTelemetry traces, configured
// the standard way: spans are exported over OTLP when
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set,
// and nothing happens at all when neither is (no exporter, no span, no
// instrumentation installed). The server traces its gRPC and HTTP calls and
// the store transactions they make; the CLI traces its calls and
// propagates their trace context to the server, so both share a trace.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
)

// ScopeName is the instrumentation scope of Flagpole's own spans.
const ScopeName = "github.com/flagpole/flagpole"

// Tracing is the process's tracing. A nil *Tracing is tracing turned off:
// every method then installs nothing and returns what it was given.
type Tracing struct {
	provider   *sdktrace.TracerProvider
	propagator propagation.TextMapPropagator
}

// FromEnv returns the tracing the OTEL_* environment variables ask for, or
// nil when they ask for none: no OTLP endpoint set
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
// OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. The protocol is
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL: grpc,
// or http/protobuf (the default). The exporters read the endpoint and the
// other OTEL_EXPORTER_OTLP_* variables (headers, timeout, TLS,
// compression) themselves; the sampler comes from OTEL_TRACES_SAMPLER (by
// default every trace the caller samples, and every trace started here).
// service is service.name unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES says otherwise.
func FromEnv(ctx context.Context, service string) (*Tracing, error) {
	if !wanted() {
		return nil, nil
	}
	exp, err := newExporter(ctx)
	if err != nil {
		return nil, err
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", service)),
		resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil && res == nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	return &Tracing{
		provider:   sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)),
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}, nil
}

// wanted reports whether the environment asks for traces.
func wanted() bool {
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER")), "none") {
		return false
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// newExporter makes the OTLP exporter of the configured protocol.
func newExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	name, protocol := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		name, protocol = "OTEL_EXPORTER_OTLP_PROTOCOL", os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch strings.TrimSpace(protocol) {
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("tracing: %s: %q is not supported: use grpc or http/protobuf", name, protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: otlp exporter: %w", err)
	}
	return exp, nil
}

// ReportErrors sends OpenTelemetry's own errors (a failed export, a
// dropped span) to report instead of the standard logger. The handler is
// process-wide: OpenTelemetry has one.
func ReportErrors(report func(error)) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(report))
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t != nil }

// TracerProvider is the provider of the process's spans; a no-op one when
// tracing is off.
func (t *Tracing) TracerProvider() trace.TracerProvider {
	if t == nil {
		return noop.NewTracerProvider()
	}
	return t.provider
}

// Tracer is Flagpole's tracer of TracerProvider.
func (t *Tracing) Tracer() trace.Tracer { return t.TracerProvider().Tracer(ScopeName) }

// Shutdown exports the spans still buffered and stops the exporter; ctx
// bounds how long that may take.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// ContextFromEnv continues the trace that the TRACEPARENT (and TRACESTATE,
// BAGGAGE) environment variables carry, as a CI job's tracing sets them for
// the commands it runs; ctx unchanged when they are unset or tracing is off.
func (t *Tracing) ContextFromEnv(ctx context.Context) context.Context {
	if t == nil {
		return ctx
	}
	carrier := propagation.MapCarrier{}
	for _, name := range []string{"TRACEPARENT", "TRACESTATE", "BAGGAGE"} {
		if v := os.Getenv(name); v != "" {
			carrier[strings.ToLower(name)] = v
		}
	}
	return t.propagator.Extract(ctx, carrier)
}

// ShutdownTimeout is how long ShutdownWithin gives the last export.
const ShutdownTimeout = 5 * time.Second

// ShutdownWithin is Shutdown bounded by ShutdownTimeout, for a process that
// exits next and must not hang on an unreachable collector.
func (t *Tracing) ShutdownWithin(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	err := t.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("tracing: spans not exported within %s: %w", ShutdownTimeout, err)
	}
	return err
}

// untracedMethods are calls a server span would not help with: the SDKs'
// sync stream lives as long as the service (its messages are the metrics'
// business) and health checks come every few seconds.
var untracedMethods = filters.None(
	filters.FullMethodName(pb.SyncService_Sync_FullMethodName),
	filters.HealthCheck(),
)

func (t *Tracing) otelgrpcOptions() []otelgrpc.Option {
	return []otelgrpc.Option{
		otelgrpc.WithTracerProvider(t.provider),
		otelgrpc.WithPropagators(t.propagator),
		// The server's metrics are Prometheus's (server/metrics).
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
	}
}

// GRPCServerOptions trace every gRPC call but the sync stream and health
// checks, continuing the caller's trace; none when tracing is off.
func (t *Tracing) GRPCServerOptions() []grpc.ServerOption {
	if t == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(append(t.otelgrpcOptions(), otelgrpc.WithFilter(untracedMethods))...))}
}

// GRPCDialOptions trace every call of a client connection and send its
// trace context to the server; none when tracing is off.
func (t *Tracing) GRPCDialOptions() []grpc.DialOption {
	if t == nil {
		return nil
	}
	return []grpc.DialOption{grpc.WithStatsHandler(otelgrpc.NewClientHandler(t.otelgrpcOptions()...))}
}

// untracedPaths are probes and scrapes: frequent and uneventful.
var untracedPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// HTTPHandler traces every request to next but probes and metric scrapes,
// continuing the caller's trace; next itself when tracing is off. Wrap the
// outermost handler, and the mux with Routes so that spans are named by
// route.
func (t *Tracing) HTTPHandler(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	return otelhttp.NewHandler(next, "http",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.propagator),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool { return !untracedPaths[r.URL.Path] }))
}

// Routes names the span of each request to mux (an http.ServeMux) after
// the pattern that served it, "GET /api/v1/flags/{key}", and sets
// http.route: HTTPHandler wraps middleware that copy the request, so it
// does not see the pattern itself. mux itself when tracing is off.
func (t *Tracing) Routes(mux http.Handler) http.Handler {
	if t == nil {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if r.Pattern == "" {
			return
		}
		route := r.Pattern
		if i := strings.IndexByte(route, ' '); i >= 0 {
			route = route[i+1:]
		}
		if i := strings.IndexByte(route, '/'); i > 0 { // a host in the pattern
			route = route[i:]
		}
		span := trace.SpanFromContext(r.Context())
		span.SetName(r.Method + " " + route)
		span.SetAttributes(attribute.String("http.route", route))
	})
}
