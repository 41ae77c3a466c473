package service_test

import (
	"testing"

	"github.com/flagpole/flagpole/sdk/engine"
)

// BenchmarkEvaluate measures Service.Evaluate on a cached snapshot: the
// remote evaluation path minus the transport.
func BenchmarkEvaluate(b *testing.B) {
	f := newFixture(b)
	f.createFlag(boolFlag("plain"))
	f.createFlag(boolFlag("targeted"))
	cfg := engine.Config{Enabled: true, OffVariant: "off", Rules: []engine.Rule{{
		Conditions: []engine.Condition{
			{Attribute: "country", Operator: engine.OpIn, Values: []string{"NL", "BE", "DE"}},
			{Attribute: "plan", Operator: engine.OpNotIn, Values: []string{"free"}},
			{Attribute: "version", Operator: engine.OpSemverGTE, Values: []string{"2.0.0"}},
		},
		Serve: engine.Serve{Split: &engine.Split{Weights: []engine.Weight{{Variant: "on", Weight: 20}, {Variant: "off", Weight: 80}}}},
	}}, Default: engine.Serve{Variant: "off"}}
	if _, err := f.svc.ReplaceConfig(f.ctx, "production", "targeted", cfg, 0); err != nil {
		b.Fatal(err)
	}
	if _, err := f.svc.SetEnabled(f.ctx, "production", "plain", true, 0); err != nil {
		b.Fatal(err)
	}
	evalCtx := map[string]any{engine.TargetingKey: "user-42", "country": "NL", "plan": "pro", "version": "2.3.1"}
	for _, key := range []string{"plain", "targeted"} {
		b.Run(key, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ev, err := f.svc.Evaluate(f.ctx, "production", key, engine.TypeBoolean, evalCtx)
				if err != nil || ev.ErrorCode != "" {
					b.Fatal(ev, err)
				}
			}
		})
	}
}

// BenchmarkSetEnabled measures one committed change: the SQLite
// transaction with its revision bump and audit entry, and the publication.
func BenchmarkSetEnabled(b *testing.B) {
	f := newFixture(b)
	f.createFlag(boolFlag("toggle"))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := f.svc.SetEnabled(f.ctx, "production", "toggle", i%2 == 0, 0); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.StopTimer()
	f.pub.take()
}
