package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flagpole/flagpole/server"
)

// plan is a running three-step guarded release of flagKey in envName.
func plan(envName, flagKey string) server.ReleasePlan {
	return server.ReleasePlan{
		FlagKey:     flagKey,
		Environment: envName,
		PlanSpec: server.PlanSpec{
			Kind: server.KindRelease,
			Steps: []server.PlanStep{
				{Percent: 5, Hold: 10 * time.Minute}, {Percent: 50, Hold: 30 * time.Minute}, {Percent: 100, Hold: time.Minute},
			},
			Variant: "on", Control: "off",
			Guard:        &server.GuardSpec{Event: "error", MaxRatio: 1.2, MaxDiff: 0.005, MinSamples: 500},
			OnRegression: server.RegressControl,
		},
		StartAt:   at(10),
		State:     server.PlanScheduled,
		CreatedBy: "user alice",
		CreatedAt: at(2),
		UpdatedAt: at(2),
		Revision:  1,
	}
}

func createPlan(t *testing.T, s server.Store, p server.ReleasePlan) server.ReleasePlan {
	t.Helper()
	update(t, s, func(tx server.Tx) (err error) {
		p.ID, err = tx.CreatePlan(p)
		return err
	})
	return p
}

func testPlans(t *testing.T, s server.Store) {
	seed(t, s, []string{"staging", "production"}, []string{"checkout", "search"})
	want := createPlan(t, s, plan("production", "checkout"))
	if want.ID == 0 {
		t.Fatal("CreatePlan returned ID 0")
	}
	view(t, s, func(tx server.Tx) error {
		got, err := tx.GetPlan(want.ID)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
			t.Errorf("GetPlan (-want +got):\n%s", diff)
		}
		wantUTC(t, "GetPlan", got.StartAt, got.CreatedAt, got.UpdatedAt)
		_, err = tx.GetPlan(want.ID + 1000)
		wantError(t, "GetPlan of a missing plan", err, server.ENOTFOUND, "release plan")
		return nil
	})

	// Progress: start the plan, at revision 2.
	running := want
	running.State, running.Step, running.Revision = server.PlanRunning, 1, 2
	running.StartedAt, running.StepStartedAt, running.UpdatedAt = at(10), at(10), at(10)
	running.Reason = "started"
	running.Evidence = json.RawMessage(`{"verdict":"passing","control":{"samples":600}}`)
	update(t, s, func(tx server.Tx) error { return tx.UpdatePlan(running) })
	view(t, s, func(tx server.Tx) error {
		got, err := tx.GetPlan(want.ID)
		if err != nil {
			return err
		}
		if !jsonEqual(running.Evidence, got.Evidence) {
			t.Errorf("evidence = %s, want %s", got.Evidence, running.Evidence)
		}
		got.Evidence = running.Evidence
		if diff := cmp.Diff(running, got, cmpOpts); diff != "" {
			t.Errorf("GetPlan after UpdatePlan (-want +got):\n%s", diff)
		}
		return nil
	})

	// The same revision again is stale: someone else moved the plan.
	err := s.Update(t.Context(), func(tx server.Tx) error { return tx.UpdatePlan(running) })
	wantError(t, "UpdatePlan at a stale revision", err, server.ECONFLICT, "release plan")
	missing := running
	missing.ID += 1000
	err = s.Update(t.Context(), func(tx server.Tx) error { return tx.UpdatePlan(missing) })
	wantError(t, "UpdatePlan of a missing plan", err, server.ENOTFOUND)
}

func testPlansOneActive(t *testing.T, s server.Store) {
	seed(t, s, []string{"staging", "production"}, []string{"checkout", "search"})
	first := createPlan(t, s, plan("production", "checkout"))
	// Another flag, or another environment, is fine.
	createPlan(t, s, plan("staging", "checkout"))
	createPlan(t, s, plan("production", "search"))

	// A second active plan is refused and leaves the transaction usable.
	err := s.Update(t.Context(), func(tx server.Tx) error {
		_, err := tx.CreatePlan(plan("production", "checkout"))
		wantError(t, "second active plan", err, server.EEXISTS, `"checkout"`, `"production"`)
		var se *server.Error
		if e, ok := err.(*server.Error); ok {
			se = e
		}
		if se == nil || se.Field != "flag_key" {
			t.Errorf("second active plan: error %#v does not name field flag_key", err)
		}
		_, err = tx.GetPlan(first.ID)
		return err
	})
	if err != nil {
		t.Fatalf("transaction after a refused plan: %v", err)
	}

	// Once the first has ended, a new one may start.
	done := first
	done.State, done.Revision, done.EndedAt, done.UpdatedAt = server.PlanCancelled, 2, at(20), at(20)
	update(t, s, func(tx server.Tx) error { return tx.UpdatePlan(done) })
	next := createPlan(t, s, plan("production", "checkout"))

	view(t, s, func(tx server.Tx) error {
		all, err := tx.ListPlans(server.PlanFilter{})
		if err != nil {
			return err
		}
		if len(all) != 4 || all[0].ID != next.ID || all[3].ID != first.ID {
			t.Errorf("ListPlans: %d plans %v, want 4 newest first", len(all), planIDs(all))
		}
		active, err := tx.ListPlans(server.PlanFilter{Environment: "production", FlagKey: "checkout", Active: true})
		if err != nil {
			return err
		}
		if len(active) != 1 || active[0].ID != next.ID {
			t.Errorf("ListPlans(active checkout in production) = %v, want [%d]", planIDs(active), next.ID)
		}
		ofFlag, err := tx.ListPlans(server.PlanFilter{FlagKey: "checkout"})
		if err != nil {
			return err
		}
		if len(ofFlag) != 3 {
			t.Errorf("ListPlans(checkout) = %v, want 3 plans", planIDs(ofFlag))
		}
		return nil
	})
}

func planIDs(ps []server.ReleasePlan) []int64 {
	ids := make([]int64, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

func testPlansLease(t *testing.T, s server.Store) {
	seed(t, s, []string{"production"}, []string{"checkout"})
	p := createPlan(t, s, plan("production", "checkout"))
	lease := func(owner string, now time.Time) bool {
		t.Helper()
		var ok bool
		update(t, s, func(tx server.Tx) (err error) {
			ok, err = tx.LeasePlan(p.ID, owner, now, now.Add(15*time.Second))
			return err
		})
		return ok
	}
	if !lease("a", at(0)) {
		t.Fatal("a free plan was not leased")
	}
	if lease("b", at(0).Add(10*time.Second)) {
		t.Error("b took a lease that a holds until 15 s")
	}
	if !lease("a", at(0).Add(10*time.Second)) {
		t.Error("a could not renew its own lease")
	}
	if lease("b", at(0).Add(20*time.Second)) {
		t.Error("b took the lease a renewed until 25 s")
	}
	if !lease("b", at(0).Add(26*time.Second)) {
		t.Error("b could not take over a lease that ran out")
	}
	view(t, s, func(tx server.Tx) error {
		got, err := tx.GetPlan(p.ID)
		if err != nil {
			return err
		}
		if got.LeaseOwner != "b" || !got.LeaseUntil.Equal(at(0).Add(41*time.Second)) || got.Revision != 1 {
			t.Errorf("after leases: owner %q until %v revision %d; want b, %v, 1", got.LeaseOwner, got.LeaseUntil, got.Revision, at(0).Add(41*time.Second))
		}
		return nil
	})
	err := s.Update(t.Context(), func(tx server.Tx) error {
		_, err := tx.LeasePlan(p.ID+1000, "a", at(0), at(1))
		return err
	})
	wantError(t, "LeasePlan of a missing plan", err, server.ENOTFOUND)
}

func testPlansMissingParentAndCascade(t *testing.T, s server.Store) {
	seed(t, s, []string{"production"}, []string{"checkout"})
	for _, p := range []server.ReleasePlan{plan("qa", "checkout"), plan("production", "nope")} {
		err := s.Update(t.Context(), func(tx server.Tx) error {
			_, err := tx.CreatePlan(p)
			return err
		})
		wantError(t, "CreatePlan("+p.Environment+", "+p.FlagKey+")", err, server.ENOTFOUND)
	}
	p := createPlan(t, s, plan("production", "checkout"))
	update(t, s, func(tx server.Tx) error { return tx.DeleteFlag("checkout") })
	view(t, s, func(tx server.Tx) error {
		_, err := tx.GetPlan(p.ID)
		wantError(t, "GetPlan after its flag was deleted", err, server.ENOTFOUND)
		return nil
	})
}
