package sdk

import (
	"context"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk/engine"
)

// evaluate evaluates against the current state and counts the served
// variant. It allocates nothing.
func (p *Provider) evaluate(flag string, want engine.FlagType, flatCtx openfeature.FlattenedContext) (engine.Result, *state) {
	st := p.state.Load()
	if st == nil {
		return engine.Result{FlagKey: flag, Reason: engine.ReasonError}, nil
	}
	r := st.snap.Evaluate(flag, want, flatCtx)
	if r.ErrorCode == engine.ErrorNone {
		if c := st.counters[flag]; c != nil {
			c.add(r.Variant)
		}
	}
	return r, st
}

// detail turns an engine result into OpenFeature's resolution detail; ok
// is false when the caller must serve its default.
func detail(r engine.Result, st *state) (d openfeature.ProviderResolutionDetail, ok bool) {
	if st == nil {
		return openfeature.ProviderResolutionDetail{
			ResolutionError: openfeature.NewProviderNotReadyResolutionError("no flags received yet"),
			Reason:          openfeature.ErrorReason,
		}, false
	}
	if r.ErrorCode != engine.ErrorNone {
		return openfeature.ProviderResolutionDetail{
			ResolutionError: resolutionError(r),
			Reason:          openfeature.ErrorReason,
			FlagMetadata:    st.meta,
		}, false
	}
	return openfeature.ProviderResolutionDetail{
		Reason:       openfeature.Reason(r.Reason),
		Variant:      r.Variant,
		FlagMetadata: st.meta,
	}, true
}

func resolutionError(r engine.Result) openfeature.ResolutionError {
	switch r.ErrorCode {
	case engine.ErrorFlagNotFound:
		return openfeature.NewFlagNotFoundResolutionError(r.ErrorMessage)
	case engine.ErrorTypeMismatch:
		return openfeature.NewTypeMismatchResolutionError(r.ErrorMessage)
	case engine.ErrorTargetingKeyMissing:
		return openfeature.NewTargetingKeyMissingResolutionError(r.ErrorMessage)
	case engine.ErrorParse:
		return openfeature.NewParseErrorResolutionError(r.ErrorMessage)
	default:
		return openfeature.NewGeneralResolutionError(r.ErrorMessage)
	}
}

// BooleanEvaluation evaluates a boolean flag.
func (p *Provider) BooleanEvaluation(_ context.Context, flag string, defaultValue bool, flatCtx openfeature.FlattenedContext) openfeature.BoolResolutionDetail {
	r, st := p.evaluate(flag, engine.TypeBoolean, flatCtx)
	d, ok := detail(r, st)
	if v, isBool := r.Value.(bool); ok && isBool {
		return openfeature.BoolResolutionDetail{Value: v, ProviderResolutionDetail: d}
	}
	return openfeature.BoolResolutionDetail{Value: defaultValue, ProviderResolutionDetail: failed(d, ok)}
}

// StringEvaluation evaluates a string flag.
func (p *Provider) StringEvaluation(_ context.Context, flag string, defaultValue string, flatCtx openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	r, st := p.evaluate(flag, engine.TypeString, flatCtx)
	d, ok := detail(r, st)
	if v, isType := r.Value.(string); ok && isType {
		return openfeature.StringResolutionDetail{Value: v, ProviderResolutionDetail: d}
	}
	return openfeature.StringResolutionDetail{Value: defaultValue, ProviderResolutionDetail: failed(d, ok)}
}

// FloatEvaluation evaluates a float flag.
func (p *Provider) FloatEvaluation(_ context.Context, flag string, defaultValue float64, flatCtx openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	r, st := p.evaluate(flag, engine.TypeFloat, flatCtx)
	d, ok := detail(r, st)
	if v, isType := r.Value.(float64); ok && isType {
		return openfeature.FloatResolutionDetail{Value: v, ProviderResolutionDetail: d}
	}
	return openfeature.FloatResolutionDetail{Value: defaultValue, ProviderResolutionDetail: failed(d, ok)}
}

// IntEvaluation evaluates an integer flag.
func (p *Provider) IntEvaluation(_ context.Context, flag string, defaultValue int64, flatCtx openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	r, st := p.evaluate(flag, engine.TypeInteger, flatCtx)
	d, ok := detail(r, st)
	if v, isType := r.Value.(int64); ok && isType {
		return openfeature.IntResolutionDetail{Value: v, ProviderResolutionDetail: d}
	}
	return openfeature.IntResolutionDetail{Value: defaultValue, ProviderResolutionDetail: failed(d, ok)}
}

// ObjectEvaluation evaluates an object flag. The value is a copy the caller
// may change.
func (p *Provider) ObjectEvaluation(_ context.Context, flag string, defaultValue any, flatCtx openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	r, st := p.evaluate(flag, engine.TypeObject, flatCtx)
	d, ok := detail(r, st)
	if ok && r.Value != nil {
		return openfeature.InterfaceResolutionDetail{Value: cloneObject(r.Value), ProviderResolutionDetail: d}
	}
	return openfeature.InterfaceResolutionDetail{Value: defaultValue, ProviderResolutionDetail: failed(d, ok)}
}

// failed makes sure a result that falls back to the default says why.
func failed(d openfeature.ProviderResolutionDetail, ok bool) openfeature.ProviderResolutionDetail {
	if !ok {
		return d
	}
	d.ResolutionError = openfeature.NewTypeMismatchResolutionError("value does not have the flag's type")
	d.Reason = openfeature.ErrorReason
	d.Variant = ""
	return d
}
