package httpsignals

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
)

// event is one Track call seen by tracker.
type event struct {
	name  string
	key   string // the evaluation context's targeting key
	value float64
}

// tracker is a hand-written openfeature.Tracker that records calls.
type tracker struct {
	mu     sync.Mutex
	events []event
}

func (t *tracker) Track(_ context.Context, name string, evalCtx openfeature.EvaluationContext, d openfeature.TrackingEventDetails) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, event{name, evalCtx.TargetingKey(), d.Value()})
}

func (t *tracker) take() []event {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.events
	t.events = nil
	return e
}

// tick is a clock that advances by step on every call.
func tick(step time.Duration) func() time.Time {
	var mu sync.Mutex
	now := time.Unix(0, 0)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(step)
		return now
	}
}

func TestOutcomes(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			fmt.Fprint(w, "ok")
		case "/empty": // writes nothing: 200
		case "/unavailable":
			http.Error(w, "down", http.StatusServiceUnavailable)
		case "/not-found":
			http.NotFound(w, r)
		case "/early-hints": // a 1xx before the final status
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusInternalServerError)
		case "/set":
			SetContext(r.Context(), openfeature.NewEvaluationContext("from-handler", nil))
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	tr := &tracker{}
	m := &Middleware{Tracker: tr, Now: tick(250 * time.Millisecond)}
	srv := httptest.NewServer(withUser(m.Handler(handler)))
	defer srv.Close()

	for _, c := range []struct {
		path string
		want []event
	}{
		{"/ok", []event{{DurationEvent, "alice", 0.25}}},
		{"/empty", []event{{DurationEvent, "alice", 0.25}}},
		{"/not-found", []event{{DurationEvent, "alice", 0.25}}},
		{"/unavailable", []event{{ErrorEvent, "alice", 1}, {DurationEvent, "alice", 0.25}}},
		{"/early-hints", []event{{ErrorEvent, "alice", 1}, {DurationEvent, "alice", 0.25}}},
		{"/set", []event{{ErrorEvent, "from-handler", 1}, {DurationEvent, "from-handler", 0.25}}},
	} {
		get(t, srv.URL+c.path+"?user=alice")
		if got := tr.take(); !slices.Equal(got, c.want) {
			t.Errorf("GET %s tracked %v, want %v", c.path, got, c.want)
		}
	}
}

// withUser sets the OpenFeature transaction context from ?user=, as a
// service's own middleware further out would.
func withUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ec := openfeature.NewEvaluationContext(r.URL.Query().Get("user"), nil)
		next.ServeHTTP(w, r.WithContext(openfeature.WithTransactionContext(r.Context(), ec)))
	})
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestContextFunctionAndEvents(t *testing.T) {
	tr := &tracker{}
	m := &Middleware{
		Tracker: tr,
		Context: func(r *http.Request) openfeature.EvaluationContext {
			return openfeature.NewEvaluationContext(r.Header.Get("X-User"), nil)
		},
		IsError:       func(status int) bool { return status == http.StatusTeapot },
		ErrorEvent:    "teapot",
		DurationEvent: "-",
	}
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/tea" {
			w.WriteHeader(http.StatusTeapot)
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
	})))
	defer srv.Close()
	for _, path := range []string{"/tea", "/coffee"} {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("X-User", "bob")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got, want := tr.take(), []event{{"teapot", "bob", 1}}; !slices.Equal(got, want) {
		t.Errorf("tracked %v, want %v (a 418 is the error, a 500 is not; no duration event)", got, want)
	}
}

func TestPanicIsAnErrorAndGoesOn(t *testing.T) {
	tr := &tracker{}
	h := (&Middleware{Tracker: tr, Now: tick(time.Second)}).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "partial") // a 200 already sent does not hide the panic
		panic("boom")
	}))
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the handler's panic to go on", p)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	if got, want := tr.take(), []event{{ErrorEvent, "", 1}, {DurationEvent, "", 1}}; !slices.Equal(got, want) {
		t.Errorf("tracked %v, want %v", got, want)
	}
}

func TestStreamingAndHijack(t *testing.T) {
	tr := &tracker{}
	done := make(chan struct{}, 2) // a request's middleware has finished
	h := Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hijack" {
			c, rw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			rw.WriteString("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			rw.Flush()
			return
		}
		fmt.Fprint(w, "first ")
		w.(http.Flusher).Flush()
		if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("ResponseController through the middleware: %v", err)
		}
		fmt.Fprint(w, "second")
	}), tr)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		done <- struct{}{}
	}))
	defer srv.Close()
	if body := get(t, srv.URL+"/stream"); body != "first second" {
		t.Errorf("streamed %q", body)
	}
	if got := tr.take(); len(got) != 1 || got[0].name != DurationEvent {
		t.Errorf("streaming response tracked %v, want one duration", got)
	}
	resp, err := http.Get(srv.URL + "/hijack")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	<-done
	<-done // both requests have left the middleware
	if got := tr.take(); len(got) != 0 {
		t.Errorf("hijacked connection tracked %v, want nothing", got)
	}
}

func TestSetContextOutsideTheMiddleware(t *testing.T) {
	if SetContext(context.Background(), openfeature.EvaluationContext{}) {
		t.Error("SetContext on a context without the middleware reported true")
	}
}
