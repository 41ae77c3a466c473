package service_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/service"
)

// TestRestrictedActorSegmentChange: a segment an enabled production rule
// uses is an admin's to change, one of a disabled configuration is not
// protected (production serves the off variant either way), and the
// refusal leaves every revision as it was.
func TestRestrictedActorSegmentChange(t *testing.T) {
	f := newFixture(t)
	editor := server.NewContextWithActor(f.ctx, server.Actor{Kind: "user", Name: "ed", Source: "ui", Restricted: true})
	if _, err := f.svc.CreateSegment(f.ctx, engine.Segment{Key: "inner", Included: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.svc.CreateFlag(f.ctx, engine.Flag{Key: "beta", Type: engine.TypeBoolean}); err != nil {
		t.Fatal(err)
	}
	cfg := engine.Config{Enabled: false, OffVariant: "off", Default: engine.Serve{Variant: "off"},
		Rules: []engine.Rule{{Conditions: []engine.Condition{{Attribute: "targetingKey", Operator: engine.OpInSegment, Values: []string{"inner"}}}, Serve: engine.Serve{Variant: "on"}}}}
	put := func(enabled bool) {
		t.Helper()
		cfg.Enabled = enabled
		if _, err := f.svc.ReplaceConfig(f.ctx, "production", "beta", cfg, 0); err != nil {
			t.Fatal(err)
		}
	}
	put(false)
	if _, err := f.svc.UpdateSegment(editor, engine.Segment{Key: "inner", Included: []string{"a", "b"}}, 0); err != nil {
		t.Fatalf("segment of a disabled production flag: %v", err)
	}
	put(true)
	before := f.revisions()
	_, err := f.svc.UpdateSegment(editor, engine.Segment{Key: "inner", Included: []string{"a", "b", "c"}}, 0)
	if server.ErrorCode(err) != server.EFORBIDDEN {
		t.Fatalf("segment used by an enabled production flag: %v, want forbidden", err)
	}
	if after := f.revisions(); after["production"] != before["production"] || after["staging"] != before["staging"] {
		t.Fatalf("revisions moved on a refused change: %v -> %v", before, after)
	}
	if _, err := f.svc.UpdateSegment(f.ctx, engine.Segment{Key: "inner", Included: []string{"a", "b", "c"}}, 0); err != nil {
		t.Fatalf("unrestricted actor: %v", err)
	}
}

// TestLiveFlagNeedsForce: archiving or deleting a flag enabled in a
// protected environment is refused without force (field "force", nothing
// written); disabled there, or forced, it goes through.
func TestLiveFlagNeedsForce(t *testing.T) {
	f := newFixture(t)
	for _, key := range []string{"live", "dark"} {
		if _, _, err := f.svc.CreateFlag(f.ctx, engine.Flag{Key: key, Type: engine.TypeBoolean}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.SetEnabled(f.ctx, "production", "live", true, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetEnabled(f.ctx, "staging", "dark", true, 0); err != nil {
		t.Fatal(err)
	}
	before := f.revisions()
	_, err := f.svc.ArchiveFlag(f.ctx, "live", true, 0, false)
	if e, ok := err.(*server.Error); !ok || e.Code != server.EINVALID || e.Field != "force" {
		t.Fatalf("archive live flag without force: %v, want invalid force", err)
	}
	err = f.svc.DeleteFlag(f.ctx, "live", 0, false)
	if e, ok := err.(*server.Error); !ok || e.Code != server.EINVALID || e.Field != "force" {
		t.Fatalf("delete live flag without force: %v, want invalid force", err)
	}
	if after := f.revisions(); after["production"] != before["production"] {
		t.Fatalf("refused changes moved production: %v -> %v", before, after)
	}
	if _, err := f.svc.ArchiveFlag(f.ctx, "dark", true, 0, false); err != nil {
		t.Fatalf("archive a flag enabled only in unprotected staging: %v", err)
	}
	if err := f.svc.DeleteFlag(f.ctx, "live", 0, true); err != nil {
		t.Fatalf("forced delete: %v", err)
	}
}

// countingStore counts read transactions.
type countingStore struct {
	server.Store
	views atomic.Int64
}

func (c *countingStore) View(ctx context.Context, fn func(server.Tx) error) error {
	c.views.Add(1)
	return c.Store.View(ctx, fn)
}

// TestChangeUpdatesCachedSnapshot: a committed change to a flag brings the
// cached evaluation snapshot up to date by compiling that flag alone: the
// next evaluation reads nothing from the store and sees the change.
func TestChangeUpdatesCachedSnapshot(t *testing.T) {
	f := newFixture(t)
	store := &countingStore{Store: f.db}
	svc := service.New(store)
	for _, key := range []string{"a", "b"} {
		if _, _, err := svc.CreateFlag(f.ctx, engine.Flag{Key: key, Type: engine.TypeBoolean}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Snapshot(f.ctx, "production"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetEnabled(f.ctx, "production", "a", true, 0); err != nil {
		t.Fatal(err)
	}
	before := store.views.Load()
	snap, err := svc.Snapshot(f.ctx, "production")
	if err != nil {
		t.Fatal(err)
	}
	if n := store.views.Load() - before; n != 0 {
		t.Errorf("the snapshot after a flag change read the store %d time(s)", n)
	}
	if r := snap.Evaluate("a", "", nil); r.Value != true {
		t.Errorf("a serves %v after enable, want true", r.Value)
	}
	if r := snap.Evaluate("b", "", nil); r.Value != false {
		t.Errorf("b serves %v, want false", r.Value)
	}
	envs, _ := svc.ListEnvironments(f.ctx)
	for _, e := range envs {
		if e.Name == "production" && snap.Revision() != e.Revision {
			t.Errorf("snapshot at revision %d, environment at %d", snap.Revision(), e.Revision)
		}
	}
}
