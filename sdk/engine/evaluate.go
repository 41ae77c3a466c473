package engine

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"
)

// Result is the outcome of one evaluation.
type Result struct {
	FlagKey      string
	Value        any // bool, string, int64, float64 or map[string]any; nil on error
	Variant      string
	Reason       Reason
	ErrorCode    ErrorCode
	ErrorMessage string
}

const flagNotFound = "flag not found"

// Evaluate evaluates a flag for a flattened context (attribute → value, the
// targeting key under TargetingKey). want is the type the caller expects;
// "" accepts any type. Evaluate never panics and does not allocate on the
// common paths.
func (s *Snapshot) Evaluate(flagKey string, want FlagType, ctx map[string]any) Result {
	var f *flag
	if s != nil {
		if i, ok := s.flags[flagKey]; ok {
			f = s.ordered.at(i)
		}
	}
	if f == nil {
		return Result{FlagKey: flagKey, Reason: ReasonError, ErrorCode: ErrorFlagNotFound, ErrorMessage: flagNotFound}
	}
	if want != "" && want != f.typ {
		return f.wrongType
	}
	r, _ := f.evaluate(ctx)
	return *r
}

// Find returns the position of a flag in Keys(), or -1 when the snapshot
// has no such flag (or it is archived). With EvaluateAt it lets a caller
// that keeps data per flag (the SDK's usage counters) look the key up once
// per evaluation instead of once in the engine and once in its own map.
func (s *Snapshot) Find(flagKey string) int {
	if s == nil {
		return -1
	}
	if i, ok := s.flags[flagKey]; ok {
		return i
	}
	return -1
}

// EvaluateAt is Evaluate for the flag at position i of Keys() (from Find).
// It returns a result held by the snapshot, which the caller must not
// modify, so that nothing is copied; variant is the position of the served
// variant in Variants(i), -1 when the result is an error. It panics when i
// is out of range.
func (s *Snapshot) EvaluateAt(i int, want FlagType, ctx map[string]any) (r *Result, variant int) {
	f := s.ordered.at(i)
	if want != "" && want != f.typ {
		return &f.wrongType, -1
	}
	return f.evaluate(ctx)
}

// Variants returns the variant keys of the flag at position i of Keys(),
// in the order EvaluateAt's variant index refers to.
func (s *Snapshot) Variants(i int) []string {
	vs := s.ordered.at(i).variants
	keys := make([]string, len(vs))
	for j := range vs {
		keys[j] = vs[j].key
	}
	return keys
}

// Guarded reports whether the flag at position i of Keys() is guarded
// (Config.Guarded): its tracked events are attributed to its variants.
func (s *Snapshot) Guarded(i int) bool { return s.ordered.at(i).guarded }

// GuardedPositions returns the positions in Keys() of the guarded flags,
// in order, without looking at the others. The caller must not modify it.
func (s *Snapshot) GuardedPositions() []int {
	if s == nil {
		return nil
	}
	return s.guarded
}

// Len returns the number of flags in Keys().
func (s *Snapshot) Len() int {
	if s == nil {
		return 0
	}
	return s.ordered.len()
}

// Key returns the key of the flag at position i of Keys().
func (s *Snapshot) Key(i int) string { return s.ordered.at(i).key }

// Inputs returns the names of the context attributes that evaluating the
// flag at position i of Keys() may read: the attributes of its rules'
// conditions and of the segments they refer to, the bucketing attributes
// of its splits, and TargetingKey when a segment's include or exclude list
// is consulted. Sorted, without duplicates. A context that holds only these
// attributes is served the same variant as the full context, so a caller
// may build a small context for a flag (the SDK does, to attribute tracked
// events without copying the whole context).
func (s *Snapshot) Inputs(i int) []string {
	f := s.ordered.at(i)
	var names []string
	addServe := func(sv *serve) {
		if sv.split != nil {
			names = append(names, sv.split.bucketBy)
		}
	}
	var addConds func(cs []cond)
	addConds = func(cs []cond) {
		for j := range cs {
			c := &cs[j]
			if c.op == opInSegment || c.op == opNotInSegment {
				for _, sg := range c.segs {
					names = append(names, TargetingKey)
					addConds(sg.conds)
				}
				continue
			}
			names = append(names, c.attr)
		}
	}
	if f.enabled {
		for j := range f.rules {
			addConds(f.rules[j].conds)
			addServe(&f.rules[j].serve)
		}
		addServe(&f.def)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// EvaluateAll evaluates every non-archived flag, in key order.
func (s *Snapshot) EvaluateAll(ctx map[string]any) []Result {
	if s == nil {
		return nil
	}
	out := make([]Result, s.ordered.len())
	for i, f := range s.ordered.all() {
		r, _ := f.evaluate(ctx)
		out[i] = *r
	}
	return out
}

// evaluate returns one of the flag's precomputed results and the index of
// the variant it serves (-1 for an error).
func (f *flag) evaluate(ctx map[string]any) (*Result, int) {
	if !f.enabled {
		return &f.offResult, f.off
	}
	for i := range f.rules {
		r := &f.rules[i]
		if allHold(r.conds, ctx) {
			return r.serve.result(f.key, ctx)
		}
	}
	return f.def.result(f.key, ctx)
}

func (sv *serve) result(flagKey string, ctx map[string]any) (*Result, int) {
	sp := sv.split
	if sp == nil {
		return &sv.res, sv.variant
	}
	bv, found := ctx[sp.bucketBy]
	if !found && sp.dotted {
		bv, _ = lookupNested(ctx, sp.bucketBy)
	}
	h, ok := sp.key.bucketHash(bv)
	if !ok {
		return &sp.failed, -1
	}
	k := sp.pick(h)
	return &sp.results[k], sp.variants[k]
}

// pick walks the weights in order with cumulative sums and returns the
// index of the weight the hash falls in.
func (sp *split) pick(h uint32) int {
	b := bucketOf(h, sp.total)
	for i, c := range sp.cum {
		if b < c {
			return i
		}
	}
	return len(sp.cum) - 1 // unreachable: b < total
}

func allHold(conds []cond, ctx map[string]any) bool {
	for i := range conds {
		if !conds[i].holds(ctx) {
			return false
		}
	}
	return true
}

func (sg *segment) contains(ctx map[string]any) bool {
	if key, ok := ctx[TargetingKey].(string); ok {
		if _, out := sg.excluded[key]; out {
			return false
		}
		if _, in := sg.included[key]; in {
			return true
		}
	}
	if len(sg.conds) == 0 {
		return false
	}
	if !sg.any {
		return allHold(sg.conds, ctx)
	}
	for i := range sg.conds {
		if sg.conds[i].holds(ctx) {
			return true
		}
	}
	return false
}

// holds evaluates a condition. A missing (or nil) attribute makes every
// operator false except not_exists; a value of the wrong type makes it false.
func (c *cond) holds(ctx map[string]any) bool {
	switch c.op {
	case opInSegment:
		for _, sg := range c.segs {
			if sg.contains(ctx) {
				return true
			}
		}
		return false
	case opNotInSegment:
		for _, sg := range c.segs {
			if sg.contains(ctx) {
				return false
			}
		}
		return true
	}
	v, ok := ctx[c.attr]
	if !ok && c.dotted {
		v, ok = lookupNested(ctx, c.attr)
	}
	if !ok || v == nil {
		return c.op == opNotExists
	}
	switch c.op {
	case opExists:
		return true
	case opNotExists:
		return false
	case opIn, opNotIn:
		found, comparable := c.in(v)
		return comparable && found == (c.op == opIn)
	case opContains, opStartsWith, opEndsWith:
		s, ok := v.(string)
		return ok && c.stringOp(s)
	case opMatches:
		s, ok := v.(string)
		if !ok {
			return false
		}
		for _, re := range c.res {
			if re.MatchString(s) {
				return true
			}
		}
		return false
	case opLT, opLTE, opGT, opGTE:
		return c.compareNumber(v)
	case opSemverEQ, opSemverLT, opSemverLTE, opSemverGT, opSemverGTE:
		return c.compareSemver(v)
	case opBefore, opAfter:
		return c.compareTime(v)
	}
	return false
}

// in reports whether v equals one of the values; comparable is false for
// types in/not_in do not compare (maps, slices, non-finite numbers...).
func (c *cond) in(v any) (found, comparable bool) {
	switch x := v.(type) {
	case string:
		if c.set != nil {
			_, found = c.set[x]
			return found, true
		}
		for _, s := range c.strs {
			if s == x {
				return true, true
			}
		}
		return false, true
	case bool:
		for i := range c.scalars {
			if sc := &c.scalars[i]; sc.isBool && sc.b == x {
				return true, true
			}
		}
		return false, true
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return c.inInt(i), true
		}
		f, err := x.Float64()
		if err != nil {
			return false, false
		}
		return c.inFloat(f)
	case float64:
		return c.inFloat(x)
	case float32:
		return c.inFloat(float64(x))
	}
	i, u, isInt, isUint := integer(v)
	switch {
	case isInt:
		return c.inInt(i), true
	case isUint && u <= math.MaxInt64:
		return c.inInt(int64(u)), true
	case isUint:
		return c.inFloat(float64(u))
	}
	return false, false
}

func (c *cond) inInt(i int64) bool {
	for k := range c.scalars {
		sc := &c.scalars[k]
		if sc.isInt && sc.i == i || !sc.isInt && sc.isNum && sc.f == float64(i) {
			return true
		}
	}
	return false
}

func (c *cond) inFloat(f float64) (found, comparable bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return false, false
	}
	for k := range c.scalars {
		if sc := &c.scalars[k]; sc.isNum && sc.f == f {
			return true, true
		}
	}
	return false, true
}

func (c *cond) stringOp(s string) bool {
	for _, v := range c.strs {
		var ok bool
		switch c.op {
		case opContains:
			ok = strings.Contains(s, v)
		case opStartsWith:
			ok = strings.HasPrefix(s, v)
		case opEndsWith:
			ok = strings.HasSuffix(s, v)
		}
		if ok {
			return true
		}
	}
	return false
}

func (c *cond) compareNumber(v any) bool {
	f, ok := toFloat(v)
	if !ok || math.IsNaN(f) {
		return false
	}
	for _, n := range c.nums {
		var ok bool
		switch c.op {
		case opLT:
			ok = f < n
		case opLTE:
			ok = f <= n
		case opGT:
			ok = f > n
		case opGTE:
			ok = f >= n
		}
		if ok {
			return true
		}
	}
	return false
}

func (c *cond) compareSemver(v any) bool {
	var sv semver
	switch t := v.(type) {
	case string:
		if !sv.parseLenient(t) {
			return false
		}
	case float64, int64, int:
		// A number is read in its shortest decimal form: 2 is 2.0.0, 1.2
		// is 1.2.0 (and 1.10, as a number, is 1.1.0: send versions as
		// strings).
		if !sv.parseNumber(t) {
			return false
		}
	default:
		return false
	}
	for i := range c.vers {
		if holdsCmp(c.op, compareSemver(&sv, &c.vers[i])) {
			return true
		}
	}
	return false
}

func holdsCmp(op opcode, cmp int) bool {
	switch op {
	case opSemverEQ:
		return cmp == 0
	case opSemverLT:
		return cmp < 0
	case opSemverLTE:
		return cmp <= 0
	case opSemverGT:
		return cmp > 0
	case opSemverGTE:
		return cmp >= 0
	}
	return false
}

func (c *cond) compareTime(v any) bool {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case string:
		var err error
		if t, err = time.Parse(time.RFC3339, x); err != nil {
			return false
		}
	default:
		return false
	}
	for _, w := range c.times {
		if c.op == opBefore && t.Before(w) || c.op == opAfter && t.After(w) {
			return true
		}
	}
	return false
}
