package engine

import (
	"fmt"
	"testing"
)

func BenchmarkApplyOne(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("flags=%d", n), func(b *testing.B) {
			var states []FlagState
			for i := range n {
				states = append(states, FlagState{Flag: Flag{Key: fmt.Sprintf("f-%05d", i), Type: TypeBoolean},
					Config: Config{Enabled: true, OffVariant: "off", Default: Serve{Variant: "on"}}})
			}
			snap, err := Compile("p", 1, states, nil)
			if err != nil {
				b.Fatal(err)
			}
			ch := []FlagState{states[n/2]}
			b.ResetTimer()
			for i := range b.N {
				if snap, err = snap.Apply(int64(i+2), ch, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestApplyReplaceKeepsOldSnapshot: a change to existing flags (the case
// that shares the index and copies one chunk) leaves the snapshot it was
// made from as it was, and serves the same as a full Compile.
func TestApplyReplaceKeepsOldSnapshot(t *testing.T) {
	var states []FlagState
	for i := range 300 {
		states = append(states, FlagState{Flag: Flag{Key: fmt.Sprintf("f-%03d", i), Type: TypeBoolean},
			Config: Config{Enabled: false, OffVariant: "off", Default: Serve{Variant: "on"}}})
	}
	old, err := Compile("p", 1, states, nil)
	if err != nil {
		t.Fatal(err)
	}
	changed := []FlagState{states[0], states[130], states[299]}
	for i := range changed {
		changed[i].Config.Enabled = true
	}
	next, err := old.Apply(2, changed, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		want := st.Flag.Key == "f-000" || st.Flag.Key == "f-130" || st.Flag.Key == "f-299"
		if got := next.Evaluate(st.Flag.Key, "", nil).Value; got != want {
			t.Errorf("new snapshot serves %s %v, want %v", st.Flag.Key, got, want)
		}
		if got := old.Evaluate(st.Flag.Key, "", nil).Value; got != false {
			t.Errorf("old snapshot serves %s %v after Apply, want false", st.Flag.Key, got)
		}
		if i := next.Find(st.Flag.Key); next.Keys()[i] != st.Flag.Key {
			t.Errorf("Find(%s) = %d, Keys()[%d] = %s", st.Flag.Key, i, i, next.Keys()[i])
		}
	}
}
