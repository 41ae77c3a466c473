package engine

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Snapshot is an immutable, compiled environment: every flag and segment
// parsed once, ready for allocation-free evaluation. Safe for concurrent use.
// A nil *Snapshot is an empty environment.
type Snapshot struct {
	environment string
	revision    int64
	// flags maps each non-archived flag's key to its position in ordered.
	// Snapshots made by Apply from one another share it while no flag is
	// added or removed, so a change to existing flags copies neither the map
	// nor every flag (see table).
	flags   map[string]int
	ordered table // by key
	// layout identifies the positions of flags: snapshots with equal
	// layouts have every flag at the same position (SameLayout).
	layout   uint64
	segments map[string]*segment
	// guarded lists the positions of the guarded flags, in order.
	guarded []int
}

// flag is a compiled flag: its definition and its configuration in the
// snapshot's environment.
type flag struct {
	key       string
	typ       FlagType
	enabled   bool
	guarded   bool
	variants  []variant
	off       int
	offResult Result // precomputed results: Evaluate copies them, EvaluateAt points at them
	wrongType Result // TYPE_MISMATCH result
	rules     []rule
	def       serve
	defReason Reason
	version   string // see VersionOf
}

type variant struct {
	key   string
	value any // boxed once so returning it does not allocate
}

type rule struct {
	conds []cond
	serve serve
}

// serve is a fixed variant (split == nil) or a split.
type serve struct {
	variant int
	split   *split
	res     Result // the result of a fixed variant
}

type split struct {
	bucketBy string
	dotted   bool    // bucketBy may reach into nested objects (see lookup)
	key      keyHash // the hash of the flag key, the first part of every bucket hash
	total    uint64
	cum      []uint64 // cumulative weights
	variants []int    // variant index per weight
	missing  string   // TARGETING_KEY_MISSING message
	results  []Result // SPLIT result per weight
	failed   Result   // TARGETING_KEY_MISSING result
}

// segment is a compiled segment.
type segment struct {
	included map[string]struct{}
	excluded map[string]struct{}
	any      bool
	conds    []cond
	sum      [32]byte // see segmentSum
}

// segmentLookup resolves a segment key during compilation; the *segment may
// be nil when only existence is checked.
type segmentLookup func(key string) (*segment, bool)

// Compile validates and compiles an environment's flags and segments. The
// inputs are not modified. Archived flags are left out (they evaluate to
// FLAG_NOT_FOUND) and their configuration is not checked. A definition error
// wraps a *FieldError.
func Compile(environment string, revision int64, flags []FlagState, segments []Segment) (*Snapshot, error) {
	segs := make(map[string]*segment, len(segments))
	for i, sd := range segments {
		sg, err := compileSegment(sd)
		if err != nil {
			return nil, fmt.Errorf("engine: segments[%d] %q: %w", i, sd.Key, err)
		}
		sg.sum = segmentSum(sd)
		if _, dup := segs[sd.Key]; dup {
			return nil, fmt.Errorf("engine: segments[%d]: %w", i, fieldErr("key", "duplicate segment key %q", sd.Key))
		}
		segs[sd.Key] = sg
	}
	lookup := func(key string) (*segment, bool) {
		sg, ok := segs[key]
		return sg, ok
	}
	s := &Snapshot{environment: environment, revision: revision, segments: segs}
	seen := make(map[string]bool, len(flags))
	var ordered []*flag
	for i, st := range flags {
		def := st.Flag
		def.Variants = slices.Clone(def.Variants)
		if seen[def.Key] {
			return nil, fmt.Errorf("engine: flags[%d]: %w", i, fieldErr("key", "duplicate flag key %q", def.Key))
		}
		seen[def.Key] = true
		if def.Archived {
			continue
		}
		if err := normalizeFlag(&def); err != nil {
			return nil, fmt.Errorf("engine: flag %q: %w", def.Key, err)
		}
		f, err := compileConfig(def, st.Config, lookup)
		if err != nil {
			return nil, fmt.Errorf("engine: flag %q config: %w", def.Key, err)
		}
		f.version = flagVersion(def, st.Config, lookup)
		ordered = append(ordered, f)
	}
	slices.SortFunc(ordered, byKey)
	s.index(ordered)
	return s, nil
}

// index sets ordered, sorted by key, as the snapshot's flags and maps
// every flag key to its position.
func (s *Snapshot) index(ordered []*flag) {
	s.layout = layouts.Add(1)
	s.ordered = newTable(ordered)
	s.flags = make(map[string]int, len(ordered))
	s.guarded = nil
	for i, f := range ordered {
		s.flags[f.key] = i
		if f.guarded {
			s.guarded = append(s.guarded, i)
		}
	}
}

func byKey(a, b *flag) int { return strings.Compare(a.key, b.key) }

// Apply returns a snapshot at revision that is s with the flags of changed
// added or replaced and the flags named in deleted removed, as Compile of
// the resulting set of flags with s's segments would return it. Only the
// changed flags are compiled; the others are shared with s, which is not
// modified. A change to segments needs Compile (flags refer to them). Like
// Compile it is all or nothing: on error s stays as it was and nothing is
// returned.
func (s *Snapshot) Apply(revision int64, changed []FlagState, deleted []string) (*Snapshot, error) {
	if s == nil {
		return Compile("", revision, changed, nil)
	}
	lookup := func(key string) (*segment, bool) {
		sg, ok := s.segments[key]
		return sg, ok
	}
	compiled := make([]*flag, len(changed))
	gone := make(map[string]bool, len(changed)+len(deleted))
	for _, key := range deleted {
		gone[key] = true
	}
	seen := make(map[string]bool, len(changed))
	for i, st := range changed {
		def := st.Flag
		def.Variants = slices.Clone(def.Variants)
		if seen[def.Key] {
			return nil, fmt.Errorf("engine: flags[%d]: %w", i, fieldErr("key", "duplicate flag key %q", def.Key))
		}
		seen[def.Key] = true
		gone[def.Key] = true
		if def.Archived {
			continue
		}
		if err := normalizeFlag(&def); err != nil {
			return nil, fmt.Errorf("engine: flag %q: %w", def.Key, err)
		}
		f, err := compileConfig(def, st.Config, lookup)
		if err != nil {
			return nil, fmt.Errorf("engine: flag %q config: %w", def.Key, err)
		}
		f.version = flagVersion(def, st.Config, lookup)
		compiled[i] = f
	}
	if n := s.replaced(revision, compiled, deleted); n != nil {
		return n, nil
	}
	n := &Snapshot{environment: s.environment, revision: revision, segments: s.segments}
	ordered := make([]*flag, 0, s.ordered.len()+len(changed))
	for _, f := range s.ordered.all() {
		if !gone[f.key] {
			ordered = append(ordered, f)
		}
	}
	added := false
	for _, f := range compiled {
		if f != nil {
			ordered = append(ordered, f)
			added = true
		}
	}
	if added {
		slices.SortFunc(ordered, byKey)
	}
	n.index(ordered)
	return n, nil
}

// replaced is Apply's common case: every changed flag exists in s and
// stays (no addition, archive or deletion), so positions do not move and
// the index is shared. It returns nil when the case does not hold.
func (s *Snapshot) replaced(revision int64, compiled []*flag, deleted []string) *Snapshot {
	if len(deleted) > 0 {
		return nil
	}
	for _, f := range compiled {
		if f == nil {
			return nil // archived: removed
		}
		if _, ok := s.flags[f.key]; !ok {
			return nil
		}
	}
	repl := make(map[int]*flag, len(compiled))
	for _, f := range compiled {
		repl[s.flags[f.key]] = f
	}
	var guarded []int
	for _, i := range s.guarded {
		if repl[i] == nil {
			guarded = append(guarded, i)
		}
	}
	for i, f := range repl {
		if f.guarded {
			guarded = append(guarded, i)
		}
	}
	slices.Sort(guarded)
	return &Snapshot{environment: s.environment, revision: revision, segments: s.segments,
		flags: s.flags, ordered: s.ordered.with(repl), layout: s.layout, guarded: guarded}
}

// layouts numbers the layouts of flags that snapshots are built with.
var layouts atomic.Uint64

// SameLayout reports whether s and o have every flag at the same position
// of Keys() (o was made from s by Apply replacing flags, or the reverse), so
// that data a caller keeps by position carries over but for the changed
// flags.
func (s *Snapshot) SameLayout(o *Snapshot) bool {
	return s != nil && o != nil && s.layout == o.layout
}

// Environment returns the environment the snapshot was compiled for.
func (s *Snapshot) Environment() string {
	if s == nil {
		return ""
	}
	return s.environment
}

// Revision returns the revision the snapshot was compiled at.
func (s *Snapshot) Revision() int64 {
	if s == nil {
		return 0
	}
	return s.revision
}

// Keys returns the keys of all flags (archived ones excluded), sorted.
func (s *Snapshot) Keys() []string {
	if s == nil {
		return nil
	}
	keys := make([]string, s.ordered.len())
	for i, f := range s.ordered.all() {
		keys[i] = f.key
	}
	return keys
}

// compileConfig checks c against the (normalised) definition f and compiles
// both. A boolean flag without variants gets the implicit on/off variants.
func compileConfig(f Flag, c Config, segs segmentLookup) (*flag, *FieldError) {
	variants := f.Variants
	if len(variants) == 0 && f.Type == TypeBoolean {
		variants = []Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}
	}
	cf := &flag{
		key:      f.Key,
		typ:      f.Type,
		enabled:  c.Enabled,
		guarded:  c.Guarded,
		variants: make([]variant, len(variants)),
	}
	index := make(map[string]int, len(variants))
	for i, v := range variants {
		cf.variants[i] = variant{key: v.Key, value: v.Value}
		index[v.Key] = i
	}
	if c.OffVariant == "" {
		return nil, fieldErr("offVariant", "required: the variant served while the flag is disabled")
	}
	off, ok := index[c.OffVariant]
	if !ok {
		return nil, fieldErr("offVariant", "unknown variant %q", c.OffVariant)
	}
	cf.off = off
	cf.rules = make([]rule, len(c.Rules))
	for i, r := range c.Rules {
		path := fmt.Sprintf("rules[%d]", i)
		conds, err := compileConds(path+".conditions", r.Conditions, segs)
		if err != nil {
			return nil, err
		}
		sv, err := compileServe(path+".serve", f.Key, r.Serve, index)
		if err != nil {
			return nil, err
		}
		cf.rules[i] = rule{conds: conds, serve: sv}
	}
	def, err := compileServe("default", f.Key, c.Default, index)
	if err != nil {
		return nil, err
	}
	cf.def = def
	switch {
	case def.split != nil:
		cf.defReason = ReasonSplit
	case len(c.Rules) == 0:
		cf.defReason = ReasonStatic
	default:
		cf.defReason = ReasonDefault
	}
	cf.offResult = cf.result(cf.off, ReasonDisabled)
	cf.wrongType = Result{FlagKey: cf.key, Reason: ReasonError, ErrorCode: ErrorTypeMismatch, ErrorMessage: fmt.Sprintf("flag %q is of type %s", f.Key, f.Type)}
	for i := range cf.rules {
		cf.precompute(&cf.rules[i].serve, ReasonTargetingMatch)
	}
	cf.precompute(&cf.def, cf.defReason)
	return cf, nil
}

func (f *flag) result(variant int, reason Reason) Result {
	v := &f.variants[variant]
	return Result{FlagKey: f.key, Value: v.value, Variant: v.key, Reason: reason}
}

// precompute fills in the results a serve can return, so that evaluation
// only copies them.
func (f *flag) precompute(sv *serve, reason Reason) {
	sp := sv.split
	if sp == nil {
		sv.res = f.result(sv.variant, reason)
		return
	}
	sp.results = make([]Result, len(sp.variants))
	for i, v := range sp.variants {
		sp.results[i] = f.result(v, ReasonSplit)
	}
	sp.failed = Result{FlagKey: f.key, Reason: ReasonError, ErrorCode: ErrorTargetingKeyMissing, ErrorMessage: sp.missing}
}

func compileServe(path, flagKey string, s Serve, index map[string]int) (serve, *FieldError) {
	switch {
	case s.Variant != "" && s.Split != nil:
		return serve{}, fieldErr(path, "set either variant or split, not both")
	case s.Variant == "" && s.Split == nil:
		return serve{}, fieldErr(path, "a variant or a split is required")
	case s.Split == nil:
		i, ok := index[s.Variant]
		if !ok {
			return serve{}, fieldErr(path+".variant", "unknown variant %q", s.Variant)
		}
		return serve{variant: i}, nil
	}
	path += ".split"
	ws := s.Split.Weights
	if len(ws) == 0 {
		return serve{}, fieldErr(path+".weights", "at least one weight is required")
	}
	sp := &split{bucketBy: s.Split.BucketBy, key: newKeyHash(flagKey), cum: make([]uint64, len(ws)), variants: make([]int, len(ws))}
	if sp.bucketBy == "" {
		sp.bucketBy = TargetingKey
	}
	sp.dotted = dotted(sp.bucketBy)
	seen := make(map[string]bool, len(ws))
	for i, w := range ws {
		wp := fmt.Sprintf("%s.weights[%d]", path, i)
		idx, ok := index[w.Variant]
		if !ok {
			return serve{}, fieldErr(wp+".variant", "unknown variant %q", w.Variant)
		}
		if seen[w.Variant] {
			return serve{}, fieldErr(wp+".variant", "variant %q appears twice", w.Variant)
		}
		seen[w.Variant] = true
		if w.Weight < 0 {
			return serve{}, fieldErr(wp+".weight", "must not be negative, got %d", w.Weight)
		}
		if uint64(w.Weight) > math.MaxInt32-sp.total {
			return serve{}, fieldErr(path+".weights", "weights must sum to at most %d", math.MaxInt32)
		}
		sp.total += uint64(w.Weight)
		sp.cum[i] = sp.total
		sp.variants[i] = idx
	}
	if sp.total == 0 {
		return serve{}, fieldErr(path+".weights", "weights must sum to more than 0")
	}
	sp.missing = fmt.Sprintf("flag %q splits on attribute %q, which is missing or not a string, number or boolean", flagKey, sp.bucketBy)
	return serve{variant: -1, split: sp}, nil
}

func compileSegment(s Segment) (*segment, *FieldError) {
	if !validKey(s.Key, false) {
		return nil, fieldErr("key", "%q does not match %s", s.Key, keyPattern)
	}
	sg := &segment{}
	switch s.Match {
	case "", MatchAll:
	case MatchAny:
		sg.any = true
	default:
		return nil, fieldErr("match", "unknown match %q (want all or any)", s.Match)
	}
	var err *FieldError
	if sg.conds, err = compileConds("conditions", s.Conditions, nil); err != nil {
		return nil, err
	}
	if sg.included, err = keySet("included", s.Included); err != nil {
		return nil, err
	}
	if sg.excluded, err = keySet("excluded", s.Excluded); err != nil {
		return nil, err
	}
	return sg, nil
}

func keySet(path string, keys []string) (map[string]struct{}, *FieldError) {
	set := make(map[string]struct{}, len(keys))
	for i, k := range keys {
		if k == "" {
			return nil, fieldErr(fmt.Sprintf("%s[%d]", path, i), "empty targeting key")
		}
		set[k] = struct{}{}
	}
	return set, nil
}

// opcode is an operator resolved at compile time.
type opcode uint8

const (
	opIn opcode = iota + 1
	opNotIn
	opContains
	opStartsWith
	opEndsWith
	opMatches
	opLT
	opLTE
	opGT
	opGTE
	opSemverEQ
	opSemverLT
	opSemverLTE
	opSemverGT
	opSemverGTE
	opBefore
	opAfter
	opExists
	opNotExists
	opInSegment
	opNotInSegment
)

var opcodes = map[Operator]opcode{
	OpIn: opIn, OpNotIn: opNotIn, OpContains: opContains, OpStartsWith: opStartsWith,
	OpEndsWith: opEndsWith, OpMatches: opMatches, OpLT: opLT, OpLTE: opLTE, OpGT: opGT,
	OpGTE: opGTE, OpSemverEQ: opSemverEQ, OpSemverLT: opSemverLT, OpSemverLTE: opSemverLTE,
	OpSemverGT: opSemverGT, OpSemverGTE: opSemverGTE, OpBefore: opBefore, OpAfter: opAfter,
	OpExists: opExists, OpNotExists: opNotExists, OpInSegment: opInSegment,
	OpNotInSegment: opNotInSegment,
}

// cond is a compiled condition; only the slice its operator uses is set.
type cond struct {
	attr    string
	dotted  bool // attr may reach into nested objects (see lookup)
	op      opcode
	strs    []string            // contains, starts_with, ends_with; in, not_in (compact scan)
	set     map[string]struct{} // in, not_in with many values
	scalars []scalar            // in, not_in
	nums    []float64
	vers    []semver
	times   []time.Time
	res     []*regexp.Regexp
	segs    []*segment
}

// scalar is an in/not_in value with its numeric and boolean readings.
type scalar struct {
	s      string
	f      float64
	i      int64
	isNum  bool
	isInt  bool
	b      bool
	isBool bool
}

// setThreshold is the number of in/not_in values above which string
// attributes are looked up in a map instead of scanned.
const setThreshold = 8

func compileConds(path string, cs []Condition, segs segmentLookup) ([]cond, *FieldError) {
	out := make([]cond, len(cs))
	for i, c := range cs {
		cc, err := compileCond(fmt.Sprintf("%s[%d]", path, i), c, segs)
		if err != nil {
			return nil, err
		}
		out[i] = cc
	}
	return out, nil
}

// compileCond checks and compiles a condition; segs is nil where segment
// operators are not allowed (inside segments).
func compileCond(path string, c Condition, segs segmentLookup) (cond, *FieldError) {
	op, ok := opcodes[c.Operator]
	if !ok {
		return cond{}, fieldErr(path+".operator", "unknown operator %q", c.Operator)
	}
	cc := cond{attr: c.Attribute, dotted: dotted(c.Attribute), op: op}
	valuePath := func(i int) string { return fmt.Sprintf("%s.values[%d]", path, i) }
	switch op {
	case opInSegment, opNotInSegment:
		if segs == nil {
			return cond{}, fieldErr(path+".operator", "%s cannot be used inside a segment", c.Operator)
		}
		if len(c.Values) == 0 {
			return cond{}, fieldErr(path+".values", "at least one segment key is required")
		}
		for i, k := range c.Values {
			if !validKey(k, false) {
				return cond{}, fieldErr(valuePath(i), "%q is not a valid segment key", k)
			}
			sg, ok := segs(k)
			if !ok {
				return cond{}, fieldErr(valuePath(i), "unknown segment %q", k)
			}
			cc.segs = append(cc.segs, sg)
		}
		return cc, nil
	}
	if c.Attribute == "" {
		return cond{}, fieldErr(path+".attribute", "required for operator %s", c.Operator)
	}
	if op == opExists || op == opNotExists {
		if len(c.Values) > 0 {
			return cond{}, fieldErr(path+".values", "must be empty for operator %s", c.Operator)
		}
		return cc, nil
	}
	if len(c.Values) == 0 {
		return cond{}, fieldErr(path+".values", "at least one value is required for operator %s", c.Operator)
	}
	for i, v := range c.Values {
		switch op {
		case opIn, opNotIn:
			cc.scalars = append(cc.scalars, newScalar(v))
			cc.strs = append(cc.strs, v) // scanned for string attributes
		case opContains, opStartsWith, opEndsWith:
			cc.strs = append(cc.strs, v)
		case opMatches:
			re, err := regexp.Compile(v)
			if err != nil {
				return cond{}, fieldErr(valuePath(i), "invalid RE2 pattern: %v", err)
			}
			cc.res = append(cc.res, re)
		case opLT, opLTE, opGT, opGTE:
			f, ok := parseNumber(v)
			if !ok {
				return cond{}, fieldErr(valuePath(i), "%q is not a number", v)
			}
			cc.nums = append(cc.nums, f)
		case opSemverEQ, opSemverLT, opSemverLTE, opSemverGT, opSemverGTE:
			sv, ok := parseSemver(v)
			if !ok {
				return cond{}, fieldErr(valuePath(i), "%q is not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD])", v)
			}
			cc.vers = append(cc.vers, sv)
		case opBefore, opAfter:
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return cond{}, fieldErr(valuePath(i), "%q is not an RFC 3339 time", v)
			}
			cc.times = append(cc.times, t)
		}
	}
	if (op == opIn || op == opNotIn) && len(c.Values) > setThreshold {
		cc.set = make(map[string]struct{}, len(c.Values))
		for _, v := range c.Values {
			cc.set[v] = struct{}{}
		}
	}
	return cc, nil
}

func newScalar(v string) scalar {
	sc := scalar{s: v}
	if i, err := strconv.ParseInt(v, 10, 64); err == nil {
		sc.i, sc.isInt = i, true
	}
	if f, ok := parseNumber(v); ok {
		sc.f, sc.isNum = f, true
	}
	switch v {
	case "true":
		sc.b, sc.isBool = true, true
	case "false":
		sc.isBool = true
	}
	return sc
}

// parseNumber parses a finite decimal number (no hexadecimal, no
// underscores, no NaN or infinities).
func parseNumber(s string) (float64, bool) {
	if strings.ContainsAny(s, "xX_") {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}
