package daemon_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/grpcapi"
)

// changeBench is a real server with n flags in every environment and one
// SDK instance connected to production, as `flag enable --wait` meets it.
// The instance acknowledges every change at once: with the default window
// a change that follows the last one within 50 ms is acknowledged only when
// the window ends, and the benchmark's back-to-back toggles would measure
// the window instead of the work.
func changeBench(b *testing.B, n int) (*daemon.Server, *grpc.ClientConn) {
	b.Helper()
	srv := daemon.New(config(filepath.Join(b.TempDir(), "flagpole.db")))
	if err := srv.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(context.Background()) })
	ctx := context.Background()
	for i := range n {
		if _, _, err := srv.Service.CreateFlag(ctx, engine.Flag{Key: fmt.Sprintf("flag-%05d", i), Type: engine.TypeBoolean}); err != nil {
			b.Fatal(err)
		}
	}
	conn, err := grpc.NewClient(srv.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(grpcapi.TokenCredentials{Token: testAdminToken, Insecure: true}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	tok, err := pb.NewTokenServiceClient(conn).CreateToken(ctx, &pb.CreateTokenRequest{Name: "svc", Scope: "sdk", Environments: []string{"production"}})
	if err != nil {
		b.Fatal(err)
	}
	p, err := sdk.NewProvider(srv.GRPCAddr().String(), sdk.WithToken(tok.GetSecret()), sdk.WithInstanceID("bench-1"), sdk.WithAckDelay(0),
		sdk.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	ictx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := p.InitWithContext(ictx, openfeature.EvaluationContext{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Shutdown)
	return srv, conn
}

// BenchmarkToggleAndWait is `flag enable --wait` as the server sees it: one
// SetEnabled, then WatchClients until the SDK instance acknowledged it. Its
// cost should not grow with the number of flags; it reports the process's
// CPU per toggle as cpu-ms/op.
func BenchmarkToggleAndWait(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("flags=%d", n), func(b *testing.B) {
			_, conn := changeBench(b, n)
			flags, sync := pb.NewFlagServiceClient(conn), syncpb.NewSyncServiceClient(conn)
			ctx := context.Background()
			b.ResetTimer()
			cpu0, cpuKnown := processCPU()
			for i := range b.N {
				res, err := flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "flag-00000", Environment: "production", Enabled: i%2 == 0})
				if err != nil {
					b.Fatal(err)
				}
				_ = res
				w, err := sync.WatchClients(ctx, &syncpb.WatchClientsRequest{Environment: "production"})
				if err != nil {
					b.Fatal(err)
				}
				for {
					m, err := w.Recv()
					if err != nil {
						b.Fatal(err)
					}
					if m.GetAllApplied() {
						break
					}
				}
			}
			// CPU of the whole process: the server and the one SDK
			// instance, so what the change and the wait cost, not the
			// commit's wait on the disk.
			if cpu1, _ := processCPU(); cpuKnown {
				b.ReportMetric(float64((cpu1-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
			}
		})
	}
}

// BenchmarkListClients is one poll of "who has which revision", which once
// read every flag of the environment.
func BenchmarkListClients(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("flags=%d", n), func(b *testing.B) {
			_, conn := changeBench(b, n)
			sync := syncpb.NewSyncServiceClient(conn)
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				if _, err := sync.ListClients(ctx, &syncpb.ListClientsRequest{Environment: "production"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
