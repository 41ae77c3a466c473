package daemon

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/auth"
	"github.com/flagpole/flagpole/server/fanout"
	"github.com/flagpole/flagpole/server/grpcapi"
	"github.com/flagpole/flagpole/server/httpapi"
	"github.com/flagpole/flagpole/server/metrics"
	"github.com/flagpole/flagpole/server/ofrep"
	"github.com/flagpole/flagpole/server/service"
	"github.com/flagpole/flagpole/server/signals"
	"github.com/flagpole/flagpole/server/syncapi"
	"github.com/flagpole/flagpole/server/usage"
)

// DefaultUsageFlushInterval is how often usage counts are written.
const DefaultUsageFlushInterval = 5 * time.Second

// observe is the server's metrics and flag usage insights.
type observe struct {
	metrics  *metrics.Metrics
	usage    *usage.Aggregator // nil when the store keeps no usage
	insights *usage.Insights
	signals  *signals.Aggregator // nil when the store keeps no signals
	sigStore server.SignalStore
	rawTrack sync.Once // logs that an SDK sends raw tracking events
	stop     context.CancelFunc
	done     chan struct{}
}

// startObserve creates the metrics and, when the store keeps usage and
// signals, their aggregators with their flushing goroutines (stopped by
// stopObserve).
func (s *Server) startObserve() {
	o := &observe{metrics: metrics.New()}
	s.observe = o
	us, ok := s.store.(server.UsageStore)
	if !ok {
		return
	}
	now := s.cfg.Now
	if now == nil {
		now = time.Now
	}
	if ss, ok := s.store.(server.SignalStore); ok {
		o.sigStore = ss
		o.signals = signals.NewAggregator(ss, signals.WithClock(now), signals.WithLogger(s.log),
			signals.WithFlushObserver(func(d time.Duration, err error) { o.metrics.ObserveStore("signals_flush", d, err) }))
	}
	o.usage = usage.NewAggregator(us, usage.WithClock(now), usage.WithLogger(s.log),
		usage.WithFlushObserver(func(d time.Duration, err error) { o.metrics.ObserveStore("usage_flush", d, err) }))
	o.insights = &usage.Insights{Store: us, Flags: flagSource{s}, StaleAfter: s.cfg.StaleAfter, Now: now}
	interval := s.cfg.UsageFlushInterval
	if interval <= 0 {
		interval = DefaultUsageFlushInterval
	}
	ctx, cancel := context.WithCancel(context.Background())
	o.stop, o.done = cancel, make(chan struct{})
	go func() {
		defer close(o.done)
		var wg sync.WaitGroup
		if o.signals != nil {
			wg.Go(func() { o.signals.Run(ctx, interval) })
		}
		o.usage.Run(ctx, interval)
		wg.Wait()
	}()
}

// stopObserve flushes the last usage counts; call it before the store closes.
func (s *Server) stopObserve() {
	if s.observe != nil && s.observe.stop != nil {
		s.observe.stop()
		<-s.observe.done
	}
}

// observedStore times every store transaction.
func (s *Server) observedStore() server.Store { return s.observe.metrics.Store(s.store) }

// observeServiceOptions makes the metrics see every commit's time.
func (s *Server) observeServiceOptions() []service.Option {
	return []service.Option{service.WithPublisher(s.observe.metrics)}
}

// observeInterceptors are the metrics interceptors of the gRPC server.
func (s *Server) observeInterceptors() ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	m := s.observe.metrics
	return []grpc.UnaryServerInterceptor{m.UnaryServerInterceptor(), m.EvaluationInterceptor("grpc")},
		[]grpc.StreamServerInterceptor{m.StreamServerInterceptor()}
}

// registerAPI registers the admin and evaluation services, with ListFlags'
// stale_only and the UsageService when usage is kept, on gs (the gRPC
// server or the HTTP API).
func (s *Server) registerAPI(gs grpc.ServiceRegistrar) {
	if s.observe.insights == nil {
		grpcapi.Register(gs, s.Service, s.log)
		return
	}
	grpcapi.Register(grpcapi.UsageRegistrar{ServiceRegistrar: gs, Insights: s.observe.insights, Log: s.log}, s.Service, s.log)
	pb.RegisterUsageServiceServer(gs, &grpcapi.UsageServer{Insights: s.observe.insights, Log: s.log})
	if s.observe.sigStore != nil {
		pb.RegisterSignalServiceServer(gs, &grpcapi.SignalServer{Store: s.observe.sigStore, Now: s.cfg.Now, Log: s.log})
	}
}

// observeSyncOptions feed the sync stream's events to metrics and usage.
func (s *Server) observeSyncOptions() []syncapi.Option {
	o := s.observe
	opts := []syncapi.Option{syncapi.WithObserver(o.metrics)}
	if o.usage != nil {
		opts = append(opts, syncapi.WithUsageSink(func(ctx context.Context, env string, c fanout.ClientInfo, r *syncpb.UsageReport) {
			o.metrics.UsageReported(env)
			snap, err := s.Service.Snapshot(ctx, env)
			if err != nil {
				s.log.Debug("usage report dropped: no snapshot", "environment", env, "err", err)
				return
			}
			source := ""
			if p, ok := auth.FromContext(ctx); ok {
				source = p.Kind + ":" + p.Name
			}
			o.usage.Report(source, env, c.ServiceName, usageCounts(r), knownVariants(snap))
		}))
	}
	if o.signals != nil {
		opts = append(opts, syncapi.WithSignalSink(func(_ context.Context, env string, _ fanout.ClientInfo, r *syncpb.SignalReport) {
			o.metrics.SignalsReported(env, r.GetDropped())
			exposures, events := signalCounts(r)
			o.signals.Report(env, exposures, events)
		}))
	}
	// Raw tracking events come from SDKs older than signal reports: without
	// the variants they were served they cannot be attributed, so they are
	// counted (syncapi) and the operator is told once.
	opts = append(opts, syncapi.WithTrackSink(func(_ context.Context, env string, c fanout.ClientInfo, r *syncpb.TrackReport) {
		o.rawTrack.Do(func() {
			s.log.Warn("an SDK sends raw tracking events, which are not attributed to variants; upgrade it to report signals",
				"environment", env, "service", c.ServiceName, "sdk", c.SDKName+"/"+c.SDKVersion)
		})
	}))
	return opts
}

// usageCounts are the counts of an SDK's usage report, as many as
// usage.Aggregator takes of one.
func usageCounts(r *syncpb.UsageReport) []usage.Reported {
	in := r.GetCounts()
	in = in[:min(len(in), usage.MaxCountsPerReport)]
	out := make([]usage.Reported, len(in))
	for i, c := range in {
		out[i] = usage.Reported{FlagKey: c.GetFlagKey(), Variant: c.GetVariant(), Count: c.GetCount()}
	}
	return out
}

// signalCounts are the exposures and events of an SDK's signal report.
func signalCounts(r *syncpb.SignalReport) (exposures, events []signals.Reported) {
	exposures = make([]signals.Reported, len(r.GetExposures()))
	for i, c := range r.GetExposures() {
		exposures[i] = signals.Reported{FlagKey: c.GetFlagKey(), Variant: c.GetVariant(), Count: c.GetCount()}
	}
	events = make([]signals.Reported, len(r.GetCounts()))
	for i, c := range r.GetCounts() {
		events[i] = signals.Reported{FlagKey: c.GetFlagKey(), Variant: c.GetVariant(), Event: c.GetEvent(), Count: c.GetCount(), Sum: c.GetSum(), SumSquares: c.GetSumSquares()}
	}
	return exposures, events
}

// knownVariants accepts the flags snap serves and their variants: usage
// of anything else is invented (or of a flag deleted a moment ago) and is
// not stored.
func knownVariants(snap *engine.Snapshot) func(flag, variant string) bool {
	variants := make(map[int][]string)
	return func(flag, variant string) bool {
		i := snap.Find(flag)
		if i < 0 {
			return false
		}
		vs, ok := variants[i]
		if !ok {
			vs = snap.Variants(i)
			variants[i] = vs
		}
		return slices.Contains(vs, variant)
	}
}

// mountObserve mounts the JSON API, OFREP and /metrics on mux. extra are
// registered on the JSON API as well (services defined outside grpcapi,
// e.g. sync's ListClients); interceptors run around every JSON API call.
func (s *Server) mountObserve(mux *http.ServeMux, interceptors []grpc.UnaryServerInterceptor, extra func(grpc.ServiceRegistrar)) {
	m := s.observe.metrics
	api := httpapi.New(httpapi.WithLogger(s.log),
		httpapi.WithInterceptors(append(interceptors, m.EvaluationInterceptor("http"))...))
	s.registerAPI(api)
	s.registerWebhooks(api)
	if extra != nil {
		extra(api)
	}
	api.Register(mux, httpapi.Wrap(m.HTTP))
	h := &ofrep.Handler{Snapshots: s.Service, Authenticate: ofrep.ContextAuthenticator(s.Auth.EvaluationEnvironment), Counter: m, Logger: s.log}
	if s.observe.usage != nil {
		h.Usage = s.observe.usage
	}
	h.Register(mux, m.HTTP)
	mux.Handle("GET /metrics", s.sessions().Require(server.MethodMetrics, m.Handler()))
}

// flagSource lists flags and environments for usage insights.
type flagSource struct{ s *Server }

func (f flagSource) ListFlags(ctx context.Context) ([]server.Flag, error) {
	list, err := f.s.Service.ListFlags(ctx, server.FlagFilter{IncludeArchived: true}, "")
	if err != nil {
		return nil, err
	}
	out := make([]server.Flag, len(list))
	for i, fc := range list {
		out[i] = fc.Flag
	}
	return out, nil
}

func (f flagSource) ListEnvironments(ctx context.Context) ([]string, error) {
	envs, err := f.s.Service.ListEnvironments(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(envs))
	for i, e := range envs {
		out[i] = e.Name
	}
	return out, nil
}
