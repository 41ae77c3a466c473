package service_test

import (
	"testing"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/service"
)

func enabledConfig(key, env string, rules ...engine.Rule) service.ApplyItem {
	return service.ApplyItem{Kind: service.ApplyReplaceConfig, Key: key, Environment: env,
		Config: engine.Config{Enabled: true, Rules: rules}}
}

// TestApplyChangesRefusesAStalePlanWhole: a set planned before someone else
// edited one of its flags is refused as a conflict, and none of its other
// items (a new flag, a configuration) is written, audited or published.
func TestApplyChangesRefusesAStalePlanWhole(t *testing.T) {
	f := newFixture(t)
	planned := f.createFlag(stringFlag("banner", "blue", "green"))
	// A colleague edits the flag between the plan and the apply.
	edited := planned.Flag
	edited.Description = "changed meanwhile"
	if _, err := f.svc.UpdateFlag(f.ctx, edited, planned.Revision); err != nil {
		t.Fatal(err)
	}
	mine := planned.Flag
	mine.Name = "Banner"
	set := []service.ApplyItem{
		{Kind: service.ApplyCreateFlag, Flag: boolFlag("fresh")},
		enabledConfig("fresh", "production"),
		{Kind: service.ApplyUpdateFlag, Flag: mine, Expected: planned.Revision},
	}
	err := f.unchanged(func() error { _, err := f.svc.ApplyChanges(f.ctx, set, false); return err })
	wantCode(t, err, server.ECONFLICT, "")
	if _, _, err := f.svc.GetFlag(f.ctx, "fresh"); server.ErrorCode(err) != server.ENOTFOUND {
		t.Errorf("flag of a refused set: %v, want not found", err)
	}
	// Created by someone else meanwhile: a conflict too.
	f.createFlag(boolFlag("fresh"))
	err = f.unchanged(func() error { _, err := f.svc.ApplyChanges(f.ctx, set[:2], false); return err })
	wantCode(t, err, server.ECONFLICT, "")
}

// TestApplyChangesInvalidItemWritesNothing: an invalid item late in the set
// is refused with its field path and nothing before it is kept.
func TestApplyChangesInvalidItemWritesNothing(t *testing.T) {
	f := newFixture(t)
	bad := engine.Rule{Conditions: []engine.Condition{{Attribute: "email", Operator: "equals", Values: []string{"x"}}},
		Serve: engine.Serve{Variant: "on"}}
	set := []service.ApplyItem{
		{Kind: service.ApplyCreateFlag, Flag: boolFlag("first")},
		enabledConfig("first", "production"),
		{Kind: service.ApplyCreateFlag, Flag: boolFlag("second")},
		enabledConfig("second", "production", bad),
	}
	err := f.unchanged(func() error { _, err := f.svc.ApplyChanges(f.ctx, set, false); return err })
	wantCode(t, err, server.EINVALID, "changes[3].config.rules[0].conditions[0].operator")
	err = f.unchanged(func() error { _, err := f.svc.ApplyChanges(f.ctx, set, true); return err })
	wantCode(t, err, server.EINVALID, "changes[3].config.rules[0].conditions[0].operator")
}

// TestApplyChangesOneChangePerEnvironment: a set commits whole, publishes one
// Change per environment with each flag once, audits every item that wrote,
// and says which items wrote; validate-only writes nothing.
func TestApplyChangesOneChangePerEnvironment(t *testing.T) {
	f := newFixture(t)
	set := []service.ApplyItem{
		{Kind: service.ApplyCreateSegment, Segment: engine.Segment{Key: "beta", Included: []string{"ann"}}},
		{Kind: service.ApplyCreateFlag, Flag: boolFlag("a")},
		enabledConfig("a", "production", engine.Rule{
			Conditions: []engine.Condition{{Attribute: "targetingKey", Operator: engine.OpInSegment, Values: []string{"beta"}}},
			Serve:      engine.Serve{Variant: "on"}}),
		// The configuration the flag is created with: a no-op.
		{Kind: service.ApplyReplaceConfig, Key: "a", Environment: "staging", Config: engine.Config{}},
	}
	f.noop(func() error {
		changed, err := f.svc.ApplyChanges(f.ctx, set, true)
		if err == nil && len(changed) != 4 {
			t.Errorf("validate only: changed = %v", changed)
		}
		return err
	})
	revs, audits := f.revisions(), len(f.audit())
	changed, err := f.svc.ApplyChanges(f.ctx, set, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, true, true, false}; !equalBools(changed, want) {
		t.Errorf("changed = %v, want %v", changed, want)
	}
	if n := len(f.audit()) - audits; n != 3 {
		t.Errorf("%d audit entries, want 3 (one per item that wrote)", n)
	}
	changes := f.pub.take()
	if len(changes) != len(revs) {
		t.Fatalf("published %d changes, want one per environment (%d)", len(changes), len(revs))
	}
	for _, c := range changes {
		if c.Revision != revs[c.Environment]+1 {
			t.Errorf("%s: revision %d, want %d (one bump for the whole set)", c.Environment, c.Revision, revs[c.Environment]+1)
		}
		if len(c.Flags) != 1 || len(c.Segments) != 1 {
			t.Fatalf("%s: change carries %d flags, %d segments, want 1 and 1", c.Environment, len(c.Flags), len(c.Segments))
		}
		if want := c.Environment == "production"; c.Flags[0].Config.Enabled != want {
			t.Errorf("%s: published config %+v, want the final one", c.Environment, c.Flags[0].Config)
		}
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestApplyChangesDropsAServedVariantInOneSet: a definition that drops a
// variant passes when the same set stops serving it, and is refused (all of
// it) when a configuration still serves it at the end.
func TestApplyChangesDropsAServedVariantInOneSet(t *testing.T) {
	f := newFixture(t)
	fl := f.createFlag(stringFlag("banner", "blue", "green"))
	cfg, err := f.svc.ReplaceConfig(f.ctx, "production", "banner",
		engine.Config{Enabled: true, OffVariant: "blue", Default: engine.Serve{Variant: "green"}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	drop := stringFlag("banner", "blue")
	if _, err := f.svc.UpdateFlag(f.ctx, drop, 0); server.ErrorCode(err) != server.EINVALID {
		t.Fatalf("dropping a served variant alone: %v, want invalid", err)
	}
	update := service.ApplyItem{Kind: service.ApplyUpdateFlag, Flag: drop, Expected: fl.Revision}
	err = f.unchanged(func() error {
		_, err := f.svc.ApplyChanges(f.ctx, []service.ApplyItem{update}, false)
		return err
	})
	wantCode(t, err, server.EINVALID, "flag.variants")
	stop := service.ApplyItem{Kind: service.ApplyReplaceConfig, Key: "banner", Environment: "production",
		Config: engine.Config{Enabled: true, Default: engine.Serve{Variant: "blue"}}, Expected: cfg.Revision}
	if _, err := f.svc.ApplyChanges(f.ctx, []service.ApplyItem{update, stop}, false); err != nil {
		t.Fatalf("drop a variant and stop serving it in one set: %v", err)
	}
	got, configs, err := f.svc.GetFlag(f.ctx, "banner")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Variants) != 1 {
		t.Errorf("variants = %+v, want blue only", got.Variants)
	}
	for _, c := range configs {
		if c.Environment == "production" && (c.Default.Variant != "blue" || c.OffVariant != "blue") {
			t.Errorf("production config %+v", c.Config)
		}
	}
}

// TestApplyChangesRestrictedActor: an editor's set that changes what a
// protected environment serves is refused whole.
func TestApplyChangesRestrictedActor(t *testing.T) {
	f := newFixture(t)
	editor := server.NewContextWithActor(f.ctx, server.Actor{Kind: "user", Name: "ed", Source: "cli", Restricted: true})
	if _, err := f.svc.UpdateEnvironment(f.ctx, server.Environment{Name: "production", Protected: true}); err != nil {
		t.Fatal(err)
	}
	fl := f.createFlag(stringFlag("banner", "blue", "green"))
	if _, err := f.svc.SetEnabled(f.ctx, "production", "banner", true, 0); err != nil {
		t.Fatal(err)
	}
	next := fl.Flag
	next.Variants[0].Value = "navy"
	set := []service.ApplyItem{
		{Kind: service.ApplyCreateFlag, Flag: boolFlag("other")},
		{Kind: service.ApplyUpdateFlag, Flag: next, Expected: fl.Revision},
	}
	err := f.unchanged(func() error { _, err := f.svc.ApplyChanges(editor, set, false); return err })
	wantCode(t, err, server.EFORBIDDEN, "")
	set = []service.ApplyItem{{Kind: service.ApplyDeleteFlag, Key: "banner", Expected: fl.Revision, Force: true}}
	err = f.unchanged(func() error { _, err := f.svc.ApplyChanges(editor, set, false); return err })
	wantCode(t, err, server.EFORBIDDEN, "")
}
