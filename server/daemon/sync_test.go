package daemon_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/testkit"
)

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

// The SDK against the real server program (server/daemon, as `flagpole
// serve` runs it): ready, a change made through
// the admin API arrives as CONFIGURATION_CHANGED naming the flag, a stopped
// server makes the provider STALE (then ERROR) while it keeps serving the
// last values, and a restarted one makes it READY again with the changes
// made meanwhile.
func TestSDKEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "flagpole.db")
	srv := daemon.New(config(db))
	conn := start(t, srv)
	c := clientsOf(conn)
	addr := srv.GRPCAddr().String()
	testkit.Must(c.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "new-checkout", Type: "boolean"}}))(t)
	testkit.Must(c.flags.SetRollout(ctx, &pb.SetRolloutRequest{FlagKey: "new-checkout", Environment: "production", Percent: 100}))(t)
	testkit.Must(c.flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "new-checkout", Environment: "production", Enabled: true}))(t)

	p, err := sdk.NewProvider(addr, sdk.WithToken(testAdminToken), sdk.WithEnvironment("production"), sdk.WithServiceName("e2e"),
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
	t.Cleanup(func() { p.Shutdown() })
	ev.wait(t, openfeature.ProviderReady)
	userCtx := openfeature.NewEvaluationContext("user-1", nil)
	if on, err := client.BooleanValue(ctx, "new-checkout", false, userCtx); !on || err != nil {
		t.Fatalf("new-checkout = %v, %v; want true", on, err)
	}

	// A change through the admin API.
	testkit.Must(c.flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "new-checkout", Environment: "production", Enabled: false}))(t)
	if d := ev.wait(t, openfeature.ProviderConfigChange); !slices.Equal(d.FlagChanges, []string{"new-checkout"}) {
		t.Fatalf("changed flags = %v", d.FlagChanges)
	}
	if on, _ := client.BooleanValue(ctx, "new-checkout", true, userCtx); on {
		t.Fatal("disabled flag still on")
	}
	// The server knows this instance applied the change.
	waitFor(t, "the instance to acknowledge the change", func() bool {
		resp, err := syncpb.NewSyncServiceClient(conn).ListClients(ctx, &syncpb.ListClientsRequest{Environment: "production"})
		return err == nil && len(resp.GetClients()) == 1 && resp.GetClients()[0].GetAppliedRevision() == resp.GetRevision() &&
			resp.GetClients()[0].GetServiceName() == "e2e"
	})

	// Server stopped: STALE, then ERROR; evaluations keep the last values.
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ev.wait(t, openfeature.ProviderStale)
	ev.wait(t, openfeature.ProviderError)
	d, err := client.BooleanValueDetails(ctx, "new-checkout", true, userCtx)
	if d.Value || d.Reason != openfeature.DisabledReason || err != nil {
		t.Fatalf("while the server is down: %+v, %v", d, err)
	}

	// Meanwhile, a change is made (through another listener on the same
	// database), then the server comes back on the original address.
	other := daemon.New(config(db))
	oc := clientsOf(start(t, other))
	testkit.Must(oc.flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "new-checkout", Environment: "production", Enabled: true}))(t)
	testkit.Must(oc.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "banner", Type: "boolean"}}))(t)
	if err := other.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := config(db)
	cfg.GRPCAddr = addr
	restarted := daemon.New(cfg)
	start(t, restarted)
	ev.wait(t, openfeature.ProviderReady)
	if d := ev.wait(t, openfeature.ProviderConfigChange); !slices.Equal(d.FlagChanges, []string{"banner", "new-checkout"}) {
		t.Fatalf("changed while away = %v", d.FlagChanges)
	}
	if on, err := client.BooleanValue(ctx, "new-checkout", false, userCtx); !on || err != nil {
		t.Fatalf("after restart new-checkout = %v, %v; want true", on, err)
	}
	select {
	case <-ev[openfeature.ProviderReady]:
		t.Fatal("a second READY after recovery")
	case <-time.After(100 * time.Millisecond):
	}
}

// Revoking an sdk token ends the streams opened with it at once (not at
// the next reconnect): the SDK reports a fatal ERROR and does not connect
// again.
func TestRevokedTokenEndsSyncStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := daemon.New(config(filepath.Join(t.TempDir(), "flagpole.db")))
	conn := start(t, srv)
	tok := testkit.Must(pb.NewTokenServiceClient(conn).CreateToken(ctx, &pb.CreateTokenRequest{Name: "checkout-sdk", Scope: "sdk", Environments: []string{"production"}}))(t)
	p, err := sdk.NewProvider(srv.GRPCAddr().String(), sdk.WithToken(tok.GetSecret()), sdk.WithServiceName("revoked"),
		sdk.WithReconnectBackoff(20*time.Millisecond, 100*time.Millisecond), sdk.WithErrorGracePeriod(time.Minute))
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
	t.Cleanup(func() { p.Shutdown() })
	ev.wait(t, openfeature.ProviderReady)
	sync := syncpb.NewSyncServiceClient(conn)
	connected := func() int {
		resp, err := sync.ListClients(ctx, &syncpb.ListClientsRequest{Environment: "production"})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.GetClients())
	}
	waitFor(t, "the stream to register", func() bool { return connected() == 1 })

	revoked := time.Now()
	testkit.Must(pb.NewTokenServiceClient(conn).RevokeToken(ctx, &pb.RevokeTokenRequest{Name: "checkout-sdk"}))(t)
	d := ev.wait(t, openfeature.ProviderError)
	// Heartbeats come every 15 s and the error grace period is a minute:
	// only the revocation can have ended the stream this soon.
	if took := time.Since(revoked); took > 5*time.Second {
		t.Fatalf("stream ended %s after the revocation", took)
	}
	if !strings.Contains(d.Message, "revoked") {
		t.Fatalf("error event %+v, want it to say the credential was revoked", d.ProviderEventDetails)
	}
	waitFor(t, "the stream to unregister", func() bool { return connected() == 0 })
	// Several reconnect backoffs later the instance has not come back.
	time.Sleep(500 * time.Millisecond)
	if n := connected(); n != 0 {
		t.Fatalf("%d streams connected after the revocation", n)
	}
	if st := client.State(); st != openfeature.FatalState {
		t.Fatalf("client state %s, want %s", st, openfeature.FatalState)
	}
}

// The sync server logs to the server's logger, not to slog.Default: a
// stream's opening (logged at debug level) shows up in the configured log.
func TestSyncLogsToServerLogger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	logs := &testkit.Buffer{}
	cfg := config(filepath.Join(t.TempDir(), "flagpole.db"))
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := daemon.New(cfg)
	start(t, srv)
	p, err := sdk.NewProvider(srv.GRPCAddr().String(), sdk.WithToken(testAdminToken), sdk.WithEnvironment("production"),
		sdk.WithServiceName("logged"), sdk.WithTrackFlushInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Shutdown)
	if err := p.InitWithContext(ctx, openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stream's opening in the server's log", func() bool {
		return strings.Contains(logs.String(), "syncapi: stream opened") && strings.Contains(logs.String(), "service=logged")
	})
}
