package otelhook_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// spanEvery is how many evaluations share one recording span in the
// benchmarks: below the SDK's default limit of 128 events per span, so that
// every event is kept, as in a request that evaluates a few flags.
const spanEvery = 64

// BenchmarkHook measures an evaluation through a real Flagpole provider
// with and without the hook, with no span in the context and inside a
// recording span of the OpenTelemetry SDK (no exporter: the span's cost
// is starting, keeping events, ending). The recording cases start and end
// one span per spanEvery evaluations in both hook=off and hook=on, so
// their difference is the hook's.
func BenchmarkHook(b *testing.B) {
	tp := sdktrace.NewTracerProvider()
	tracer := tp.Tracer("bench")
	user := openfeature.NewEvaluationContext("user-42", map[string]any{"country": "de"})
	flags := []struct {
		name string
		eval func(ctx context.Context, c *openfeature.Client)
	}{
		{"flag=split", func(ctx context.Context, c *openfeature.Client) { c.BooleanValue(ctx, "checkout", false, user) }},
		{"flag=static", func(ctx context.Context, c *openfeature.Client) { c.StringValue(ctx, "banner", "", user) }},
	}
	for _, span := range []string{"none", "recording"} {
		for _, hook := range []string{"off", "on"} {
			var hooks []openfeature.Hook
			if hook == "on" {
				hooks = append(hooks, newHook(b))
			}
			for _, f := range flags {
				b.Run("span="+span+"/hook="+hook+"/"+f.name, func(b *testing.B) {
					c := newClient(b, hooks...)
					ctx := context.Background()
					var s trace.Span
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if span == "recording" && i%spanEvery == 0 {
							if s != nil {
								s.End()
							}
							ctx, s = tracer.Start(context.Background(), "request")
						}
						f.eval(ctx, c)
					}
					if s != nil {
						s.End()
					}
				})
			}
		}
	}
}

// BenchmarkHookInterleaved is BenchmarkHook's timing made robust on a busy
// machine: the same evaluation runs through a client without the hook and
// one with it, alternating in blocks of spanEvery calls (one span per block
// in the recording case, the same for both), on one locked OS thread. It
// reports both costs per call and their difference (added-ns/op) as that
// thread's CPU time where the OS gives it (Linux), which waiting for a busy
// machine's cores does not inflate, and as wall time (wall-added-ns/op).
// Garbage collection that runs on other threads is not in the CPU time.
func BenchmarkHookInterleaved(b *testing.B) {
	tracer := sdktrace.NewTracerProvider().Tracer("bench")
	user := openfeature.NewEvaluationContext("user-42", map[string]any{"country": "de"})
	off := newClient(b)
	on := newClient(b, newHook(b))
	for _, span := range []string{"none", "recording"} {
		b.Run("span="+span, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			block := func(c *openfeature.Client, n int) (cpu, wall int64) {
				cpu0, _ := threadCPU()
				start := time.Now()
				ctx := context.Background()
				var s trace.Span
				if span == "recording" {
					ctx, s = tracer.Start(ctx, "request")
				}
				for range n {
					c.BooleanValue(ctx, "checkout", false, user)
				}
				if s != nil {
					s.End()
				}
				cpu1, _ := threadCPU()
				return cpu1 - cpu0, int64(time.Since(start))
			}
			var cpuOff, cpuOn, wallOff, wallOn int64
			calls := 0
			for i := 0; calls < b.N; i++ {
				n := min(spanEvery, b.N-calls)
				first, second := off, on
				if i%2 == 1 {
					first, second = on, off
				}
				c1, w1 := block(first, n)
				c2, w2 := block(second, n)
				if first == on {
					c1, w1, c2, w2 = c2, w2, c1, w1
				}
				cpuOff, wallOff, cpuOn, wallOn = cpuOff+c1, wallOff+w1, cpuOn+c2, wallOn+w2
				calls += n
			}
			per := func(ns int64) float64 { return float64(ns) / float64(calls) }
			b.ReportMetric(0, "ns/op")
			if _, ok := threadCPU(); ok {
				b.ReportMetric(per(cpuOff), "hook=off-cpu-ns/op")
				b.ReportMetric(per(cpuOn), "hook=on-cpu-ns/op")
				b.ReportMetric(per(cpuOn-cpuOff), "added-cpu-ns/op")
			}
			b.ReportMetric(per(wallOn-wallOff), "wall-added-ns/op")
		})
	}
}
