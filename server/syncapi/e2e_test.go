package syncapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/grpcapi"
	"github.com/flagpole/flagpole/server/service"
	"github.com/flagpole/flagpole/server/sqlite"
	"github.com/flagpole/flagpole/server/syncapi"
	"github.com/flagpole/flagpole/server/testkit"
)

// stack is the real server assembled as server/daemon does: SQLite, the
// service publishing to the sync hub, the admin gRPC API and the
// SyncService on one gRPC server on 127.0.0.1.
type stack struct {
	addr string
	conn *grpc.ClientConn
	stop func()
}

func startStack(t *testing.T, db, addr string, opts ...grpc.ServerOption) *stack {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub := syncapi.NewHub()
	svc := service.New(store, service.WithPublisher(hub))
	if err := svc.EnsureDefaults(ctx); err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(append(syncapi.ServerOptions(), opts...)...)
	grpcapi.Register(gs, svc, log)
	sync := syncapi.New(svc, hub, syncapi.WithLogger(log))
	sync.Register(gs)
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = gs.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{addr: lis.Addr().String(), conn: conn}
	stopped := false
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		conn.Close()
		sync.Close()
		gs.GracefulStop()
		<-done
		hub.Close()
		store.Close()
	}
	t.Cleanup(s.stop)
	return s
}

// events collects a client's provider events by type.
type events map[openfeature.EventType]chan openfeature.EventDetails

func watch(client *openfeature.Client) events {
	ev := events{}
	for _, typ := range []openfeature.EventType{openfeature.ProviderReady, openfeature.ProviderConfigChange, openfeature.ProviderStale, openfeature.ProviderError} {
		ch := make(chan openfeature.EventDetails, 32)
		ev[typ] = ch
		cb := func(d openfeature.EventDetails) { ch <- d }
		client.AddHandler(typ, &cb)
	}
	return ev
}

func (ev events) wait(t *testing.T, typ openfeature.EventType) openfeature.EventDetails {
	t.Helper()
	select {
	case d := <-ev[typ]:
		return d
	case <-time.After(15 * time.Second):
		t.Fatalf("no %s event", typ)
		return openfeature.EventDetails{}
	}
}

// The SDK against the real server over a socket: ready, a change made
// through the admin API arrives as CONFIGURATION_CHANGED naming the flag, a
// stopped server makes the provider STALE (then ERROR) while it keeps
// serving the last values, and a restarted one makes it READY again with
// the changes made meanwhile.
func TestSDKEndToEnd(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "flagpole.db")
	srv := startStack(t, db, "127.0.0.1:0")
	flags := pb.NewFlagServiceClient(srv.conn)
	testkit.Must(flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "new-checkout", Type: "boolean"}}))(t)
	testkit.Must(flags.SetRollout(ctx, &pb.SetRolloutRequest{FlagKey: "new-checkout", Environment: "production", Percent: 100}))(t)
	testkit.Must(flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "new-checkout", Environment: "production", Enabled: true}))(t)

	p, err := sdk.NewProvider(srv.addr, sdk.WithEnvironment("production"), sdk.WithServiceName("e2e"),
		sdk.WithReconnectBackoff(20*time.Millisecond, 200*time.Millisecond), sdk.WithErrorGracePeriod(300*time.Millisecond),
		sdk.WithCacheFile(filepath.Join(t.TempDir(), "flags.cache")))
	if err != nil {
		t.Fatal(err)
	}
	// OpenFeature domains are process-wide: a fresh one per run (-count).
	domain := fmt.Sprintf("%s@%d", t.Name(), time.Now().UnixNano())
	client := openfeature.NewClient(domain)
	ev := watch(client)
	if err := openfeature.SetNamedProviderWithContextAndWait(ctx, domain, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Shutdown)
	ev.wait(t, openfeature.ProviderReady)
	user := openfeature.NewEvaluationContext("user-1", nil)
	if on, err := client.BooleanValue(ctx, "new-checkout", false, user); !on || err != nil {
		t.Fatalf("new-checkout = %v, %v; want true", on, err)
	}

	// A change through the admin API.
	testkit.Must(flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "new-checkout", Environment: "production", Enabled: false}))(t)
	if d := ev.wait(t, openfeature.ProviderConfigChange); !slices.Equal(d.FlagChanges, []string{"new-checkout"}) {
		t.Fatalf("changed flags = %v", d.FlagChanges)
	}
	if on, _ := client.BooleanValue(ctx, "new-checkout", true, user); on {
		t.Fatal("disabled flag still on")
	}
	// The server knows this instance applied the change.
	syncClient := syncpb.NewSyncServiceClient(srv.conn)
	waitFor(t, func() bool {
		resp, err := syncClient.ListClients(ctx, &syncpb.ListClientsRequest{Environment: "production"})
		return err == nil && len(resp.GetClients()) == 1 && resp.GetClients()[0].GetAppliedRevision() == resp.GetRevision() &&
			resp.GetClients()[0].GetServiceName() == "e2e"
	})

	// Server stopped: STALE, then ERROR; evaluations keep the last values.
	srv.stop()
	ev.wait(t, openfeature.ProviderStale)
	ev.wait(t, openfeature.ProviderError)
	d, err := client.BooleanValueDetails(ctx, "new-checkout", true, user)
	if d.Value || d.Reason != openfeature.DisabledReason || err != nil {
		t.Fatalf("while the server is down: %+v, %v", d, err)
	}

	// Meanwhile a change is made (through another listener on the same
	// database), then the server comes back on the original address.
	other := startStack(t, db, "127.0.0.1:0")
	otherFlags := pb.NewFlagServiceClient(other.conn)
	testkit.Must(otherFlags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "new-checkout", Environment: "production", Enabled: true}))(t)
	testkit.Must(otherFlags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "banner", Type: "boolean"}}))(t)
	other.stop()
	startStack(t, db, srv.addr)
	ev.wait(t, openfeature.ProviderReady)
	if d := ev.wait(t, openfeature.ProviderConfigChange); !slices.Equal(d.FlagChanges, []string{"banner", "new-checkout"}) {
		t.Fatalf("changed while away = %v", d.FlagChanges)
	}
	if on, err := client.BooleanValue(ctx, "new-checkout", false, user); !on || err != nil {
		t.Fatalf("after restart new-checkout = %v, %v; want true", on, err)
	}
	select {
	case <-ev[openfeature.ProviderReady]:
		t.Fatal("a second READY after recovery")
	case <-time.After(100 * time.Millisecond):
	}
}

// A token the server refuses is fatal: initialisation fails with
// PROVIDER_FATAL and the client reports FATAL. The interceptor stands in
// for the auth layer: only "Bearer good" may stream.
func TestSDKInvalidTokenIsFatal(t *testing.T) {
	ctx := context.Background()
	auth := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		md, _ := metadata.FromIncomingContext(ss.Context())
		if v := md.Get("authorization"); len(v) == 0 || v[0] != "Bearer good" {
			return status.Error(codes.Unauthenticated, "invalid token")
		}
		return handler(srv, ss)
	}
	srv := startStack(t, filepath.Join(t.TempDir(), "flagpole.db"), "127.0.0.1:0", grpc.StreamInterceptor(auth))
	for _, tc := range []struct {
		token string
		fatal bool
	}{{"bad", true}, {"good", false}} {
		p, err := sdk.NewProvider(srv.addr, sdk.WithToken(tc.token), sdk.WithEnvironment("production"), sdk.WithInitTimeout(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		domain := fmt.Sprintf("%s%s@%d", t.Name(), tc.token, time.Now().UnixNano())
		err = openfeature.SetNamedProviderWithContextAndWait(ctx, domain, p)
		state := openfeature.NewClient(domain).State()
		if tc.fatal {
			if err == nil || !strings.Contains(err.Error(), "invalid token") || state != openfeature.FatalState {
				t.Errorf("token %q: err = %v, state = %s; want a fatal error", tc.token, err, state)
			}
		} else if err != nil || state != openfeature.ReadyState {
			t.Errorf("token %q: err = %v, state = %s", tc.token, err, state)
		}
		p.Shutdown()
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// An SDK instance restarted with a cache file at the environment's current
// revision (no change since its last run) becomes ready at once and shows
// as having applied that revision: the server confirms the revision the
// client said it has. Three restarts in a row, against a server whose hub
// knows the revision (it published the changes) and against a restarted
// server whose hub knows none yet.
func TestSDKStartsFromUpToDateCache(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "flagpole.db")
	srv := startStack(t, db, "127.0.0.1:0")
	flags := pb.NewFlagServiceClient(srv.conn)
	testkit.Must(flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "new-checkout", Type: "boolean"}}))(t)
	testkit.Must(flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "new-checkout", Environment: "production", Enabled: true}))(t)
	cache := filepath.Join(t.TempDir(), "flags.cache")

	run := func(srv *stack, instance string) {
		t.Helper()
		p, err := sdk.NewProvider(srv.addr, sdk.WithEnvironment("production"), sdk.WithServiceName("cached"),
			sdk.WithInstanceID(instance), sdk.WithCacheFile(cache), sdk.WithAckDelay(0))
		if err != nil {
			t.Fatal(err)
		}
		defer p.Shutdown()
		// As examples/flagged-service does: the caller's deadline is no
		// later than the provider's init timeout (10s by default), so a
		// provider that waits for a message that never comes fails.
		initCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		domain := fmt.Sprintf("%s-%s@%d", t.Name(), instance, time.Now().UnixNano())
		if err := openfeature.SetNamedProviderWithContextAndWait(initCtx, domain, p); err != nil {
			t.Fatalf("%s: init: %v", instance, err)
		}
		if st := openfeature.NewClient(domain).State(); st != openfeature.ReadyState {
			t.Fatalf("%s: state %s", instance, st)
		}
		user := openfeature.FlattenedContext{"targetingKey": "user-1"}
		if r := p.BooleanEvaluation(ctx, "new-checkout", false, user); !r.Value || r.Error() != nil {
			t.Fatalf("%s: new-checkout = %+v", instance, r)
		}
		syncClient := syncpb.NewSyncServiceClient(srv.conn)
		waitFor(t, func() bool {
			resp, err := syncClient.ListClients(ctx, &syncpb.ListClientsRequest{Environment: "production"})
			if err != nil {
				return false
			}
			for _, c := range resp.GetClients() {
				if c.GetInstanceId() == instance {
					return c.GetAppliedRevision() == resp.GetRevision() && resp.GetRevision() > 0
				}
			}
			return false
		})
	}
	run(srv, "first") // no cache yet: a snapshot
	for i := range 3 {
		run(srv, fmt.Sprintf("restart-%d", i))
	}
	srv.stop()
	restarted := startStack(t, db, "127.0.0.1:0")
	for i := range 3 {
		run(restarted, fmt.Sprintf("server-restarted-%d", i))
	}
}
