package postgres_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/grpcapi"
	"github.com/flagpole/flagpole/server/postgres/pgtest"
	"github.com/flagpole/flagpole/server/testkit"
)

const adminToken = "replicas-admin-token-0123456789abcdef"

// startReplica runs the real server program on dsn, on port 0.
func startReplica(t *testing.T, dsn string) (*daemon.Server, *grpc.ClientConn) {
	t.Helper()
	srv := daemon.New(daemon.Config{
		DBPath: dsn, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		AdminToken: adminToken, AdminPassword: "replicas-admin-password", Out: io.Discard,
	})
	if err := srv.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	conn, err := grpc.NewClient(srv.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(grpcapi.TokenCredentials{Token: adminToken, Insecure: true}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return srv, conn
}

// TestReplicasShareChanges runs two server replicas on one PostgreSQL
// database. An SDK connected to replica B sees every change written
// through replica A within moments, and B's remote evaluation serves it
// too.
func TestReplicasShareChanges(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := context.Background()
	_, connA := startReplica(t, dsn)
	srvB, connB := startReplica(t, dsn)
	flagsA := pb.NewFlagServiceClient(connA)
	evalB := pb.NewEvaluationServiceClient(connB)

	testkit.Must(flagsA.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "new-checkout", Type: "boolean"}}))(t)
	testkit.Must(flagsA.SetRollout(ctx, &pb.SetRolloutRequest{FlagKey: "new-checkout", Environment: "production", Percent: 100}))(t)
	testkit.Must(flagsA.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "new-checkout", Environment: "production", Enabled: true}))(t)

	p, err := sdk.NewProvider(srvB.GRPCAddr().String(), sdk.WithToken(adminToken), sdk.WithEnvironment("production"),
		sdk.WithServiceName("replicas"), sdk.WithCacheFile(filepath.Join(t.TempDir(), "flags.cache")))
	if err != nil {
		t.Fatal(err)
	}
	// OpenFeature domains are process-wide: a fresh one per run (-count).
	domain := fmt.Sprintf("%s@%d", t.Name(), time.Now().UnixNano())
	client := openfeature.NewClient(domain)
	changed := make(chan openfeature.EventDetails, 32)
	onChange := func(d openfeature.EventDetails) { changed <- d }
	client.AddHandler(openfeature.ProviderConfigChange, &onChange)
	if err := openfeature.SetNamedProviderWithContextAndWait(ctx, domain, p); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	user := openfeature.NewEvaluationContext("user-1", nil)
	if on, err := client.BooleanValue(ctx, "new-checkout", false, user); !on || err != nil {
		t.Fatalf("at B before the change: new-checkout = %v, %v; want true", on, err)
	}
	remoteB := func() bool {
		t.Helper()
		res := testkit.Must(evalB.Evaluate(ctx, &pb.EvaluateRequest{Environment: "production", FlagKey: "new-checkout",
			Type: "boolean", TargetingKey: "user-1"}))(t)
		return res.GetEvaluation().GetValue().GetBoolValue()
	}
	if !remoteB() {
		t.Fatal("remote evaluation at B before the change: false, want true")
	}

	// The kill switch, thrown through replica A.
	testkit.Must(flagsA.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "new-checkout", Environment: "production", Enabled: false}))(t)
	select {
	case d := <-changed:
		if !slices.Equal(d.FlagChanges, []string{"new-checkout"}) {
			t.Errorf("change event names %v, want [new-checkout]", d.FlagChanges)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the SDK at replica B saw no change within 10s of the write at replica A")
	}
	if on, err := client.BooleanValue(ctx, "new-checkout", true, user); on || err != nil {
		t.Errorf("at B after the change: new-checkout = %v, %v; want false", on, err)
	}
	if remoteB() {
		t.Error("remote evaluation at B after the change: true, want false (stale cached snapshot)")
	}

	// A deletion through A removes the flag at B.
	testkit.Must(flagsA.DeleteFlag(ctx, &pb.DeleteFlagRequest{Key: "new-checkout"}))(t)
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("the SDK at replica B saw no deletion within 10s")
	}
	res, _ := client.BooleanValueDetails(ctx, "new-checkout", true, user)
	if res.ErrorCode != openfeature.FlagNotFoundCode {
		t.Errorf("deleted flag at B: %+v, want FLAG_NOT_FOUND", res)
	}
}

func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
