package daemon_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/grpcapi"
	"github.com/flagpole/flagpole/server/testkit"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Issue 11 F7: an sdk token's usage report over a real sync stream stores
// counts only for the environment's flags and their variants: invented
// variant names and flag keys are dropped (before, every invented variant
// became an hourly row).
func TestUsageReportOfInventedNamesStoresNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := config(filepath.Join(t.TempDir(), "flagpole.db"))
	cfg.UsageFlushInterval = 50 * time.Millisecond
	srv := daemon.New(cfg)
	conn := start(t, srv)
	c := clientsOf(conn)
	testkit.Must(c.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "checkout", Type: "boolean"}}))(t)
	tok := testkit.Must(pb.NewTokenServiceClient(conn).CreateToken(ctx, &pb.CreateTokenRequest{Name: "flooder", Scope: "sdk", Environments: []string{"production"}}))(t)

	sdkConn, err := grpc.NewClient(srv.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(grpcapi.TokenCredentials{Token: tok.GetSecret(), Insecure: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer sdkConn.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream := testkit.Must(syncpb.NewSyncServiceClient(sdkConn).Sync(sctx))(t)
	send := func(m *syncpb.SyncRequest) {
		t.Helper()
		if err := stream.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	send(&syncpb.SyncRequest{Message: &syncpb.SyncRequest_Hello{Hello: &syncpb.Hello{SdkName: "test", ServiceName: "flood", InstanceId: "i-1"}}})
	if testkit.Must(stream.Recv())(t).GetSnapshot() == nil {
		t.Fatal("no snapshot")
	}
	r := &syncpb.UsageReport{}
	for i := range 2000 {
		r.Counts = append(r.Counts, &syncpb.UsageCount{FlagKey: "checkout", Variant: fmt.Sprintf("invented-%d", i), Count: 1})
		r.Counts = append(r.Counts, &syncpb.UsageCount{FlagKey: fmt.Sprintf("no-such-flag-%d", i), Variant: "on", Count: 1})
	}
	r.Counts = append(r.Counts, &syncpb.UsageCount{FlagKey: "checkout", Variant: "off", Count: 7})
	send(&syncpb.SyncRequest{Message: &syncpb.SyncRequest_Usage{Usage: r}})

	usage := pb.NewUsageServiceClient(conn)
	var got *pb.FlagUsage
	waitFor(t, "the known count to be stored", func() bool {
		resp := testkit.Must(usage.GetFlagUsage(ctx, &pb.GetFlagUsageRequest{FlagKey: "checkout", Environment: "production"}))(t)
		for _, u := range resp.GetUsage() {
			if u.GetEvaluationsLastDay() > 0 {
				got = u
				return true
			}
		}
		return false
	})
	time.Sleep(200 * time.Millisecond) // a few more flushes
	resp := testkit.Must(usage.GetFlagUsage(ctx, &pb.GetFlagUsageRequest{FlagKey: "checkout", Environment: "production"}))(t)
	got = resp.GetUsage()[0]
	if n := len(got.GetHourly()); n != 1 || got.GetHourly()[0].GetVariant() != "off" || got.GetHourly()[0].GetCount() != 7 {
		t.Fatalf("%d hourly rows stored (first %v), want one: off=7", n, got.GetHourly()[0])
	}
	all := testkit.Must(usage.ListFlagUsage(ctx, &pb.ListFlagUsageRequest{}))(t)
	for _, u := range all.GetUsage() {
		if u.GetFlagKey() != "checkout" {
			t.Fatalf("usage stored for %q", u.GetFlagKey())
		}
	}
}
