package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
)

// richConfig uses every part of a configuration.
func richConfig(envName, flagKey string) server.FlagConfig {
	c := config(envName, flagKey, true)
	c.Rules = []engine.Rule{
		{
			ID:          "beta",
			Description: "beta testers",
			Conditions: []engine.Condition{
				{Attribute: "email", Operator: engine.OpEndsWith, Values: []string{"@example.com"}},
				{Attribute: "version", Operator: engine.OpSemverGTE, Values: []string{"2.1.0"}},
				{Operator: engine.OpInSegment, Values: []string{"staff"}},
			},
			Serve: engine.Serve{Variant: "on"},
		},
		{
			Serve: engine.Serve{Split: &engine.Split{
				BucketBy: "companyId",
				Weights:  []engine.Weight{{Variant: "on", Weight: 10}, {Variant: "off", Weight: 90}},
			}},
		},
	}
	c.Default = engine.Serve{Split: &engine.Split{Weights: []engine.Weight{{Variant: "on", Weight: 1}, {Variant: "off", Weight: 0}}}}
	return c
}

func testConfigs(t *testing.T, s server.Store) {
	seed(t, s, []string{"development", "production"}, []string{"b-flag", "a-flag", "c-flag"})
	rich := richConfig("production", "b-flag")
	update(t, s, func(tx server.Tx) error {
		for _, c := range []server.FlagConfig{rich, config("production", "a-flag", false), config("development", "c-flag", true)} {
			if err := tx.PutConfig(c); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx server.Tx) error {
		got, err := tx.GetConfig("production", "b-flag")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(rich, got, cmpOpts); diff != "" {
			t.Errorf("GetConfig (-want +got):\n%s", diff)
		}
		wantUTC(t, "GetConfig", got.UpdatedAt)
		_, err = tx.GetConfig("development", "b-flag")
		wantError(t, "GetConfig of an unconfigured flag", err, server.ENOTFOUND, `"b-flag"`, `"development"`)
		list, err := tx.ListConfigs("production")
		if err != nil {
			return err
		}
		want := []server.FlagConfig{config("production", "a-flag", false), rich}
		if diff := cmp.Diff(want, list, cmpOpts); diff != "" {
			t.Errorf("ListConfigs(production) (-want +got):\n%s", diff)
		}
		list, err = tx.ListConfigs("qa")
		if err != nil || len(list) != 0 {
			t.Errorf("ListConfigs(qa) = %d configs, %v; want none, no error", len(list), err)
		}
		return nil
	})

	// PutConfig replaces.
	replaced := config("production", "b-flag", false)
	replaced.Revision = 2
	replaced.UpdatedAt = at(40)
	update(t, s, func(tx server.Tx) error { return tx.PutConfig(replaced) })
	view(t, s, func(tx server.Tx) error {
		got, err := tx.GetConfig("production", "b-flag")
		if diff := cmp.Diff(replaced, got, cmpOpts); err == nil && diff != "" {
			t.Errorf("GetConfig after replacing (-want +got):\n%s", diff)
		}
		list, _ := tx.ListConfigs("production")
		if len(list) != 2 {
			t.Errorf("ListConfigs(production) after replacing = %d configs, want 2", len(list))
		}
		return err
	})
}

func testConfigsMissingParent(t *testing.T, s server.Store) {
	seed(t, s, []string{"development"}, []string{"a-flag"})
	err := s.Update(t.Context(), func(tx server.Tx) error { return tx.PutConfig(config("qa", "a-flag", true)) })
	wantError(t, "PutConfig in a missing environment", err, server.ENOTFOUND, `environment "qa" not found`)
	err = s.Update(t.Context(), func(tx server.Tx) error { return tx.PutConfig(config("development", "nope", true)) })
	wantError(t, "PutConfig of a missing flag", err, server.ENOTFOUND, `flag "nope" not found`)
	view(t, s, func(tx server.Tx) error {
		list, err := tx.ListConfigs("development")
		if len(list) != 0 {
			t.Errorf("ListConfigs = %d configs, want none", len(list))
		}
		return err
	})
}

func testSegments(t *testing.T, s server.Store) {
	staff := server.Segment{
		Segment: engine.Segment{
			Key:         "staff",
			Name:        "Staff",
			Description: "employees",
			Match:       engine.MatchAny,
			Conditions:  []engine.Condition{{Attribute: "email", Operator: engine.OpEndsWith, Values: []string{"@flagpole.dev"}}},
			Included:    []string{"user-1", "user-2"},
			Excluded:    []string{"user-3"},
		},
		Revision:  1,
		CreatedAt: at(0),
		UpdatedAt: at(0),
	}
	beta := server.Segment{Segment: engine.Segment{Key: "beta"}, Revision: 1, CreatedAt: at(1), UpdatedAt: at(1)}
	update(t, s, func(tx server.Tx) error {
		if err := tx.CreateSegment(staff); err != nil {
			return err
		}
		return tx.CreateSegment(beta)
	})
	view(t, s, func(tx server.Tx) error {
		got, err := tx.GetSegment("staff")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(staff, got, cmpOpts); diff != "" {
			t.Errorf("GetSegment (-want +got):\n%s", diff)
		}
		wantUTC(t, "GetSegment", got.CreatedAt, got.UpdatedAt)
		list, err := tx.ListSegments()
		if diff := cmp.Diff([]server.Segment{beta, staff}, list, cmpOpts); err == nil && diff != "" {
			t.Errorf("ListSegments (-want +got):\n%s", diff)
		}
		_, err = tx.GetSegment("nope")
		wantError(t, "GetSegment(nope)", err, server.ENOTFOUND, `segment "nope" not found`)
		return nil
	})
	err := s.Update(t.Context(), func(tx server.Tx) error { return tx.CreateSegment(beta) })
	wantError(t, "CreateSegment again", err, server.EEXISTS, `segment "beta"`)

	changed := staff
	changed.Included = []string{"user-9"}
	changed.Match = engine.MatchAll
	changed.Revision = 2
	changed.UpdatedAt = at(20)
	changed.CreatedAt = at(-20)
	update(t, s, func(tx server.Tx) error { return tx.UpdateSegment(changed) })
	view(t, s, func(tx server.Tx) error {
		got, err := tx.GetSegment("staff")
		want := changed
		want.CreatedAt = staff.CreatedAt
		if diff := cmp.Diff(want, got, cmpOpts); err == nil && diff != "" {
			t.Errorf("after UpdateSegment (-want +got):\n%s", diff)
		}
		return err
	})
	err = s.Update(t.Context(), func(tx server.Tx) error {
		return tx.UpdateSegment(server.Segment{Segment: engine.Segment{Key: "nope"}})
	})
	wantError(t, "UpdateSegment(nope)", err, server.ENOTFOUND, `segment "nope"`)

	update(t, s, func(tx server.Tx) error { return tx.DeleteSegment("staff") })
	view(t, s, func(tx server.Tx) error {
		_, err := tx.GetSegment("staff")
		wantError(t, "GetSegment after delete", err, server.ENOTFOUND, `"staff"`)
		list, err := tx.ListSegments()
		if len(list) != 1 {
			t.Errorf("ListSegments after delete = %d, want 1", len(list))
		}
		return err
	})
	err = s.Update(t.Context(), func(tx server.Tx) error { return tx.DeleteSegment("staff") })
	wantError(t, "DeleteSegment again", err, server.ENOTFOUND, `"staff"`)
}
