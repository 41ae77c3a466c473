package engine

// This file fixes the engine's API that the server and the SDK build against.
// TODO(engine): the bodies are placeholders until the engine lands.

// FieldError is a validation error naming the offending field with a path
// relative to the validated value, e.g. "variants[1].value" or
// "rules[0].conditions[2].values[0]", and the reason.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// ValidateFlag checks a definition and normalises it in place: a boolean
// flag without variants gets on=true and off=false; JSON numbers become
// int64 for integer flags; object values must be map[string]any.
// It returns a *FieldError.
func ValidateFlag(f *Flag) error { panic("engine: not implemented") }

// ValidateConfig checks a configuration against its flag's definition:
// variants exist, weights are non-negative and sum to more than 0, operators
// are known, values parse for their operator (numbers, semver, RFC 3339, RE2),
// segments exist (segmentExists may be nil to skip that check).
// It returns a *FieldError.
func ValidateConfig(f Flag, c Config, segmentExists func(key string) bool) error {
	panic("engine: not implemented")
}

// ValidateSegment checks a segment definition. It returns a *FieldError.
func ValidateSegment(s Segment) error { panic("engine: not implemented") }

// Snapshot is an immutable, compiled environment: every flag and segment
// parsed once, ready for allocation-free evaluation. Safe for concurrent use.
type Snapshot struct{}

// Compile validates and compiles an environment's flags and segments.
func Compile(environment string, revision int64, flags []FlagState, segments []Segment) (*Snapshot, error) {
	panic("engine: not implemented")
}

// Environment returns the environment the snapshot was compiled for.
func (s *Snapshot) Environment() string { panic("engine: not implemented") }

// Revision returns the revision the snapshot was compiled at.
func (s *Snapshot) Revision() int64 { panic("engine: not implemented") }

// Keys returns the keys of all flags (archived ones excluded), sorted.
func (s *Snapshot) Keys() []string { panic("engine: not implemented") }

// Result is the outcome of one evaluation.
type Result struct {
	FlagKey      string
	Value        any // bool, string, int64, float64 or map[string]any; nil on error
	Variant      string
	Reason       Reason
	ErrorCode    ErrorCode
	ErrorMessage string
}

// Evaluate evaluates a flag for a flattened context (attribute → value, the
// targeting key under TargetingKey). want is the type the caller expects;
// "" accepts any type. Evaluate never panics and does not allocate on the
// common paths.
func (s *Snapshot) Evaluate(flagKey string, want FlagType, ctx map[string]any) Result {
	panic("engine: not implemented")
}

// EvaluateAll evaluates every non-archived flag, in key order.
func (s *Snapshot) EvaluateAll(ctx map[string]any) []Result { panic("engine: not implemented") }

// Bucket returns the bucket in [0, totalWeight) of a split for a flag key and
// bucket value: murmur3_x86_32(seed 0, flagKey+value) * totalWeight >> 32,
// bit-compatible with flagd's fractional.
func Bucket(flagKey, value string, totalWeight int) int { panic("engine: not implemented") }
