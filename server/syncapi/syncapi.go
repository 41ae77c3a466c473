// Package syncapi implements the flagpole.v1 SyncService: the long-lived
// stream over which SDK instances receive their environment's flags (a
// snapshot, then every committed change, then heartbeats) and acknowledge
// what they applied, and the list of connected instances built from those
// acknowledgements.
//
// Which environment a stream serves is decided by an EnvironmentResolver.
// The default reads the x-flagpole-environment metadata; the auth layer
// replaces it with one that derives the environment from the caller's token
// (see WithEnvironmentResolver), without this package knowing about tokens.
package syncapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/sdk/enginepb"
	pb "github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/fanout"
	"github.com/flagpole/flagpole/server/grpcstatus"
)

// EnvironmentHeader is the metadata key naming the environment a stream
// serves until tokens decide it.
const EnvironmentHeader = "x-flagpole-environment"

// Source gives a consistent view of an environment: its record, every
// flag with its configuration there, and every segment, all at the
// environment's revision. *service.Service implements it.
type Source interface {
	EnvironmentState(ctx context.Context, env string) (server.Environment, []engine.FlagState, []engine.Segment, error)
	// GetEnvironment returns the environment's record alone (its revision),
	// for the calls that need no flags.
	GetEnvironment(ctx context.Context, name string) (server.Environment, error)
}

// EnvironmentResolver returns the environment a call may stream, or an
// error that becomes the call's status (a *server.Error or a gRPC status).
type EnvironmentResolver func(ctx context.Context) (string, error)

// MetadataEnvironment resolves the environment from the
// x-flagpole-environment metadata of the call.
func MetadataEnvironment(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(EnvironmentHeader); len(v) > 0 && v[0] != "" {
		return v[0], nil
	}
	return "", server.Invalid(EnvironmentHeader, "required: the environment to stream")
}

// Defaults.
const (
	DefaultHeartbeat    = 15 * time.Second
	DefaultHelloTimeout = 10 * time.Second
	DefaultSendTimeout  = 10 * time.Second
	snapshotCacheTTL    = 2 * time.Second
)

// Option configures a Server.
type Option func(*Server)

// WithEnvironmentResolver sets how a stream's environment is decided.
func WithEnvironmentResolver(r EnvironmentResolver) Option {
	return func(s *Server) { s.resolve = r }
}

// WithHeartbeat sets the heartbeat interval.
func WithHeartbeat(d time.Duration) Option { return func(s *Server) { s.heartbeat = d } }

// WithHelloTimeout sets how long a new stream may take to say hello.
func WithHelloTimeout(d time.Duration) Option { return func(s *Server) { s.helloTimeout = d } }

// WithSendTimeout sets how long one message may take to be taken by the
// client (gRPC flow control blocks a send to a client that stopped
// reading); a stream whose send takes longer is ended, unless the server
// is served on Listener and the connection took at least 1 KiB within
// each timeout (a large message on a slow link).
func WithSendTimeout(d time.Duration) Option { return func(s *Server) { s.sendTimeout = d } }

// WithCredential names the credential a stream was opened with (the auth
// layer returns the token's name), so that CloseCredential can end the
// streams of a revoked credential. Streams without one return "".
func WithCredential(f func(ctx context.Context) string) Option {
	return func(s *Server) { s.credential = f }
}

// WithExpiry tells when the credential a stream was opened with stops
// being valid (the zero time for never): the server's clock ends the
// stream with UNAUTHENTICATED once that time has passed, as it ends a
// revoked credential's streams (see CloseCredential).
func WithExpiry(f func(ctx context.Context) time.Time) Option {
	return func(s *Server) { s.expiry = f }
}

// WithClock sets the clock credential expiry is judged by (default
// time.Now); it should be the authenticator's, so a stream ends when its
// credential would be refused. Heartbeats and send timeouts always use
// real time.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithUsageSink receives the evaluation counts SDKs report. By default they
// are counted and logged at debug level.
func WithUsageSink(f func(ctx context.Context, env string, c fanout.ClientInfo, r *pb.UsageReport)) Option {
	return func(s *Server) { s.usage = f }
}

// WithSignalSink receives the signal reports SDKs send for guarded flags.
// By default they are counted and logged at debug level.
func WithSignalSink(f func(ctx context.Context, env string, c fanout.ClientInfo, r *pb.SignalReport)) Option {
	return func(s *Server) { s.signals = f }
}

// WithTrackSink receives the tracking events SDKs send. By default they are
// counted and logged at debug level.
func WithTrackSink(f func(ctx context.Context, env string, c fanout.ClientInfo, r *pb.TrackReport)) Option {
	return func(s *Server) { s.track = f }
}

// Observer is told about streams as they come and go and about every
// acknowledgement (server/metrics implements it for the connected-streams,
// revision-lag and propagation series). Calls must not block.
type Observer interface {
	StreamOpened(environment, instance string, revision int64)
	StreamClosed(environment, instance string)
	Acked(environment, instance string, revision int64)
}

// WithObserver sets the Observer of streams and acknowledgements.
func WithObserver(o Observer) Option { return func(s *Server) { s.observer = o } }

// Server implements pb.SyncServiceServer.
type Server struct {
	pb.UnimplementedSyncServiceServer

	src          Source
	hub          *fanout.Hub
	clients      fanout.Registry
	resolve      EnvironmentResolver
	heartbeat    time.Duration
	helloTimeout time.Duration
	sendTimeout  time.Duration
	credential   func(context.Context) string
	expiry       func(context.Context) time.Time
	now          func() time.Time
	log          *slog.Logger
	usage        func(context.Context, string, fanout.ClientInfo, *pb.UsageReport)
	track        func(context.Context, string, fanout.ClientInfo, *pb.TrackReport)
	signals      func(context.Context, string, fanout.ClientInfo, *pb.SignalReport)
	observer     Observer

	streamsMu sync.Mutex
	streams   map[string]map[*syncStream]struct{} // by credential ("" for none)

	connsMu sync.Mutex
	conns   map[string]*progressConn // by remote address; see Listener

	closing   chan struct{} // closed by Close: every stream ends
	closeOnce sync.Once
	clockOnce sync.Once

	// Streams the hub told of an event wait in startQ for the starter
	// goroutine to start their writers: a publication so costs the hub's
	// lock one append per subscriber, not one goroutine start.
	startMu   sync.Mutex
	startQ    []*syncStream
	startWake chan struct{}
	startOnce sync.Once

	snapMu  sync.Mutex
	snaps   map[string]*snapshot // latest encoded snapshot per environment
	loading singleflight.Group

	usageReports atomic.Int64
	trackEvents  atomic.Int64
	signalReps   atomic.Int64
}

type snapshot struct {
	revision   int64
	generation uint64 // the hub's Generation of the environment when read
	payload    encoded
	loadedAt   time.Time
}

// NewHub returns the fan-out hub whose changes a Server streams. Give it to
// the service as its Publisher.
func NewHub(opts ...fanout.Option) *fanout.Hub { return fanout.New(EncodeChange, opts...) }

// New returns a SyncService streaming src's environments and the changes
// published to hub (made by NewHub).
func New(src Source, hub *fanout.Hub, opts ...Option) *Server {
	s := &Server{
		src:          src,
		hub:          hub,
		resolve:      MetadataEnvironment,
		heartbeat:    DefaultHeartbeat,
		helloTimeout: DefaultHelloTimeout,
		sendTimeout:  DefaultSendTimeout,
		streams:      make(map[string]map[*syncStream]struct{}),
		log:          slog.Default(),
		now:          time.Now,
		snaps:        make(map[string]*snapshot),
		closing:      make(chan struct{}),
		startWake:    make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Register registers the service on g; g must be built with ServerOptions.
func (s *Server) Register(g grpc.ServiceRegistrar) { pb.RegisterSyncServiceServer(g, s) }

// Close ends every stream with UNAVAILABLE (SDKs reconnect, to this server
// when it comes back or to another replica) and refuses new ones. Call it
// before grpc.Server.GracefulStop, which otherwise waits for streams that
// never end on their own.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.streamsMu.Lock()
		var streams []*syncStream
		for _, m := range s.streams {
			for st := range m {
				streams = append(streams, st)
			}
		}
		s.streamsMu.Unlock()
		for _, st := range streams {
			st.finish(errClosing)
		}
	})
}

// CloseCredential ends, with UNAUTHENTICATED, every stream opened with the
// credential (see WithCredential). The auth layer calls it after a token's
// revocation commits; the SDK treats the status as fatal, and its
// reconnection is refused by authentication anyway.
func (s *Server) CloseCredential(credential string) int {
	if credential == "" {
		return 0
	}
	s.streamsMu.Lock()
	streams := make([]*syncStream, 0, len(s.streams[credential]))
	for st := range s.streams[credential] {
		streams = append(streams, st)
	}
	s.streamsMu.Unlock()
	for _, st := range streams {
		st.finish(status.Error(codes.Unauthenticated, "credential revoked"))
	}
	return len(streams)
}

func (s *Server) addStream(credential string, st *syncStream) {
	s.clockOnce.Do(func() { go s.clock() })
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	m := s.streams[credential]
	if m == nil {
		m = make(map[*syncStream]struct{})
		s.streams[credential] = m
	}
	m[st] = struct{}{}
}

func (s *Server) removeStream(credential string, st *syncStream) {
	s.streamsMu.Lock()
	defer s.streamsMu.Unlock()
	delete(s.streams[credential], st)
	if len(s.streams[credential]) == 0 {
		delete(s.streams, credential)
	}
}

// clock runs heartbeats, send timeouts and credential expiry of every
// stream: one ticker for the server instead of a timer per stream (a timer
// costs an idle stream about 130 bytes). It ticks four times per heartbeat
// or send timeout, whichever is shorter, and at least once a second, so
// both fire at most a quarter late and an expired credential's stream ends
// within a second, as a revoked one's does. It stops when the server
// closes.
func (s *Server) clock() {
	t := time.NewTicker(max(min(s.heartbeat/4, s.sendTimeout/4, time.Second), time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.closing:
			return
		case now := <-t.C:
			ns, credNow := now.UnixNano(), s.now().UnixNano()
			s.streamsMu.Lock()
			for _, m := range s.streams {
				for st := range m {
					st.tick(ns, credNow)
				}
			}
			s.streamsMu.Unlock()
		}
	}
}

// startWriter has the starter goroutine start st's writer. st.busy is
// set; called with the hub's lock held, so it must not block.
func (s *Server) startWriter(st *syncStream) {
	s.startOnce.Do(func() { go s.starter() })
	s.startMu.Lock()
	s.startQ = append(s.startQ, st)
	s.startMu.Unlock()
	select {
	case s.startWake <- struct{}{}:
	default:
	}
}

// starter starts the writers of the streams startWriter queued, until the
// server closes (which ends every stream: a writer left unstarted then has
// nothing to do).
func (s *Server) starter() {
	var batch []*syncStream
	for {
		select {
		case <-s.startWake:
		case <-s.closing:
			return
		}
		s.startMu.Lock()
		batch, s.startQ = s.startQ, batch[:0]
		s.startMu.Unlock()
		for i, st := range batch {
			go st.write()
			batch[i] = nil
		}
	}
}

// errClosing ends streams when the server shuts down.
var errClosing = status.Error(codes.Unavailable, "server shutting down")

// Clients returns the instances connected to env.
func (s *Server) Clients(env string) []fanout.ClientInfo { return s.clients.List(env) }

// TrackEvents returns how many tracking events were received since start.
func (s *Server) TrackEvents() int64 { return s.trackEvents.Load() }

// SignalReports returns how many signal reports were received since start.
func (s *Server) SignalReports() int64 { return s.signalReps.Load() }

// UsageReports returns how many usage reports were received since start.
func (s *Server) UsageReports() int64 { return s.usageReports.Load() }

// EncodeChange encodes a committed change as the SyncResponse streams send.
func EncodeChange(c server.Change) ([]byte, error) {
	m := &pb.Change{
		Environment:     c.Environment,
		Revision:        c.Revision,
		DeletedFlags:    c.DeletedFlags,
		DeletedSegments: c.DeletedSegments,
		CommitTime:      timestamppb.New(c.Time),
	}
	for _, f := range c.Flags {
		fs, err := enginepb.FlagState(c.Environment, f)
		if err != nil {
			return nil, err
		}
		m.Flags = append(m.Flags, fs)
	}
	for _, sg := range c.Segments {
		m.Segments = append(m.Segments, enginepb.Segment(sg))
	}
	return proto.Marshal(&pb.SyncResponse{Message: &pb.SyncResponse_Change{Change: m}})
}

func encodeSnapshot(env server.Environment, flags []engine.FlagState, segments []engine.Segment) (encoded, error) {
	m := &pb.Snapshot{Environment: env.Name, Revision: env.Revision}
	for _, f := range flags {
		fs, err := enginepb.FlagState(env.Name, f)
		if err != nil {
			return nil, err
		}
		m.Flags = append(m.Flags, fs)
	}
	for _, sg := range segments {
		m.Segments = append(m.Segments, enginepb.Segment(sg))
	}
	return proto.Marshal(&pb.SyncResponse{Message: &pb.SyncResponse_Snapshot{Snapshot: m}})
}

// snapshotAttempts is how many times snapshotFor reads the store before
// it gives up on a store behind the hub.
const snapshotAttempts = 3

// snapshotFor returns an encoded snapshot of env that includes every change
// the hub delivered so far. Call it after subscribing: whatever the hub
// delivers later reaches the subscription. Concurrent callers share one
// load, so a reconnect storm reads the store once.
//
// A load that started before the hub's last delivery is read again, a few
// times at most: a store that stays behind the hub (which should not
// happen: the hub forgets a deleted environment, and a recreated one
// continues its revisions) is reported as UNAVAILABLE, and the SDK
// reconnects later, instead of being read in a loop.
func (s *Server) snapshotFor(ctx context.Context, env string) (*snapshot, error) {
	var n *snapshot
	var delivered int64
	for range snapshotAttempts {
		delivered = s.hub.Revision(env)
		gen := s.hub.Generation(env)
		s.snapMu.Lock()
		c := s.snaps[env]
		s.snapMu.Unlock()
		if c != nil && c.generation == gen && c.revision >= delivered && time.Since(c.loadedAt) < snapshotCacheTTL {
			return c, nil
		}
		v, err, _ := s.loading.Do(env, func() (any, error) {
			gen := s.hub.Generation(env)
			e, flags, segments, err := s.src.EnvironmentState(context.WithoutCancel(ctx), env)
			if err != nil {
				return nil, err
			}
			payload, err := encodeSnapshot(e, flags, segments)
			if err != nil {
				return nil, err
			}
			n := &snapshot{revision: e.Revision, generation: gen, payload: payload, loadedAt: time.Now()}
			s.snapMu.Lock()
			if old := s.snaps[env]; old == nil || old.generation != gen || old.revision <= n.revision {
				s.snaps[env] = n
			}
			s.snapMu.Unlock()
			return n, nil
		})
		if err != nil {
			return nil, err
		}
		n = v.(*snapshot)
		if n.revision >= delivered && n.generation == gen {
			return n, nil
		}
		// A load that started before the last delivery or deletion (or a
		// store behind the hub): read again, without joining a load in
		// flight.
		s.loading.Forget(env)
	}
	s.log.Warn("syncapi: the store stays behind the delivered changes", "environment", env,
		"store_revision", n.revision, "delivered", delivered)
	return nil, server.Errorf(server.EUNAVAILABLE, "environment %q: the snapshot at revision %d is behind the delivered revision %d; try again later",
		env, n.revision, delivered)
}

// ListClients lists the instances connected to an environment.
func (s *Server) ListClients(ctx context.Context, req *pb.ListClientsRequest) (*pb.ListClientsResponse, error) {
	if req.GetEnvironment() == "" {
		return nil, toStatus(server.Invalid("environment", "required"))
	}
	env, err := s.src.GetEnvironment(ctx, req.GetEnvironment())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ListClientsResponse{Revision: env.Revision, Clients: clientsOf(s.clients.List(env.Name))}, nil
}

// maxWatchPending bounds the pending instances one WatchClients message
// names; watchEvery is the least time between two looks at the clients, so
// a thousand acknowledgements in a burst cost a few looks, not a thousand;
// watchListEvery is the least time between two lookups of the pending
// instances' names while more than maxWatchPending are pending (a lookup
// visits every client; the counts cost nothing per client).
const (
	maxWatchPending = 100
	watchEvery      = 2 * time.Millisecond
	watchListEvery  = 100 * time.Millisecond
)

// WatchClients reports the environment's instances that lack a revision,
// now and whenever that changes, until none does. Each message counts them
// (fanout.Registry.Pending: no look at every client). It names up to
// maxWatchPending of them when that many or fewer are left, and otherwise
// at most every watchListEvery; a message sent without names is followed,
// once the count holds still for watchListEvery, by one with them, so the
// last message before a timeout names who is pending.
func (s *Server) WatchClients(req *pb.WatchClientsRequest, stream grpc.ServerStreamingServer[pb.WatchClientsResponse]) error {
	ctx := stream.Context()
	if req.GetEnvironment() == "" {
		return toStatus(server.Invalid("environment", "required"))
	}
	if req.GetRevision() < 0 {
		return toStatus(server.Invalid("revision", "must not be negative, got %d", req.GetRevision()))
	}
	env, err := s.src.GetEnvironment(ctx, req.GetEnvironment())
	if err != nil {
		return toStatus(err)
	}
	rev := req.GetRevision()
	if rev == 0 {
		rev = env.Revision
	}
	var (
		last    *pb.WatchClientsResponse
		listed  time.Time // when the pending instances were last named
		unnamed bool      // last named none of more than maxWatchPending
		nameAt  <-chan time.Time
	)
	for {
		wake, done := s.clients.Watch(env.Name)
		pending, connected := s.clients.Pending(env.Name, rev)
		changed := last == nil || int32(connected) != last.GetConnected() || int32(pending) != last.GetPendingCount()
		if changed || (unnamed && nameAt == nil) {
			m := &pb.WatchClientsResponse{Revision: rev, Connected: int32(connected), PendingCount: int32(pending), AllApplied: pending == 0}
			now := time.Now()
			unnamed = false
			nameAt = nil
			if pending > 0 {
				if pending <= maxWatchPending || now.Sub(listed) >= watchListEvery {
					m.Pending = clientsOf(s.clients.PendingClients(env.Name, rev, maxWatchPending))
					listed = now
				} else {
					unnamed = true
					nameAt = time.After(watchListEvery - now.Sub(listed))
				}
			}
			if err := stream.Send(m); err != nil || m.GetAllApplied() {
				done()
				return err
			}
			last = m
		}
		select {
		case <-wake:
		case <-nameAt:
			nameAt = nil // named at the next look
		case <-ctx.Done():
			done()
			return toStatus(ctx.Err())
		case <-s.closing:
			done()
			return errClosing
		}
		done()
		select { // let a burst of acknowledgements gather
		case <-time.After(watchEvery):
		case <-ctx.Done():
			return toStatus(ctx.Err())
		}
	}
}

func clientsOf(list []fanout.ClientInfo) []*pb.Client {
	out := make([]*pb.Client, 0, len(list))
	for _, c := range list {
		out = append(out, &pb.Client{
			InstanceId:      c.InstanceID,
			ServiceName:     c.ServiceName,
			SdkName:         c.SDKName,
			SdkVersion:      c.SDKVersion,
			Environment:     c.Environment,
			AppliedRevision: c.AppliedRevision,
			ConnectTime:     timestamppb.New(c.ConnectedAt),
			LastSeenTime:    timestamppb.New(c.LastSeen),
			PeerAddress:     c.PeerAddress,
		})
	}
	return out
}

// toStatus maps an error to a gRPC status: *server.Error by code, gRPC
// statuses as they are, anything else as an internal error. The status
// keeps err as its cause, for the HTTP adapter that serves ListClients in
// process.
func toStatus(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return grpcstatus.WithCause(status.New(codes.Canceled, "canceled"), err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return grpcstatus.WithCause(status.New(codes.DeadlineExceeded, "deadline exceeded"), err)
	}
	code, ok := grpcstatus.Code(server.ErrorCode(err))
	if !ok {
		code = codes.Internal
	}
	return grpcstatus.WithCause(status.New(code, server.ErrorMessage(err)), err)
}

func peerAddress(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

func validateHello(h *pb.Hello) error {
	switch {
	case h == nil:
		return server.Invalid("hello", "required as the first message")
	case h.GetInstanceId() == "":
		return server.Invalid("hello.instance_id", "required")
	case h.GetRevision() < 0:
		return server.Invalid("hello.revision", "must not be negative, got %d", h.GetRevision())
	}
	return nil
}

var errHelloTimeout = fmt.Errorf("syncapi: no hello")
