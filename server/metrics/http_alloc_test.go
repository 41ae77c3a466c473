package metrics_test

import (
	"net/http"
	"testing"

	"github.com/flagpole/flagpole/server/metrics"
)

// discardWriter is a ResponseWriter that forgets what it is given.
type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header         { return w.h }
func (w discardWriter) WriteHeader(int)             {}
func (w discardWriter) Write(b []byte) (int, error) { return len(b), nil }

var answer = []byte("{}")

// TestHTTPMiddlewareAllocations: once a route has answered with a status,
// counting another such answer allocates nothing, and each status still
// counts under its own series.
func TestHTTPMiddlewareAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops objects at random under the race detector")
	}
	m := metrics.New()
	status := http.StatusOK
	h := m.HTTP("ofrep.EvaluateFlag", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		w.Write(answer)
	}))
	w := discardWriter{h: http.Header{}}
	r, _ := http.NewRequest(http.MethodPost, "/ofrep/v1/evaluate/flags/x", nil)
	h.ServeHTTP(w, r)
	if allocs := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) }); allocs != 0 {
		t.Errorf("%.0f allocations per request", allocs)
	}
	for _, status = range []int{http.StatusNotFound, http.StatusNotFound, http.StatusInternalServerError} {
		h.ServeHTTP(w, r)
	}
	fams := scrape(t, m)
	for code, want := range map[string]float64{"200": 1002, "404": 2, "500": 1} {
		if v := find(t, fams, "flagpole_api_requests_total", map[string]string{"transport": "http", "method": "ofrep.EvaluateFlag", "code": code}).GetCounter().GetValue(); v != want {
			t.Errorf("code %s: %v calls, want %v", code, v, want)
		}
	}
	if n := find(t, fams, "flagpole_api_request_duration_seconds", map[string]string{"transport": "http", "method": "ofrep.EvaluateFlag"}).GetHistogram().GetSampleCount(); n != 1005 {
		t.Errorf("latency samples %d, want 1005", n)
	}
}
