package ofrep_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/server/ofrep"
)

// discardWriter is a ResponseWriter that keeps the status and forgets the
// body, reusing its header map, as net/http's response does per request.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header  { return w.h }
func (w *discardWriter) WriteHeader(code int) { w.status = code }
func (w *discardWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	return len(b), nil
}

// rewindBody is a request body that can be read again.
type rewindBody struct{ strings.Reader }

func (*rewindBody) Close() error { return nil }

// countingSink counts evaluations and usage without allocating.
type countingSink struct{ evals, usage int }

func (c *countingSink) Evaluated(_, _, _, _, _ string)    { c.evals++ }
func (c *countingSink) Record(_, _, _, _ string, _ int64) { c.usage++ }

// oneEvaluation returns a function that serves one OFREP single evaluation
// (a split by targeting key) through the routes Register mounts.
func oneEvaluation(t testing.TB) (serve func(), w *discardWriter) {
	t.Helper()
	sink := &countingSink{}
	h := &ofrep.Handler{Snapshots: snapshots{"production": testSnapshot(t, 7)}, Authenticate: ofrep.HeaderAuthenticator, Counter: sink, Usage: sink}
	mux := http.NewServeMux()
	h.Register(mux, nil)
	const body = `{"context":{"targetingKey":"user-42","plan":"pro"}}`
	b := &rewindBody{}
	req, err := http.NewRequest(http.MethodPost, "http://flagpole/ofrep/v1/evaluate/flags/new-checkout", b)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ofrep.EnvironmentHeader, "production")
	w = &discardWriter{h: http.Header{}}
	return func() {
		b.Reset(body)
		clear(w.h)
		w.status, w.n = 0, 0
		mux.ServeHTTP(w, req)
	}, w
}

func TestEvaluateFlagAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	serve, w := oneEvaluation(t)
	serve()
	if w.status != http.StatusOK || w.n == 0 {
		t.Fatalf("status %d, %d bytes", w.status, w.n)
	}
	allocs := testing.AllocsPerRun(1000, serve)
	t.Logf("%.0f allocations per evaluation", allocs)
	if allocs > 20 {
		t.Errorf("%.0f allocations per evaluation, want at most 20", allocs)
	}
}

func BenchmarkEvaluateFlagHandler(b *testing.B) {
	serve, _ := oneEvaluation(b)
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
}
