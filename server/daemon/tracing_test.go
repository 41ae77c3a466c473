package daemon_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/flagpole/flagpole/server/tracing/otlptest"
)

// TestHTTPTracing runs the server exporting over OTLP/gRPC to a real
// receiver: a JSON API call carrying a traceparent gets a server span in
// that trace, named by its route, with the store transaction under it; a
// probe (/healthz, /readyz, whose check reads the store) gets no span.
func TestHTTPTracing(t *testing.T) {
	rcv := otlptest.Start(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.GRPCURL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
	h := startHTTP(t, &testClock{})
	const probeTrace, apiTrace, caller = "0af7651916cd43dd8448eb211c80319c", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	for _, path := range []string{"/healthz", "/readyz"} {
		req, _ := http.NewRequest("GET", h.base+path, nil)
		req.Header.Set("traceparent", "00-"+probeTrace+"-"+caller+"-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", path, resp.StatusCode)
		}
	}
	h.do("GET", "/api/v1/environments", "", 200, "traceparent", "00-"+apiTrace+"-"+caller+"-01")

	var api otlptest.Span
	rcv.WaitFor(t, 15*time.Second, func(spans []otlptest.Span) bool {
		for _, sp := range spans {
			if sp.TraceID == apiTrace && sp.Name == "GET /api/v1/environments" {
				api = sp
			}
		}
		for _, sp := range spans {
			if api.SpanID != "" && sp.ParentSpanID == api.SpanID && sp.Name == "store.view" {
				return true
			}
		}
		return false
	})
	if api.ParentSpanID != caller || api.Kind != tracepb.Span_SPAN_KIND_SERVER || api.Service != "flagpole" {
		t.Errorf("API span parent %s kind %s service %s; want the caller's span, server, flagpole", api.ParentSpanID, api.Kind, api.Service)
	}
	if api.Attributes["http.route"] != "/api/v1/environments" {
		t.Errorf("API span http.route = %q", api.Attributes["http.route"])
	}
	// Shutting down exports every span left, so none can come later.
	if err := h.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, sp := range rcv.Spans() {
		if sp.TraceID == probeTrace {
			t.Errorf("probe traced: %s", sp.Name)
		}
	}
}
