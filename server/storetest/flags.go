package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
)

func testFlags(t *testing.T, s server.Store) {
	f := boolFlag("checkout.new-flow", "checkout", "ui")
	f.Description = "the rewritten checkout"
	f.Owner = "team-payments"
	f.Temporary = true
	update(t, s, func(tx server.Tx) error { return tx.CreateFlag(f) })
	view(t, s, func(tx server.Tx) error {
		got, err := tx.GetFlag(f.Key)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(f, got, cmpOpts); diff != "" {
			t.Errorf("GetFlag (-want +got):\n%s", diff)
		}
		wantUTC(t, "GetFlag", got.CreatedAt, got.UpdatedAt)
		_, err = tx.GetFlag("nope")
		wantError(t, "GetFlag(nope)", err, server.ENOTFOUND, `flag "nope" not found`)
		return nil
	})

	err := s.Update(t.Context(), func(tx server.Tx) error { return tx.CreateFlag(boolFlag(f.Key)) })
	wantError(t, "CreateFlag again", err, server.EEXISTS, `flag "checkout.new-flow"`)

	// UpdateFlag replaces the definition, revision and update time; the
	// creation time stays what it was.
	changed := f
	changed.Name = "New checkout"
	changed.Tags = []string{"payments"}
	changed.Variants = []engine.Variant{{Key: "yes", Value: true}, {Key: "no", Value: false}}
	changed.Archived = true
	changed.Revision = 2
	changed.UpdatedAt = at(30)
	changed.CreatedAt = at(-30)
	update(t, s, func(tx server.Tx) error { return tx.UpdateFlag(changed) })
	view(t, s, func(tx server.Tx) error {
		got, err := tx.GetFlag(f.Key)
		want := changed
		want.CreatedAt = f.CreatedAt
		if diff := cmp.Diff(want, got, cmpOpts); err == nil && diff != "" {
			t.Errorf("after UpdateFlag (-want +got):\n%s", diff)
		}
		return err
	})
	err = s.Update(t.Context(), func(tx server.Tx) error { return tx.UpdateFlag(boolFlag("nope")) })
	wantError(t, "UpdateFlag(nope)", err, server.ENOTFOUND, `flag "nope" not found`)

	update(t, s, func(tx server.Tx) error { return tx.DeleteFlag(f.Key) })
	view(t, s, func(tx server.Tx) error {
		_, err := tx.GetFlag(f.Key)
		wantError(t, "GetFlag after delete", err, server.ENOTFOUND, f.Key)
		list, err := tx.ListFlags(server.FlagFilter{IncludeArchived: true})
		if len(list) != 0 {
			t.Errorf("ListFlags after delete = %d flags, want 0", len(list))
		}
		return err
	})
	err = s.Update(t.Context(), func(tx server.Tx) error { return tx.DeleteFlag(f.Key) })
	wantError(t, "DeleteFlag again", err, server.ENOTFOUND, f.Key)

	// The key is free again.
	update(t, s, func(tx server.Tx) error { return tx.CreateFlag(boolFlag(f.Key)) })
}

// testFlagValueTypes checks that variant values come back with the Go types
// the engine uses: bool, string, int64 (exactly), float64, map[string]any.
func testFlagValueTypes(t *testing.T, s server.Store) {
	flags := []server.Flag{
		typed("b", engine.TypeBoolean, true, false),
		typed("s", engine.TypeString, "blue", "", "ünïcode ✓"),
		typed("i", engine.TypeInteger, int64(0), int64(-3), int64(1)<<53+1, int64(9223372036854775807)),
		typed("f", engine.TypeFloat, 0.25, -1e-9, float64(3)),
		typed("o", engine.TypeObject,
			map[string]any{"color": "red", "size": float64(3), "tags": []any{"a", true}, "nested": map[string]any{"x": nil}},
			map[string]any{}),
	}
	update(t, s, func(tx server.Tx) error {
		for _, f := range flags {
			if err := tx.CreateFlag(f); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx server.Tx) error {
		for _, f := range flags {
			got, err := tx.GetFlag(f.Key)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(f.Variants, got.Variants); diff != "" {
				t.Errorf("%s variants (-want +got):\n%s", f.Type, diff)
			}
		}
		return nil
	})
}

func typed(key string, typ engine.FlagType, values ...any) server.Flag {
	f := boolFlag(key)
	f.Type = typ
	f.Variants = nil
	for i, v := range values {
		f.Variants = append(f.Variants, engine.Variant{Key: string(rune('a' + i)), Value: v})
	}
	return f
}

func testListFlagsFilter(t *testing.T, s server.Store) {
	checkout := boolFlag("checkout.new-flow", "checkout", "ui")
	checkout.Name = "New checkout flow"
	checkout.Description = "Rewrite of the payment page"
	search := boolFlag("search.ranking", "search")
	search.Name = "Ranking v2"
	search.Description = "Uses the ÜBER model"
	dark := boolFlag("ui-dark-mode", "ui-beta")
	dark.Name = "Dark mode"
	legacy := boolFlag("legacy.banner", "ui")
	legacy.Archived = true
	update(t, s, func(tx server.Tx) error {
		for _, f := range []server.Flag{search, legacy, dark, checkout} {
			if err := tx.CreateFlag(f); err != nil {
				return err
			}
		}
		return nil
	})
	cases := []struct {
		filter server.FlagFilter
		want   []string
	}{
		{server.FlagFilter{}, []string{"checkout.new-flow", "search.ranking", "ui-dark-mode"}},
		{server.FlagFilter{IncludeArchived: true}, []string{"checkout.new-flow", "legacy.banner", "search.ranking", "ui-dark-mode"}},
		{server.FlagFilter{Tag: "ui"}, []string{"checkout.new-flow"}},
		{server.FlagFilter{Tag: "ui", IncludeArchived: true}, []string{"checkout.new-flow", "legacy.banner"}},
		{server.FlagFilter{Tag: "UI"}, nil},
		{server.FlagFilter{Tag: "u"}, nil},
		{server.FlagFilter{Query: "CHECKOUT"}, []string{"checkout.new-flow"}},
		{server.FlagFilter{Query: "payment"}, []string{"checkout.new-flow"}},
		{server.FlagFilter{Query: "dark"}, []string{"ui-dark-mode"}},
		{server.FlagFilter{Query: "über"}, []string{"search.ranking"}},
		{server.FlagFilter{Query: "."}, []string{"checkout.new-flow", "search.ranking"}},
		{server.FlagFilter{Query: "%"}, nil},
		{server.FlagFilter{Query: "banner"}, nil},
		{server.FlagFilter{Query: "banner", IncludeArchived: true}, []string{"legacy.banner"}},
		{server.FlagFilter{Tag: "search", Query: "ranking"}, []string{"search.ranking"}},
		{server.FlagFilter{Tag: "search", Query: "dark"}, nil},
	}
	check := func() {
		t.Helper()
		view(t, s, func(tx server.Tx) error {
			for _, c := range cases {
				list, err := tx.ListFlags(c.filter)
				if err != nil {
					return err
				}
				if diff := cmp.Diff(c.want, flagKeys(list), cmpOpts); diff != "" {
					t.Errorf("ListFlags(%+v) (-want +got):\n%s", c.filter, diff)
				}
			}
			return nil
		})
	}
	check()

	// Tags follow UpdateFlag.
	dark.Tags = []string{"ui"}
	dark.Revision = 2
	update(t, s, func(tx server.Tx) error { return tx.UpdateFlag(dark) })
	cases = []struct {
		filter server.FlagFilter
		want   []string
	}{
		{server.FlagFilter{Tag: "ui"}, []string{"checkout.new-flow", "ui-dark-mode"}},
		{server.FlagFilter{Tag: "ui-beta"}, nil},
	}
	check()
}

func flagKeys(flags []server.Flag) []string {
	var keys []string
	for _, f := range flags {
		keys = append(keys, f.Key)
	}
	return keys
}
