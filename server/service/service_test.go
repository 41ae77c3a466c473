package service_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/service"
)

func TestEnsureDefaults(t *testing.T) {
	f := newFixture(t)
	envs, err := f.svc.ListEnvironments(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]server.Environment{}
	for _, e := range envs {
		got[e.Name] = e
	}
	for _, name := range server.DefaultEnvironments {
		e, ok := got[name]
		if !ok {
			t.Fatalf("environment %q missing: %v", name, envs)
		}
		if e.Protected != (name == "production") {
			t.Errorf("%s: protected = %v", name, e.Protected)
		}
		if e.Revision != 1 {
			t.Errorf("%s: revision = %d, want 1", name, e.Revision)
		}
	}
	entries := f.audit()
	if len(entries) != 3 {
		t.Fatalf("audit entries = %d, want 3", len(entries))
	}
	for _, e := range entries {
		if e.Actor != server.System || e.Action != "environment.create" {
			t.Errorf("audit entry %+v, want environment.create by system", e)
		}
	}
	// A second start creates nothing.
	f.noop(func() error { return f.svc.EnsureDefaults(f.ctx) })
}

func TestCreateFlag(t *testing.T) {
	f := newFixture(t)
	ctx := server.NewContextWithActor(f.ctx, server.Actor{Kind: "user", Name: "ada", Source: "ui"})
	fl, configs, err := f.svc.CreateFlag(ctx, boolFlag("new-checkout"))
	if err != nil {
		t.Fatal(err)
	}
	if fl.Revision != 1 || len(fl.Variants) != 2 || fl.CreatedAt.IsZero() {
		t.Fatalf("created flag %+v", fl)
	}
	if len(configs) != 3 {
		t.Fatalf("configs = %d, want one per environment", len(configs))
	}
	for _, c := range configs {
		if c.Enabled || c.OffVariant != "off" || c.Default.Variant != "on" || c.Revision != 1 {
			t.Errorf("%s: config %+v, want disabled, off while disabled, on by default", c.Environment, c.Config)
		}
	}
	for env, rev := range f.revisions() {
		if rev != 2 {
			t.Errorf("%s: revision %d, want 2", env, rev)
		}
	}
	entries := f.audit()
	e := entries[0]
	if e.Action != "flag.create" || e.Key != "new-checkout" || e.Actor.Name != "ada" || string(e.Before) != "null" {
		t.Errorf("audit entry %+v", e)
	}
	var after map[string]any
	if err := json.Unmarshal(e.After, &after); err != nil || after["key"] != "new-checkout" || after["revision"] != 1.0 {
		t.Errorf("audit after = %s (%v)", e.After, err)
	}
	changes := f.pub.take()
	if len(changes) != 3 {
		t.Fatalf("published %d changes, want 3", len(changes))
	}
	for _, c := range changes {
		if c.Revision != 2 || len(c.Flags) != 1 || c.Flags[0].Flag.Key != "new-checkout" || c.Flags[0].Config.OffVariant != "off" {
			t.Errorf("change %+v", c)
		}
	}

	// A non-boolean flag is off on its first variant.
	_, configs, err = f.svc.CreateFlag(f.ctx, stringFlag("banner", "blue", "green"))
	if err != nil {
		t.Fatal(err)
	}
	if c := configs[0]; c.OffVariant != "blue" || c.Default.Variant != "blue" {
		t.Errorf("string flag config %+v, want off and default blue", c.Config)
	}

	// The same key again.
	err = f.unchanged(func() error { _, _, err := f.svc.CreateFlag(f.ctx, boolFlag("new-checkout")); return err })
	wantCode(t, err, server.EEXISTS, "")
	// An invalid key.
	err = f.unchanged(func() error { _, _, err := f.svc.CreateFlag(f.ctx, boolFlag("New Checkout")); return err })
	wantCode(t, err, server.EINVALID, "flag.key")
}

func TestUpdateFlag(t *testing.T) {
	f := newFixture(t)
	f.createFlag(stringFlag("banner", "blue", "green", "red"))
	def := stringFlag("banner", "blue", "green", "red")
	def.Description = "the banner colour"
	up, err := f.svc.UpdateFlag(f.ctx, def, 1)
	if err != nil {
		t.Fatal(err)
	}
	if up.Revision != 2 || up.Description != "the banner colour" {
		t.Fatalf("updated %+v", up)
	}
	if len(f.pub.take()) != 3 {
		t.Error("a definition change must be published to every environment")
	}

	// Same base revision again: someone else changed it.
	def.Description = "another description"
	err = f.unchanged(func() error { _, err := f.svc.UpdateFlag(f.ctx, def, 1); return err })
	e := wantCode(t, err, server.ECONFLICT, "")
	if want := `flag "banner" was changed by someone else (revision 2, you sent 1)`; e.Message != want {
		t.Errorf("message %q, want %q", e.Message, want)
	}

	// The same definition is a no-op.
	same := stringFlag("banner", "blue", "green", "red")
	same.Description = "the banner colour"
	f.noop(func() error { _, err := f.svc.UpdateFlag(f.ctx, same, 2); return err })

	// The type cannot change.
	changed := same
	changed.Type = engine.TypeInteger
	changed.Variants = []engine.Variant{{Key: "one", Value: 1}}
	err = f.unchanged(func() error { _, err := f.svc.UpdateFlag(f.ctx, changed, 0); return err })
	wantCode(t, err, server.EINVALID, "flag.type")

	// A variant a configuration uses cannot go.
	rules := engine.Config{OffVariant: "blue", Default: engine.Serve{Variant: "blue"}, Rules: []engine.Rule{{
		Conditions: []engine.Condition{{Attribute: "country", Operator: engine.OpIn, Values: []string{"NL"}}},
		Serve:      engine.Serve{Variant: "red"},
	}}}
	if _, err := f.svc.ReplaceConfig(f.ctx, "staging", "banner", rules, 0); err != nil {
		t.Fatal(err)
	}
	f.pub.take()
	dropRed := stringFlag("banner", "blue", "green")
	err = f.unchanged(func() error { _, err := f.svc.UpdateFlag(f.ctx, dropRed, 0); return err })
	e = wantCode(t, err, server.EINVALID, "flag.variants")
	if !strings.Contains(e.Message, `"staging"`) || !strings.Contains(e.Message, "config.rules[0].serve.variant") {
		t.Errorf("message %q should name the environment and the field", e.Message)
	}
	// Dropping an unused one works.
	if _, err := f.svc.UpdateFlag(f.ctx, stringFlag("banner", "blue", "red"), 0); err != nil {
		t.Fatal(err)
	}

	err = f.unchanged(func() error { _, err := f.svc.UpdateFlag(f.ctx, boolFlag("missing"), 0); return err })
	wantCode(t, err, server.ENOTFOUND, "")
}

func TestArchiveAndDeleteFlag(t *testing.T) {
	f := newFixture(t)
	f.createFlag(boolFlag("old"))
	fl, err := f.svc.ArchiveFlag(f.ctx, "old", true, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if !fl.Archived || fl.Revision != 2 {
		t.Fatalf("archived %+v", fl)
	}
	if f.audit()[0].Action != "flag.archive" {
		t.Errorf("audit action %q", f.audit()[0].Action)
	}
	f.noop(func() error { _, err := f.svc.ArchiveFlag(f.ctx, "old", true, 0, false); return err })
	list, err := f.svc.ListFlags(f.ctx, server.FlagFilter{}, "")
	if err != nil || len(list) != 0 {
		t.Errorf("ListFlags without archived = %v, %v", list, err)
	}
	ev, err := f.svc.Evaluate(f.ctx, "production", "old", "", nil)
	if err != nil || ev.ErrorCode != engine.ErrorFlagNotFound {
		t.Errorf("evaluating an archived flag: %+v, %v", ev, err)
	}

	err = f.unchanged(func() error { return f.svc.DeleteFlag(f.ctx, "old", 1, false) })
	wantCode(t, err, server.ECONFLICT, "")
	revs := f.revisions()
	if err := f.svc.DeleteFlag(f.ctx, "old", 2, false); err != nil {
		t.Fatal(err)
	}
	for env, rev := range f.revisions() {
		if rev != revs[env]+1 {
			t.Errorf("%s: revision %d after delete, want %d", env, rev, revs[env]+1)
		}
	}
	for _, c := range f.pub.take() {
		if len(c.DeletedFlags) != 1 || c.DeletedFlags[0] != "old" {
			t.Errorf("change %+v, want old deleted", c)
		}
	}
	if _, _, err := f.svc.GetFlag(f.ctx, "old"); server.ErrorCode(err) != server.ENOTFOUND {
		t.Errorf("GetFlag after delete: %v", err)
	}
	if _, err := f.svc.GetConfig(f.ctx, "production", "old"); server.ErrorCode(err) != server.ENOTFOUND {
		t.Errorf("GetConfig after delete: %v", err)
	}
}

func TestSetEnabled(t *testing.T) {
	f := newFixture(t)
	f.createFlag(boolFlag("kill"))
	revs := f.revisions()
	c, err := f.svc.SetEnabled(f.ctx, "production", "kill", true, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Enabled || c.Revision != 2 {
		t.Fatalf("config %+v", c)
	}
	got := f.revisions()
	for env := range got {
		want := revs[env]
		if env == "production" {
			want++
		}
		if got[env] != want {
			t.Errorf("%s: revision %d, want %d (only the changed environment moves)", env, got[env], want)
		}
	}
	changes := f.pub.take()
	if len(changes) != 1 || changes[0].Environment != "production" || !changes[0].Flags[0].Config.Enabled {
		t.Errorf("changes %+v", changes)
	}
	a := f.audit()[0]
	if a.Action != "config.set_enabled" || a.Environment != "production" || a.Resource != "config" {
		t.Errorf("audit %+v", a)
	}
	// Enabling again is a no-op, also for CI that sends no revision.
	f.noop(func() error { _, err := f.svc.SetEnabled(f.ctx, "production", "kill", true, 0); return err })

	err = f.unchanged(func() error { _, err := f.svc.SetEnabled(f.ctx, "production", "kill", false, 1); return err })
	e := wantCode(t, err, server.ECONFLICT, "")
	if want := `configuration of flag "kill" in environment "production" was changed by someone else (revision 2, you sent 1)`; e.Message != want {
		t.Errorf("message %q, want %q", e.Message, want)
	}
	err = f.unchanged(func() error { _, err := f.svc.SetEnabled(f.ctx, "qa", "kill", true, 0); return err })
	wantCode(t, err, server.ENOTFOUND, "")
	err = f.unchanged(func() error { _, err := f.svc.SetEnabled(f.ctx, "production", "nope", true, 0); return err })
	wantCode(t, err, server.ENOTFOUND, "")
	err = f.unchanged(func() error { _, err := f.svc.SetEnabled(f.ctx, "", "kill", true, 0); return err })
	wantCode(t, err, server.EINVALID, "environment")
}

func TestSetRollout(t *testing.T) {
	f := newFixture(t)
	f.createFlag(boolFlag("ramp"))
	split := func(c server.FlagConfig) string {
		if c.Default.Split == nil {
			return c.Default.Variant
		}
		var parts []string
		for _, w := range c.Default.Split.Weights {
			parts = append(parts, fmt.Sprintf("%s:%d", w.Variant, w.Weight))
		}
		return strings.Join(parts, ",")
	}
	for _, tc := range []struct {
		percent int
		want    string
	}{{10, "on:10,off:90"}, {20, "on:20,off:80"}, {100, "on"}, {0, "off"}, {50, "on:50,off:50"}} {
		c, err := f.svc.SetRollout(f.ctx, "staging", "ramp", service.Rollout{Percent: tc.percent}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := split(c); got != tc.want {
			t.Errorf("rollout %d%%: default %s, want %s", tc.percent, got, tc.want)
		}
	}
	f.noop(func() error {
		_, err := f.svc.SetRollout(f.ctx, "staging", "ramp", service.Rollout{Percent: 50}, 0)
		return err
	})
	for _, tc := range []struct {
		r     service.Rollout
		field string
	}{
		{service.Rollout{Percent: 101}, "percent"},
		{service.Rollout{Percent: -1}, "percent"},
		{service.Rollout{Percent: 10, Variant: "maybe"}, "variant"},
		{service.Rollout{Percent: 10, RestVariant: "maybe"}, "rest_variant"},
		{service.Rollout{Percent: 10, Variant: "on", RestVariant: "on"}, "rest_variant"},
	} {
		err := f.unchanged(func() error { _, err := f.svc.SetRollout(f.ctx, "staging", "ramp", tc.r, 0); return err })
		wantCode(t, err, server.EINVALID, tc.field)
	}

	// A string flag needs the variant; the rest defaults to the off variant.
	f.createFlag(stringFlag("banner", "blue", "green"))
	err := f.unchanged(func() error {
		_, err := f.svc.SetRollout(f.ctx, "staging", "banner", service.Rollout{Percent: 30}, 0)
		return err
	})
	wantCode(t, err, server.EINVALID, "variant")
	c, err := f.svc.SetRollout(f.ctx, "staging", "banner", service.Rollout{Percent: 30, Variant: "green"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := split(c); got != "green:30,blue:70" {
		t.Errorf("string rollout: %s", got)
	}
}

func TestReplaceConfigValidation(t *testing.T) {
	f := newFixture(t)
	f.createFlag(boolFlag("gate"))
	serveOn := engine.Serve{Variant: "on"}
	rule := func(conds ...engine.Condition) engine.Config {
		return engine.Config{Enabled: true, OffVariant: "off", Default: engine.Serve{Variant: "off"},
			Rules: []engine.Rule{{Conditions: conds, Serve: serveOn}}}
	}
	for _, tc := range []struct {
		name  string
		cfg   engine.Config
		field string
	}{
		{"unknown variant in a rule", engine.Config{OffVariant: "off", Default: engine.Serve{Variant: "off"},
			Rules: []engine.Rule{{Serve: engine.Serve{Variant: "maybe"}}}}, "config.rules[0].serve.variant"},
		{"weights summing to 0", engine.Config{OffVariant: "off", Default: engine.Serve{Split: &engine.Split{
			Weights: []engine.Weight{{Variant: "on", Weight: 0}, {Variant: "off", Weight: 0}}}}}, "config.default.split.weights"},
		{"bad regex", rule(engine.Condition{Attribute: "email", Operator: engine.OpMatches, Values: []string{"(unclosed"}}),
			"config.rules[0].conditions[0].values[0]"},
		{"bad semver", rule(engine.Condition{Attribute: "version", Operator: engine.OpSemverGT, Values: []string{"1.x"}}),
			"config.rules[0].conditions[0].values[0]"},
		{"unknown segment", rule(engine.Condition{Operator: engine.OpInSegment, Values: []string{"beta"}}),
			"config.rules[0].conditions[0].values[0]"},
		{"unknown off variant", engine.Config{OffVariant: "nope", Default: engine.Serve{Variant: "off"}}, "config.offVariant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := f.unchanged(func() error { _, err := f.svc.ReplaceConfig(f.ctx, "production", "gate", tc.cfg, 0); return err })
			wantCode(t, err, server.EINVALID, tc.field)
		})
	}
	ok := rule(engine.Condition{Attribute: "version", Operator: engine.OpSemverGTE, Values: []string{"2.1.0"}})
	c, err := f.svc.ReplaceConfig(f.ctx, "production", "gate", ok, 1)
	if err != nil {
		t.Fatal(err)
	}
	if c.Revision != 2 || len(c.Rules) != 1 {
		t.Fatalf("config %+v", c)
	}
	f.noop(func() error { _, err := f.svc.ReplaceConfig(f.ctx, "production", "gate", ok, 2); return err })
	err = f.unchanged(func() error { _, err := f.svc.ReplaceConfig(f.ctx, "production", "gate", rule(), 1); return err })
	wantCode(t, err, server.ECONFLICT, "")
}

func TestSegments(t *testing.T) {
	f := newFixture(t)
	seg := engine.Segment{Key: "beta", Name: "Beta testers", Included: []string{"u1"},
		Conditions: []engine.Condition{{Attribute: "email", Operator: engine.OpEndsWith, Values: []string{"@example.com"}}}}
	created, err := f.svc.CreateSegment(f.ctx, seg)
	if err != nil {
		t.Fatal(err)
	}
	if created.Revision != 1 {
		t.Fatalf("segment %+v", created)
	}
	if changes := f.pub.take(); len(changes) != 3 || len(changes[0].Segments) != 1 {
		t.Errorf("segment create published %+v", changes)
	}
	err = f.unchanged(func() error { _, err := f.svc.CreateSegment(f.ctx, seg); return err })
	wantCode(t, err, server.EEXISTS, "")
	bad := seg
	bad.Key = "other"
	bad.Match = "some"
	err = f.unchanged(func() error { _, err := f.svc.CreateSegment(f.ctx, bad); return err })
	wantCode(t, err, server.EINVALID, "segment.match")

	f.createFlag(boolFlag("beta-ui"))
	cfg := engine.Config{Enabled: true, OffVariant: "off", Default: engine.Serve{Variant: "off"}, Rules: []engine.Rule{{
		Conditions: []engine.Condition{{Operator: engine.OpInSegment, Values: []string{"beta"}}},
		Serve:      engine.Serve{Variant: "on"},
	}}}
	if _, err := f.svc.ReplaceConfig(f.ctx, "production", "beta-ui", cfg, 0); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{"u1": true, "u2": false} {
		ev, err := f.svc.Evaluate(f.ctx, "production", "beta-ui", engine.TypeBoolean, map[string]any{engine.TargetingKey: key})
		if err != nil || ev.Value != want {
			t.Errorf("%s: %+v, %v; want %v", key, ev, err, want)
		}
	}
	// Growing the segment changes the evaluation.
	seg.Included = []string{"u1", "u2"}
	up, err := f.svc.UpdateSegment(f.ctx, seg, 1)
	if err != nil || up.Revision != 2 {
		t.Fatalf("update segment: %+v, %v", up, err)
	}
	ev, err := f.svc.Evaluate(f.ctx, "production", "beta-ui", engine.TypeBoolean, map[string]any{engine.TargetingKey: "u2"})
	if err != nil || ev.Value != true {
		t.Errorf("u2 after update: %+v, %v", ev, err)
	}
	err = f.unchanged(func() error { _, err := f.svc.UpdateSegment(f.ctx, seg, 1); return err })
	wantCode(t, err, server.ECONFLICT, "")
	f.noop(func() error { _, err := f.svc.UpdateSegment(f.ctx, seg, 2); return err })

	// In use: refused, naming the flag and the environment.
	err = f.unchanged(func() error { return f.svc.DeleteSegment(f.ctx, "beta", 0) })
	e := wantCode(t, err, server.EINVALID, "key")
	if !strings.Contains(e.Message, `flag "beta-ui"`) || !strings.Contains(e.Message, `environment "production"`) {
		t.Errorf("message %q should name the flag and the environment", e.Message)
	}
	if _, err := f.svc.ReplaceConfig(f.ctx, "production", "beta-ui", engine.Config{OffVariant: "off", Default: engine.Serve{Variant: "off"}}, 0); err != nil {
		t.Fatal(err)
	}
	f.pub.take()
	if err := f.svc.DeleteSegment(f.ctx, "beta", 2); err != nil {
		t.Fatal(err)
	}
	if changes := f.pub.take(); len(changes) != 3 || changes[0].DeletedSegments[0] != "beta" {
		t.Errorf("segment delete published %+v", changes)
	}
	if _, err := f.svc.GetSegment(f.ctx, "beta"); server.ErrorCode(err) != server.ENOTFOUND {
		t.Errorf("GetSegment after delete: %v", err)
	}
}

func TestEnvironments(t *testing.T) {
	f := newFixture(t)
	f.createFlag(boolFlag("a"))
	f.createFlag(stringFlag("b", "x", "y"))
	env, err := f.svc.CreateEnvironment(f.ctx, server.Environment{Name: "qa", Description: "QA"})
	if err != nil {
		t.Fatal(err)
	}
	if env.Revision != 1 {
		t.Errorf("new environment revision %d, want 1", env.Revision)
	}
	for _, key := range []string{"a", "b"} {
		c, err := f.svc.GetConfig(f.ctx, "qa", key)
		if err != nil || c.Enabled || c.Revision != 1 {
			t.Errorf("qa config of %s: %+v, %v", key, c, err)
		}
	}
	err = f.unchanged(func() error { _, err := f.svc.CreateEnvironment(f.ctx, server.Environment{Name: "qa"}); return err })
	wantCode(t, err, server.EEXISTS, "")
	err = f.unchanged(func() error { _, err := f.svc.CreateEnvironment(f.ctx, server.Environment{Name: "Q A"}); return err })
	wantCode(t, err, server.EINVALID, "environment.name")

	up, err := f.svc.UpdateEnvironment(f.ctx, server.Environment{Name: "qa", Description: "quality", Protected: true})
	if err != nil || up.Description != "quality" || !up.Protected || up.Revision != 1 {
		t.Fatalf("update: %+v, %v", up, err)
	}
	f.noop(func() error {
		_, err := f.svc.UpdateEnvironment(f.ctx, server.Environment{Name: "qa", Description: "quality", Protected: true})
		return err
	})

	// Evaluate once so that a snapshot is cached, then delete and recreate.
	if _, err := f.svc.SetEnabled(f.ctx, "qa", "a", true, 0); err != nil {
		t.Fatal(err)
	}
	if ev, _ := f.svc.Evaluate(f.ctx, "qa", "a", "", nil); ev.Value != true || ev.Reason != engine.ReasonStatic {
		t.Fatalf("qa before delete: %+v", ev)
	}
	err = f.unchanged(func() error { return f.svc.DeleteEnvironment(f.ctx, "qa") })
	wantCode(t, err, server.EINVALID, "name")
	if _, err := f.svc.UpdateEnvironment(f.ctx, server.Environment{Name: "qa", Description: "quality"}); err != nil {
		t.Fatal(err)
	}
	deleted, err := f.svc.GetEnvironment(f.ctx, "qa")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteEnvironment(f.ctx, "qa"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.GetConfig(f.ctx, "qa", "a"); server.ErrorCode(err) != server.ENOTFOUND {
		t.Errorf("config after environment delete: %v", err)
	}
	if _, err := f.svc.Evaluate(f.ctx, "qa", "a", "", nil); server.ErrorCode(err) != server.ENOTFOUND {
		t.Errorf("evaluate in a deleted environment: %v", err)
	}
	if _, err := f.svc.CreateEnvironment(f.ctx, server.Environment{Name: "qa"}); err != nil {
		t.Fatal(err)
	}
	// Revisions never go backwards: the recreated environment continues
	// from the deleted one's last revision.
	if ev, _ := f.svc.Evaluate(f.ctx, "qa", "a", "", nil); ev.Reason != engine.ReasonDisabled || ev.Revision != deleted.Revision+1 {
		t.Errorf("recreated environment served %+v, want the new disabled flag at revision %d", ev, deleted.Revision+1)
	}
	if a := f.audit()[0]; a.Action != "environment.create" || a.Key != "qa" {
		t.Errorf("audit %+v", a)
	}
}

func TestEvaluateUsesCachedSnapshot(t *testing.T) {
	f := newFixture(t)
	f.createFlag(boolFlag("cached"))
	s1, err := f.svc.Snapshot(f.ctx, "production")
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := f.svc.Snapshot(f.ctx, "production")
	if s1 != s2 {
		t.Error("a second request compiled a new snapshot at the same revision")
	}
	if _, err := f.svc.SetEnabled(f.ctx, "production", "cached", true, 0); err != nil {
		t.Fatal(err)
	}
	s3, _ := f.svc.Snapshot(f.ctx, "production")
	if s3 == s1 || s3.Revision() != s1.Revision()+1 {
		t.Errorf("after a change: revision %d → %d, same pointer %v", s1.Revision(), s3.Revision(), s3 == s1)
	}
	staging, _ := f.svc.Snapshot(f.ctx, "staging")
	if _, err := f.svc.SetEnabled(f.ctx, "production", "cached", false, 0); err != nil {
		t.Fatal(err)
	}
	if again, _ := f.svc.Snapshot(f.ctx, "staging"); again != staging {
		t.Error("a production change recompiled staging")
	}

	ev, err := f.svc.Evaluate(f.ctx, "production", "cached", engine.TypeBoolean, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Environment != "production" || ev.Revision != f.revisions()["production"] || ev.Reason != engine.ReasonDisabled {
		t.Errorf("evaluation %+v", ev)
	}
	ev, _ = f.svc.Evaluate(f.ctx, "production", "cached", engine.TypeString, nil)
	if ev.ErrorCode != engine.ErrorTypeMismatch {
		t.Errorf("wrong type: %+v", ev)
	}
	ev, _ = f.svc.Evaluate(f.ctx, "production", "nope", "", nil)
	if ev.ErrorCode != engine.ErrorFlagNotFound {
		t.Errorf("unknown flag: %+v", ev)
	}
	_, err = f.svc.Evaluate(f.ctx, "production", "cached", "bool", nil)
	wantCode(t, err, server.EINVALID, "type")
	all, rev, err := f.svc.EvaluateAll(f.ctx, "production", nil)
	if err != nil || len(all) != 1 || rev != f.revisions()["production"] {
		t.Errorf("EvaluateAll = %+v, %d, %v", all, rev, err)
	}
}

// TestEvaluateWhileChanging evaluates concurrently with toggles (run it with
// -race): every evaluation sees a consistent snapshot, and the last state wins.
func TestEvaluateWhileChanging(t *testing.T) {
	f := newFixture(t)
	f.createFlag(boolFlag("flip"))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ev, err := f.svc.Evaluate(f.ctx, "production", "flip", engine.TypeBoolean, nil)
				if err != nil || ev.ErrorCode != "" {
					t.Errorf("evaluate: %+v, %v", ev, err)
					return
				}
			}
		})
	}
	for i := range 20 {
		if _, err := f.svc.SetEnabled(f.ctx, "production", "flip", i%2 == 0, 0); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	ev, err := f.svc.Evaluate(f.ctx, "production", "flip", engine.TypeBoolean, nil)
	if err != nil || ev.Reason != engine.ReasonDisabled || ev.Revision != f.revisions()["production"] {
		t.Errorf("final evaluation %+v, %v; want disabled at the latest revision", ev, err)
	}
}

func TestEnvironmentState(t *testing.T) {
	f := newFixture(t)
	f.createFlag(boolFlag("a"))
	if _, err := f.svc.CreateSegment(f.ctx, engine.Segment{Key: "s", Included: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	env, flags, segs, err := f.svc.EnvironmentState(f.ctx, "staging")
	if err != nil {
		t.Fatal(err)
	}
	if env.Name != "staging" || env.Revision != 3 || len(flags) != 1 || flags[0].Config.OffVariant != "off" || len(segs) != 1 {
		t.Errorf("state: %+v %+v %+v", env, flags, segs)
	}
	if _, _, _, err := f.svc.EnvironmentState(f.ctx, "nope"); server.ErrorCode(err) != server.ENOTFOUND {
		t.Errorf("unknown environment: %v", err)
	}
}

func TestListAuditPages(t *testing.T) {
	f := newFixture(t)
	for i := range 5 {
		f.createFlag(boolFlag(fmt.Sprintf("f%d", i)))
	}
	if _, err := f.svc.SetEnabled(f.ctx, "staging", "f1", true, 0); err != nil {
		t.Fatal(err)
	}
	var seen []int64
	token := ""
	for page := 0; ; page++ {
		entries, next, err := f.svc.ListAudit(f.ctx, server.AuditFilter{Limit: 3}, token)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			seen = append(seen, e.ID)
		}
		if next == "" {
			break
		}
		if len(entries) != 3 {
			t.Fatalf("page %d has %d entries and a next page", page, len(entries))
		}
		token = next
	}
	if len(seen) != 3+5+1 {
		t.Errorf("paged through %d entries, want 9", len(seen))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] >= seen[i-1] {
			t.Fatalf("entries not newest first: %v", seen)
		}
	}
	flagOnly, _, err := f.svc.ListAudit(f.ctx, server.AuditFilter{FlagKey: "f1"}, "")
	if err != nil || len(flagOnly) != 2 {
		t.Errorf("audit of f1: %d entries, %v; want create + set_enabled", len(flagOnly), err)
	}
	_, _, err = f.svc.ListAudit(f.ctx, server.AuditFilter{}, "bogus")
	wantCode(t, err, server.EINVALID, "page_token")
	_, _, err = f.svc.ListAudit(f.ctx, server.AuditFilter{Limit: -1}, "")
	wantCode(t, err, server.EINVALID, "page_size")
}
