package daemon_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/testkit"
)

// Issue 11 F10: a sync stream ends when the token it was opened with
// expires, as it does when the token is revoked; before, it kept receiving
// changes for as long as it stayed connected. The credential clock is moved
// past the expiry instead of waiting for it.
func TestExpiredTokenEndsSyncStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &testClock{}
	cfg := config(filepath.Join(t.TempDir(), "flagpole.db"))
	cfg.AuthNow = clk.Now
	srv := daemon.New(cfg)
	conn := start(t, srv)
	c := clientsOf(conn)
	testkit.Must(c.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "banner", Type: "boolean"}}))(t)
	tok := testkit.Must(pb.NewTokenServiceClient(conn).CreateToken(ctx, &pb.CreateTokenRequest{Name: "short-lived", Scope: "sdk",
		Environments: []string{"production"}, ExpireTime: timestamppb.New(clk.Now().Add(time.Hour))}))(t)
	p, err := sdk.NewProvider(srv.GRPCAddr().String(), sdk.WithToken(tok.GetSecret()), sdk.WithServiceName("expiring"),
		sdk.WithReconnectBackoff(20*time.Millisecond, 100*time.Millisecond), sdk.WithErrorGracePeriod(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	domain := fmt.Sprintf("%s@%d", t.Name(), time.Now().UnixNano())
	client := openfeature.NewClient(domain)
	ev := watch(client)
	if err := openfeature.SetNamedProviderWithContextAndWait(ctx, domain, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	ev.wait(t, openfeature.ProviderReady)
	testkit.Must(c.flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "banner", Environment: "production", Enabled: true}))(t)
	ev.wait(t, openfeature.ProviderConfigChange)

	clk.Advance(2 * time.Hour)
	expired := time.Now()
	d := ev.wait(t, openfeature.ProviderError)
	took := time.Since(expired)
	t.Logf("stream ended %s after the token's expiry", took)
	// Heartbeats come every 15 s and the error grace period is a minute:
	// only the expiry can have ended the stream this soon.
	if took > 5*time.Second {
		t.Fatalf("stream ended %s after the expiry", took)
	}
	if !strings.Contains(d.Message, "expired") {
		t.Fatalf("error event %+v, want it to say the credential expired", d.ProviderEventDetails)
	}
	// No change reaches the expired token's instance any more.
	testkit.Must(c.flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "banner", Environment: "production", Enabled: false}))(t)
	select {
	case d := <-ev[openfeature.ProviderConfigChange]:
		t.Fatalf("a change arrived after the token expired: %+v", d)
	case <-time.After(500 * time.Millisecond):
	}
	// (Asked of the provider: the OpenFeature client of a fatal provider
	// answers every call with the default.)
	if r := p.BooleanEvaluation(ctx, "banner", false, openfeature.FlattenedContext{openfeature.TargetingKey: "u"}); !r.Value {
		t.Fatal("the expired instance applied the change made after the expiry")
	}
	resp := testkit.Must(syncpb.NewSyncServiceClient(conn).ListClients(ctx, &syncpb.ListClientsRequest{Environment: "production"}))(t)
	if n := len(resp.GetClients()); n != 0 {
		t.Fatalf("%d streams connected after the expiry", n)
	}
}
