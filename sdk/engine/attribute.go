package engine

import (
	"fmt"
	"strings"
)

// Attributes may name values nested in the context with dots: "user.name"
// is ctx["user"]["name"] when ctx["user"] is an object. A key of the
// context that is the whole name wins: with both {"user.name": "a"} and
// {"user": {"name": "b"}} in the context, "user.name" is "a". Otherwise
// the longest key that is a prefix of the name (ending at a dot) and holds
// an object is followed first, so {"user.address": {"city": "x"}} answers
// "user.address.city" too. Only objects (map[string]any, as JSON and
// OpenFeature's structures give them) are followed.

// lookupNested finds attribute name in m following dots into nested
// objects; the evaluation calls it only for a dotted name that is not a key
// of the context itself. It does not allocate.
func lookupNested(m map[string]any, name string) (any, bool) {
	for i := strings.LastIndexByte(name, '.'); i > 0; i = strings.LastIndexByte(name[:i], '.') {
		sub, ok := m[name[:i]].(map[string]any)
		if !ok {
			continue
		}
		if v, ok := sub[name[i+1:]]; ok {
			return v, true
		}
		if v, ok := lookupNested(sub, name[i+1:]); ok {
			return v, true
		}
	}
	return nil, false
}

// dotted reports whether an attribute name may reach into nested objects.
func dotted(name string) bool {
	i := strings.IndexByte(name, '.')
	return i > 0 && i < len(name)-1
}

// CheckContext applies the rule every transport shares to an evaluation
// context: the targeting key, when present, is a string (OpenFeature and
// OFREP define it so; a number would bucket differently in an SDK that
// stringifies it). The error names the field.
func CheckContext(ctx map[string]any) error {
	if tk, ok := ctx[TargetingKey]; ok && tk != nil {
		if _, isString := tk.(string); !isString {
			return fmt.Errorf("context.%s must be a string, got %s", TargetingKey, kindOf(tk))
		}
	}
	return nil
}

// kindOf names a context value's kind for messages.
func kindOf(v any) string {
	switch v.(type) {
	case float64, float32, int, int64, int32, uint, uint64, uint32:
		return "a number"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("a %T", v)
}
