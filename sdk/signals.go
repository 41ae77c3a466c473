package sdk

import (
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flagpole/flagpole/sdk/engine"
	pb "github.com/flagpole/flagpole/sdk/syncpb"
)

// Signals are what guarded releases watch: for every guarded flag
// (engine.Config.Guarded), each tracked event is attributed to the variant
// the flag serves the event's context (evaluated here, in process), and
// counted per flag, variant and event name with the sum of the events'
// values and the sum of their squares (mean guards estimate the variance
// from it); next to them the flag's exposures, its evaluations per served
// variant. The counts are sent as a SignalReport on the sync stream.
//
// Memory is bounded whatever the event names: a flag keeps at most
// maxSignalEvents distinct names of at most maxSignalEventLen bytes; other
// events are counted in the report's dropped field, as are events whose
// context the flag cannot be evaluated for (a split without its bucketing
// attribute).
const (
	maxSignalEvents   = 64
	maxSignalEventLen = 128
	// maxSignalInterval is the longest time between two signal reports while
	// a guarded flag exists.
	maxSignalInterval = 5 * time.Second
	// maxPendingSignals bounds the counts kept for a later report while the
	// stream is down; beyond it they are dropped (and counted).
	maxPendingSignals = 10_000
)

// signalFlag counts the signals of one guarded flag. Its variants are the
// engine's, in the engine's order, so an evaluation's variant index needs
// no mapping.
type signalFlag struct {
	flag      string
	variants  []string
	exposures []atomic.Int64
	events    atomic.Pointer[map[string]*eventCounts] // replaced whole on insert

	mu sync.Mutex // serialises inserts into events
}

// eventCounts counts one event name per variant. sums and squares hold
// float64 bits: the sum of the values and the sum of their squares.
type eventCounts struct {
	name    string
	counts  []atomic.Int64
	sums    []atomic.Uint64
	squares []atomic.Uint64
}

func newSignalFlag(key string, variants []string) *signalFlag {
	s := &signalFlag{flag: key, variants: variants, exposures: make([]atomic.Int64, len(variants))}
	s.events.Store(&map[string]*eventCounts{})
	return s
}

// track counts one event for variant v. It reports false when the event
// could not be counted (too many names, a name too long).
func (s *signalFlag) track(name string, v int, value float64) bool {
	e := (*s.events.Load())[name]
	if e == nil {
		if e = s.insert(name); e == nil {
			return false
		}
	}
	e.counts[v].Add(1)
	if value != 0 {
		addFloat(&e.sums[v], value)
		addFloat(&e.squares[v], value*value)
	}
	return true
}

// insert adds an event name, copying the table so that readers never lock.
func (s *signalFlag) insert(name string) *eventCounts {
	if name == "" || len(name) > maxSignalEventLen {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.events.Load()
	if e := old[name]; e != nil {
		return e
	}
	if len(old) >= maxSignalEvents {
		return nil
	}
	next := make(map[string]*eventCounts, len(old)+1)
	for k, e := range old {
		next[k] = e
	}
	n := len(s.variants)
	e := &eventCounts{name: name, counts: make([]atomic.Int64, n), sums: make([]atomic.Uint64, n), squares: make([]atomic.Uint64, n)}
	next[name] = e
	s.events.Store(&next)
	return e
}

func addFloat(a *atomic.Uint64, d float64) {
	for {
		old := a.Load()
		if a.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// take moves the flag's counts into r and resets them. A count, its sum and
// its sum of squares are reset one after the other: an event tracked in
// between may be split across two reports; the totals over both stay
// exact, and a report is off by that one value at most.
func (s *signalFlag) take(r *pb.SignalReport) {
	for i := range s.exposures {
		if n := s.exposures[i].Swap(0); n > 0 {
			r.Exposures = append(r.Exposures, &pb.UsageCount{FlagKey: s.flag, Variant: s.variants[i], Count: n})
		}
	}
	events := *s.events.Load()
	names := make([]string, 0, len(events))
	for name := range events {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		e := events[name]
		for i := range e.counts {
			sq := math.Float64frombits(e.squares[i].Swap(0))
			sum := math.Float64frombits(e.sums[i].Swap(0))
			n := e.counts[i].Swap(0)
			if n > 0 || sum != 0 || sq != 0 {
				r.Counts = append(r.Counts, &pb.SignalCount{FlagKey: s.flag, Variant: s.variants[i], Event: name, Count: n, Sum: sum, SumSquares: sq})
			}
		}
	}
}

// guardSlot is a guarded flag of a state: its position in the snapshot and
// its counters.
type guardSlot struct {
	pos int
	sig *signalFlag
}

// signals owns every signalFlag handed to a state, so that counts made
// against an older state are still reported, and the counts that could not
// be sent yet.
type signals struct {
	dropped atomic.Int64

	mu      sync.Mutex
	current map[string]*signalFlag
	retired []*signalFlag
	pending *pb.SignalReport // taken but not sent
}

// forSnapshot returns the guarded flags of snap with their counters,
// reusing the counters of flags whose variants did not change, and the
// context attributes that evaluating them reads.
func (g *signals) forSnapshot(snap *engine.Snapshot) (guards []guardSlot, inputs []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var next map[string]*signalFlag
	for _, i := range snap.GuardedPositions() {
		key := snap.Key(i)
		if next == nil {
			next = make(map[string]*signalFlag)
		}
		variants := snap.Variants(i)
		s := g.current[key]
		if s == nil || !slices.Equal(s.variants, variants) {
			s = newSignalFlag(key, variants)
		}
		next[key] = s
		guards = append(guards, guardSlot{pos: i, sig: s})
		inputs = append(inputs, snap.Inputs(i)...)
	}
	for key, s := range g.current {
		if next[key] != s {
			g.retired = append(g.retired, s)
		}
	}
	g.current = next
	slices.Sort(inputs)
	return guards, slices.Compact(inputs)
}

// active reports whether there are guarded flags or counts to send.
func (g *signals) active() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.current) > 0 || len(g.retired) > 0 || g.pending != nil || g.dropped.Load() > 0
}

// take returns every count since the last take (with those that could not
// be sent before), or nil when there is none.
func (g *signals) take(start, end time.Time) *pb.SignalReport {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.pending
	g.pending = nil
	if r == nil {
		r = &pb.SignalReport{StartTime: timestamppb.New(start)}
	}
	for _, key := range slices.Sorted(maps.Keys(g.current)) {
		g.current[key].take(r)
	}
	for _, s := range g.retired {
		s.take(r)
	}
	g.retired = nil
	r.Dropped += g.dropped.Swap(0)
	if len(r.Counts) == 0 && len(r.Exposures) == 0 && r.Dropped == 0 {
		return nil
	}
	r.EndTime = timestamppb.New(end)
	return r
}

// giveBack keeps a report that could not be sent for the next one, as far
// as maxPendingSignals allows.
func (g *signals) giveBack(r *pb.SignalReport) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n := len(r.Counts) + len(r.Exposures); n > maxPendingSignals {
		var lost int64
		for _, c := range r.Counts {
			lost += c.Count
		}
		r.Counts, r.Exposures = nil, nil
		r.Dropped += lost
	}
	g.pending = r
}
