package engine_test

import (
	"fmt"

	"github.com/flagpole/flagpole/sdk/engine"
)

func ExampleCompile() {
	flags := []engine.FlagState{{
		Flag: engine.Flag{Key: "new-checkout", Type: engine.TypeBoolean}, // variants on/off
		Config: engine.Config{
			Enabled:    true,
			OffVariant: "off",
			Rules: []engine.Rule{{
				Conditions: []engine.Condition{{Operator: engine.OpInSegment, Values: []string{"staff"}}},
				Serve:      engine.Serve{Variant: "on"},
			}},
			Default: engine.Serve{Variant: "off"},
		},
	}}
	segments := []engine.Segment{{
		Key:        "staff",
		Conditions: []engine.Condition{{Attribute: "email", Operator: engine.OpEndsWith, Values: []string{"@flagpole.dev"}}},
	}}
	snap, err := engine.Compile("production", 42, flags, segments)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(snap.Environment(), snap.Revision(), snap.Keys())

	// A bad definition is rejected with the field that is wrong.
	flags[0].Config.Default.Variant = "maybe"
	_, err = engine.Compile("production", 43, flags, segments)
	fmt.Println(err)
	// Output:
	// production 42 [new-checkout]
	// engine: flag "new-checkout" config: default.variant: unknown variant "maybe"
}

func ExampleSnapshot_Evaluate() {
	snap, err := engine.Compile("production", 7, []engine.FlagState{{
		Flag: engine.Flag{Key: "search-ranking", Type: engine.TypeString, Variants: []engine.Variant{
			{Key: "classic", Value: "bm25"}, {Key: "neural", Value: "embeddings"},
		}},
		Config: engine.Config{
			Enabled:    true,
			OffVariant: "classic",
			Rules: []engine.Rule{{
				Conditions: []engine.Condition{{Attribute: "plan", Operator: engine.OpIn, Values: []string{"enterprise"}}},
				Serve:      engine.Serve{Variant: "neural"},
			}},
			Default: engine.Serve{Variant: "classic"},
		},
	}}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ctx := range []map[string]any{
		{engine.TargetingKey: "user-1", "plan": "enterprise"},
		{engine.TargetingKey: "user-2", "plan": "free"},
	} {
		r := snap.Evaluate("search-ranking", engine.TypeString, ctx)
		fmt.Println(r.Value, r.Variant, r.Reason)
	}
	r := snap.Evaluate("search-ranking", engine.TypeBoolean, nil)
	fmt.Println(r.Reason, r.ErrorCode)
	r = snap.Evaluate("no-such-flag", "", nil)
	fmt.Println(r.Reason, r.ErrorCode)
	// Output:
	// embeddings neural TARGETING_MATCH
	// bm25 classic DEFAULT
	// ERROR TYPE_MISMATCH
	// ERROR FLAG_NOT_FOUND
}
