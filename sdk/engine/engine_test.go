package engine

import (
	"encoding/json"
	"errors"
	"math"
	"sync"
	"testing"
	"time"
)

// ruleFlag is a string flag serving "yes" when cond holds, "no" otherwise.
func ruleFlag(key string, conds ...Condition) FlagState {
	return FlagState{
		Flag: Flag{Key: key, Type: TypeString, Variants: []Variant{{Key: "yes", Value: "yes"}, {Key: "no", Value: "no"}}},
		Config: Config{Enabled: true, OffVariant: "no", Rules: []Rule{{Conditions: conds, Serve: Serve{Variant: "yes"}}},
			Default: Serve{Variant: "no"}},
	}
}

// TestGoTypedContexts covers context values JSON cannot express: Go integer
// and float types, json.Number and time.Time.
func TestGoTypedContexts(t *testing.T) {
	snap := mustCompile(t,
		ruleFlag("in-num", Condition{Attribute: "n", Operator: OpIn, Values: []string{"42", "9007199254740993"}}),
		ruleFlag("not-in-num", Condition{Attribute: "n", Operator: OpNotIn, Values: []string{"42"}}),
		ruleFlag("gt", Condition{Attribute: "n", Operator: OpGT, Values: []string{"10"}}),
		ruleFlag("before", Condition{Attribute: "t", Operator: OpBefore, Values: []string{"2025-01-01T00:00:00Z"}}),
		ruleFlag("in-bool", Condition{Attribute: "b", Operator: OpIn, Values: []string{"false"}}),
	)
	jan := time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		flag string
		ctx  map[string]any
		want bool
	}{
		{"in-num", map[string]any{"n": 42}, true},
		{"in-num", map[string]any{"n": int8(42)}, true},
		{"in-num", map[string]any{"n": uint16(42)}, true},
		{"in-num", map[string]any{"n": float32(42)}, true},
		{"in-num", map[string]any{"n": json.Number("42")}, true},
		{"in-num", map[string]any{"n": json.Number("42.0")}, true},
		{"in-num", map[string]any{"n": int64(9007199254740993)}, true}, // exact, not via float64
		{"in-num", map[string]any{"n": int64(9007199254740992)}, false},
		{"in-num", map[string]any{"n": uint64(math.MaxUint64)}, false},
		{"in-num", map[string]any{"n": math.NaN()}, false},
		{"not-in-num", map[string]any{"n": math.NaN()}, false}, // not comparable
		{"not-in-num", map[string]any{"n": uint(7)}, true},
		{"not-in-num", map[string]any{"n": []int{1}}, false},
		{"gt", map[string]any{"n": uint64(11)}, true},
		{"gt", map[string]any{"n": int16(10)}, false},
		{"gt", map[string]any{"n": json.Number("10.5")}, true},
		{"gt", map[string]any{"n": math.NaN()}, false},
		{"gt", map[string]any{"n": math.Inf(1)}, true},
		{"before", map[string]any{"t": jan}, true},
		{"before", map[string]any{"t": jan.AddDate(1, 0, 0)}, false},
		{"before", map[string]any{"t": jan.Unix()}, false},
		{"in-bool", map[string]any{"b": false}, true},
		{"in-bool", map[string]any{"b": 0}, false},
	}
	for _, c := range cases {
		r := snap.Evaluate(c.flag, TypeString, c.ctx)
		if got := r.Variant == "yes"; got != c.want || r.ErrorCode != ErrorNone {
			t.Errorf("%s with %#v: got %+v, want match=%v", c.flag, c.ctx, r, c.want)
		}
	}
}

func TestInManyValuesUsesSet(t *testing.T) {
	values := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "10"}
	snap := mustCompile(t, ruleFlag("many", Condition{Attribute: "x", Operator: OpIn, Values: values}))
	if snap.ordered.at(snap.flags["many"]).rules[0].conds[0].set == nil {
		t.Fatal("no set for many values")
	}
	for v, want := range map[any]bool{"i": true, "z": false, 10: true, 11: false} {
		if got := snap.Evaluate("many", "", map[string]any{"x": v}).Variant == "yes"; got != want {
			t.Errorf("x=%v: match %v, want %v", v, got, want)
		}
	}
}

func TestValidateFlagNormalises(t *testing.T) {
	f := Flag{Key: "limits", Type: TypeInteger, Variants: []Variant{
		{Key: "low", Value: float64(10)}, {Key: "mid", Value: json.Number("20")}, {Key: "high", Value: 30},
		{Key: "max", Value: uint32(40)},
	}}
	if err := ValidateFlag(&f); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{10, 20, 30, 40} {
		if f.Variants[i].Value != want {
			t.Errorf("variant %d = %T %v, want int64 %d", i, f.Variants[i].Value, f.Variants[i].Value, want)
		}
	}
	g := Flag{Key: "ratio", Type: TypeFloat, Variants: []Variant{{Key: "a", Value: 1}, {Key: "b", Value: float32(0.5)}}}
	if err := ValidateFlag(&g); err != nil {
		t.Fatal(err)
	}
	if g.Variants[0].Value != 1.0 || g.Variants[1].Value != 0.5 {
		t.Errorf("float variants = %#v", g.Variants)
	}
	b := Flag{Key: "toggle", Type: TypeBoolean}
	if err := ValidateFlag(&b); err != nil {
		t.Fatal(err)
	}
	if len(b.Variants) != 2 || b.Variants[0] != (Variant{"on", true}) || b.Variants[1] != (Variant{"off", false}) {
		t.Errorf("boolean variants = %#v", b.Variants)
	}
	bad := Flag{Key: "ratio", Type: TypeFloat, Variants: []Variant{{Key: "a", Value: math.Inf(1)}}}
	var fe *FieldError
	if err := ValidateFlag(&bad); !errors.As(err, &fe) || fe.Field != "variants[0].value" {
		t.Errorf("infinite float: %v", err)
	}
	if err := ValidateFlag(nil); err == nil {
		t.Error("nil flag accepted")
	}
}

func TestCompileDoesNotModifyInput(t *testing.T) {
	flags := []FlagState{{
		Flag:   Flag{Key: "n", Type: TypeInteger, Variants: []Variant{{Key: "a", Value: float64(1)}}},
		Config: Config{Enabled: true, OffVariant: "a", Default: Serve{Variant: "a"}},
	}}
	snap, err := Compile("e", 1, flags, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := flags[0].Flag.Variants[0].Value.(float64); !ok {
		t.Errorf("input changed to %T", flags[0].Flag.Variants[0].Value)
	}
	if v := snap.Evaluate("n", TypeInteger, nil).Value; v != int64(1) {
		t.Errorf("value %T %v", v, v)
	}
}

func TestCompileErrors(t *testing.T) {
	good := ruleFlag("ok")
	cases := []struct {
		name     string
		flags    []FlagState
		segments []Segment
		field    string
	}{
		{"duplicate flag", []FlagState{good, good}, nil, "key"},
		{"duplicate flag, one archived", []FlagState{good, {Flag: Flag{Key: "ok", Archived: true}}}, nil, "key"},
		{"duplicate segment", nil, []Segment{{Key: "s"}, {Key: "s"}}, "key"},
		{"bad segment", nil, []Segment{{Key: "S"}}, "key"},
		{"bad flag", []FlagState{{Flag: Flag{Key: "x", Type: "bool"}}}, nil, "type"},
		{"unknown segment", []FlagState{ruleFlag("x", Condition{Operator: OpInSegment, Values: []string{"nope"}})}, nil,
			"rules[0].conditions[0].values[0]"},
	}
	for _, c := range cases {
		_, err := Compile("e", 1, c.flags, c.segments)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: got %v, want a FieldError on %s", c.name, err, c.field)
		}
	}
}

func TestNilAndEmptySnapshot(t *testing.T) {
	var s *Snapshot
	if r := s.Evaluate("x", "", nil); r.ErrorCode != ErrorFlagNotFound || r.Reason != ReasonError {
		t.Errorf("nil snapshot: %+v", r)
	}
	if s.Keys() != nil || s.EvaluateAll(nil) != nil || s.Environment() != "" || s.Revision() != 0 {
		t.Error("nil snapshot is not empty")
	}
	empty, err := Compile("e", 0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(empty.Keys()) != 0 || len(empty.EvaluateAll(nil)) != 0 {
		t.Error("empty snapshot has flags")
	}
}

func TestKeysAndEvaluateAllSorted(t *testing.T) {
	flags := []FlagState{ruleFlag("zeta"), ruleFlag("alpha"), {Flag: Flag{Key: "gone", Type: TypeBoolean, Archived: true}}, ruleFlag("mid")}
	snap, err := Compile("e", 1, flags, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := snap.Keys()
	want := []string{"alpha", "mid", "zeta"}
	if len(keys) != len(want) {
		t.Fatalf("keys %v", keys)
	}
	all := snap.EvaluateAll(map[string]any{})
	for i := range want {
		if keys[i] != want[i] || all[i].FlagKey != want[i] {
			t.Errorf("position %d: key %s, result %s, want %s", i, keys[i], all[i].FlagKey, want[i])
		}
	}
	keys[0] = "changed"
	if snap.Keys()[0] != "alpha" {
		t.Error("Keys exposes internal state")
	}
}

func TestSemver(t *testing.T) {
	valid := []string{"0.0.0", "1.2.3", "v1.2.3", "1.2.3-alpha", "1.2.3-alpha.1", "1.2.3-0.3.7", "1.2.3-x.7.z.92",
		"1.2.3+build", "1.2.3-rc.1+build.5", "1.0.0-x-y-z.--", "18446744073709551615.0.0"}
	invalid := []string{"", "v", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "1.2.3-", "1.2.3-01",
		"1.2.3-a..b", "1.2.3+", "1.2.3+a..b", "1.2.3-a_b", "-1.2.3", "1.2.3 ", "18446744073709551616.0.0", "V1.2.3"}
	for _, s := range valid {
		if _, ok := parseSemver(s); !ok {
			t.Errorf("%q rejected", s)
		}
	}
	for _, s := range invalid {
		if _, ok := parseSemver(s); ok {
			t.Errorf("%q accepted", s)
		}
	}
	// The precedence example of the SemVer 2.0.0 specification, in order.
	order := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "2.0.0", "2.1.0", "2.1.1", "10.0.0"}
	for i := range order {
		for j := range order {
			a, _ := parseSemver(order[i])
			b, _ := parseSemver(order[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := compareSemver(&a, &b); got != want {
				t.Errorf("compare(%s, %s) = %d, want %d", order[i], order[j], got, want)
			}
		}
	}
}

func TestConcurrentEvaluate(t *testing.T) {
	snap := benchSnapshot(t)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := map[string]any{TargetingKey: "u", "country": "de", "plan": "pro", "appVersion": "3.0.0"}
			for i := range 2000 {
				if r := snap.Evaluate("checkout-v2", TypeString, ctx); r.Reason != ReasonSplit {
					t.Errorf("goroutine %d, iteration %d: %+v", g, i, r)
					return
				}
				snap.EvaluateAll(ctx)
			}
		}()
	}
	wg.Wait()
}

// TestEvaluateAtMatchesEvaluate checks the index-based evaluation against
// Evaluate: the same results, and a variant index naming the served variant.
func TestEvaluateAtMatchesEvaluate(t *testing.T) {
	s := benchSnapshot(t)
	ctxs := []map[string]any{benchCtx, nil, {"country": "fr", "plan": "pro", "appVersion": "2.4.1"}}
	for i, key := range s.Keys() {
		if got := s.Find(key); got != i {
			t.Fatalf("Find(%s) = %d, want %d", key, got, i)
		}
		for _, want := range []FlagType{"", TypeBoolean, TypeString} {
			for _, ctx := range ctxs {
				r, v := s.EvaluateAt(i, want, ctx)
				if e := s.Evaluate(key, want, ctx); *r != e {
					t.Fatalf("%s: EvaluateAt %+v, Evaluate %+v", key, *r, e)
				}
				switch {
				case r.ErrorCode != ErrorNone && v != -1:
					t.Fatalf("%s: error result %+v with variant %d", key, *r, v)
				case r.ErrorCode == ErrorNone && (v < 0 || s.Variants(i)[v] != r.Variant):
					t.Fatalf("%s: variant %d for %+v (variants %v)", key, v, *r, s.Variants(i))
				}
			}
		}
	}
	if s.Find("nope") != -1 || (*Snapshot)(nil).Find("dark-mode") != -1 {
		t.Fatal("Find of a missing flag")
	}
}
