package engine

import (
	"fmt"
	"testing"
)

func benchSnapshot(tb testing.TB) *Snapshot {
	tb.Helper()
	flags := []FlagState{
		{
			Flag:   Flag{Key: "dark-mode", Type: TypeBoolean},
			Config: Config{Enabled: true, OffVariant: "off", Default: Serve{Variant: "on"}},
		},
		{
			Flag: Flag{Key: "checkout-v2", Type: TypeString, Variants: []Variant{
				{Key: "control", Value: "control"}, {Key: "treatment", Value: "treatment"}, {Key: "off", Value: "off"},
			}},
			Config: Config{
				Enabled:    true,
				OffVariant: "off",
				Rules: []Rule{{
					Conditions: []Condition{
						{Attribute: "country", Operator: OpIn, Values: []string{"de", "fr", "nl"}},
						{Attribute: "plan", Operator: OpIn, Values: []string{"pro", "enterprise"}},
						{Attribute: "appVersion", Operator: OpSemverGTE, Values: []string{"2.3.0"}},
					},
					Serve: Serve{Split: &Split{Weights: []Weight{
						{Variant: "treatment", Weight: 50}, {Variant: "control", Weight: 50},
					}}},
				}},
				Default: Serve{Variant: "off"},
			},
		},
	}
	for i := range 48 {
		flags = append(flags, FlagState{
			Flag:   Flag{Key: fmt.Sprintf("flag-%02d", i), Type: TypeBoolean},
			Config: Config{Enabled: i%2 == 0, OffVariant: "off", Default: Serve{Variant: "on"}},
		})
	}
	s, err := Compile("production", 1, flags, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

var benchCtx = map[string]any{
	TargetingKey: "user-123456",
	"country":    "fr",
	"plan":       "pro",
	"appVersion": "2.4.1",
	"email":      "someone@example.com",
}

var sink Result

func BenchmarkEvaluateBoolNoRules(b *testing.B) {
	s := benchSnapshot(b)
	b.ReportAllocs()
	for b.Loop() {
		sink = s.Evaluate("dark-mode", TypeBoolean, benchCtx)
	}
	if sink.Value != true {
		b.Fatal(sink)
	}
}

func BenchmarkEvaluateRuleAndSplit(b *testing.B) {
	s := benchSnapshot(b)
	b.ReportAllocs()
	for b.Loop() {
		sink = s.Evaluate("checkout-v2", TypeString, benchCtx)
	}
	if sink.Reason != ReasonSplit {
		b.Fatal(sink)
	}
}

func BenchmarkEvaluateAll(b *testing.B) {
	s := benchSnapshot(b)
	b.ReportAllocs()
	var out []Result
	for b.Loop() {
		out = s.EvaluateAll(benchCtx)
	}
	if len(out) != 50 {
		b.Fatal(len(out))
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		benchSnapshot(b)
	}
}

// TestZeroAllocs holds the common paths to zero allocations in every test
// run, not only when benchmarks are run.
func TestZeroAllocs(t *testing.T) {
	s := benchSnapshot(t)
	for _, key := range []string{"dark-mode", "checkout-v2"} {
		allocs := testing.AllocsPerRun(1000, func() { sink = s.Evaluate(key, "", benchCtx) })
		if allocs != 0 {
			t.Errorf("Evaluate(%s) allocates %.1f times", key, allocs)
		}
	}
	numCtx := map[string]any{TargetingKey: 123456789, "country": "de", "plan": "pro", "appVersion": "v2.3.0"}
	if allocs := testing.AllocsPerRun(1000, func() { sink = s.Evaluate("checkout-v2", "", numCtx) }); allocs != 0 {
		t.Errorf("Evaluate with a numeric targeting key allocates %.1f times", allocs)
	}
	floatCtx := map[string]any{TargetingKey: -1.2345678901234567e-6, "country": "de", "plan": "pro", "appVersion": "2.3.0"}
	if allocs := testing.AllocsPerRun(1000, func() { sink = s.Evaluate("checkout-v2", "", floatCtx) }); allocs != 0 {
		t.Errorf("Evaluate with the longest float targeting key allocates %.1f times", allocs)
	}
}
