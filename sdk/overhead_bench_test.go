package sdk

import (
	"context"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
)

// overheadCalls are the evaluations both overhead benchmarks make.
func overheadCalls() []struct {
	name string
	call func(c *openfeature.Client)
} {
	ctx := context.Background()
	evalCtx := openfeature.NewEvaluationContext("user-42", map[string]any{"country": "de"})
	return []struct {
		name string
		call func(c *openfeature.Client)
	}{
		{"flag=split", func(c *openfeature.Client) { c.BooleanValue(ctx, "checkout", false, evalCtx) }},
		{"flag=static", func(c *openfeature.Client) { c.StringValue(ctx, "banner", "", evalCtx) }},
	}
}

// interleave makes b.N calls through each client, alternating in blocks of
// 500 calls (and alternating which goes first) so that the noise of a busy
// machine falls on both alike, and reports both costs per call (as
// base-ns/op and other-ns/op) and their ratio.
func interleave(b *testing.B, base, other *openfeature.Client, call func(*openfeature.Client), baseName, otherName string) {
	const block = 500
	run := func(c *openfeature.Client, n int) time.Duration {
		start := time.Now()
		for range n {
			call(c)
		}
		return time.Since(start)
	}
	var tBase, tOther time.Duration
	calls := 0
	for i := 0; calls < b.N; i++ {
		n := min(block, b.N-calls)
		if i%2 == 0 {
			tBase += run(base, n)
			tOther += run(other, n)
		} else {
			tOther += run(other, n)
			tBase += run(base, n)
		}
		calls += n
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(tBase.Nanoseconds())/float64(calls), baseName+"-ns/op")
	b.ReportMetric(float64(tOther.Nanoseconds())/float64(calls), otherName+"-ns/op")
	b.ReportMetric(float64(tOther)/float64(tBase), "ratio")
}

// BenchmarkOverheadVsNoop measures what this provider adds to an evaluation
// through an openfeature.Client: the same call is made through a client
// backed by openfeature.NoopProvider and through one backed by this provider,
// interleaved within one benchmark. It reports both costs and their ratio
// (the target is ratio ≤ 1.15).
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
	for _, tc := range overheadCalls() {
		b.Run(tc.name, func(b *testing.B) {
			interleave(b, noop, flagpole, tc.call, "noop", "flagpole")
		})
	}
}

// constProvider answers every evaluation with a constant value and the
// flag metadata Flagpole returns, at no cost of its own.
type constProvider struct {
	openfeature.NoopProvider
	meta openfeature.FlagMetadata
}

func (c constProvider) Metadata() openfeature.Metadata { return openfeature.Metadata{Name: "const"} }

func (c constProvider) BooleanEvaluation(context.Context, string, bool, openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	return openfeature.BoolResolutionDetail{Value: true, ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
		Reason: openfeature.SplitReason, Variant: "on", FlagMetadata: c.meta,
	}}
}

func (c constProvider) StringEvaluation(context.Context, string, string, openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	return openfeature.StringResolutionDetail{Value: "hi", ProviderResolutionDetail: openfeature.ProviderResolutionDetail{
		Reason: openfeature.StaticReason, Variant: "b", FlagMetadata: c.meta,
	}}
}

// BenchmarkOverheadFloor is BenchmarkOverheadVsNoop with a provider that
// does no work but returns the same flag metadata (flagSetId, version, which
// the design requires on every result): the lowest ratio any provider
// returning that metadata can reach through this OpenFeature client, which
// copies the metadata map of every result. meta=none is the same provider
// without metadata.
func BenchmarkOverheadFloor(b *testing.B) {
	ctx := context.Background()
	if err := openfeature.SetNamedProviderWithContextAndWait(ctx, "floor-noop", openfeature.NoopProvider{}); err != nil {
		b.Fatal(err)
	}
	noop := openfeature.NewClient("floor-noop")
	for _, m := range []struct {
		name string
		meta openfeature.FlagMetadata
	}{
		{"meta=flagpole", openfeature.FlagMetadata{"flagSetId": "production", "version": int64(7)}},
		{"meta=none", nil},
	} {
		domain := "floor-const-" + m.name
		if err := openfeature.SetNamedProviderWithContextAndWait(ctx, domain, constProvider{meta: m.meta}); err != nil {
			b.Fatal(err)
		}
		c := openfeature.NewClient(domain)
		for _, tc := range overheadCalls() {
			b.Run(m.name+"/"+tc.name, func(b *testing.B) {
				interleave(b, noop, c, tc.call, "noop", "const")
			})
		}
	}
}
