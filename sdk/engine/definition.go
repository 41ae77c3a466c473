package engine

// FlagType is the type of every variant value of a flag.
type FlagType string

// The flag types.
const (
	TypeBoolean FlagType = "boolean"
	TypeString  FlagType = "string"
	TypeInteger FlagType = "integer"
	TypeFloat   FlagType = "float"
	TypeObject  FlagType = "object"
)

// Flag is the definition of a flag, shared by every environment.
type Flag struct {
	Key         string    `json:"key"`
	Name        string    `json:"name,omitempty"`
	Description string    `json:"description,omitempty"`
	Tags        []string  `json:"tags,omitempty"`
	Owner       string    `json:"owner,omitempty"`
	Type        FlagType  `json:"type"`
	Variants    []Variant `json:"variants"`
	Temporary   bool      `json:"temporary,omitempty"`
	Archived    bool      `json:"archived,omitempty"`
}

// Variant is one named value a flag can serve. Value holds a bool, string,
// int64, float64 or map[string]any according to the flag's type (JSON numbers
// decoded as float64 are accepted and normalised by ValidateFlag).
type Variant struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// Config is a flag's configuration in one environment.
type Config struct {
	// Enabled is the kill switch; while false the OffVariant is served.
	Enabled    bool   `json:"enabled"`
	OffVariant string `json:"offVariant"`
	// Rules are tried in order; the first whose conditions all hold serves.
	Rules []Rule `json:"rules,omitempty"`
	// Default is served when no rule holds.
	Default Serve `json:"default"`
	// Guarded marks the flag as watched: SDKs attribute every tracked event
	// to the variant this flag serves the event's context, and report those
	// counts (and the flag's exposures per variant) as signals. A running
	// release plan sets it; a user may set it too. It does not change what
	// is served.
	Guarded bool `json:"guarded,omitempty"`
}

// Rule serves when all its conditions hold.
type Rule struct {
	// ID identifies the rule across reorderings (optional, free text).
	ID          string      `json:"id,omitempty"`
	Description string      `json:"description,omitempty"`
	Conditions  []Condition `json:"conditions,omitempty"`
	Serve       Serve       `json:"serve"`
}

// Serve is either a single Variant or a Split; exactly one is set.
type Serve struct {
	Variant string `json:"variant,omitempty"`
	Split   *Split `json:"split,omitempty"`
}

// Split distributes contexts over variants by weight, bucketing on an
// attribute (the targeting key by default).
type Split struct {
	// BucketBy is the attribute hashed for bucketing; empty means the
	// targeting key.
	BucketBy string   `json:"bucketBy,omitempty"`
	Weights  []Weight `json:"weights"`
}

// Weight is one variant's integer share of a Split.
type Weight struct {
	Variant string `json:"variant"`
	Weight  int    `json:"weight"`
}

// Operator is a condition operator.
type Operator string

// The condition operators.
const (
	OpIn           Operator = "in"
	OpNotIn        Operator = "not_in"
	OpContains     Operator = "contains"
	OpStartsWith   Operator = "starts_with"
	OpEndsWith     Operator = "ends_with"
	OpMatches      Operator = "matches"
	OpLT           Operator = "lt"
	OpLTE          Operator = "lte"
	OpGT           Operator = "gt"
	OpGTE          Operator = "gte"
	OpSemverEQ     Operator = "semver_eq"
	OpSemverLT     Operator = "semver_lt"
	OpSemverLTE    Operator = "semver_lte"
	OpSemverGT     Operator = "semver_gt"
	OpSemverGTE    Operator = "semver_gte"
	OpBefore       Operator = "before"
	OpAfter        Operator = "after"
	OpExists       Operator = "exists"
	OpNotExists    Operator = "not_exists"
	OpInSegment    Operator = "in_segment"
	OpNotInSegment Operator = "not_in_segment"
)

// Condition tests one context attribute. Values are written as strings and
// parsed once at compile time according to the operator (numbers, semantic
// versions, RFC 3339 times, RE2 patterns, segment keys). For in_segment and
// not_in_segment the Attribute is ignored and Values name segments.
type Condition struct {
	Attribute string   `json:"attribute,omitempty"`
	Operator  Operator `json:"operator"`
	Values    []string `json:"values,omitempty"`
}

// Match says how a segment combines its conditions.
type Match string

// Segment matching modes.
const (
	MatchAll Match = "all"
	MatchAny Match = "any"
)

// Segment is a reusable, named set of contexts: explicit excludes win, then
// explicit includes, then the conditions (all or any of them; a segment with
// no conditions matches only its includes).
type Segment struct {
	Key         string      `json:"key"`
	Name        string      `json:"name,omitempty"`
	Description string      `json:"description,omitempty"`
	Match       Match       `json:"match,omitempty"` // empty means all
	Conditions  []Condition `json:"conditions,omitempty"`
	Included    []string    `json:"included,omitempty"`
	Excluded    []string    `json:"excluded,omitempty"`
}

// FlagState is a flag together with its configuration in one environment,
// the unit a Snapshot is compiled from.
type FlagState struct {
	Flag   Flag   `json:"flag"`
	Config Config `json:"config"`
}

// Reason says why a value was served.
type Reason string

// Evaluation reasons (OpenFeature spelling).
const (
	ReasonStatic         Reason = "STATIC"
	ReasonDefault        Reason = "DEFAULT"
	ReasonTargetingMatch Reason = "TARGETING_MATCH"
	ReasonSplit          Reason = "SPLIT"
	ReasonDisabled       Reason = "DISABLED"
	ReasonError          Reason = "ERROR"
)

// ErrorCode classifies an evaluation error (OpenFeature spelling).
type ErrorCode string

// Evaluation error codes.
const (
	ErrorNone                ErrorCode = ""
	ErrorFlagNotFound        ErrorCode = "FLAG_NOT_FOUND"
	ErrorTypeMismatch        ErrorCode = "TYPE_MISMATCH"
	ErrorTargetingKeyMissing ErrorCode = "TARGETING_KEY_MISSING"
	ErrorParse               ErrorCode = "PARSE_ERROR"
	ErrorGeneral             ErrorCode = "GENERAL"
)

// TargetingKey is the context attribute that holds the targeting key, as in
// OpenFeature's flattened evaluation context.
const TargetingKey = "targetingKey"
