package metrics_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/metrics"
)

// evalServer is a hand-written EvaluationService for the interceptor seam.
type evalServer struct {
	flagpolev1.UnimplementedEvaluationServiceServer
}

func (evalServer) Evaluate(_ context.Context, r *flagpolev1.EvaluateRequest) (*flagpolev1.EvaluateResponse, error) {
	if r.GetFlagKey() == "missing" {
		return nil, status.Error(codes.NotFound, "flag missing not found")
	}
	return &flagpolev1.EvaluateResponse{Evaluation: &flagpolev1.Evaluation{FlagKey: r.GetFlagKey(), Reason: "STATIC", Variant: "on"}}, nil
}

func scrape(t *testing.T, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse scrape: %v", err)
	}
	return fams
}

// find returns the metric of family name whose labels include want.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no series %s in scrape", name)
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m
	}
	t.Fatalf("no %s with labels %v", name, want)
	return nil
}

func TestGRPCCallsAndEvaluations(t *testing.T) {
	m := metrics.New()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.ChainUnaryInterceptor(m.UnaryServerInterceptor(), m.EvaluationInterceptor("grpc")))
	flagpolev1.RegisterEvaluationServiceServer(gs, evalServer{})
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := flagpolev1.NewEvaluationServiceClient(conn)
	ctx := context.Background()
	for range 3 {
		if _, err := c.Evaluate(ctx, &flagpolev1.EvaluateRequest{Environment: "production", FlagKey: "checkout"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Evaluate(ctx, &flagpolev1.EvaluateRequest{Environment: "production", FlagKey: "missing"}); status.Code(err) != codes.NotFound {
		t.Fatalf("want NotFound, got %v", err)
	}

	fams := scrape(t, m)
	const method = "/flagpole.v1.EvaluationService/Evaluate"
	if v := find(t, fams, "flagpole_api_requests_total", map[string]string{"transport": "grpc", "method": method, "code": "OK"}).GetCounter().GetValue(); v != 3 {
		t.Errorf("OK calls = %v, want 3", v)
	}
	if v := find(t, fams, "flagpole_api_requests_total", map[string]string{"method": method, "code": "NotFound"}).GetCounter().GetValue(); v != 1 {
		t.Errorf("NotFound calls = %v, want 1", v)
	}
	h := find(t, fams, "flagpole_api_request_duration_seconds", map[string]string{"method": method}).GetHistogram()
	if h.GetSampleCount() != 4 || h.GetSampleSum() <= 0 || h.GetSampleSum() > 10 {
		t.Errorf("latency histogram count=%d sum=%v, want 4 samples with a small positive sum", h.GetSampleCount(), h.GetSampleSum())
	}
	if v := find(t, fams, "flagpole_remote_evaluations_total", map[string]string{"source": "grpc", "environment": "production", "flag": "checkout", "reason": "STATIC"}).GetCounter().GetValue(); v != 3 {
		t.Errorf("evaluations = %v, want 3", v)
	}
}

func TestHTTPMiddleware(t *testing.T) {
	m := metrics.New()
	h := m.HTTP("ofrep.EvaluateFlag", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("fail") != "" {
			http.Error(w, "nope", http.StatusNotFound)
			return
		}
		w.Write([]byte("{}"))
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	for _, q := range []string{"", "", "?fail=1"} {
		resp, err := http.Get(srv.URL + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	fams := scrape(t, m)
	if v := find(t, fams, "flagpole_api_requests_total", map[string]string{"transport": "http", "method": "ofrep.EvaluateFlag", "code": "200"}).GetCounter().GetValue(); v != 2 {
		t.Errorf("200s = %v, want 2", v)
	}
	if v := find(t, fams, "flagpole_api_requests_total", map[string]string{"transport": "http", "code": "404"}).GetCounter().GetValue(); v != 1 {
		t.Errorf("404s = %v, want 1", v)
	}
}

func TestSyncSeries(t *testing.T) {
	m := metrics.New()
	commit := time.Now().Add(-50 * time.Millisecond)
	m.StreamOpened("production", "a", 0)
	m.StreamOpened("production", "b", 0)
	m.StreamOpened("staging", "c", 0)
	m.Published("production", 7, time.Time{})
	m.Acked("production", "a", 7)
	m.Acked("production", "b", 7)
	m.Published("production", 8, commit)
	m.Acked("production", "a", 8)
	m.StreamClosed("staging", "c")

	fams := scrape(t, m)
	if v := find(t, fams, "flagpole_sync_streams", map[string]string{"environment": "production"}).GetGauge().GetValue(); v != 2 {
		t.Errorf("production streams = %v, want 2", v)
	}
	if v := find(t, fams, "flagpole_sync_streams", map[string]string{"environment": "staging"}).GetGauge().GetValue(); v != 0 {
		t.Errorf("staging streams = %v, want 0", v)
	}
	if v := find(t, fams, "flagpole_sync_revision_lag", map[string]string{"environment": "production"}).GetGauge().GetValue(); v != 1 {
		t.Errorf("lag = %v, want 1 (b is at 7, current 8)", v)
	}
	if v := find(t, fams, "flagpole_sync_clients_behind", map[string]string{"environment": "production"}).GetGauge().GetValue(); v != 1 {
		t.Errorf("behind = %v, want 1", v)
	}
	h := find(t, fams, "flagpole_sync_propagation_seconds", map[string]string{"environment": "production"}).GetHistogram()
	if h.GetSampleCount() != 1 || h.GetSampleSum() < 0.05 || h.GetSampleSum() > 5 {
		t.Errorf("propagation count=%d sum=%v, want one sample >= 50ms", h.GetSampleCount(), h.GetSampleSum())
	}
}

// failingStore is a hand-written store whose transactions fail on demand.
type failingStore struct{ fail bool }

func (s failingStore) Update(ctx context.Context, fn func(server.Tx) error) error {
	if s.fail {
		return errors.New("disk full")
	}
	return nil
}
func (s failingStore) View(ctx context.Context, fn func(server.Tx) error) error { return nil }

func TestStoreLatency(t *testing.T) {
	m := metrics.New()
	ctx := context.Background()
	m.Store(failingStore{}).Update(ctx, nil)
	m.Store(failingStore{}).View(ctx, nil)
	if err := m.Store(failingStore{fail: true}).Update(ctx, nil); err == nil {
		t.Fatal("wrapped store swallowed the error")
	}
	fams := scrape(t, m)
	for _, l := range []map[string]string{
		{"operation": "update", "result": "ok"},
		{"operation": "view", "result": "ok"},
		{"operation": "update", "result": "error"},
	} {
		if n := find(t, fams, "flagpole_store_operation_duration_seconds", l).GetHistogram().GetSampleCount(); n != 1 {
			t.Errorf("%v: %d samples, want 1", l, n)
		}
	}
}

func TestNilMetricsRecordsNothing(t *testing.T) {
	var m *metrics.Metrics
	m.Evaluated("ofrep", "e", "f", "STATIC", "")
	m.StreamOpened("e", "i", 0)
	m.Acked("e", "i", 1)
	if s := m.Store(failingStore{}); s != (failingStore{}) {
		t.Error("nil metrics should return the store unwrapped")
	}
}
