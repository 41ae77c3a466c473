// Package httpsignals gives an HTTP service the signals guarded releases
// watch, from one line: a net/http middleware that tracks every request's
// outcome through OpenFeature's Track, which the Flagpole provider
// attributes to the variant each guarded flag serves the request's
// evaluation context (see the sdk package's Track).
//
//	flags := openfeature.NewDefaultClient()
//	http.ListenAndServe(addr, httpsignals.Wrap(mux, flags))
//
// and start a plan guarded by the error event:
//
//	flagpole release start KEY --env E --steps 5,25,100 --hold 10m --guard 'http.server.error<=1.2x'
//
// or by the mean request latency (the new variant's mean duration must stay
// within 1.2× the control's and the control's + 0.05 s):
//
//	flagpole release start KEY --env E --steps 5,25,100 --hold 10m --guard 'mean(http.server.request.duration)<=1.2x,+0.05'
//
// For every request the middleware tracks
//   - ErrorEvent ("http.server.error") when the response status is 5xx, or
//     the handler panicked (the panic goes on after it);
//   - DurationEvent ("http.server.request.duration") with the time the
//     handler took in seconds as the value, so a guarded flag's count of it
//     is its requests and its sum their total latency.
//
// A rate guard judges an event's rate against the flag's exposures (its
// evaluations per variant), so the error rate is per request when a
// request evaluates the flag once; a mean guard judges the mean of the
// event's values (the SDK reports their count, sum and sum of squares).
//
// The evaluation context of a request is, in this order: what the handler
// set with SetContext (typically once it knows the user), what the
// middleware's Context function returns, or the OpenFeature transaction
// context of the request's context (set by a middleware further out).
// A request whose context cannot be attributed (no targeting key for a
// split) is counted as dropped by the provider, never as a variant's.
//
// The package uses only the standard library and OpenFeature; hijacked
// connections (WebSockets) are not tracked.
package httpsignals

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
)

// The default event names.
const (
	ErrorEvent    = "http.server.error"
	DurationEvent = "http.server.request.duration"
)

// Middleware tracks request outcomes. Its zero value with a Tracker set is
// ready to use; fields must not change once Handler has been called.
type Middleware struct {
	// Tracker receives the events: an *openfeature.Client (which also adds
	// the API's and the client's evaluation context) or the Flagpole
	// provider itself.
	Tracker openfeature.Tracker
	// Context returns a request's evaluation context when the handler did
	// not set one with SetContext. Nil: the request's OpenFeature
	// transaction context.
	Context func(*http.Request) openfeature.EvaluationContext
	// IsError reports whether a response status is an error. Nil: 5xx.
	IsError func(status int) bool
	// ErrorEvent and DurationEvent name the events; empty means the
	// package's defaults, "-" turns the event off.
	ErrorEvent, DurationEvent string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Wrap is (&Middleware{Tracker: t}).Handler(next).
func Wrap(next http.Handler, t openfeature.Tracker) http.Handler {
	return (&Middleware{Tracker: t}).Handler(next)
}

// request is what the middleware knows of one request while it runs: the
// evaluation context the handler set. It is part of the recorder, so the
// two cost one allocation.
type request struct {
	mu      sync.Mutex
	evalCtx openfeature.EvaluationContext
	set     bool
}

type requestKey struct{}

// SetContext sets the evaluation context that the request of ctx is
// tracked for, overriding the middleware's Context. It reports false when
// ctx is not a request's under the middleware.
func SetContext(ctx context.Context, evalCtx openfeature.EvaluationContext) bool {
	req, _ := ctx.Value(requestKey{}).(*request)
	if req == nil {
		return false
	}
	req.mu.Lock()
	req.evalCtx, req.set = evalCtx, true
	req.mu.Unlock()
	return true
}

// Handler returns next wrapped by the middleware.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	if m.Tracker == nil {
		panic("httpsignals: Middleware without a Tracker")
	}
	errEvent := eventName(m.ErrorEvent, ErrorEvent)
	durEvent := eventName(m.DurationEvent, DurationEvent)
	now := m.Now
	if now == nil {
		now = time.Now
	}
	isError := m.IsError
	if isError == nil {
		isError = func(status int) bool { return status >= 500 && status <= 599 }
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		req := &rec.req
		start := now()
		failed := true // until the handler returns
		defer func() {
			if rec.hijacked {
				return
			}
			p := recover() // a panic (failed is still true) is an error too
			m.track(r, req, errEvent, durEvent, failed || isError(rec.status()), now().Sub(start))
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), requestKey{}, req)))
		failed = false
	})
}

func eventName(set, def string) string {
	switch set {
	case "":
		return def
	case "-":
		return ""
	}
	return set
}

// track tracks one finished request.
func (m *Middleware) track(r *http.Request, req *request, errEvent, durEvent string, failed bool, took time.Duration) {
	req.mu.Lock()
	evalCtx, set := req.evalCtx, req.set
	req.mu.Unlock()
	if !set {
		if m.Context != nil {
			evalCtx = m.Context(r)
		} else {
			evalCtx = openfeature.TransactionContext(r.Context())
		}
	}
	ctx := r.Context() // not cancelled before the middleware returns
	if failed && errEvent != "" {
		m.Tracker.Track(ctx, errEvent, evalCtx, openfeature.NewTrackingEventDetails(1))
	}
	if durEvent != "" {
		m.Tracker.Track(ctx, durEvent, evalCtx, openfeature.NewTrackingEventDetails(took.Seconds()))
	}
}

// recorder remembers the status a handler wrote. http.ResponseController
// reaches the writer underneath through Unwrap.
type recorder struct {
	http.ResponseWriter
	code     int
	hijacked bool
	req      request
}

func (rec *recorder) WriteHeader(code int) {
	if rec.code == 0 && code >= 200 {
		rec.code = code // 1xx are informational; the final status follows
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	return rec.ResponseWriter.Write(b)
}

// Flush keeps streaming handlers that assert http.Flusher working.
func (rec *recorder) Flush() {
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	_ = http.NewResponseController(rec.ResponseWriter).Flush()
}

// Hijack hands the connection over; the request is then not tracked.
func (rec *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(rec.ResponseWriter).Hijack()
	if err == nil {
		rec.hijacked = true
	}
	return c, rw, err
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// status is the response's status: 200 when the handler wrote nothing.
func (rec *recorder) status() int {
	if rec.code == 0 {
		return http.StatusOK
	}
	return rec.code
}
