package engine

import (
	"strings"
	"testing"
)

func nested(levels int) any {
	var v any = "leaf"
	for range levels {
		v = map[string]any{"a": v}
	}
	return v
}

// TestLimits: each limit refuses one over it, naming the field, and lets
// the value at the limit through.
func TestLimits(t *testing.T) {
	big := func(n int) string { return strings.Repeat("x", n) }
	keys := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "k" + strings.Repeat("0", 3) + string(rune('a'+i%26)) + strings.Repeat("1", i%7)
		}
		return out
	}
	obj := func(v any) *Flag {
		return &Flag{Key: "f", Type: TypeObject, Variants: []Variant{{Key: "v", Value: map[string]any{"x": v}}}}
	}
	flags := []struct {
		name  string
		f     *Flag
		field string
	}{
		{"description", &Flag{Key: "f", Type: TypeBoolean, Description: big(MaxDescriptionBytes + 1)}, "description"},
		{"name", &Flag{Key: "f", Type: TypeBoolean, Name: big(MaxNameBytes + 1)}, "name"},
		{"tags", &Flag{Key: "f", Type: TypeBoolean, Tags: keys(MaxTags + 1)}, "tags"},
		{"tag", &Flag{Key: "f", Type: TypeBoolean, Tags: []string{"a", big(MaxTagBytes + 1)}}, "tags[1]"},
		{"value", &Flag{Key: "f", Type: TypeString, Variants: []Variant{{Key: "a", Value: "x"}, {Key: "b", Value: big(MaxValueBytes)}}}, "variants[1].value"},
		{"depth", obj(nested(MaxValueDepth)), "variants[0].value"},
		{"integer above 2^53", &Flag{Key: "f", Type: TypeInteger, Variants: []Variant{{Key: "a", Value: 1}, {Key: "b", Value: float64(1 << 53)}}}, "variants[1].value"},
		{"integer below -2^53", &Flag{Key: "f", Type: TypeInteger, Variants: []Variant{{Key: "a", Value: int64(-1 << 60)}}}, "variants[0].value"},
		{"depth 1000", obj(nested(1000)), "variants[0].value"},
	}
	for _, c := range flags {
		err := ValidateFlag(c.f)
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != c.field {
			t.Errorf("%s: %v, want a field error on %s", c.name, err, c.field)
		}
	}
	var many []Variant
	for i := range MaxVariants + 1 {
		many = append(many, Variant{Key: "v" + strings.Repeat("1", i%5) + string(rune('a'+i%26)) + string(rune('a'+i/26)), Value: "x"})
	}
	if err, ok := ValidateFlag(&Flag{Key: "f", Type: TypeString, Variants: many}).(*FieldError); !ok || err.Field != "variants" {
		t.Errorf("too many variants: %v", err)
	}
	var total []Variant
	for i := range 5 {
		total = append(total, Variant{Key: string(rune('a' + i)), Value: big(MaxValueBytes - 10)})
	}
	if err, ok := ValidateFlag(&Flag{Key: "f", Type: TypeString, Variants: total}).(*FieldError); !ok || err.Field != "flag" {
		t.Errorf("definition over the total: %v", err)
	}
	// At the limits: accepted.
	if err := ValidateFlag(obj(nested(MaxValueDepth - 2))); err != nil {
		t.Errorf("value nested %d levels: %v", MaxValueDepth-1, err)
	}
	if err := ValidateFlag(&Flag{Key: "f", Type: TypeBoolean, Description: big(MaxDescriptionBytes), Tags: keys(MaxTags)}); err != nil {
		t.Errorf("description and tags at the limit: %v", err)
	}

	f := Flag{Key: "f", Type: TypeBoolean, Variants: []Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}}
	rule := Rule{Conditions: []Condition{{Attribute: "a", Operator: OpIn, Values: []string{"x"}}}, Serve: Serve{Variant: "on"}}
	rules := make([]Rule, MaxRules+1)
	for i := range rules {
		rules[i] = rule
	}
	if err, ok := ValidateConfig(f, Config{OffVariant: "off", Default: Serve{Variant: "off"}, Rules: rules}, nil).(*FieldError); !ok || err.Field != "rules" {
		t.Errorf("too many rules: %v", err)
	}
	conds := make([]Condition, MaxConditions+1)
	for i := range conds {
		conds[i] = rule.Conditions[0]
	}
	cfg := Config{OffVariant: "off", Default: Serve{Variant: "off"}, Rules: []Rule{{Conditions: conds, Serve: Serve{Variant: "on"}}}}
	if err, ok := ValidateConfig(f, cfg, nil).(*FieldError); !ok || err.Field != "rules[0].conditions" {
		t.Errorf("too many conditions: %v", err)
	}
	cfg.Rules[0].Conditions = []Condition{{Attribute: "a", Operator: OpIn, Values: keys(MaxConditionValues + 1)}}
	if err, ok := ValidateConfig(f, cfg, nil).(*FieldError); !ok || err.Field != "rules[0].conditions[0].values" {
		t.Errorf("too many values: %v", err)
	}
	if err, ok := ValidateSegment(Segment{Key: "s", Included: keys(MaxSegmentKeys + 1)}).(*FieldError); !ok || err.Field != "included" {
		t.Errorf("too many included keys: %v", err)
	}
	if err, ok := ValidateSegment(Segment{Key: "s", Excluded: []string{"a", big(MaxNameBytes + 1)}}).(*FieldError); !ok || err.Field != "excluded[1]" {
		t.Errorf("long excluded key: %v", err)
	}
}

// TestCompileIgnoresLimits: an SDK compiles whatever the server stored,
// even a definition over today's limits (stored before them).
func TestCompileIgnoresLimits(t *testing.T) {
	big := strings.Repeat("v", MaxValueBytes+1)
	fs := FlagState{
		Flag:   Flag{Key: "old", Type: TypeString, Description: strings.Repeat("d", MaxDescriptionBytes+1), Variants: []Variant{{Key: "a", Value: big}}},
		Config: Config{Enabled: true, OffVariant: "a", Default: Serve{Variant: "a"}},
	}
	snap, err := Compile("production", 1, []FlagState{fs}, nil)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	if r := snap.Evaluate("old", "", nil); r.Value != big {
		t.Errorf("served %d bytes, want %d", len(r.Value.(string)), len(big))
	}
	if _, err := snap.Apply(2, []FlagState{fs}, nil); err != nil {
		t.Errorf("Apply: %v", err)
	}
}
