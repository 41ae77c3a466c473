package cli_test

import (
	"fmt"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/flagpole/flagpole/server/tracing/otlptest"
)

// TestTracingEndToEnd runs a real `flagpole serve` exporting over
// OTLP/HTTP and CLI commands exporting over OTLP/gRPC to one OTLP receiver,
// and checks that each command's spans and the server's spans (the gRPC
// call and the store transaction it made) form one trace: the one of
// TRACEPARENT when the CI job sets it, otherwise the CLI's own.
func TestTracingEndToEnd(t *testing.T) {
	rcv := otlptest.Start(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.HTTPURL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100") // ms: the server exports soon
	s := startServer(t)
	cliEnv := []string{"FLAGPOLE_ADDR=" + s.addr, "FLAGPOLE_TOKEN=" + adminToken,
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + rcv.GRPCURL, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc"}

	const traceID, jobSpan = "5b8aa5a2d2c872e8321cf37308d69df2", "051581bf3cb55c13"
	r := runCLI(t, append(cliEnv, "TRACEPARENT=00-"+traceID+"-"+jobSpan+"-01"), "",
		"flag", "create", "traced-checkout", "--type", "boolean")
	if r.code != 0 {
		t.Fatalf("flag create: %s", r)
	}
	checkTrace(t, rcv, traceID, jobSpan, "flagpole flag create", "flagpole.v1.FlagService/CreateFlag", "store.update")

	if r := runCLI(t, cliEnv, "", "env", "list"); r.code != 0 {
		t.Fatalf("env list: %s", r)
	}
	var root otlptest.Span
	rcv.WaitFor(t, 15*time.Second, func(spans []otlptest.Span) bool {
		for _, sp := range spans {
			if sp.Service == "flagpole-cli" && sp.Name == "flagpole env list" {
				root = sp
				return true
			}
		}
		return false
	})
	if root.ParentSpanID != "" {
		t.Fatalf("without TRACEPARENT the command's span has parent %s, want a root span", root.ParentSpanID)
	}
	checkTrace(t, rcv, root.TraceID, "", "flagpole env list", "flagpole.v1.EnvironmentService/ListEnvironments", "store.view")
}

// checkTrace waits for the spans of one CLI command in trace traceID: the
// command's span (a child of parent, "" for a root), its client span of
// method, the server's span of method under it and the store span under
// that.
func checkTrace(t *testing.T, rcv *otlptest.Receiver, traceID, parent, command, method, store string) {
	t.Helper()
	var problem string
	rcv.WaitFor(t, 15*time.Second, func(spans []otlptest.Span) bool {
		problem = traceProblem(spans, traceID, parent, command, method, store)
		return problem == ""
	})
	if problem != "" {
		t.Fatal(problem)
	}
}

func traceProblem(spans []otlptest.Span, traceID, parent, command, method, store string) string {
	find := func(service, name string, kind tracepb.Span_SpanKind, parentID string) (otlptest.Span, bool) {
		for _, sp := range spans {
			if sp.TraceID == traceID && sp.Service == service && sp.Name == name && sp.Kind == kind && sp.ParentSpanID == parentID {
				return sp, true
			}
		}
		return otlptest.Span{}, false
	}
	cmd, ok := find("flagpole-cli", command, tracepb.Span_SPAN_KIND_INTERNAL, parent)
	if !ok {
		return fmt.Sprintf("no CLI span %q in trace %s under %q", command, traceID, parent)
	}
	call, ok := find("flagpole-cli", method, tracepb.Span_SPAN_KIND_CLIENT, cmd.SpanID)
	if !ok {
		return fmt.Sprintf("no CLI gRPC span %s under the command's span", method)
	}
	srv, ok := find("flagpole", method, tracepb.Span_SPAN_KIND_SERVER, call.SpanID)
	if !ok {
		return fmt.Sprintf("no server gRPC span %s under the CLI's call span %s", method, call.SpanID)
	}
	tx, ok := find("flagpole", store, tracepb.Span_SPAN_KIND_INTERNAL, srv.SpanID)
	if !ok {
		return fmt.Sprintf("no server %s span under the server's %s span", store, method)
	}
	if tx.Attributes["db.system.name"] != "sqlite" || srv.Protocol != "http" || call.Protocol != "grpc" {
		return fmt.Sprintf("store span attributes %v, server spans via %s, CLI spans via %s", tx.Attributes, srv.Protocol, call.Protocol)
	}
	return ""
}
