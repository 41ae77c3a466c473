package release_test

import (
	"sync"
	"testing"
	"time"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/postgres"
	"github.com/flagpole/flagpole/server/postgres/pgtest"
	"github.com/flagpole/flagpole/server/release"
	"github.com/flagpole/flagpole/server/service"
)

// TestTwoPostgresReplicasApplyEachStepOnce runs two replicas' runners on
// one PostgreSQL schema, ticking at the same moments: each step is applied
// exactly once, by the lease holder, and when that replica dies the other
// takes the plan over once the lease has run out.
func TestTwoPostgresReplicasApplyEachStepOnce(t *testing.T) {
	dsn := pgtest.Schema(t)
	ctx := t.Context()
	clk := &clock{now: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
	var svcs []*service.Service
	for range 2 {
		db, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		svcs = append(svcs, service.New(db, service.WithClock(clk.Now)))
	}
	if err := svcs[0].EnsureDefaults(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svcs[0].CreateFlag(ctx, engine.Flag{Key: "checkout", Type: engine.TypeBoolean}); err != nil {
		t.Fatal(err)
	}
	p, err := svcs[1].CreatePlan(ctx, service.PlanRequest{FlagKey: "checkout", Environment: "production",
		Steps: steps(time.Second, 1, 5, 25, 50, 100)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ctx: ctx, clock: clk}
	runners := []*release.Runner{}
	for i, owner := range []string{"a", "b"} {
		f.svc = svcs[i]
		runners = append(runners, f.runner(owner, nil))
	}
	tickAll := func(rs ...*release.Runner) {
		var wg sync.WaitGroup
		for _, r := range rs {
			wg.Go(func() {
				for range 3 {
					if err := r.Tick(ctx); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
	}
	// Both replicas run steps 1 to 3.
	for range 3 {
		tickAll(runners...)
		clk.Add(time.Second)
	}
	f.svc = svcs[0]
	got := f.plan(p.ID)
	wantState(t, got, server.PlanRunning, 3)
	// The lease holder dies; the other waits out the lease, then finishes.
	survivor := runners[0]
	if got.LeaseOwner == "a" {
		survivor = runners[1]
	}
	tickAll(survivor)
	wantState(t, f.plan(p.ID), server.PlanRunning, 3)
	clk.Add(release.DefaultLease)
	for range 3 {
		tickAll(survivor)
		clk.Add(time.Second)
	}
	got = f.plan(p.ID)
	wantState(t, got, server.PlanCompleted, 5)
	if got.LeaseOwner != survivor.Owner {
		t.Errorf("lease owner %q, want the survivor %q", got.LeaseOwner, survivor.Owner)
	}
	want := []string{}
	for i := 1; i <= 5; i++ {
		want = append(want, "release-plan/1 step "+string(rune('0'+i))+"/5 release.step")
	}
	if got := f.stepAudits(); len(got) != len(want) {
		t.Errorf("steps applied:\n%v\nwant each once:\n%v", got, want)
	} else {
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("steps applied:\n%v\nwant each once:\n%v", got, want)
				break
			}
		}
	}
}
