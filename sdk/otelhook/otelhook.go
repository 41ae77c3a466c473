// Package otelhook records OpenFeature flag evaluations in OpenTelemetry: an
// OpenFeature hook that adds a feature_flag.evaluation event to the span
// active in the evaluation's context, with the attributes of the
// OpenTelemetry semantic conventions for feature flags (v1.44.0), and, when
// given a meter provider, counts evaluations as a metric.
//
// It is a package of its own so that a service which does not use
// OpenTelemetry links none of it: the SDK itself does not import
// OpenTelemetry.
//
//	hook, err := otelhook.New() // otelhook.WithMeterProvider(mp) to count too
//	if err != nil { ... }
//	openfeature.AddHooks(hook)
//
// The hook works with any OpenFeature provider; with Flagpole's it also
// records the flag set (the environment) and the flag's version, which the
// provider returns as flag metadata (flagSetId, version).
package otelhook

import (
	"context"
	"strconv"
	"strings"

	"github.com/open-feature/go-sdk/openfeature"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// SemconvVersion is the version of the OpenTelemetry semantic conventions
// whose feature-flag event this package records.
const SemconvVersion = "1.44.0"

// EventName is the name of the span event of each evaluation.
const EventName = "feature_flag.evaluation"

// MetricName is the name of the evaluation counter (WithMeterProvider). The
// semantic conventions define no metric for feature flags, so it carries
// Flagpole's prefix.
const MetricName = "flagpole.feature_flag.evaluations"

// ScopeName is the instrumentation scope of the meter.
const ScopeName = "github.com/flagpole/flagpole/sdk/otelhook"

// Attribute keys of the semantic conventions (feature_flag.*, error.type).
const (
	KeyFlag         = attribute.Key("feature_flag.key")
	KeyVariant      = attribute.Key("feature_flag.result.variant")
	KeyReason       = attribute.Key("feature_flag.result.reason")
	KeyProvider     = attribute.Key("feature_flag.provider.name")
	KeySetID        = attribute.Key("feature_flag.set.id")
	KeyVersion      = attribute.Key("feature_flag.version")
	KeyContextID    = attribute.Key("feature_flag.context.id")
	KeyErrorType    = attribute.Key("error.type")
	KeyErrorMessage = attribute.Key("feature_flag.error.message")
)

// Hook records evaluations. It is safe for concurrent use; register one for
// the whole process (openfeature.AddHooks) or per client.
type Hook struct {
	openfeature.UnimplementedHook
	contextID bool
	counter   metric.Int64Counter // nil: no metric
}

var _ openfeature.Hook = (*Hook)(nil)

// Option configures a Hook.
type Option interface{ apply(*Hook) error }

type optionFunc func(*Hook) error

func (f optionFunc) apply(h *Hook) error { return f(h) }

// WithMeterProvider makes the hook count every evaluation, with or without a
// span, as the Int64 counter MetricName of mp, with the attributes
// feature_flag.key, feature_flag.result.variant, feature_flag.result.reason,
// feature_flag.set.id and error.type, each when it has a value (not the
// context id nor the version: a time series per user or per change would be
// too many).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(h *Hook) error {
		c, err := mp.Meter(ScopeName).Int64Counter(MetricName,
			metric.WithDescription("Feature flag evaluations by flag, variant, reason, flag set and error type."),
			metric.WithUnit("{evaluation}"))
		h.counter = c
		return err
	})
}

// WithoutContextID leaves out feature_flag.context.id (the targeting key),
// for services whose targeting keys must not reach the tracing backend.
func WithoutContextID() Option {
	return optionFunc(func(h *Hook) error {
		h.contextID = false
		return nil
	})
}

// New returns a hook with opts applied. It fails only when the meter
// provider refuses the counter.
func New(opts ...Option) (*Hook, error) {
	h := &Hook{contextID: true}
	for _, o := range opts {
		if err := o.apply(h); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Finally records the evaluation: it runs after every evaluation that
// reached the provider's hooks, successful or not, and sees the result.
func (h *Hook) Finally(ctx context.Context, hc openfeature.HookContext, d openfeature.InterfaceEvaluationDetails, _ openfeature.HookHints) {
	span := trace.SpanFromContext(ctx)
	recording := span.IsRecording()
	if !recording && h.counter == nil {
		return
	}
	errType := errorType(d)
	setID, _ := d.FlagMetadata["flagSetId"].(string)
	if recording {
		var buf [9]attribute.KeyValue
		attrs := append(buf[:0], KeyFlag.String(hc.FlagKey()), KeyProvider.String(hc.ProviderMetadata().Name))
		if d.Variant != "" {
			attrs = append(attrs, KeyVariant.String(d.Variant))
		}
		if d.Reason != "" {
			attrs = append(attrs, KeyReason.String(lower(string(d.Reason))))
		}
		if setID != "" {
			attrs = append(attrs, KeySetID.String(setID))
		}
		if v, ok := version(d.FlagMetadata["version"]); ok {
			attrs = append(attrs, KeyVersion.String(v))
		}
		if key := hc.EvaluationContext().TargetingKey(); h.contextID && key != "" {
			attrs = append(attrs, KeyContextID.String(key))
		}
		if errType != "" {
			attrs = append(attrs, KeyErrorType.String(errType))
			if d.ErrorMessage != "" {
				attrs = append(attrs, KeyErrorMessage.String(d.ErrorMessage))
			}
		}
		span.AddEvent(EventName, trace.WithAttributes(attrs...))
	}
	if h.counter != nil {
		h.count(ctx, hc.FlagKey(), d, setID, errType)
	}
}

func (h *Hook) count(ctx context.Context, flag string, d openfeature.InterfaceEvaluationDetails, setID, errType string) {
	var buf [5]attribute.KeyValue
	attrs := append(buf[:0], KeyFlag.String(flag))
	if d.Variant != "" {
		attrs = append(attrs, KeyVariant.String(d.Variant))
	}
	if d.Reason != "" {
		attrs = append(attrs, KeyReason.String(lower(string(d.Reason))))
	}
	if setID != "" {
		attrs = append(attrs, KeySetID.String(setID))
	}
	if errType != "" {
		attrs = append(attrs, KeyErrorType.String(errType))
	}
	h.counter.Add(ctx, 1, metric.WithAttributes(attrs...))
}

// errorType is error.type of an evaluation: its OpenFeature error code in
// lower case (the conventions' well-known values are exactly those), or
// "general" for reason ERROR without a code; "" for a success.
func errorType(d openfeature.InterfaceEvaluationDetails) string {
	switch {
	case d.ErrorCode != "":
		return lower(string(d.ErrorCode))
	case d.Reason == openfeature.ErrorReason:
		return "general"
	}
	return ""
}

// lower is strings.ToLower without an allocation for the values
// OpenFeature defines (reasons and error codes).
func lower(s string) string {
	switch s {
	case "STATIC":
		return "static"
	case "DEFAULT":
		return "default"
	case "TARGETING_MATCH":
		return "targeting_match"
	case "SPLIT":
		return "split"
	case "DISABLED":
		return "disabled"
	case "CACHED":
		return "cached"
	case "UNKNOWN":
		return "unknown"
	case "ERROR":
		return "error"
	case "STALE":
		return "stale"
	case "FLAG_NOT_FOUND":
		return "flag_not_found"
	case "TYPE_MISMATCH":
		return "type_mismatch"
	case "PARSE_ERROR":
		return "parse_error"
	case "TARGETING_KEY_MISSING":
		return "targeting_key_missing"
	case "INVALID_CONTEXT":
		return "invalid_context"
	case "PROVIDER_NOT_READY":
		return "provider_not_ready"
	case "PROVIDER_FATAL":
		return "provider_fatal"
	case "GENERAL":
		return "general"
	}
	return strings.ToLower(s)
}

// version reads the version flag metadata: Flagpole's is a string (the
// flag's version in its environment); other providers may give a number.
func version(v any) (string, bool) {
	switch v := v.(type) {
	case int64:
		return strconv.FormatInt(v, 10), true
	case string:
		return v, v != ""
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	return "", false
}
