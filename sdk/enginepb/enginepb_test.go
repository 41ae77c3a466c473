package enginepb

import (
	"reflect"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/sdk/engine"
)

func TestRoundTrip(t *testing.T) {
	states := []engine.FlagState{
		{
			Flag: engine.Flag{Key: "checkout", Name: "Checkout", Description: "d", Tags: []string{"team-a"}, Owner: "o",
				Type: engine.TypeBoolean, Temporary: true,
				Variants: []engine.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}},
			Config: engine.Config{Enabled: true, OffVariant: "off",
				Rules: []engine.Rule{{ID: "r1", Description: "beta", Conditions: []engine.Condition{
					{Attribute: "country", Operator: engine.OpIn, Values: []string{"de", "fr"}},
					{Operator: engine.OpInSegment, Values: []string{"beta"}},
				}, Serve: engine.Serve{Variant: "on"}}},
				Default: engine.Serve{Split: &engine.Split{BucketBy: "userId", Weights: []engine.Weight{{Variant: "on", Weight: 1}, {Variant: "off", Weight: 3}}}}},
		},
		{
			Flag:   engine.Flag{Key: "limit", Type: engine.TypeInteger, Archived: true, Variants: []engine.Variant{{Key: "low", Value: int64(10)}, {Key: "high", Value: int64(-1 << 40)}}},
			Config: engine.Config{OffVariant: "low", Default: engine.Serve{Variant: "high"}},
		},
		{
			Flag:   engine.Flag{Key: "theme", Type: engine.TypeObject, Variants: []engine.Variant{{Key: "dark", Value: map[string]any{"bg": "#000", "size": 1.5, "list": []any{"a", true}}}}},
			Config: engine.Config{OffVariant: "dark", Default: engine.Serve{Variant: "dark"}},
		},
		{
			Flag:   engine.Flag{Key: "ratio", Type: engine.TypeFloat, Variants: []engine.Variant{{Key: "a", Value: 0.25}}},
			Config: engine.Config{OffVariant: "a", Default: engine.Serve{Variant: "a"}, Guarded: true},
		},
	}
	for _, s := range states {
		p, err := FlagState("production", s)
		if err != nil {
			t.Fatal(err)
		}
		if p.GetConfig().GetEnvironment() != "production" || p.GetConfig().GetFlagKey() != s.Flag.Key {
			t.Fatalf("config names %q/%q", p.GetConfig().GetEnvironment(), p.GetConfig().GetFlagKey())
		}
		back, err := ToFlagState(p)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, s) {
			t.Errorf("round trip of %s:\n got %#v\nwant %#v", s.Flag.Key, back, s)
		}
	}
	seg := engine.Segment{Key: "beta", Name: "Beta", Match: engine.MatchAny, Included: []string{"u1"}, Excluded: []string{"u2"},
		Conditions: []engine.Condition{{Attribute: "email", Operator: engine.OpEndsWith, Values: []string{"@example.com"}}}}
	if back := ToSegment(Segment(seg)); !reflect.DeepEqual(back, seg) {
		t.Errorf("segment round trip:\n got %#v\nwant %#v", back, seg)
	}
}

func TestBadValues(t *testing.T) {
	_, err := Flag(engine.Flag{Key: "k", Variants: []engine.Variant{{Key: "a", Value: struct{}{}}}})
	if err == nil || !strings.Contains(err.Error(), "variants[0].value") {
		t.Fatalf("unsupported value: %v", err)
	}
	p, _ := Flag(engine.Flag{Key: "n", Type: engine.TypeFloat, Variants: []engine.Variant{{Key: "a", Value: 1.5}}})
	p.Type = string(engine.TypeInteger)
	if _, err := ToFlag(p); err == nil || !strings.Contains(err.Error(), "variants[0].value") {
		t.Fatalf("fractional integer: %v", err)
	}
}
