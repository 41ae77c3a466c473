package engine

import (
	"encoding/json"
	"fmt"
)

// Limits on what a definition may hold. Every transport reaches them through
// ValidateFlag, ValidateConfig and ValidateSegment, so gRPC, HTTP, the CLI and
// the UI refuse the same input with the same field named. They are not checked
// when compiling a snapshot: an SDK never refuses what a server stored.
//
// Why these values: a flag's definition travels to every SDK in every
// snapshot and is compiled into every process, so it must stay small next to
// the 4 MiB a gRPC message may carry by default and the 1 MiB an HTTP request
// may carry; a large object variant belongs in a configuration service, not
// in a flag. Rules, conditions and values are evaluated per call, so their
// counts bound the evaluation cost; segment key lists are hashed once per
// snapshot and bound its memory.
const (
	MaxNameBytes        = 256       // flag and segment name
	MaxDescriptionBytes = 16 << 10  // flag and segment description
	MaxTags             = 32        // tags per flag
	MaxTagBytes         = 64        // bytes per tag
	MaxOwnerBytes       = 256       // flag owner
	MaxVariants         = 100       // variants per flag
	MaxValueBytes       = 64 << 10  // one variant value, as JSON
	MaxDefinitionBytes  = 256 << 10 // a whole flag definition, as JSON
	MaxValueDepth       = 32        // nesting of objects and arrays in a value
	MaxRules            = 200       // rules per configuration
	MaxConditions       = 50        // conditions per rule or segment
	MaxConditionValues  = 1000      // values per condition
	MaxSegmentKeys      = 10000     // included, and excluded, targeting keys per segment

	// MaxSafeInteger bounds an integer variant's magnitude: 2^53-1, the
	// largest integer a JSON number (and the wire's protobuf Value, a double)
	// carries exactly. 9007199254740993 would arrive as 2^53 and be served
	// as a different number than the one asked for.
	MaxSafeInteger = 1<<53 - 1
)

// checkFlagLimits refuses a definition over the limits.
func checkFlagLimits(f *Flag) *FieldError {
	switch {
	case len(f.Name) > MaxNameBytes:
		return tooLong("name", len(f.Name), MaxNameBytes)
	case len(f.Description) > MaxDescriptionBytes:
		return tooLong("description", len(f.Description), MaxDescriptionBytes)
	case len(f.Owner) > MaxOwnerBytes:
		return tooLong("owner", len(f.Owner), MaxOwnerBytes)
	case len(f.Tags) > MaxTags:
		return fieldErr("tags", "at most %d tags, got %d", MaxTags, len(f.Tags))
	case len(f.Variants) > MaxVariants:
		return fieldErr("variants", "at most %d variants, got %d", MaxVariants, len(f.Variants))
	}
	for i, t := range f.Tags {
		if len(t) > MaxTagBytes {
			return tooLong(fmt.Sprintf("tags[%d]", i), len(t), MaxTagBytes)
		}
	}
	for i, v := range f.Variants {
		field := fmt.Sprintf("variants[%d].value", i)
		if n, ok := v.Value.(int64); ok && f.Type == TypeInteger && (n > MaxSafeInteger || n < -MaxSafeInteger) {
			return fieldErr(field, "%d is outside ±%d (2^53-1): larger integers are not exact as JSON numbers", n, int64(MaxSafeInteger))
		}
		if d := depth(v.Value); d > MaxValueDepth {
			return fieldErr(field, "nested %d levels deep, at most %d", d, MaxValueDepth)
		}
		b, err := json.Marshal(v.Value)
		if err != nil {
			return fieldErr(field, "not encodable as JSON: %v", err)
		}
		if len(b) > MaxValueBytes {
			return fieldErr(field, "%d bytes as JSON, at most %d", len(b), MaxValueBytes)
		}
	}
	if b, err := json.Marshal(f); err == nil && len(b) > MaxDefinitionBytes {
		return fieldErr("flag", "definition is %d bytes as JSON, at most %d", len(b), MaxDefinitionBytes)
	}
	return nil
}

// checkConfigLimits refuses a configuration over the limits.
func checkConfigLimits(c Config) *FieldError {
	if len(c.Rules) > MaxRules {
		return fieldErr("rules", "at most %d rules, got %d", MaxRules, len(c.Rules))
	}
	for i, r := range c.Rules {
		if err := checkConditionLimits(fmt.Sprintf("rules[%d].conditions", i), r.Conditions); err != nil {
			return err
		}
	}
	return nil
}

// checkSegmentLimits refuses a segment over the limits.
func checkSegmentLimits(s Segment) *FieldError {
	switch {
	case len(s.Name) > MaxNameBytes:
		return tooLong("name", len(s.Name), MaxNameBytes)
	case len(s.Description) > MaxDescriptionBytes:
		return tooLong("description", len(s.Description), MaxDescriptionBytes)
	case len(s.Included) > MaxSegmentKeys:
		return fieldErr("included", "at most %d targeting keys, got %d", MaxSegmentKeys, len(s.Included))
	case len(s.Excluded) > MaxSegmentKeys:
		return fieldErr("excluded", "at most %d targeting keys, got %d", MaxSegmentKeys, len(s.Excluded))
	}
	for i, k := range append(s.Included[:len(s.Included):len(s.Included)], s.Excluded...) {
		if len(k) > MaxNameBytes {
			field := fmt.Sprintf("included[%d]", i)
			if i >= len(s.Included) {
				field = fmt.Sprintf("excluded[%d]", i-len(s.Included))
			}
			return tooLong(field, len(k), MaxNameBytes)
		}
	}
	return checkConditionLimits("conditions", s.Conditions)
}

func checkConditionLimits(path string, conds []Condition) *FieldError {
	if len(conds) > MaxConditions {
		return fieldErr(path, "at most %d conditions, got %d", MaxConditions, len(conds))
	}
	for i, c := range conds {
		if len(c.Values) > MaxConditionValues {
			return fieldErr(fmt.Sprintf("%s[%d].values", path, i), "at most %d values, got %d", MaxConditionValues, len(c.Values))
		}
	}
	return nil
}

func tooLong(field string, n, max int) *FieldError {
	return fieldErr(field, "%d bytes, at most %d", n, max)
}

// depth is how deeply objects and arrays nest in v (0 for a scalar). It
// stops counting past MaxValueDepth+1, so a hostile value costs little.
func depth(v any) int {
	var walk func(v any, d int) int
	walk = func(v any, d int) int {
		if d > MaxValueDepth {
			return d
		}
		deepest := d
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				deepest = max(deepest, walk(e, d+1))
			}
			if len(x) == 0 {
				deepest = d + 1
			}
		case []any:
			for _, e := range x {
				deepest = max(deepest, walk(e, d+1))
			}
			if len(x) == 0 {
				deepest = d + 1
			}
		}
		return deepest
	}
	return walk(v, 0)
}
