// Package daemon wires the Flagpole server program, the long-running
// process of `flagpole serve` (hence its name, distinct from the root
// package server, the domain, and server/service, the service layer): it
// opens the store,
// builds the service, and runs the gRPC and HTTP listeners until it is told
// to stop, then shuts everything down gracefully. cmd/flagpole's serve
// command and the end-to-end tests both run it, so tests exercise the real
// program on port 0 with a temporary database.
package daemon

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/auth"
	"github.com/flagpole/flagpole/server/fanout"
	"github.com/flagpole/flagpole/server/metrics"
	"github.com/flagpole/flagpole/server/release"
	"github.com/flagpole/flagpole/server/releaseguard"
	"github.com/flagpole/flagpole/server/service"
	"github.com/flagpole/flagpole/server/syncapi"
	"github.com/flagpole/flagpole/server/tracing"
	"github.com/flagpole/flagpole/server/webhook"
)

// Defaults of Config.
const (
	DefaultDBPath          = "flagpole.db"
	DefaultGRPCAddr        = ":9090"
	DefaultHTTPAddr        = ":8080"
	DefaultShutdownTimeout = 10 * time.Second

	// Connection limits (see server/README.md, "Server resource limits").
	DefaultHTTPReadHeaderTimeout = 10 * time.Second
	DefaultHTTPReadTimeout       = 30 * time.Second
	DefaultHTTPIdleTimeout       = 60 * time.Second
	DefaultGRPCConnectionTimeout = 10 * time.Second
	DefaultGRPCKeepaliveTime     = 15 * time.Second
	DefaultGRPCKeepaliveTimeout  = 10 * time.Second
	DefaultGRPCMaxConnIdle       = 5 * time.Minute
	DefaultMaxHTTPConnections    = 1000
	DefaultMaxGRPCConnections    = 10000
)

// Config is what the program is told on the command line. The zero value
// means every default.
type Config struct {
	DBPath   string // SQLite file or postgres:// URL (default DefaultDBPath)
	GRPCAddr string // default DefaultGRPCAddr; port 0 picks a free port
	HTTPAddr string // default DefaultHTTPAddr; port 0 picks a free port
	// ShutdownTimeout bounds how long in-flight calls may take to finish
	// after the server is told to stop (default DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
	Logger          *slog.Logger // default slog.Default()
	// StaleAfter is how long a flag may go unevaluated, or serve a single
	// variant, before it counts as stale (default usage.DefaultStaleAfter).
	StaleAfter time.Duration
	// UsageFlushInterval is how often usage counts are written to the
	// store (default DefaultUsageFlushInterval).
	UsageFlushInterval time.Duration
	// Now is the clock of usage insights (default time.Now); tests move it.
	Now func() time.Time
	// ReleaseInterval is how often the release plan runner looks for due
	// plans (default release.DefaultInterval).
	ReleaseInterval time.Duration
	// ReleaseJudge checks the guards of release plans; nil judges them with
	// server/releaseguard over the stored signals (a store that keeps no
	// signals advances guarded plans on their hold alone).
	ReleaseJudge release.Judge
	// AuthNow is the clock tokens and sessions expire by, for sign-in,
	// every call and open sync streams (default time.Now); tests move it.
	AuthNow func() time.Time

	// HTTPReadHeaderTimeout bounds how long a connection may take to send
	// a request's headers, HTTPReadTimeout the whole request with its body,
	// and HTTPIdleTimeout how long a keep-alive connection may wait for its
	// next request (defaults DefaultHTTP...).
	HTTPReadHeaderTimeout, HTTPReadTimeout, HTTPIdleTimeout time.Duration
	// GRPCConnectionTimeout bounds a new gRPC connection's handshake (TLS
	// and the HTTP/2 preface). GRPCKeepaliveTime is how long a connection may
	// be silent before the server pings it, GRPCKeepaliveTimeout how long
	// the ping's answer may take before the connection is closed (a
	// half-open peer is dropped after about their sum), GRPCMaxConnIdle how
	// long a connection without calls may stay open (defaults
	// DefaultGRPC...).
	GRPCConnectionTimeout, GRPCKeepaliveTime, GRPCKeepaliveTimeout, GRPCMaxConnIdle time.Duration
	// MaxHTTPConnections and MaxGRPCConnections bound the open connections
	// of each port; further ones wait to be accepted (defaults
	// DefaultMaxHTTPConnections and DefaultMaxGRPCConnections, lowered to a
	// quarter and a half of the process's descriptor limit when that is
	// smaller).
	MaxHTTPConnections, MaxGRPCConnections int

	// SyncSendTimeout is how long a sync stream's message may go without
	// the connection taking 1 KiB before the stream is ended (default
	// syncapi.DefaultSendTimeout).
	SyncSendTimeout time.Duration

	// TrustedProxies are the reverse proxies whose X-Forwarded-For gives
	// the client address that sign-in limits count against.
	TrustedProxies []netip.Prefix

	// CORSOrigins are the browser origins ("https://app.example.com", or
	// "*" for any) whose pages may call OFREP (/ofrep/v1/...) from another
	// origin: serve --cors-origin. Empty: no cross-origin OFREP.
	CORSOrigins []string

	// TLSCert and TLSKey, both set, serve both ports over TLS.
	TLSCert, TLSKey string
	// AdminPassword and AdminToken (FLAGPOLE_ADMIN_PASSWORD and
	// FLAGPOLE_ADMIN_TOKEN) are the credentials of the admin user and token
	// an empty database gets; empty ones are generated and printed to Out.
	AdminPassword, AdminToken string
	Out                       io.Writer // default os.Stdout

	// WebhookAllow are destinations webhooks may reach although
	// webhook.Blocked refuses them (serve --webhook-allow).
	WebhookAllow []netip.Prefix
	// Webhooks tunes the delivery of webhooks (attempts, backoff, poll,
	// timeout); zero fields take the defaults. Guard, Owner, Log and
	// Observer are set by the server.
	Webhooks webhook.Options
}

// Store is a server.Store the server owns and closes.
type Store interface {
	server.Store
	server.AuthStore
	Close() error
}

// Server is the running program. Create it with New, then Start it (or Run
// it, which also waits and shuts down).
type Server struct {
	cfg   Config
	log   *slog.Logger
	store Store

	// Service is the service layer every transport calls; set by Start.
	Service *service.Service
	// Auth authenticates and authorizes every call; set by Start.
	Auth *auth.Authenticator
	tls  *tls.Config

	observe  *observe
	tracing  *tracing.Tracing // nil: tracing off
	webhooks *webhooks
	hub      *fanout.Hub
	runner   *release.Runner
	sync     *syncapi.Server

	grpc   *grpc.Server
	health *health.Server
	http   *http.Server
	grpcLn net.Listener
	httpLn net.Listener

	ready    atomic.Bool
	serving  sync.WaitGroup
	failed   chan error // a listener that stopped on its own
	shutdown sync.Once
	closeErr error
}

// New returns a server with cfg's defaults filled in. It opens nothing yet.
func New(cfg Config) *Server {
	if cfg.DBPath == "" {
		cfg.DBPath = DefaultDBPath
	}
	if cfg.GRPCAddr == "" {
		cfg.GRPCAddr = DefaultGRPCAddr
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = DefaultHTTPAddr
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.connectionDefaults()
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	return &Server{cfg: cfg, log: cfg.Logger, failed: make(chan error, 2)}
}

// WithStore makes Start use store instead of opening cfg.DBPath; the server
// closes it on shutdown. It exists for tests that wrap the real store.
func (s *Server) WithStore(store Store) *Server {
	s.store = store
	return s
}

// Start opens the store, creates the default environments on an empty
// database, binds both listeners and starts serving. It returns once the
// server accepts calls; Shutdown stops it.
func (s *Server) Start(ctx context.Context) (err error) {
	if s.tls, err = loadTLS(s.cfg.TLSCert, s.cfg.TLSKey); err != nil {
		return err
	}
	if err := s.startTracing(ctx); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			s.stopTracing(ctx)
		}
	}()
	if s.store == nil {
		if s.store, err = openStore(ctx, s.cfg.DBPath, s.log); err != nil {
			return err
		}
	}
	s.startObserve()
	defer func() {
		if err != nil {
			s.closeListeners()
			s.stopObserve()
			s.store.Close()
		}
	}()
	s.startWebhooks()
	defer func() {
		if err != nil {
			s.stopWebhooks()
		}
	}()
	s.Service = service.New(s.tracedStore(s.observedStore()), append(append(s.serviceOptions(), s.observeServiceOptions()...), s.webhookServiceOptions()...)...)
	if err := s.watchReplicas(); err != nil {
		return err
	}
	if err := s.Service.EnsureDefaults(ctx); err != nil {
		return fmt.Errorf("serve: create default environments: %w", err)
	}
	if err := s.startAuth(ctx); err != nil {
		return err
	}
	if s.grpcLn, err = net.Listen("tcp", s.cfg.GRPCAddr); err != nil {
		return fmt.Errorf("serve: grpc: %w", err)
	}
	if s.httpLn, err = net.Listen("tcp", s.cfg.HTTPAddr); err != nil {
		return fmt.Errorf("serve: http: %w", err)
	}
	s.grpc, s.health = s.newGRPCServer()
	s.httpLn = netutil.LimitListener(s.httpLn, s.cfg.MaxHTTPConnections)
	s.http = &http.Server{Handler: s.httpHandler(), ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ReadHeaderTimeout: s.cfg.HTTPReadHeaderTimeout, ReadTimeout: s.cfg.HTTPReadTimeout, IdleTimeout: s.cfg.HTTPIdleTimeout}
	s.serving.Add(2)
	go s.serveGRPC()
	go s.serveHTTP()
	s.startReleases()
	s.ready.Store(true)
	s.log.Info("flagpole serving", "grpc", s.GRPCAddr().String(), "http", s.HTTPAddr().String(), "db", displayDB(s.cfg.DBPath))
	return nil
}

func (s *Server) closeListeners() {
	for _, ln := range []net.Listener{s.grpcLn, s.httpLn} {
		if ln != nil {
			ln.Close()
		}
	}
}

func (s *Server) serveGRPC() {
	defer s.serving.Done()
	// The sync server's listener limits the connections and lets a sync
	// stream's send timeout see progress on a slow link.
	if err := s.grpc.Serve(s.sync.Listener(s.grpcLn, s.cfg.MaxGRPCConnections)); err != nil {
		s.failed <- fmt.Errorf("serve: grpc: %w", err)
	}
}

func (s *Server) serveHTTP() {
	defer s.serving.Done()
	serve := s.http.Serve
	if s.tls != nil {
		s.http.TLSConfig = s.tls.Clone()
		serve = func(ln net.Listener) error { return s.http.ServeTLS(ln, "", "") }
	}
	if err := serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.failed <- fmt.Errorf("serve: http: %w", err)
	}
}

// GRPCAddr is the address the gRPC listener is bound to.
func (s *Server) GRPCAddr() net.Addr { return s.grpcLn.Addr() }

// SyncHub is the hub that fans committed changes out to sync streams; set
// by Start. The sync load test subscribes to it to time publication.
func (s *Server) SyncHub() *fanout.Hub { return s.hub }

// SyncClients lists the SDK instances connected to env, with the revision
// each acknowledged and when (on this server's clock). The sync load test
// reads it to time acknowledgements.
func (s *Server) SyncClients(env string) []fanout.ClientInfo { return s.sync.Clients(env) }

// HTTPAddr is the address the HTTP listener is bound to.
func (s *Server) HTTPAddr() net.Addr { return s.httpLn.Addr() }

// Run starts the server, serves until ctx is done (cmd/flagpole cancels it
// on SIGINT and SIGTERM) or a listener fails, and then shuts down.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	var failure error
	select {
	case <-ctx.Done():
		s.log.Info("shutting down", "cause", context.Cause(ctx))
	case failure = <-s.failed:
		s.log.Error("listener failed, shutting down", "err", failure)
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	return errors.Join(failure, s.Shutdown(shutdownCtx))
}

// Shutdown stops the server gracefully: health turns NOT_SERVING, new calls
// are refused, in-flight calls may finish until ctx is done (then they are
// cut off), and the store is closed. Calling it again returns the first
// result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdown.Do(func() { s.closeErr = s.stop(ctx) })
	return s.closeErr
}

func (s *Server) stop(ctx context.Context) error {
	s.ready.Store(false)
	s.health.Shutdown()
	var wg sync.WaitGroup
	var httpErr error
	wg.Go(func() { httpErr = s.http.Shutdown(ctx) })
	s.sync.Close() // sync streams never end on their own
	wg.Go(func() { stopGRPC(ctx, s.grpc) })
	wg.Wait()
	if httpErr != nil {
		s.http.Close()
		httpErr = fmt.Errorf("serve: http shutdown: %w", httpErr)
	}
	s.serving.Wait()
	s.runner.Stop() // before the store closes under it
	s.hub.Close()   // stops the sync hub's reorder timers
	s.stopWebhooks()
	s.stopObserve()
	var storeErr error
	if err := s.store.Close(); err != nil {
		storeErr = fmt.Errorf("serve: %w", err)
	}
	s.stopTracing(ctx)
	s.log.Info("flagpole stopped")
	return errors.Join(httpErr, storeErr)
}

// startReleases starts the runner of release plans. Its owner name is new
// for every process, so a restarted server takes its plans back once its
// old leases run out (release.DefaultLease).
func (s *Server) startReleases() {
	judge := s.cfg.ReleaseJudge
	if judge == nil && s.observe.sigStore != nil {
		judge = &releaseguard.Judge{Signals: s.observe.sigStore, Now: s.cfg.Now, Flush: s.observe.signals.Flush}
	}
	s.runner = &release.Runner{Service: s.Service, Judge: judge, Owner: "flagpole-" + rand.Text()[:12],
		Interval: s.cfg.ReleaseInterval, Log: s.log}
	s.runner.Start()
	s.observe.metrics.WatchReleasePlans(s.planSamples)
}

// planSamples lists the active release plans for the metrics.
func (s *Server) planSamples(ctx context.Context) ([]metrics.PlanSample, error) {
	plans, err := s.Service.ListPlans(ctx, server.PlanFilter{Active: true})
	if err != nil {
		return nil, err
	}
	out := make([]metrics.PlanSample, len(plans))
	for i, p := range plans {
		out[i] = metrics.PlanSample{ID: p.ID, FlagKey: p.FlagKey, Environment: p.Environment, State: string(p.State), Step: p.Step}
		if p.Step > 0 && p.Step <= len(p.Steps) {
			out[i].Percent = p.Steps[p.Step-1].Percent
		}
		// The guard's last decision: this replica's runner's, if it holds
		// the plan, or else the last one stored (on each step's pass).
		evidence := p.Evidence
		if j, ok := s.runner.LastJudgment(p.ID); ok {
			evidence = j.Decision.Evidence
		}
		var ev releaseguard.Evidence
		if p.Guard != nil && len(evidence) > 0 && json.Unmarshal(evidence, &ev) == nil && ev.Event == p.Guard.Event {
			out[i].Guard = &metrics.GuardSample{Event: ev.Event, Step: ev.Step,
				ControlSamples: ev.Control.Samples, ControlEvents: ev.Control.Events,
				NewSamples: ev.New.Samples, NewEvents: ev.New.Events,
				Statistic: ev.Statistic, Threshold: ev.Threshold,
				Mean: p.Guard.Mean(), ControlMean: ev.Control.Mean, NewMean: ev.New.Mean}
		}
	}
	return out, nil
}

// stopGRPC lets in-flight calls finish until ctx is done, then cuts them off.
func stopGRPC(ctx context.Context, gs *grpc.Server) {
	done := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		gs.Stop()
		<-done
	}
}
