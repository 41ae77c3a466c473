package cli_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
)

// TestAcknowledgedChangesSurviveKill is the durability run of the
// reliability issue in CI size: `flagpole serve` on SQLite takes writes from
// four concurrent clients and is killed with SIGKILL at a random moment;
// after a restart on the same file every change the server acknowledged is
// there (a created flag exists, an acknowledged enable is enabled). Cycles
// default to 4; FLAGPOLE_KILL_CYCLES=100 makes it the full run. A killed
// process is not a lost machine: the kernel still writes what the process
// handed it, so this finds a server that acknowledges before it commits, not
// a disk that lies.
func TestAcknowledgedChangesSurviveKill(t *testing.T) {
	t.Parallel()
	cycles := 4
	if v, err := strconv.Atoi(os.Getenv("FLAGPOLE_KILL_CYCLES")); err == nil && v > 0 {
		cycles = v
	}
	db := filepath.Join(t.TempDir(), "flagpole.db")
	type acked struct{ created, enabled []string }
	var all acked
	for cycle := range cycles {
		s := startServerOn(t, db)
		conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		flags := flagpolev1.NewFlagServiceClient(conn)
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+adminToken)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					key := fmt.Sprintf("c%d-w%d-%d", cycle, w, i)
					if _, err := flags.CreateFlag(ctx, &flagpolev1.CreateFlagRequest{Flag: &syncpb.Flag{Key: key, Type: "boolean"}}); err != nil {
						return // the server is gone
					}
					mu.Lock()
					all.created = append(all.created, key)
					mu.Unlock()
					if _, err := flags.SetEnabled(ctx, &flagpolev1.SetEnabledRequest{FlagKey: key, Environment: "production", Enabled: true}); err != nil {
						return
					}
					mu.Lock()
					all.enabled = append(all.enabled, key)
					mu.Unlock()
				}
			})
		}
		time.Sleep(time.Duration(150+rand.IntN(350)) * time.Millisecond)
		if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = s.cmd.Wait()
		wg.Wait()
		conn.Close()
	}

	s := startServerOn(t, db)
	present := map[string]bool{}
	enabled := map[string]bool{}
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+adminToken)
	resp, err := flagpolev1.NewFlagServiceClient(conn).ListFlags(ctx, &flagpolev1.ListFlagsRequest{Environment: "production"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range resp.GetFlags() {
		present[f.GetFlag().GetKey()] = true
		for _, c := range f.GetConfigs() {
			enabled[f.GetFlag().GetKey()] = c.GetEnabled()
		}
	}
	lost := 0
	for _, k := range all.created {
		if !present[k] {
			lost++
			t.Errorf("flag %s: creation acknowledged, missing after SIGKILL and restart", k)
		}
	}
	for _, k := range all.enabled {
		if !enabled[k] {
			lost++
			t.Errorf("flag %s: enable in production acknowledged, not enabled after SIGKILL and restart", k)
		}
	}
	t.Logf("%d SIGKILLs, %d acknowledged changes (%d creates, %d enables), %d lost",
		cycles, len(all.created)+len(all.enabled), len(all.created), len(all.enabled), lost)
}
