package daemon_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/service"
)

// TestReleasePlanSurvivesRestart runs the real server's plan runner: a plan
// started by one server process is, after a shutdown and a start on the
// same database, at the same step, held by the new server, and goes on
// from there.
func TestReleasePlanSurvivesRestart(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "flagpole.db")
	start := func() *daemon.Server {
		srv := daemon.New(daemon.Config{DBPath: db, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AdminToken: testAdminToken, Out: io.Discard,
			ReleaseInterval: 20 * time.Millisecond})
		if err := srv.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return srv
	}
	ctx := context.Background()
	srv := start()
	if _, _, err := srv.Service.CreateFlag(ctx, engine.Flag{Key: "checkout", Type: engine.TypeBoolean}); err != nil {
		t.Fatal(err)
	}
	p, err := srv.Service.CreatePlan(ctx, service.PlanRequest{FlagKey: "checkout", Environment: "staging",
		Steps: []server.PlanStep{{Percent: 10, Hold: 2 * time.Second}, {Percent: 100, Hold: time.Hour}}})
	if err != nil {
		t.Fatal(err)
	}
	waitPlan := func(srv *daemon.Server, step int) server.ReleasePlan {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got, err := srv.Service.GetPlan(ctx, "staging", p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Step == step {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("plan at step %d (%s), want step %d", got.Step, got.State, step)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	first := waitPlan(srv, 1)
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	srv = start()
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	got := waitPlan(srv, 2)
	if got.State != server.PlanRunning || got.LeaseOwner == first.LeaseOwner || got.LeaseOwner == "" {
		t.Errorf("after the restart: %s, lease %q (before %q); want running, held by the new server", got.State, got.LeaseOwner, first.LeaseOwner)
	}
	if !got.StepStartedAt.After(first.StepStartedAt.Add(2*time.Second - time.Millisecond)) {
		t.Errorf("step 2 applied at %v, before step 1 (applied %v) held 2s", got.StepStartedAt, first.StepStartedAt)
	}
	entries, _, err := srv.Service.ListAudit(ctx, server.AuditFilter{Resource: "config", Key: "checkout", Environment: "staging"}, "")
	if err != nil {
		t.Fatal(err)
	}
	steps := 0
	for _, e := range entries {
		if e.Action == "release.step" {
			steps++
		}
	}
	if steps != 2 {
		t.Errorf("%d step changes in the audit trail, want 2 (each step once)", steps)
	}
}
