package httpsignals

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"
)

// discard is a Tracker that does nothing: the benchmark measures the
// middleware, not what the provider does with the events.
type discard struct{}

func (discard) Track(context.Context, string, openfeature.EvaluationContext, openfeature.TrackingEventDetails) {
}

// BenchmarkMiddleware is a request through the middleware against the
// same handler without it (served in process, no network).
func BenchmarkMiddleware(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetContext(r.Context(), openfeature.NewEvaluationContext("user-1", nil))
		w.WriteHeader(http.StatusOK)
	})
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"bare", handler}, {"middleware", Wrap(handler, discard{})}} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/checkout", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				c.h.ServeHTTP(w, req)
			}
		})
	}
}
