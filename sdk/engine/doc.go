// Package engine is Flagpole's one evaluation engine: the flag definition
// types, their validation, compilation into an immutable Snapshot, and
// evaluation against a context. The server and the Go SDK both import it, so a
// flag evaluates the same way in-process and remotely. It depends on the
// standard library and a murmur3 hash only (a test enforces this).
//
// # Lifecycle
//
// Definitions are checked with ValidateFlag, ValidateConfig and
// ValidateSegment, which return a *FieldError naming the offending field
// ("rules[0].serve.split.weights") and the reason. Compile validates an
// environment's flags and segments again and compiles them once into a
// Snapshot: regular expressions compiled, numbers, semantic versions and
// times parsed, variant values boxed, results precomputed. Compile is all or
// nothing: one invalid flag or segment fails the whole snapshot, so callers
// keep serving their previous snapshot. Archived flags are left out without
// being checked. A Snapshot is immutable and safe for concurrent use;
// Evaluate does not allocate on the common paths (no rule or a rule with
// string, number and semver conditions, a fixed variant or a split on a
// string, boolean or number bucket value). A caller that keeps data per flag
// can use Find and EvaluateAt instead: one lookup of the key gives the
// flag's position, and EvaluateAt returns the snapshot's own precomputed
// result (not to be modified) and the position of the served variant.
//
// # Evaluation
//
// Evaluate follows the design's order: an unknown or archived flag is
// FLAG_NOT_FOUND, a flag asked for as another type is TYPE_MISMATCH (both with
// reason ERROR and a nil value); a disabled flag serves its off variant with
// reason DISABLED; otherwise the rules are tried in order and the first whose
// conditions all hold serves (TARGETING_MATCH for a variant, SPLIT for a
// split); when none holds the default serve is used (STATIC when the flag has
// no rules and the default is a fixed variant, DEFAULT otherwise, SPLIT for a
// split). Values of object flags are shared between results and must not be
// modified.
//
// # Context values
//
// The context is OpenFeature's flattened evaluation context: attribute name
// to value, the targeting key under "targetingKey". Numbers may be any Go
// integer or float type or a json.Number. A nil value is treated as a missing
// attribute. A missing attribute makes every operator false except
// not_exists (so not_in is false for a missing attribute, as in flagd and
// LaunchDarkly); a value of the wrong type makes the condition false, never an
// error. Conditions with several values hold when any value matches (not_in:
// when none does).
//
//   - in, not_in: strings compare exactly; numbers compare numerically with
//     the values that parse as numbers (integers exactly as int64); booleans
//     compare with the values "true" and "false". Other types (maps, slices,
//     ...) are the wrong type, so both in and not_in are false.
//   - contains, starts_with, ends_with, matches: the attribute must be a
//     string; matches uses RE2 syntax (Go regexp), unanchored.
//   - lt, lte, gt, gte: the attribute must be a number; values are decimal
//     numbers. Integers are compared as float64.
//   - semver_*: the attribute must be a string holding a Semantic Version
//     2.0.0 (an optional leading "v" is accepted, build metadata is ignored,
//     pre-releases order as the specification says).
//   - before, after: the attribute must be a time.Time or an RFC 3339 string.
//   - exists, not_exists: take no values.
//   - in_segment, not_in_segment: the attribute is ignored; values name
//     segments. A segment excludes the targeting keys it lists as excluded,
//     then includes the ones it lists as included, then matches all (or any)
//     of its conditions; a segment without conditions matches only its
//     includes. Segments cannot refer to segments.
//
// # Splits
//
// A split hashes the bucket attribute (the targeting key unless BucketBy says
// otherwise): h = murmur3_x86_32(seed 0, flagKey + value), bucket = h *
// totalWeight >> 32, and walks the weights in order. For string values this
// is flagd's fractional. A missing, nil or empty-string bucket attribute, or
// one that is not a string, number or boolean, gives TARGETING_KEY_MISSING.
// Booleans are hashed as "true"/"false"; numbers are hashed in the canonical
// text JavaScript's Number.prototype.toString gives (42, 42.0 and int64(42)
// all hash as "42"; 0.5 as "0.5"; 1e21 as "1e+21"), so a number decoded from
// JSON and a native Go integer land in the same bucket.
package engine
