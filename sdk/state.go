package sdk

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk/engine"
)

// state is what evaluations read: swapped whole, never changed in place.
type state struct {
	snap *engine.Snapshot
	// meta is the flag metadata of a result for a flag the snapshot lacks:
	// flagSetId alone. A served flag's is in its counterSlot.
	meta openfeature.FlagMetadata
	// counts holds the evaluation counters of each flag by its position in
	// snap.Keys(), so that an evaluation finds them without a second lookup
	// by flag key. It is kept in chunks of slotChunk: a state made for a
	// change to some flags shares the chunks of the others (see next).
	counts [][]counterSlot
	// guards are the guarded flags, whose signals Track counts, and inputs
	// the context attributes their evaluation reads.
	guards []guardSlot
	inputs []string
}

// slotBits sets the chunk size of a state's counters: 64 flags each.
const (
	slotBits  = 6
	slotChunk = 1 << slotBits
)

// slot is where the flag at position i is counted.
func (st *state) slot(i int) *counterSlot { return &st.counts[i>>slotBits][i&(slotChunk-1)] }

// counterSlot is where the evaluations of one flag are counted, with the
// flag's metadata.
type counterSlot struct {
	// meta is the flag's metadata, shared by every result of the flag:
	// flagSetId and version, the flag's own (engine's FlagVersion), which
	// changes only when what the flag serves changes. The environment's
	// revision is not in it (it would make every flag's metadata change
	// with every change); Provider.Revision and the change events have it.
	meta openfeature.FlagMetadata
	c    *flagCounters
	// at maps the engine's variant index to the index in c.counts, -1 for a
	// variant c does not count: the engine's variants and the streamed
	// definition's need not be the same list.
	at []int
	// g counts the flag's exposures per engine variant when it is guarded.
	g *signalFlag
}

// newState makes the state evaluations read for a snapshot and the
// counters of its flags (by flag key).
func newState(snap *engine.Snapshot, counters map[string]*flagCounters, guards []guardSlot, inputs []string) *state {
	keys := snap.Keys()
	st := &state{snap: snap, meta: openfeature.FlagMetadata{"flagSetId": snap.Environment()}, counts: make([][]counterSlot, (len(keys)+slotChunk-1)/slotChunk), guards: guards, inputs: inputs}
	for c := range st.counts {
		st.counts[c] = make([]counterSlot, min(slotChunk, len(keys)-c*slotChunk))
	}
	for i, key := range keys {
		*st.slot(i) = slotFor(snap, i, counters[key])
	}
	for _, g := range guards {
		if sl := st.slot(g.pos); sl.c != nil {
			sl.g = g.sig
		}
	}
	return st
}

// next is the state for snap, made from st by a change to the flags named
// in keys (changed or deleted). When snap has st's layout (Apply replaced
// flags), only the counters of those flags are set up again and every
// other chunk of counters is shared: a change costs the same at 100 flags as
// at 10,000. Otherwise it is newState.
func (st *state) next(snap *engine.Snapshot, counters map[string]*flagCounters, keys []string, guards []guardSlot, inputs []string) *state {
	if st == nil || !snap.SameLayout(st.snap) || snap.Environment() != st.snap.Environment() {
		return newState(snap, counters, guards, inputs)
	}
	n := &state{snap: snap, meta: st.meta, counts: slices.Clone(st.counts), guards: guards, inputs: inputs}
	copied := make(map[int]bool, len(keys)+len(guards))
	own := func(i int) *counterSlot { // the slot at i, in a chunk of n's own
		if c := i >> slotBits; !copied[c] {
			n.counts[c] = slices.Clone(n.counts[c])
			copied[c] = true
		}
		return n.slot(i)
	}
	for _, key := range keys {
		if i := snap.Find(key); i >= 0 { // deleted or archived: the layout would have changed
			*own(i) = slotFor(snap, i, counters[key])
		}
	}
	// A guard's exposures go with its slot; a slot that lost its guard had
	// its flag changed, and was set up again above.
	for _, g := range guards {
		if sl := n.slot(g.pos); sl.c != nil && sl.g != g.sig {
			own(g.pos).g = g.sig
		}
	}
	return n
}

// slotFor maps the engine's variants of the flag at position i of snap to
// c's counters (none when c is nil).
func slotFor(snap *engine.Snapshot, i int, c *flagCounters) counterSlot {
	meta := openfeature.FlagMetadata{"flagSetId": snap.Environment(), "version": snap.FlagVersion(i)}
	if c == nil {
		return counterSlot{meta: meta}
	}
	variants := snap.Variants(i)
	at := make([]int, len(variants))
	for j, v := range variants {
		at[j] = slices.Index(c.variants, v)
	}
	return counterSlot{meta: meta, c: c, at: at}
}

// metaAt is the flag metadata of the flag at position i, or of no flag.
func (st *state) metaAt(i int) openfeature.FlagMetadata {
	if i >= 0 && i < st.snap.Len() {
		return st.slot(i).meta
	}
	return st.meta
}

// count counts one evaluation of the flag at position i that served the
// engine's variant v.
func (st *state) count(i, v int) {
	s := st.slot(i)
	if s.c == nil || v < 0 || v >= len(s.at) {
		return
	}
	if k := s.at[v]; k >= 0 {
		s.c.counts[k].Add(1)
	}
	if s.g != nil {
		s.g.exposures[v].Add(1)
	}
}

// flagCounters counts the evaluations of one flag per variant, without
// allocating: the variants are fixed when the state is built.
type flagCounters struct {
	flag     string
	variants []string
	counts   []atomic.Int64
}

// usage owns every flagCounters ever handed to a state, so counts made
// against an older state are still reported.
type usage struct {
	mu      sync.Mutex
	current map[string]*flagCounters
	retired []*flagCounters
}

// countersFor returns counters for the flags of flags, reusing those whose
// variants did not change.
func (u *usage) countersFor(flags map[string]*entry) map[string]*flagCounters {
	u.mu.Lock()
	defer u.mu.Unlock()
	next := make(map[string]*flagCounters, len(flags))
	for key, e := range flags {
		if c, ok := u.current[key]; ok && sameVariants(c.variants, e.def.Flag.Variants) {
			next[key] = c
			continue
		}
		next[key] = newCounters(key, e.def.Flag.Variants)
	}
	for key, c := range u.current {
		if next[key] != c {
			u.retired = append(u.retired, c)
		}
	}
	u.current = next
	return next
}

// countersUpdate is countersFor when only the flags named in keys changed
// (or were deleted): the counters of every other flag are kept as they are.
// It updates the current map in place rather than copying it: the map is
// written only by the stream goroutine (the caller), under u.mu, and read
// by others only under u.mu, so the caller may read the result unlocked.
func (u *usage) countersUpdate(flags map[string]*entry, keys []string) map[string]*flagCounters {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.current == nil {
		u.current = make(map[string]*flagCounters, len(keys))
	}
	next := u.current
	for _, key := range keys {
		c := u.current[key]
		e, ok := flags[key]
		if !ok {
			if c != nil {
				u.retired = append(u.retired, c)
				delete(next, key)
			}
			continue
		}
		if c != nil && sameVariants(c.variants, e.def.Flag.Variants) {
			continue
		}
		if c != nil {
			u.retired = append(u.retired, c)
		}
		next[key] = newCounters(key, e.def.Flag.Variants)
	}
	return next
}

// newCounters returns zeroed counters for the variants of flag key.
func newCounters(key string, variants []engine.Variant) *flagCounters {
	keys := make([]string, len(variants))
	for i, v := range variants {
		keys[i] = v.Key
	}
	return &flagCounters{flag: key, variants: keys, counts: make([]atomic.Int64, len(keys))}
}

// sameVariants reports whether keys are the keys of variants, in order.
func sameVariants(keys []string, variants []engine.Variant) bool {
	if len(keys) != len(variants) {
		return false
	}
	for i, v := range variants {
		if keys[i] != v.Key {
			return false
		}
	}
	return true
}

// usageCount is one reported count.
type usageCount struct {
	flag, variant string
	count         int64
}

// take returns and resets every non-zero count.
func (u *usage) take() []usageCount {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []usageCount
	collect := func(c *flagCounters) {
		for i := range c.counts {
			if n := c.counts[i].Swap(0); n > 0 {
				out = append(out, usageCount{flag: c.flag, variant: c.variants[i], count: n})
			}
		}
	}
	for _, c := range u.current {
		collect(c)
	}
	for _, c := range u.retired {
		collect(c)
	}
	u.retired = nil
	return out
}

// giveBack re-adds counts that could not be sent.
func (u *usage) giveBack(counts []usageCount) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, uc := range counts {
		c := u.current[uc.flag]
		if c == nil {
			c = &flagCounters{flag: uc.flag, variants: []string{uc.variant}, counts: make([]atomic.Int64, 1)}
			u.retired = append(u.retired, c)
		}
		found := false
		for i, v := range c.variants {
			if v == uc.variant {
				c.counts[i].Add(uc.count)
				found = true
				break
			}
		}
		if !found {
			r := &flagCounters{flag: uc.flag, variants: []string{uc.variant}, counts: make([]atomic.Int64, 1)}
			r.counts[0].Store(uc.count)
			u.retired = append(u.retired, r)
		}
	}
}
