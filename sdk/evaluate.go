package sdk

import (
	"context"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk/engine"
)

// The typed evaluation methods below share one shape: a fast path that
// builds OpenFeature's detail straight from the engine's precomputed result
// (no copy of it), and unserved for everything else. They are written out
// per type because a generic helper measured slower.

// evaluate evaluates against the current state and counts the served
// variant: one lookup of the flag key finds both the compiled flag and its
// counters. r points into the snapshot and must not be modified; it is nil
// when there is no state yet or no such flag. It allocates nothing.
func (p *Provider) evaluate(flag string, want engine.FlagType, flatCtx openfeature.FlattenedContext) (r *engine.Result, st *state) {
	st = p.state.Load()
	if st == nil {
		return nil, nil
	}
	i := st.snap.Find(flag)
	if i < 0 {
		return nil, st
	}
	r, v := st.snap.EvaluateAt(i, want, flatCtx)
	st.count(i, v)
	return r, st
}

// served is the detail of a successful evaluation.
func served(r *engine.Result, st *state) openfeature.ProviderResolutionDetail {
	return openfeature.ProviderResolutionDetail{
		Reason:       openfeature.Reason(r.Reason),
		Variant:      r.Variant,
		FlagMetadata: st.meta,
	}
}

// unserved is the detail of an evaluation whose caller serves its default:
// no state yet, an engine error, or a value that does not have the
// requested type.
func unserved(flag string, r *engine.Result, st *state) openfeature.ProviderResolutionDetail {
	if st == nil {
		return openfeature.ProviderResolutionDetail{
			ResolutionError: openfeature.NewProviderNotReadyResolutionError("no flags received yet"),
			Reason:          openfeature.ErrorReason,
		}
	}
	if r == nil {
		notFound := st.snap.Evaluate(flag, "", nil)
		r = &notFound
	}
	if r.ErrorCode == engine.ErrorNone {
		return openfeature.ProviderResolutionDetail{
			ResolutionError: openfeature.NewTypeMismatchResolutionError("value does not have the flag's type"),
			Reason:          openfeature.ErrorReason,
			FlagMetadata:    st.meta,
		}
	}
	return openfeature.ProviderResolutionDetail{
		ResolutionError: resolutionError(r),
		Reason:          openfeature.ErrorReason,
		FlagMetadata:    st.meta,
	}
}

func resolutionError(r *engine.Result) openfeature.ResolutionError {
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
	if r != nil && r.ErrorCode == engine.ErrorNone {
		if v, ok := r.Value.(bool); ok {
			return openfeature.BoolResolutionDetail{Value: v, ProviderResolutionDetail: served(r, st)}
		}
	}
	return openfeature.BoolResolutionDetail{Value: defaultValue, ProviderResolutionDetail: unserved(flag, r, st)}
}

// StringEvaluation evaluates a string flag.
func (p *Provider) StringEvaluation(_ context.Context, flag string, defaultValue string, flatCtx openfeature.FlattenedContext) openfeature.StringResolutionDetail {
	r, st := p.evaluate(flag, engine.TypeString, flatCtx)
	if r != nil && r.ErrorCode == engine.ErrorNone {
		if v, ok := r.Value.(string); ok {
			return openfeature.StringResolutionDetail{Value: v, ProviderResolutionDetail: served(r, st)}
		}
	}
	return openfeature.StringResolutionDetail{Value: defaultValue, ProviderResolutionDetail: unserved(flag, r, st)}
}

// FloatEvaluation evaluates a float flag.
func (p *Provider) FloatEvaluation(_ context.Context, flag string, defaultValue float64, flatCtx openfeature.FlattenedContext) openfeature.FloatResolutionDetail {
	r, st := p.evaluate(flag, engine.TypeFloat, flatCtx)
	if r != nil && r.ErrorCode == engine.ErrorNone {
		if v, ok := r.Value.(float64); ok {
			return openfeature.FloatResolutionDetail{Value: v, ProviderResolutionDetail: served(r, st)}
		}
	}
	return openfeature.FloatResolutionDetail{Value: defaultValue, ProviderResolutionDetail: unserved(flag, r, st)}
}

// IntEvaluation evaluates an integer flag.
func (p *Provider) IntEvaluation(_ context.Context, flag string, defaultValue int64, flatCtx openfeature.FlattenedContext) openfeature.IntResolutionDetail {
	r, st := p.evaluate(flag, engine.TypeInteger, flatCtx)
	if r != nil && r.ErrorCode == engine.ErrorNone {
		if v, ok := r.Value.(int64); ok {
			return openfeature.IntResolutionDetail{Value: v, ProviderResolutionDetail: served(r, st)}
		}
	}
	return openfeature.IntResolutionDetail{Value: defaultValue, ProviderResolutionDetail: unserved(flag, r, st)}
}

// ObjectEvaluation evaluates an object flag. The value is a copy the caller
// may change.
func (p *Provider) ObjectEvaluation(_ context.Context, flag string, defaultValue any, flatCtx openfeature.FlattenedContext) openfeature.InterfaceResolutionDetail {
	r, st := p.evaluate(flag, engine.TypeObject, flatCtx)
	if r != nil && r.ErrorCode == engine.ErrorNone && r.Value != nil {
		return openfeature.InterfaceResolutionDetail{Value: cloneObject(r.Value), ProviderResolutionDetail: served(r, st)}
	}
	return openfeature.InterfaceResolutionDetail{Value: defaultValue, ProviderResolutionDetail: unserved(flag, r, st)}
}
