package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/server/daemon"
)

// testClock is a clock tests move instead of waiting: usage insights judge
// staleness by it, tokens and sessions expire by it.
type testClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
}

type httpServer struct {
	t    *testing.T
	base string
	srv  *daemon.Server
}

func startHTTP(t *testing.T, clk *testClock) httpServer {
	t.Helper()
	srv := daemon.New(daemon.Config{
		DBPath: filepath.Join(t.TempDir(), "flagpole.db"), GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
		StaleAfter:         7 * 24 * time.Hour,
		UsageFlushInterval: 20 * time.Millisecond,
		Now:                clk.Now,
		AdminToken:         testAdminToken, Out: io.Discard,
	})
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return httpServer{t: t, base: "http://" + srv.HTTPAddr().String(), srv: srv}
}

// do sends a JSON request and decodes a JSON answer; it fails the test on
// an unexpected status.
func (h httpServer) do(method, path, body string, want int, header ...string) map[string]any {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		h.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	var out map[string]any
	if len(raw) > 0 && json.Unmarshal(raw, &out) != nil {
		h.t.Fatalf("%s %s: not JSON: %s", method, path, raw)
	}
	return out
}

func (h httpServer) ofrep(flag, targetingKey string) map[string]any {
	h.t.Helper()
	body := fmt.Sprintf(`{"context":{"targetingKey":%q,"plan":"pro"}}`, targetingKey)
	return h.do("POST", "/ofrep/v1/evaluate/flags/"+flag, body, 200, "X-Flagpole-Environment", "production")
}

func connectSDK(t *testing.T, addr, service string) *sdk.Provider {
	t.Helper()
	p, err := sdk.NewProvider(addr, sdk.WithToken(testAdminToken), sdk.WithEnvironment("production"), sdk.WithServiceName(service),
		sdk.WithUsageInterval(20*time.Millisecond), sdk.WithInitTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Shutdown)
	if err := p.InitWithContext(context.Background(), openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func setup(h httpServer) {
	h.do("POST", "/api/v1/flags", `{"key":"checkout","type":"boolean"}`, 200)
	h.do("POST", "/api/v1/flags", `{"key":"color","type":"string","variants":[{"key":"red","value":"#f00"},{"key":"blue","value":"#00f"}]}`, 200)
	h.do("POST", "/api/v1/flags", `{"key":"unused","type":"boolean"}`, 200)
	h.do("PUT", "/api/v1/flags/checkout/environments/production", `{"enabled":true,"offVariant":"off",
		"rules":[{"conditions":[{"attribute":"plan","operator":"in","values":["enterprise"]}],"serve":{"variant":"on"}}],
		"defaultServe":{"split":{"weights":[{"variant":"on","weight":30},{"variant":"off","weight":70}]}}}`, 200)
	h.do("PUT", "/api/v1/flags/color/environments/production", `{"enabled":true,"offVariant":"red","defaultServe":{"variant":"red"}}`, 200)
}

// TestSDKAndOFREPAgree evaluates the same flags for the same contexts in the
// Go SDK (in process, from the stream) and over OFREP (on the server).
func TestSDKAndOFREPAgree(t *testing.T) {
	t.Parallel()
	h := startHTTP(t, &testClock{})
	setup(h)
	p := connectSDK(t, h.srv.GRPCAddr().String(), "billing")
	ctx := context.Background()
	for i := range 50 {
		key := fmt.Sprintf("user-%d", i)
		flat := openfeature.FlattenedContext{"targetingKey": key, "plan": "pro"}
		b := p.BooleanEvaluation(ctx, "checkout", false, flat)
		o := h.ofrep("checkout", key)
		if o["value"] != b.Value || o["variant"] != b.Variant || o["reason"] != string(b.Reason) {
			t.Fatalf("%s: SDK %+v, OFREP %v", key, b.ProviderResolutionDetail, o)
		}
		md, _ := o["metadata"].(map[string]any)
		if md["flagSetId"] != b.FlagMetadata["flagSetId"] || fmt.Sprint(md["version"]) != fmt.Sprint(b.FlagMetadata["version"]) {
			t.Fatalf("%s: metadata SDK %v, OFREP %v", key, b.FlagMetadata, md)
		}
		s := p.StringEvaluation(ctx, "color", "", flat)
		o = h.ofrep("color", key)
		if o["value"] != s.Value || o["variant"] != s.Variant || o["reason"] != string(s.Reason) {
			t.Fatalf("%s: SDK %+v, OFREP %v", key, s.ProviderResolutionDetail, o)
		}
	}
}

// TestUsageAndStaleFlags: usage reported by real SDK providers shows up as
// last-evaluated with the service name; a flag nobody evaluates, and one that
// serves a single variant to everyone, become stale after the stale period.
func TestUsageAndStaleFlags(t *testing.T) {
	t.Parallel()
	clk := &testClock{}
	h := startHTTP(t, clk)
	setup(h)
	ctx := context.Background()
	billing := connectSDK(t, h.srv.GRPCAddr().String(), "billing")
	search := connectSDK(t, h.srv.GRPCAddr().String(), "search")
	evaluate := func() {
		for i := range 20 {
			flat := openfeature.FlattenedContext{"targetingKey": fmt.Sprintf("user-%d", i)}
			billing.BooleanEvaluation(ctx, "checkout", false, flat)
			search.StringEvaluation(ctx, "color", "", flat)
		}
	}
	evaluate()
	waitFor(t, "usage of checkout by billing", func() bool {
		u := h.do("GET", "/api/v1/flags/checkout/usage?environment=production", "", 200)
		list, _ := u["usage"].([]any)
		if len(list) != 1 {
			return false
		}
		fu := list[0].(map[string]any)
		svcs, _ := fu["services"].([]any)
		return fu["lastEvaluateTime"] != nil && len(svcs) == 1 && svcs[0].(map[string]any)["name"] == "billing" &&
			fu["evaluationsLastDay"] == "20"
	})
	if stale := staleFlags(h); len(stale) != 0 {
		t.Fatalf("stale right after creation: %v", stale)
	}

	clk.Advance(8 * 24 * time.Hour)
	evaluate() // checkout serves on and off; color serves only red
	waitFor(t, "the second round of usage", func() bool {
		for _, flag := range []string{"checkout", "color"} {
			u := h.do("GET", "/api/v1/flags/"+flag+"/usage?environment=production", "", 200)
			fu := u["usage"].([]any)[0].(map[string]any)
			last, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(fu["lastEvaluateTime"]))
			if clk.Now().Sub(last) > time.Hour {
				return false
			}
		}
		return true
	})
	stale := staleFlags(h)
	want := map[string]string{"unused": "never_evaluated", "color": "single_variant"}
	if len(stale) != len(want) || stale["unused"] != want["unused"] || stale["color"] != want["color"] {
		t.Fatalf("stale flags %v, want %v", stale, want)
	}
	flags := h.do("GET", "/api/v1/flags?environment=production&staleOnly=true", "", 200)
	if list, _ := flags["flags"].([]any); len(list) != 2 {
		t.Fatalf("ListFlags stale_only: %v", flags)
	}
}

func staleFlags(h httpServer) map[string]string {
	h.t.Helper()
	resp := h.do("GET", "/api/v1/usage?environment=production&staleOnly=true", "", 200)
	out := map[string]string{}
	list, _ := resp["usage"].([]any)
	for _, u := range list {
		m := u.(map[string]any)
		out[m["flagKey"].(string)] = m["staleReason"].(string)
	}
	return out
}

// TestMetricsAfterTraffic scrapes /metrics after API, OFREP and sync traffic.
func TestMetricsAfterTraffic(t *testing.T) {
	t.Parallel()
	h := startHTTP(t, &testClock{})
	setup(h)
	p := connectSDK(t, h.srv.GRPCAddr().String(), "billing")
	for i := range 5 {
		h.ofrep("checkout", fmt.Sprintf("u%d", i))
	}
	h.do("POST", "/ofrep/v1/evaluate/flags/nope", `{}`, 404, "X-Flagpole-Environment", "production")
	h.do("GET", "/api/v1/flags/nope", "", 404)
	before := p.Revision()
	h.do("POST", "/api/v1/flags/color/environments/production/enabled", `{"enabled":false}`, 200)
	waitFor(t, "the SDK to apply the change", func() bool { return p.Revision() > before })

	// The SDK acknowledges a revision up to its ack delay after applying
	// it, and the acknowledgement of its first snapshot already gave the
	// propagation histogram a sample: wait until the new revision's
	// acknowledgement arrived too (no instance behind).
	var fams map[string]*dto.MetricFamily
	waitFor(t, "propagation to be observed", func() bool {
		fams = scrapeMetrics(t, h.base)
		m := metricWith(fams, "flagpole_sync_propagation_seconds", map[string]string{"environment": "production"})
		lag := metricWith(fams, "flagpole_sync_revision_lag", map[string]string{"environment": "production"})
		return m != nil && m.GetHistogram().GetSampleCount() >= 1 && lag != nil && lag.GetGauge().GetValue() == 0
	})
	checks := []struct {
		name   string
		labels map[string]string
		ok     func(*dto.Metric) bool
	}{
		{"flagpole_api_requests_total", map[string]string{"transport": "http", "method": "/flagpole.v1.FlagService/CreateFlag", "code": "200"},
			func(m *dto.Metric) bool { return m.GetCounter().GetValue() == 3 }},
		{"flagpole_api_requests_total", map[string]string{"transport": "http", "method": "/flagpole.v1.FlagService/GetFlag", "code": "404"},
			func(m *dto.Metric) bool { return m.GetCounter().GetValue() == 1 }},
		{"flagpole_api_requests_total", map[string]string{"transport": "http", "method": "ofrep.EvaluateFlag", "code": "404"},
			func(m *dto.Metric) bool { return m.GetCounter().GetValue() == 1 }},
		{"flagpole_api_requests_total", map[string]string{"transport": "grpc", "method": "/flagpole.v1.SyncService/Sync"},
			func(m *dto.Metric) bool { return false }}, // the stream is still open: not counted yet
		{"flagpole_api_request_duration_seconds", map[string]string{"transport": "http", "method": "ofrep.EvaluateFlag"},
			func(m *dto.Metric) bool {
				h := m.GetHistogram()
				return h.GetSampleCount() == 6 && h.GetSampleSum() > 0 && h.GetSampleSum() < 5
			}},
		{"flagpole_remote_evaluations_total", map[string]string{"source": "ofrep", "environment": "production", "flag": "checkout"},
			func(m *dto.Metric) bool { return m.GetCounter().GetValue() >= 1 }},
		{"flagpole_sync_streams", map[string]string{"environment": "production"},
			func(m *dto.Metric) bool { return m.GetGauge().GetValue() == 1 }},
		{"flagpole_sync_revision_lag", map[string]string{"environment": "production"},
			func(m *dto.Metric) bool { return m.GetGauge().GetValue() == 0 }},
		{"flagpole_sync_propagation_seconds", map[string]string{"environment": "production"},
			func(m *dto.Metric) bool { s := m.GetHistogram().GetSampleSum(); return s > 0 && s < 5 }},
		{"flagpole_store_operation_duration_seconds", map[string]string{"operation": "update", "result": "ok"},
			func(m *dto.Metric) bool { return m.GetHistogram().GetSampleCount() >= 6 }},
	}
	for _, c := range checks {
		m := metricWith(fams, c.name, c.labels)
		if c.name == "flagpole_api_requests_total" && c.labels["method"] == "/flagpole.v1.SyncService/Sync" {
			if m != nil {
				t.Errorf("an open stream was counted as a finished call")
			}
			continue
		}
		if m == nil {
			t.Errorf("no %s%v", c.name, c.labels)
			continue
		}
		if !c.ok(m) {
			t.Errorf("%s%v has an implausible value: %v", c.name, c.labels, m)
		}
	}
	// Sum of OFREP evaluations by reason equals the calls made (5 + one FLAG_NOT_FOUND).
	var total float64
	for _, m := range fams["flagpole_remote_evaluations_total"].GetMetric() {
		if labelOf(m, "source") == "ofrep" {
			total += m.GetCounter().GetValue()
		}
	}
	if total != 6 {
		t.Errorf("ofrep evaluations counted %v, want 6", total)
	}
}

func scrapeMetrics(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

func metricWith(fams map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
next:
	for _, m := range fams[name].GetMetric() {
		for k, v := range labels {
			if labelOf(m, k) != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
