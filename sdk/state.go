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
	// metas holds the flag metadata of each flag by its position in
	// snap.Keys(): flagSetId, version (the flag's own, engine's VersionOf)
	// and environmentRevision, shared by every result of that flag. meta
	// is that of a flag the snapshot lacks (no version).
	metas []openfeature.FlagMetadata
	meta  openfeature.FlagMetadata
	// counts holds the evaluation counters of each flag by its position in
	// snap.Keys(), so that an evaluation finds them without a second lookup
	// by flag key.
	counts []counterSlot
}

// counterSlot is where the evaluations of one flag are counted.
type counterSlot struct {
	c *flagCounters
	// at maps the engine's variant index to the index in c.counts, -1 for a
	// variant c does not count: the engine's variants and the streamed
	// definition's need not be the same list.
	at []int
}

// newState makes the state evaluations read for a snapshot and the
// counters of its flags (by flag key).
func newState(snap *engine.Snapshot, counters map[string]*flagCounters) *state {
	keys := snap.Keys()
	env, rev := snap.Environment(), snap.Revision()
	st := &state{snap: snap, counts: make([]counterSlot, len(keys)), metas: make([]openfeature.FlagMetadata, len(keys)),
		meta: openfeature.FlagMetadata{"flagSetId": env, "environmentRevision": rev}}
	for i, key := range keys {
		st.metas[i] = openfeature.FlagMetadata{"flagSetId": env, "version": snap.FlagVersion(i), "environmentRevision": rev}
		c := counters[key]
		if c == nil {
			continue
		}
		variants := snap.Variants(i)
		at := make([]int, len(variants))
		for j, v := range variants {
			at[j] = slices.Index(c.variants, v)
		}
		st.counts[i] = counterSlot{c: c, at: at}
	}
	return st
}

// count counts one evaluation of the flag at position i that served the
// engine's variant v.
func (st *state) count(i, v int) {
	s := &st.counts[i]
	if s.c == nil || v < 0 || v >= len(s.at) {
		return
	}
	if k := s.at[v]; k >= 0 {
		s.c.counts[k].Add(1)
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

// metaAt is the flag metadata of the flag at position i, or of no flag.
func (st *state) metaAt(i int) openfeature.FlagMetadata {
	if i >= 0 && i < len(st.metas) {
		return st.metas[i]
	}
	return st.meta
}
