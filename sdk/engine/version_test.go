package engine

import "testing"

// TestFlagVersions: a flag's version changes with what it serves and with
// nothing else (issue 12: every flag's version was the environment's
// revision, so every change changed every flag).
func TestFlagVersions(t *testing.T) {
	flags := func(mutate func(fs []FlagState, segs []Segment)) ([]FlagState, []Segment) {
		fs := []FlagState{
			{Flag: Flag{Key: "a", Type: TypeBoolean}, Config: Config{Enabled: true, OffVariant: "off", Default: Serve{Variant: "on"}}},
			{Flag: Flag{Key: "b", Type: TypeBoolean}, Config: Config{Enabled: true, OffVariant: "off", Default: Serve{Variant: "off"},
				Rules: []Rule{{Conditions: []Condition{{Operator: OpInSegment, Values: []string{"beta"}}}, Serve: Serve{Variant: "on"}}}}},
		}
		segs := []Segment{{Key: "beta", Included: []string{"u1"}}, {Key: "unused", Included: []string{"u9"}}}
		if mutate != nil {
			mutate(fs, segs)
		}
		return fs, segs
	}
	versions := func(rev int64, mutate func([]FlagState, []Segment)) map[string]string {
		t.Helper()
		fs, segs := flags(mutate)
		snap, err := Compile("staging", rev, fs, segs)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for i, k := range snap.Keys() {
			if v := snap.FlagVersion(i); v != snap.VersionOf(k) || len(v) != 16 {
				t.Fatalf("FlagVersion(%d) %q, VersionOf(%q) %q", i, v, k, snap.VersionOf(k))
			}
			out[k] = snap.VersionOf(k)
		}
		return out
	}
	base := versions(1, nil)
	if base["a"] == base["b"] {
		t.Fatalf("two different flags share version %s", base["a"])
	}
	if again := versions(7, nil); again["a"] != base["a"] || again["b"] != base["b"] {
		t.Errorf("the same flags at another revision: %v, want %v", again, base)
	}
	for _, c := range []struct {
		name    string
		mutate  func([]FlagState, []Segment)
		changed map[string]bool
	}{
		{"a disabled", func(fs []FlagState, _ []Segment) { fs[0].Config.Enabled = false }, map[string]bool{"a": true}},
		{"a renamed", func(fs []FlagState, _ []Segment) { fs[0].Flag.Name = "A"; fs[0].Flag.Tags = []string{"x"} }, nil},
		{"segment of b edited", func(_ []FlagState, s []Segment) { s[0].Included = []string{"u1", "u2"} }, map[string]bool{"b": true}},
		{"unused segment edited", func(_ []FlagState, s []Segment) { s[1].Included = nil }, nil},
		{"b's rule changed", func(fs []FlagState, _ []Segment) { fs[1].Config.Rules[0].Serve.Variant = "off" }, map[string]bool{"b": true}},
	} {
		got := versions(2, c.mutate)
		for _, k := range []string{"a", "b"} {
			if changed := got[k] != base[k]; changed != c.changed[k] {
				t.Errorf("%s: version of %s changed = %v, want %v", c.name, k, changed, c.changed[k])
			}
		}
	}

	// Apply gives a changed flag the version Compile gives it.
	fs, segs := flags(nil)
	snap, err := Compile("staging", 1, fs, segs)
	if err != nil {
		t.Fatal(err)
	}
	want := versions(2, func(fs []FlagState, _ []Segment) { fs[0].Config.Enabled = false })
	fs[0].Config.Enabled = false
	next, err := snap.Apply(2, fs[:1], nil)
	if err != nil {
		t.Fatal(err)
	}
	if next.VersionOf("a") != want["a"] || next.VersionOf("b") != want["b"] {
		t.Errorf("after Apply: a %s b %s, want %v", next.VersionOf("a"), next.VersionOf("b"), want)
	}
	if next.VersionOf("nope") != "" {
		t.Error("a missing flag has a version")
	}
}
