package daemon_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/grpc"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/testkit"
)

// TestRecreatedEnvironmentResyncsSDKs (issue 11, F1): an environment is
// deleted and created again under the same name while the server runs and
// an SDK is connected to it. The connected SDK must move to the new
// environment's state, and an SDK that connects afterwards must initialise,
// both at revisions above the ones the deleted environment reached (they
// never go backwards). Before the fix the connected SDK kept the old state
// forever and a new one never initialised (the stream's snapshot lookup
// looped).
func TestRecreatedEnvironmentResyncsSDKs(t *testing.T) {
	t.Parallel()
	srv := daemon.New(config(filepath.Join(t.TempDir(), "flagpole.db")))
	conn := start(t, srv)
	addr := srv.GRPCAddr().String()
	recreateScenario(t, conn, conn, addr, addr)
}

// recreateScenario creates environment qa through admin and pushes its
// revision up, connects an SDK through sdkAddr, deletes and recreates qa
// through admin, turns the flag on, and checks the connected SDK and one
// connected afterwards to each of sdkAddr and newAddr.
func recreateScenario(t *testing.T, admin, reader *grpc.ClientConn, sdkAddr, newAddr string) {
	t.Helper()
	ctx := context.Background()
	envs, flags := pb.NewEnvironmentServiceClient(admin), pb.NewFlagServiceClient(admin)
	testkit.Must(flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "checkout", Type: "boolean"}}))(t)
	testkit.Must(envs.CreateEnvironment(ctx, &pb.CreateEnvironmentRequest{Environment: &pb.Environment{Name: "qa"}}))(t)
	testkit.Must(flags.SetRollout(ctx, &pb.SetRolloutRequest{FlagKey: "checkout", Environment: "qa", Percent: 100}))(t)
	for i := range 10 {
		testkit.Must(flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "checkout", Environment: "qa", Enabled: i%2 == 0}))(t)
	}
	revision := func() int64 {
		t.Helper()
		return testkit.Must(pb.NewEnvironmentServiceClient(reader).GetEnvironment(ctx, &pb.GetEnvironmentRequest{Name: "qa"}))(t).GetEnvironment().GetRevision()
	}
	old := revision()

	connect := func(addr string) *sdk.Provider {
		t.Helper()
		p, err := sdk.NewProvider(addr, sdk.WithToken(testAdminToken), sdk.WithEnvironment("qa"), sdk.WithServiceName("recreate"),
			sdk.WithReconnectBackoff(20*time.Millisecond, 200*time.Millisecond), sdk.WithInitTimeout(10*time.Second),
			sdk.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Shutdown)
		if err := p.InitWithContext(ctx, openfeature.EvaluationContext{}); err != nil {
			t.Fatalf("SDK connecting to %s: %v", addr, err)
		}
		return p
	}
	user := openfeature.FlattenedContext{"targetingKey": "user-1"}
	on := func(p *sdk.Provider) bool { return p.BooleanEvaluation(ctx, "checkout", false, user).Value }
	connected := connect(sdkAddr)
	if on(connected) || connected.Revision() != old {
		t.Fatalf("before the delete: checkout %v at revision %d, want off at %d", on(connected), connected.Revision(), old)
	}

	testkit.Must(envs.DeleteEnvironment(ctx, &pb.DeleteEnvironmentRequest{Name: "qa"}))(t)
	testkit.Must(envs.CreateEnvironment(ctx, &pb.CreateEnvironmentRequest{Environment: &pb.Environment{Name: "qa"}}))(t)
	testkit.Must(flags.SetRollout(ctx, &pb.SetRolloutRequest{FlagKey: "checkout", Environment: "qa", Percent: 100}))(t)
	testkit.Must(flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "checkout", Environment: "qa", Enabled: true}))(t)
	now := revision()
	if now <= old {
		t.Errorf("recreated qa is at revision %d, the deleted one reached %d: revisions went backwards", now, old)
	}

	deadline := time.Now().Add(15 * time.Second)
	for !on(connected) || connected.Revision() != now {
		if time.Now().After(deadline) {
			t.Errorf("the connected SDK serves checkout %v at revision %d; the server serves on at %d", on(connected), connected.Revision(), now)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, addr := range []string{sdkAddr, newAddr} {
		p := connect(addr)
		if !on(p) || p.Revision() != now {
			t.Errorf("an SDK connected to %s afterwards serves checkout %v at revision %d, want on at %d", addr, on(p), p.Revision(), now)
		}
	}
}
