// Package otlptest is an OTLP trace receiver for tests: it listens on
// 127.0.0.1 for OTLP over HTTP (protobuf, POST /v1/traces) and over gRPC,
// decodes every export request with the OTLP protobuf types, and keeps the
// spans for the test to inspect. Point OTEL_EXPORTER_OTLP_ENDPOINT at
// HTTPURL or GRPCURL.
package otlptest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// Span is one received span, flattened for assertions. IDs are lower-case
// hex; ParentSpanID is "" for a root span.
type Span struct {
	TraceID, SpanID, ParentSpanID string
	Name                          string
	Kind                          tracepb.Span_SpanKind
	Service                       string // the resource's service.name
	Scope                         string // the instrumentation scope's name
	Attributes                    map[string]string
	Error                         bool   // status code ERROR
	Protocol                      string // "http" or "grpc": how it arrived
}

// Receiver is a running OTLP receiver.
type Receiver struct {
	// HTTPURL is the base URL of the OTLP/HTTP endpoint (the exporter adds
	// /v1/traces); GRPCURL that of OTLP/gRPC, as http://host:port.
	HTTPURL, GRPCURL string

	discard bool // count spans, keep none (benchmarks)

	mu      sync.Mutex
	spans   []Span
	count   int
	changed chan struct{} // closed and replaced when spans arrive
}

// Start starts a receiver; it stops when the test ends.
func Start(tb testing.TB) *Receiver { return start(tb, false) }

// StartDiscarding starts a receiver that decodes every request but keeps
// only the count of spans (Count), for benchmarks that export many.
func StartDiscarding(tb testing.TB) *Receiver { return start(tb, true) }

func start(tb testing.TB, discard bool) *Receiver {
	tb.Helper()
	r := &Receiver{discard: discard, changed: make(chan struct{})}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	grpcLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", r.serveHTTP)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	gs := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(gs, traceService{r: r})
	go hs.Serve(httpLn)
	go gs.Serve(grpcLn)
	tb.Cleanup(func() {
		gs.Stop()
		hs.Close()
	})
	r.HTTPURL = "http://" + httpLn.Addr().String()
	r.GRPCURL = "http://" + grpcLn.Addr().String()
	return r
}

func (r *Receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "content type "+ct+" is not application/x-protobuf", http.StatusUnsupportedMediaType)
		return
	}
	var export coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(data, &export); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.add(&export, "http")
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

type traceService struct {
	coltracepb.UnimplementedTraceServiceServer
	r *Receiver
}

func (s traceService) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	s.r.add(req, "grpc")
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (r *Receiver) add(req *coltracepb.ExportTraceServiceRequest, protocol string) {
	var spans []Span
	for _, rs := range req.GetResourceSpans() {
		service := attrs(rs.GetResource().GetAttributes())["service.name"]
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				spans = append(spans, Span{
					TraceID: hex.EncodeToString(sp.GetTraceId()), SpanID: hex.EncodeToString(sp.GetSpanId()),
					ParentSpanID: hex.EncodeToString(sp.GetParentSpanId()), Name: sp.GetName(), Kind: sp.GetKind(),
					Service: service, Scope: ss.GetScope().GetName(), Attributes: attrs(sp.GetAttributes()),
					Error: sp.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR, Protocol: protocol,
				})
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.count += len(spans)
	if !r.discard {
		r.spans = append(r.spans, spans...)
	}
	close(r.changed)
	r.changed = make(chan struct{})
}

// attrs flattens OTLP attributes to strings (anything but a string as its
// protobuf text).
func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		v := kv.GetValue()
		if sv, ok := v.GetValue().(*commonpb.AnyValue_StringValue); ok {
			m[kv.GetKey()] = sv.StringValue
		} else {
			m[kv.GetKey()] = v.String()
		}
	}
	return m
}

// Count is the number of spans received so far.
func (r *Receiver) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}

// Spans returns every span received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// WaitFor waits until done holds for the spans received, and returns them;
// it fails the test after timeout.
func (r *Receiver) WaitFor(tb testing.TB, timeout time.Duration, done func([]Span) bool) []Span {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		spans, changed := append([]Span(nil), r.spans...), r.changed
		r.mu.Unlock()
		if done(spans) {
			return spans
		}
		select {
		case <-changed:
		case <-deadline:
			tb.Fatalf("OTLP receiver: spans wanted not received within %s; got %d:\n%s", timeout, len(spans), dump(spans))
			return nil
		}
	}
}

func dump(spans []Span) string {
	var b bytes.Buffer
	for _, s := range spans {
		b.WriteString(s.Service + " " + s.Name + " trace=" + s.TraceID + " span=" + s.SpanID + " parent=" + s.ParentSpanID + " via " + s.Protocol + "\n")
	}
	return b.String()
}
