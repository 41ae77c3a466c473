package sdk

import (
	"fmt"
	"testing"

	"github.com/flagpole/flagpole/sdk/engine"
)

// BenchmarkApplyChange is what an SDK instance does with one streamed
// change to one flag: the engine's Apply and the new state's counters. Its
// cost should not grow with the environment's flags.
func BenchmarkApplyChange(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("flags=%d", n), func(b *testing.B) {
			var states []engine.FlagState
			counters := map[string]*flagCounters{}
			for i := range n {
				fs := engine.FlagState{Flag: engine.Flag{Key: fmt.Sprintf("f-%05d", i), Type: engine.TypeBoolean,
					Variants: []engine.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}},
					Config: engine.Config{Enabled: true, OffVariant: "off", Default: engine.Serve{Variant: "on"}}}
				states = append(states, fs)
				counters[fs.Flag.Key] = newCounters(fs.Flag.Key, fs.Flag.Variants)
			}
			snap, err := engine.Compile("production", 1, states, nil)
			if err != nil {
				b.Fatal(err)
			}
			st := newState(snap, counters, nil, nil)
			changed := []engine.FlagState{states[n/2]}
			keys := []string{changed[0].Flag.Key}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				next, err := st.snap.Apply(int64(i+2), changed, nil)
				if err != nil {
					b.Fatal(err)
				}
				st = st.next(next, counters, keys, nil, nil)
			}
		})
	}
}
