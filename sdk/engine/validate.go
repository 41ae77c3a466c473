package engine

import (
	"encoding/json"
	"fmt"
	"math"
)

// FieldError is a validation error naming the offending field with a path
// relative to the validated value, e.g. "variants[1].value" or
// "rules[0].conditions[2].values[0]", and the reason.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// keyPattern is the pattern flag and segment keys must match.
const keyPattern = "^[a-z0-9][a-z0-9._-]{0,127}$"

// ValidKey reports whether s is a valid flag or segment key:
// ^[a-z0-9][a-z0-9._-]{0,127}$.
func ValidKey(s string) bool { return validKey(s, false) }

// validKey matches keyPattern; upper additionally allows A-Z (variant keys).
func validKey(s string, upper bool) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case upper && c >= 'A' && c <= 'Z':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// ValidateFlag checks a definition and normalises it in place: a boolean
// flag without variants gets on=true and off=false; JSON numbers become
// int64 for integer flags and float64 for float flags; object values must be
// map[string]any. Variant keys match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$.
// The definition must be within the limits (limits.go). It returns a
// *FieldError.
func ValidateFlag(f *Flag) error {
	if err := normalizeFlag(f); err != nil {
		return err
	}
	if err := checkFlagLimits(f); err != nil {
		return err
	}
	return nil
}

// normalizeFlag is ValidateFlag without the limits: what compiling a
// snapshot needs (an SDK never refuses what a server stored).
func normalizeFlag(f *Flag) error {
	if f == nil {
		return fieldErr("flag", "required")
	}
	if !validKey(f.Key, false) {
		return fieldErr("key", "%q does not match %s", f.Key, keyPattern)
	}
	switch f.Type {
	case TypeBoolean, TypeString, TypeInteger, TypeFloat, TypeObject:
	default:
		return fieldErr("type", "unknown flag type %q (want boolean, string, integer, float or object)", f.Type)
	}
	if len(f.Variants) == 0 {
		if f.Type != TypeBoolean {
			return fieldErr("variants", "a %s flag needs at least one variant", f.Type)
		}
		f.Variants = []Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}
	}
	seen := make(map[string]bool, len(f.Variants))
	for i := range f.Variants {
		v := &f.Variants[i]
		if !validKey(v.Key, true) {
			return fieldErr(fmt.Sprintf("variants[%d].key", i), "%q does not match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", v.Key)
		}
		if seen[v.Key] {
			return fieldErr(fmt.Sprintf("variants[%d].key", i), "duplicate variant key %q", v.Key)
		}
		seen[v.Key] = true
		val, reason := normalizeValue(f.Type, v.Value)
		if reason != "" {
			return fieldErr(fmt.Sprintf("variants[%d].value", i), "%s", reason)
		}
		v.Value = val
	}
	return nil
}

// normalizeValue converts a variant value to the flag type's canonical Go
// type, or returns why it cannot.
func normalizeValue(t FlagType, v any) (any, string) {
	switch t {
	case TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, ""
		}
	case TypeString:
		if s, ok := v.(string); ok {
			return s, ""
		}
	case TypeInteger:
		if i, ok := toInt64(v); ok {
			return i, ""
		}
		if _, ok := toFloat(v); ok {
			return nil, fmt.Sprintf("must be a whole number within int64, got %v", v)
		}
	case TypeFloat:
		if f, ok := toFloat(v); ok {
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Sprintf("must be a finite number, got %v", f)
			}
			return f, ""
		}
	case TypeObject:
		if m, ok := v.(map[string]any); ok && m != nil {
			return m, ""
		}
		return nil, fmt.Sprintf("must be a JSON object, got %s", describe(v))
	}
	return nil, fmt.Sprintf("must be a %s, got %s", t, describe(v))
}

// describe names a value's JSON kind (and short scalars) for messages.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprintf("boolean %v", x)
	case string:
		if len(x) > 40 {
			x = x[:40] + "..."
		}
		return fmt.Sprintf("string %q", x)
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	if f, ok := toFloat(v); ok {
		return fmt.Sprintf("number %v", f)
	}
	return fmt.Sprintf("%T", v)
}

// toInt64 converts integers, whole floats and json.Numbers within int64.
func toInt64(v any) (int64, bool) {
	if i, u, isInt, isUint := integer(v); isInt {
		return i, true
	} else if isUint {
		return int64(u), u <= math.MaxInt64
	}
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, true
		}
		f, err := x.Float64()
		if err != nil {
			return 0, false
		}
		return wholeInt64(f)
	case float64:
		return wholeInt64(x)
	case float32:
		return wholeInt64(float64(x))
	}
	return 0, false
}

func wholeInt64(f float64) (int64, bool) {
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// toFloat converts any Go number or json.Number to float64.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	if i, u, isInt, isUint := integer(v); isInt {
		return float64(i), true
	} else if isUint {
		return float64(u), true
	}
	return 0, false
}

// ValidateConfig checks a configuration against its flag's definition:
// variants exist, weights are non-negative and sum to more than 0, operators
// are known, values parse for their operator (numbers, semver, RFC 3339, RE2),
// segments exist (segmentExists may be nil to skip that check).
// It returns a *FieldError.
func ValidateConfig(f Flag, c Config, segmentExists func(key string) bool) error {
	lookup := func(key string) (*segment, bool) {
		return nil, segmentExists == nil || segmentExists(key)
	}
	if err := checkConfigLimits(c); err != nil {
		return err
	}
	if _, err := compileConfig(f, c, lookup); err != nil {
		return err
	}
	return nil
}

// ValidateSegment checks a segment definition. It returns a *FieldError.
func ValidateSegment(s Segment) error {
	if err := checkSegmentLimits(s); err != nil {
		return err
	}
	if _, err := compileSegment(s); err != nil {
		return err
	}
	return nil
}
