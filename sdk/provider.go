package sdk

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/engine"
)

// Name is the provider's name in OpenFeature metadata and in the hello.
const Name = "flagpole-go"

// Version is the SDK version sent in the hello.
const Version = "0.1.0"

// announced is the provider state OpenFeature last heard of.
type announced int

const (
	announcedNone announced = iota
	announcedReady
	announcedStale
	announcedError
)

// Provider is an OpenFeature provider evaluating Flagpole flags in-process.
// It implements openfeature.FeatureProvider, ContextAwareStateHandler,
// EventHandler and Tracker. Create it with NewProvider.
type Provider struct {
	received *atomic.Int64 // bytes the connection received (see headerTableCreds)

	addr string
	o    options
	conn *grpc.ClientConn
	sync pb.SyncServiceClient

	state   atomic.Pointer[state]
	usage   usage
	signals signals
	events  chan openfeature.Event

	startOnce sync.Once
	stopOnce  sync.Once
	cancel    context.CancelFunc
	wg        sync.WaitGroup

	mu          sync.Mutex
	ready       chan struct{} // closed when the first snapshot is applied
	failedOnce  chan struct{} // closed when the first connection attempt failed
	fatal       chan struct{} // closed on a fatal error (bad credentials)
	fatalErr    error
	initDone    bool
	announced   announced
	cacheLoaded bool

	sendMu sync.Mutex
	stream pb.SyncService_SyncClient // the live stream, nil while disconnected
	ack    pb.SyncRequest_Ack        // the acknowledgement sent, in ackMsg
	ackMsg *pb.SyncRequest

	// Owned by the stream goroutine.
	defs     []engine.FlagState // scratch for applyChange
	env      string
	revision int64
	flags    map[string]*entry
	segments map[string]*pb.Segment
}

// entry is one streamed flag in wire and engine form.
type entry struct {
	wire *pb.FlagState
	def  engine.FlagState
}

// NewProvider returns a provider for the Flagpole server at address
// (host:port of its gRPC API). It does not connect yet: OpenFeature's
// SetProviderAndWait initialises it, which waits for the first snapshot.
func NewProvider(address string, opts ...Option) (*Provider, error) {
	if address == "" {
		return nil, errors.New("sdk: address: required")
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.initTimeout <= 0 || o.errorGrace < 0 || o.idleTimeout <= 0 || o.backoffMin <= 0 || o.usageInterval <= 0 || o.trackInterval <= 0 {
		return nil, errors.New("sdk: options: durations must be positive")
	}
	if o.serviceName == "" {
		o.serviceName = filepath.Base(os.Args[0])
	}
	if o.instanceID == "" {
		o.instanceID = newInstanceID()
	}
	if o.cacheFile == "" && o.cacheDir != "" {
		o.cacheFile = filepath.Join(o.cacheDir, cacheFileName(address, o.environment, o.token))
	}
	if o.caFile != "" {
		cfg, err := caConfig(o.tls, o.caFile)
		if err != nil {
			return nil, err
		}
		o.tls = cfg
	}
	creds := insecure.NewCredentials()
	if o.tls != nil {
		creds = credentials.NewTLS(o.tls)
	}
	received := new(atomic.Int64)
	dial := append([]grpc.DialOption{
		grpc.WithTransportCredentials(headerTableCreds{creds, received}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: o.backoffMin, Multiplier: 2, Jitter: 0.2, MaxDelay: o.backoffMax},
			MinConnectTimeout: 5 * time.Second,
		}),
		// Pings on a silent connection find a half-open server (a peer gone
		// without a FIN) within KeepaliveTime+KeepaliveTimeout, sooner than
		// the idle timeout's missing heartbeats; the server permits pings
		// every 10 s.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: KeepaliveTime, Timeout: KeepaliveTimeout}),
		// Fixed windows: no bandwidth-estimation ping per received message.
		grpc.WithInitialWindowSize(1 << 20),
		grpc.WithInitialConnWindowSize(1 << 20),
		grpc.WithReadBufferSize(16 << 10),
		grpc.WithWriteBufferSize(16 << 10),
		// A snapshot is as large as the environment: accept whatever the
		// server may send (gRPC's default would refuse over 4 MiB).
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32)),
	}, o.dialOptions...)
	conn, err := grpc.NewClient(address, dial...)
	if err != nil {
		return nil, fmt.Errorf("sdk: address %q: %w", address, err)
	}
	p := &Provider{
		received:   received,
		addr:       address,
		o:          o,
		conn:       conn,
		sync:       pb.NewSyncServiceClient(conn),
		events:     make(chan openfeature.Event, eventBuffer),
		ready:      make(chan struct{}),
		failedOnce: make(chan struct{}),
		fatal:      make(chan struct{}),
		flags:      make(map[string]*entry),
		segments:   make(map[string]*pb.Segment),
	}
	p.ack.Ack = &pb.Ack{}
	p.ackMsg = &pb.SyncRequest{Message: &p.ack}
	return p, nil
}

// eventBuffer is how many events wait for OpenFeature's event executor,
// which reads them as they come; a full buffer drops the event (and logs
// it) rather than stall the stream. The buffer is scanned by every garbage
// collection of the host process, so it is kept small.
const eventBuffer = 32

func newInstanceID() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	if host == "" {
		return hex.EncodeToString(b[:])
	}
	return host + "-" + hex.EncodeToString(b[:])
}

// Metadata names the provider.
func (p *Provider) Metadata() openfeature.Metadata { return openfeature.Metadata{Name: Name} }

// Hooks returns no hooks.
func (p *Provider) Hooks() []openfeature.Hook { return nil }

// EventChannel delivers the provider's events to OpenFeature.
func (p *Provider) EventChannel() <-chan openfeature.Event { return p.events }

// CacheFile returns the file the provider keeps its flags in (see
// WithCacheFile and WithCacheDir), "" for none.
func (p *Provider) CacheFile() string { return p.o.cacheFile }

// Revision returns the revision of the flags being served (0 before the
// first snapshot).
func (p *Provider) Revision() int64 {
	if st := p.state.Load(); st != nil {
		return st.snap.Revision()
	}
	return 0
}

// Init initialises the provider; see InitWithContext.
func (p *Provider) Init(evalCtx openfeature.EvaluationContext) error {
	return p.InitWithContext(context.Background(), evalCtx)
}

// InitWithContext connects and waits until the first snapshot is applied,
// until ctx ends or until the init timeout passes, whichever is first. An
// invalid credential is a fatal error (OpenFeature's PROVIDER_FATAL). When
// the server cannot be reached but a cache file holds earlier flags, those
// are served and initialisation succeeds. Otherwise it fails; the provider
// keeps connecting in the background and reports PROVIDER_READY when it
// gets there.
func (p *Provider) InitWithContext(ctx context.Context, _ openfeature.EvaluationContext) error {
	p.start()
	ctx, cancel := context.WithTimeout(ctx, p.o.initTimeout)
	defer cancel()
	cached := p.failedOnce
	if !p.isCacheLoaded() {
		cached = nil // waiting on a nil channel never succeeds
	}
	select {
	case <-p.ready:
	case <-p.fatal:
	case <-cached:
	case <-ctx.Done():
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.initDone = true
	select {
	case <-p.fatal:
		return &openfeature.ProviderInitError{ErrorCode: openfeature.ProviderFatalCode, Message: p.fatalErr.Error()}
	case <-p.ready:
		p.announced = announcedReady
		return nil
	default:
	}
	if p.cacheLoaded {
		p.announced = announcedReady // stale, said once the next attempt fails
		return nil
	}
	p.announced = announcedError
	return fmt.Errorf("sdk: no snapshot from %s: %w", p.addr, ctx.Err())
}

func (p *Provider) isCacheLoaded() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cacheLoaded
}

// start loads the cache and starts the background work, once.
func (p *Provider) start() {
	p.startOnce.Do(func() {
		if p.o.cacheFile != "" {
			p.loadCache()
		}
		ctx, cancel := context.WithCancel(context.Background())
		p.cancel = cancel
		p.wg.Add(3)
		go func() { defer p.wg.Done(); p.run(ctx) }()
		go func() { defer p.wg.Done(); p.reportUsage(ctx) }()
		go func() { defer p.wg.Done(); p.reportSignals(ctx) }()
	})
}

// Shutdown stops the provider; see ShutdownWithContext.
func (p *Provider) Shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.ShutdownWithContext(ctx)
}

// ShutdownWithContext sends pending tracking events and usage counts (as
// far as ctx allows), closes the stream and stops every goroutine of the
// provider. Evaluations keep returning the last flags.
func (p *Provider) ShutdownWithContext(ctx context.Context) error {
	var err error
	p.stopOnce.Do(func() {
		p.startOnce.Do(func() {}) // never start after shutdown
		if p.cancel != nil {
			err = p.flush(ctx)
			p.cancel()
			p.wg.Wait()
		}
		if cerr := p.conn.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("sdk: close: %w", cerr)
		}
	})
	return err
}

// emit sends an event without ever blocking the stream; with nobody
// listening, events are dropped.
func (p *Provider) emit(t openfeature.EventType, msg string, changed []string, code openfeature.ErrorCode) {
	ev := openfeature.Event{ProviderName: Name, EventType: t, ProviderEventDetails: openfeature.ProviderEventDetails{
		Message: msg, FlagChanges: changed, ErrorCode: code,
		EventMetadata: map[string]any{"revision": p.Revision()},
	}}
	select {
	case p.events <- ev:
	default:
		p.o.logger.Warn("sdk: event dropped, nobody reads the provider's events", "event", t)
	}
}

// swap compiles the streamed flags into a new state and makes it current.
func (p *Provider) swap() error {
	defs := make([]engine.FlagState, 0, len(p.flags))
	for _, e := range p.flags {
		defs = append(defs, e.def)
	}
	segs := make([]engine.Segment, 0, len(p.segments))
	for _, s := range p.segments {
		segs = append(segs, segmentOf(s))
	}
	snap, err := engine.Compile(p.env, p.revision, defs, segs)
	if err != nil {
		return fmt.Errorf("sdk: compile revision %d: %w", p.revision, err)
	}
	guards, inputs := p.signals.forSnapshot(snap)
	p.state.Store(newState(snap, p.usage.countersFor(p.flags), guards, inputs))
	return nil
}

// swapFlags makes current a snapshot that is the current one with the
// flags of defs compiled and replaced and those of deleted removed (keys
// names them all), compiling nothing else.
func (p *Provider) swapFlags(defs []engine.FlagState, deleted, keys []string) error {
	cur := p.state.Load()
	snap, err := cur.snap.Apply(p.revision, defs, deleted)
	if err != nil {
		return fmt.Errorf("sdk: compile revision %d: %w", p.revision, err)
	}
	guards, inputs := p.signals.forSnapshot(snap)
	p.state.Store(cur.next(snap, p.usage.countersUpdate(p.flags, keys), keys, guards, inputs))
	return nil
}

// cloneObject copies an object value so callers cannot change the snapshot.
func cloneObject(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := maps.Clone(t)
		for k, x := range m {
			m[k] = cloneObject(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = cloneObject(x)
		}
		return s
	default:
		return v
	}
}

// caConfig returns a copy of base (or a new TLS configuration) that trusts
// the PEM certificates in caFile.
func caConfig(base *tls.Config, caFile string) (*tls.Config, error) {
	pemData, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("sdk: CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("sdk: CA file %s: no PEM certificate in it", caFile)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if base != nil {
		cfg = base.Clone()
	}
	cfg.RootCAs = pool
	return cfg, nil
}
