// Package shop is the service of the guarded-release example: an HTTP
// checkout whose new flow, behind the flag new-checkout, fails a
// configurable share of its requests (the fault switch). Every request is
// tracked by the SDK's httpsignals middleware, so a release plan guarded by
// "http.server.error" sees the new flow fail and rolls it back.
//
// An Instance is one service instance: its own SDK provider (one stream,
// one instance id), its own HTTP server, and optionally its own users,
// a loop that sends it requests at a fixed rate. It records when the fault
// first failed a request and when each flag change reached it, which is
// what the rollback measurements read.
package shop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/httpsignals"
)

// Flag is the flag the checkout is gated by.
const Flag = "new-checkout"

// Config configures an Instance.
type Config struct {
	Server string // Flagpole gRPC address
	Token  string // sdk token
	ID     string // instance id, also its OpenFeature domain
	Addr   string // where to listen (default 127.0.0.1:0)
	// Fault is the share of the new flow's requests that fail with a 500;
	// BaseErrors the share of every request that does (both flows).
	Fault, BaseErrors float64
	// RPS is how many requests per second the instance's own users send
	// (0: none; the instance only answers).
	RPS float64
	// Users is how many distinct users the loop draws from (default 100,000).
	Users int
	// Seed seeds the fault and the users (0: random).
	Seed       uint64
	SDKOptions []sdk.Option
	Logger     *slog.Logger // default: discard
}

// Instance is one running service instance.
type Instance struct {
	cfg      Config
	provider *sdk.Provider
	flags    *openfeature.Client
	srv      *http.Server
	lis      net.Listener
	log      *slog.Logger
	onChange func(openfeature.EventDetails)

	mu         sync.Mutex
	rng        *rand.Rand
	firstFault time.Time
	changes    []Change

	requests, failures [2]atomic.Int64 // [0] old flow, [1] new flow

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// Change is a flag change as the instance saw it: when OpenFeature told it,
// and the environment revision the provider then served.
type Change struct {
	Time     time.Time
	Revision int64
}

// Start connects the instance to Flagpole (waiting for its flags), starts
// its HTTP server and, with RPS set, its users.
func Start(ctx context.Context, cfg Config) (*Instance, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Users <= 0 {
		cfg.Users = 100_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	opts := append([]sdk.Option{sdk.WithToken(cfg.Token), sdk.WithServiceName("guarded-shop"), sdk.WithInstanceID(cfg.ID)}, cfg.SDKOptions...)
	p, err := sdk.NewProvider(cfg.Server, opts...)
	if err != nil {
		return nil, err
	}
	if err := openfeature.SetNamedProviderWithContextAndWait(ctx, cfg.ID, p); err != nil {
		p.Shutdown()
		return nil, fmt.Errorf("%s: flags from %s: %w", cfg.ID, cfg.Server, err)
	}
	in := &Instance{cfg: cfg, provider: p, flags: openfeature.NewClient(cfg.ID), log: cfg.Logger.With("instance", cfg.ID),
		rng: rand.New(rand.NewPCG(seed, 14))}
	in.onChange = func(d openfeature.EventDetails) {
		c := Change{Time: time.Now(), Revision: p.Revision()}
		in.mu.Lock()
		in.changes = append(in.changes, c)
		in.mu.Unlock()
		in.log.Info("flags changed", "revision", c.Revision, "flags", d.FlagChanges)
	}
	in.flags.AddHandler(openfeature.ProviderConfigChange, &in.onChange)

	in.lis, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		in.flags.RemoveHandler(openfeature.ProviderConfigChange, &in.onChange)
		p.Shutdown()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /checkout", in.checkout)
	in.srv = &http.Server{Handler: httpsignals.Wrap(mux, in.flags), ReadHeaderTimeout: 5 * time.Second}
	in.wg.Go(func() {
		if err := in.srv.Serve(in.lis); !errors.Is(err, http.ErrServerClosed) {
			in.log.Error("serve", "err", err)
		}
	})
	loadCtx, stop := context.WithCancel(context.Background())
	in.stop = stop
	if cfg.RPS > 0 {
		in.wg.Go(func() { in.users(loadCtx, seed) })
	}
	in.log.Info("listening", "addr", in.lis.Addr().String(), "revision", p.Revision())
	return in, nil
}

// checkout is GET /checkout?user=U.
func (in *Instance) checkout(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	evalCtx := openfeature.NewEvaluationContext(user, nil)
	httpsignals.SetContext(r.Context(), evalCtx) // the signals are this user's
	flow := 0
	if in.flags.Boolean(r.Context(), Flag, false, evalCtx) {
		flow = 1
	}
	in.requests[flow].Add(1)
	in.mu.Lock()
	fault := flow == 1 && in.rng.Float64() < in.cfg.Fault
	failed := fault || in.rng.Float64() < in.cfg.BaseErrors
	if fault && in.firstFault.IsZero() {
		in.firstFault = time.Now()
	}
	in.mu.Unlock()
	if failed {
		in.failures[flow].Add(1)
		http.Error(w, "checkout failed", http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "%s checkout for %s\n", [2]string{"old", "new"}[flow], user)
}

// users sends the instance RPS requests per second from random users until
// ctx ends, up to 8 at a time, so that a slow answer does not lower the
// rate (a tick that finds 8 in flight is skipped).
func (in *Instance) users(ctx context.Context, seed uint64) {
	client := &http.Client{Timeout: 5 * time.Second}
	rng := rand.New(rand.NewPCG(seed, 15))
	url := "http://" + in.lis.Addr().String() + "/checkout?user="
	tick := time.NewTicker(time.Duration(float64(time.Second) / in.cfg.RPS))
	defer tick.Stop()
	var inflight sync.WaitGroup
	defer inflight.Wait()
	slots := make(chan struct{}, 8)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case slots <- struct{}{}:
		default:
			continue
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", url+strconv.Itoa(rng.IntN(in.cfg.Users)), nil)
		inflight.Go(func() {
			defer func() { <-slots }()
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
		})
	}
}

// ID is the instance id.
func (in *Instance) ID() string { return in.cfg.ID }

// Addr is where the instance listens.
func (in *Instance) Addr() string { return in.lis.Addr().String() }

// Provider is the instance's SDK provider.
func (in *Instance) Provider() *sdk.Provider { return in.provider }

// FirstFault is when the fault first failed a request (zero: never).
func (in *Instance) FirstFault() time.Time {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.firstFault
}

// ReachedAt is when the instance first served revision rev or a later one
// (zero: not yet).
func (in *Instance) ReachedAt(rev int64) time.Time {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, c := range in.changes {
		if c.Revision >= rev {
			return c.Time
		}
	}
	return time.Time{}
}

// Counts are the requests and failures per flow so far.
func (in *Instance) Counts() (oldReq, oldFail, newReq, newFail int64) {
	return in.requests[0].Load(), in.failures[0].Load(), in.requests[1].Load(), in.failures[1].Load()
}

// Close stops the users and the HTTP server and shuts the provider down
// (sending its last signals).
func (in *Instance) Close() {
	in.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = in.srv.Shutdown(ctx)
	in.wg.Wait()
	in.flags.RemoveHandler(openfeature.ProviderConfigChange, &in.onChange)
	in.provider.Shutdown()
}
