package daemon_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/testkit"
)

// soakFor is how long TestSoak churns; a CI-sized run of the soak the
// issue asks for (issue 11: stream churn plus writes, goroutines and live
// heap flat).
const soakFor = 20 * time.Second

// TestSoak connects and disconnects SDKs continuously while flags are
// written, then checks that the server's goroutines and live heap came
// back to where they were after a warm-up round (within a margin): no
// stream, subscription, timer or buffer outlives its client.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: skipped with -short")
	}
	ctx := context.Background()
	cfg := config(filepath.Join(t.TempDir(), "flagpole.db"))
	cfg.UsageFlushInterval = 100 * time.Millisecond
	srv := daemon.New(cfg)
	conn := start(t, srv)
	c := clientsOf(conn)
	addr := srv.GRPCAddr().String()
	testkit.Must(c.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "churn", Type: "boolean"}}))(t)
	evalCtx := openfeature.FlattenedContext{openfeature.TargetingKey: "u"}

	var connects, writes atomic.Int64
	round := func(ctx context.Context, worker int) error {
		p, err := sdk.NewProvider(addr, sdk.WithToken(testAdminToken), sdk.WithEnvironment("production"),
			sdk.WithServiceName(fmt.Sprintf("soak-%d", worker)), sdk.WithUsageInterval(50*time.Millisecond))
		if err != nil {
			return err
		}
		defer p.Shutdown()
		if err := p.InitWithContext(ctx, openfeature.EvaluationContext{}); err != nil {
			return err
		}
		for range 100 {
			p.BooleanEvaluation(ctx, "churn", false, evalCtx)
		}
		time.Sleep(time.Duration(worker*20) * time.Millisecond) // streams of different lives
		connects.Add(1)
		return nil
	}
	churn := func(d time.Duration) {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for ctx.Err() == nil {
					if err := round(ctx, w); err != nil && ctx.Err() == nil {
						t.Errorf("sdk round: %v", err)
						return
					}
				}
			})
		}
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				if _, err := c.flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "churn", Environment: "production", Enabled: i%2 == 0}); err == nil {
					writes.Add(1)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
		wg.Wait()
	}
	measure := func() (int, uint64) {
		for range 3 {
			runtime.GC()
		}
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return runtime.NumGoroutine(), m.HeapAlloc
	}

	churn(2 * time.Second) // warm-up: pools, caches and lazily started goroutines
	time.Sleep(500 * time.Millisecond)
	baseG, baseHeap := measure()
	churn(soakFor)
	// Closed streams end within a moment; give them a few.
	var g int
	var heap uint64
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, heap = measure()
		if g <= baseG+5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%d SDK connections and %d writes in %s: goroutines %d -> %d, live heap %.1f -> %.1f MB",
		connects.Load(), writes.Load(), soakFor, baseG, g, float64(baseHeap)/1e6, float64(heap)/1e6)
	if g > baseG+5 {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines grew from %d to %d:\n%s", baseG, g, buf[:runtime.Stack(buf, true)])
	}
	if heap > baseHeap+8<<20 {
		t.Fatalf("live heap grew from %d to %d bytes", baseHeap, heap)
	}
	if n := len(testkit.Must(syncpb.NewSyncServiceClient(conn).ListClients(ctx, &syncpb.ListClientsRequest{Environment: "production"}))(t).GetClients()); n != 0 {
		t.Fatalf("%d clients still listed after every SDK shut down", n)
	}
}
