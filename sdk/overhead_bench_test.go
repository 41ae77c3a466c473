package sdk

import (
	"context"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
)

// BenchmarkOverheadVsNoop measures what this provider adds to an evaluation
// through an openfeature.Client: the same call is made through a client
// backed by openfeature.NoopProvider and through one backed by this provider,
// alternating in blocks of 500 calls (and alternating which goes first) within
// one benchmark, so that the noise of a busy machine falls on both alike. It
// reports both costs and their ratio (the target is ratio ≤ 1.15).
func BenchmarkOverheadVsNoop(b *testing.B) {
	ctx := context.Background()
	p := offlineProvider(b)
	if err := openfeature.SetNamedProviderWithContextAndWait(ctx, "overhead-noop", openfeature.NoopProvider{}); err != nil {
		b.Fatal(err)
	}
	if err := openfeature.SetNamedProviderWithContextAndWait(ctx, "overhead-flagpole", p); err != nil {
		b.Fatal(err)
	}
	noop, flagpole := openfeature.NewClient("overhead-noop"), openfeature.NewClient("overhead-flagpole")
	evalCtx := openfeature.NewEvaluationContext("user-42", map[string]any{"country": "de"})
	for _, tc := range []struct {
		name string
		call func(c *openfeature.Client)
	}{
		{"flag=split", func(c *openfeature.Client) { c.BooleanValue(ctx, "checkout", false, evalCtx) }},
		{"flag=static", func(c *openfeature.Client) { c.StringValue(ctx, "banner", "", evalCtx) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			const block = 500
			run := func(c *openfeature.Client, n int) time.Duration {
				start := time.Now()
				for range n {
					tc.call(c)
				}
				return time.Since(start)
			}
			var tNoop, tFlagpole time.Duration
			calls := 0
			for i := 0; calls < b.N; i++ {
				n := min(block, b.N-calls)
				if i%2 == 0 {
					tNoop += run(noop, n)
					tFlagpole += run(flagpole, n)
				} else {
					tFlagpole += run(flagpole, n)
					tNoop += run(noop, n)
				}
				calls += n
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(tNoop.Nanoseconds())/float64(calls), "noop-ns/op")
			b.ReportMetric(float64(tFlagpole.Nanoseconds())/float64(calls), "flagpole-ns/op")
			b.ReportMetric(float64(tFlagpole)/float64(tNoop), "ratio")
		})
	}
}
