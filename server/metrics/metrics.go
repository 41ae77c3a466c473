// Package metrics exposes what the Flagpole server is doing as Prometheus
// series: API calls on both transports, remote evaluations, sync streams and
// how fast changes reach them, and store latency. Every collector lives on
// the registry that New creates; nothing registers itself at import time, so
// two servers in one process (as in tests) never collide.
package metrics

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flagpole/flagpole/sdk/engine"
)

// Metrics owns a registry and the server's collectors. The zero value is not
// usable; call New. A nil *Metrics is valid and records nothing, so callers
// can leave metrics off without branching.
type Metrics struct {
	reg *prometheus.Registry

	apiCalls    *prometheus.CounterVec
	apiLatency  *prometheus.HistogramVec
	evaluations *prometheus.CounterVec
	streams     *prometheus.GaugeVec
	propagation *prometheus.HistogramVec
	storeOps    *prometheus.HistogramVec
	usageFlush  *prometheus.CounterVec
	signalReps  *prometheus.CounterVec
	signalDrops *prometheus.CounterVec

	sync syncState

	webhookOnce        sync.Once
	webhookAttemptsVec *prometheus.CounterVec
}

// New returns Metrics with every collector registered on a fresh registry,
// plus the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.apiCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flagpole_api_requests_total",
		Help: "API calls by transport (grpc, http), method (gRPC full method name or OFREP route) and code (gRPC code name for grpc, HTTP status for http).",
	}, []string{"transport", "method", "code"})
	m.apiLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "flagpole_api_request_duration_seconds",
		Help:    "API call latency by transport and method.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"transport", "method"})
	m.evaluations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flagpole_remote_evaluations_total",
		Help: "Flag evaluations done by the server for remote callers, by source (grpc, http, ofrep), environment, flag (_unknown for flags that do not exist) and reason.",
	}, []string{"source", "environment", "flag", "reason"})
	m.streams = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "flagpole_sync_streams",
		Help: "Connected SDK sync streams by environment.",
	}, []string{"environment"})
	m.propagation = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "flagpole_sync_propagation_seconds",
		Help:    "Time from a change's commit to an SDK instance acknowledging its revision.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"environment"})
	m.storeOps = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "flagpole_store_operation_duration_seconds",
		Help:    "Store transaction latency by operation (update, view, usage_flush, signals_flush) and result (ok, error).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	}, []string{"operation", "result"})
	m.usageFlush = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flagpole_usage_reports_total",
		Help: "SDK usage reports received on sync streams, by environment.",
	}, []string{"environment"})
	m.signalReps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flagpole_signal_reports_total",
		Help: "SDK signal reports (tracked events of guarded flags per variant, and exposures) received on sync streams, by environment.",
	}, []string{"environment"})
	m.signalDrops = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flagpole_signal_events_dropped_total",
		Help: "Tracked events SDKs could not attribute or count (too many event names, a context the flag cannot be evaluated for), by environment.",
	}, []string{"environment"})
	m.sync.init()
	m.reg.MustRegister(
		m.apiCalls, m.apiLatency, m.evaluations, m.streams, m.propagation, m.storeOps, m.usageFlush, m.signalReps, m.signalDrops,
		lagCollector{&m.sync},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry returns the registry, for callers that add their own collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// UnknownFlag is the flag label of evaluations of flags that do not exist:
// callers choose those keys, so each would be a new series for good (no flag
// key can start with an underscore).
const UnknownFlag = "_unknown"

// Evaluated counts one remote evaluation. source is grpc, http or ofrep;
// errorCode is the evaluation's (empty for none): FLAG_NOT_FOUND counts
// under flag UnknownFlag.
func (m *Metrics) Evaluated(source, environment, flag, reason, errorCode string) {
	if m == nil {
		return
	}
	if errorCode == string(engine.ErrorFlagNotFound) {
		flag = UnknownFlag
	}
	m.evaluations.WithLabelValues(source, environment, flag, reason).Inc()
}

// ObserveStore records the latency of one store operation.
func (m *Metrics) ObserveStore(operation string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.storeOps.WithLabelValues(operation, result(err)).Observe(d.Seconds())
}

// SignalsReported counts one SDK signal report and the events it says the
// SDK dropped.
func (m *Metrics) SignalsReported(environment string, dropped int64) {
	if m == nil {
		return
	}
	m.signalReps.WithLabelValues(environment).Inc()
	if dropped > 0 {
		m.signalDrops.WithLabelValues(environment).Add(float64(dropped))
	}
}

// UsageReported counts one SDK usage report.
func (m *Metrics) UsageReported(environment string) {
	if m == nil {
		return
	}
	m.usageFlush.WithLabelValues(environment).Inc()
}

func (m *Metrics) observeCall(transport, method, code string, d time.Duration) {
	m.apiCalls.WithLabelValues(transport, method, code).Inc()
	m.apiLatency.WithLabelValues(transport, method).Observe(d.Seconds())
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// HTTP wraps next and records each request as an API call of the given
// method (the gRPC full method name the route maps to, or the route name),
// labelled with the HTTP status.
func (m *Metrics) HTTP(method string, next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	rt := &httpRoute{m: m, method: method}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := statusWriters.Get().(*statusWriter)
		*sw = statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		status := sw.status
		*sw = statusWriter{} // a handler may not use its writer after returning
		statusWriters.Put(sw)
		rt.observe(status, time.Since(start))
	})
}

// httpRoute holds a route's series, resolved at its first request (not
// before: a route nobody called has no series, as with WithLabelValues per
// request) and then reused, where WithLabelValues would hash the labels
// and format the status for every request. Nothing deletes or resets the
// API series, so a resolved series stays the vector's.
type httpRoute struct {
	m       *Metrics
	method  string
	latency atomic.Pointer[prometheus.Observer]
	calls   atomic.Pointer[[]statusCounter] // copied on insert
	mu      sync.Mutex                      // serialises inserts
}

type statusCounter struct {
	status int
	c      prometheus.Counter
}

func (rt *httpRoute) observe(status int, d time.Duration) {
	rt.counter(status).Inc()
	latency := rt.latency.Load()
	if latency == nil {
		o := rt.m.apiLatency.WithLabelValues("http", rt.method)
		latency = &o
		rt.latency.Store(latency) // a race stores the same series
	}
	(*latency).Observe(d.Seconds())
}

// counter returns the route's counter of status.
func (rt *httpRoute) counter(status int) prometheus.Counter {
	if calls := rt.calls.Load(); calls != nil {
		for _, sc := range *calls {
			if sc.status == status {
				return sc.c
			}
		}
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var old []statusCounter
	if calls := rt.calls.Load(); calls != nil {
		old = *calls
	}
	for _, sc := range old {
		if sc.status == status {
			return sc.c
		}
	}
	c := rt.m.apiCalls.WithLabelValues("http", rt.method, strconv.Itoa(status))
	next := append(slices.Clip(old), statusCounter{status, c})
	rt.calls.Store(&next)
	return c
}

var statusWriters = sync.Pool{New: func() any { return new(statusWriter) }}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
