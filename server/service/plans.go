package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
)

// Release plans (issue 14). A plan owns one flag's configuration in one
// environment while it is active. Each step it takes is an ordinary
// configuration change, made in one transaction with the plan's move to
// that step and conditional on the plan still being where the runner saw
// it, so a step is never applied twice, even by two server replicas. Those
// changes are audited with the plan as the actor (Kind "system", Source
// "system", Name "release-plan/ID step N/M") and published like any other.
//
// Decided:
//   - A release step sets the default serve to the new variant at the
//     step's percentage and the control at the rest, new variant first (as
//     SetRollout), and turns the kill switch on: a release is meant to be
//     served. Rules stay as they are; contexts they match are outside the
//     release.
//   - A person who changes the configuration while the plan runs pauses it
//     in the same transaction. Resuming re-applies the current step's
//     percentage (undoing the person's change to the default serve) and
//     restarts that step's hold, so the guard judges a whole hold of the
//     split the plan meant. A scheduled plan is not paused by a change: it
//     has not touched the configuration yet.
//   - Cancelling leaves the configuration as it is; completing leaves the
//     last step (100%: the new variant for everyone). A guarded plan marks
//     the configuration Guarded (engine.Config) from its first step on, so
//     SDKs attribute tracked events to the flag's variants; completing,
//     rolling back and cancelling clear the mark, as the plan (a
//     configuration change of its own, audited with the plan's end), and
//     pausing keeps it.
//   - A scheduled change (KindSchedule) is a plan with one step and a start
//     time; enable and disable flip the kill switch, serve makes Variant the
//     default serve and turns the kill switch on.

// MinHold is the shortest hold of a release step.
const MinHold = time.Second

// PlanRequest asks for a release plan or a scheduled change.
type PlanRequest struct {
	FlagKey     string
	Environment string
	// Kind defaults to server.KindRelease.
	Kind   server.PlanKind
	Action server.PlanAction // KindSchedule only
	Steps  []server.PlanStep // KindRelease only
	// Variant and Control default as in Rollout: for a boolean flag its
	// true and false variants, otherwise Variant is required and Control
	// is the off variant.
	Variant string
	Control string
	Guard   *server.GuardSpec
	// OnRegression defaults to server.RegressControl.
	OnRegression string
	// StartAt, when set, must not be in the past; zero starts at once. A
	// scheduled change needs one.
	StartAt time.Time
}

// CreatePlan validates and stores a plan, audited as "release.create".
// Nothing is applied yet: the runner starts it, at once or at StartAt.
func (s *Service) CreatePlan(ctx context.Context, r PlanRequest) (server.ReleasePlan, error) {
	if err := requiredConfigKeys(r.Environment, r.FlagKey); err != nil {
		return server.ReleasePlan{}, err
	}
	spec, err := planSpec(r)
	if err != nil {
		return server.ReleasePlan{}, err
	}
	var p server.ReleasePlan
	err = s.update(ctx, func(o *op) error {
		if !r.StartAt.IsZero() && r.StartAt.Before(o.now) {
			return server.Invalid("start_at", "%s is in the past", r.StartAt.UTC().Format(time.RFC3339))
		}
		if _, err := getEnvironment(o.tx, r.Environment); err != nil {
			return err
		}
		f, err := getFlag(o.tx, r.FlagKey)
		if err != nil {
			return err
		}
		if f.Archived {
			return server.Invalid("flag_key", "flag %q is archived", f.Key)
		}
		cfg, err := getConfig(o.tx, r.Environment, r.FlagKey)
		if err != nil {
			return err
		}
		if spec, err = resolveVariants(f.Flag, cfg.Config, spec); err != nil {
			return err
		}
		active, err := o.tx.ListPlans(server.PlanFilter{Environment: r.Environment, FlagKey: r.FlagKey, Active: true})
		if err != nil {
			return err
		}
		if len(active) > 0 {
			return &server.Error{Code: server.EEXISTS, Field: "flag_key", Message: fmt.Sprintf(
				"flag %q already has an active release plan in environment %q (%s, %s)", r.FlagKey, r.Environment, active[0].Name(), active[0].State)}
		}
		p = server.ReleasePlan{
			FlagKey: r.FlagKey, Environment: r.Environment, PlanSpec: spec, StartAt: r.StartAt.UTC(),
			State: server.PlanScheduled, CreatedBy: o.actor.Kind + " " + o.actor.Name,
			CreatedAt: o.now, UpdatedAt: o.now, Revision: 1,
		}
		if p.StartAt.IsZero() {
			p.StartAt = o.now
		}
		if p.ID, err = o.tx.CreatePlan(p); err != nil {
			return err
		}
		return o.audit("release.create", "release_plan", p.FlagKey, p.Environment, nil, docOfPlan(p))
	})
	return p, err
}

// planSpec validates what does not need the store, naming the field of
// the first problem.
func planSpec(r PlanRequest) (server.PlanSpec, error) {
	spec := server.PlanSpec{Kind: r.Kind, Action: r.Action, Steps: r.Steps, Variant: r.Variant, Control: r.Control,
		Guard: r.Guard, OnRegression: r.OnRegression}
	if spec.Kind == "" {
		spec.Kind = server.KindRelease
	}
	if spec.OnRegression == "" {
		spec.OnRegression = server.RegressControl
	}
	if spec.OnRegression != server.RegressControl && spec.OnRegression != server.RegressDisable {
		return spec, server.Invalid("on_regression", "must be %q or %q, got %q", server.RegressControl, server.RegressDisable, spec.OnRegression)
	}
	switch spec.Kind {
	case server.KindRelease:
		if spec.Action != "" {
			return spec, server.Invalid("action", "is for scheduled changes only")
		}
		if err := validateSteps(spec.Steps); err != nil {
			return spec, err
		}
		return spec, validateGuard(spec.Guard)
	case server.KindSchedule:
		return scheduleSpec(spec, r.StartAt)
	}
	return spec, server.Invalid("kind", "must be %q or %q, got %q", server.KindRelease, server.KindSchedule, spec.Kind)
}

func scheduleSpec(spec server.PlanSpec, startAt time.Time) (server.PlanSpec, error) {
	switch {
	case startAt.IsZero():
		return spec, server.Invalid("start_at", "is required for a scheduled change")
	case len(spec.Steps) > 0:
		return spec, server.Invalid("steps", "a scheduled change has no steps")
	case spec.Guard != nil:
		return spec, server.Invalid("guard", "a scheduled change has no guard")
	case spec.Control != "":
		return spec, server.Invalid("control", "a scheduled change has no control variant")
	}
	switch spec.Action {
	case server.ActionEnable, server.ActionDisable:
		if spec.Variant != "" {
			return spec, server.Invalid("variant", "is only for the action %q", server.ActionServe)
		}
	case server.ActionServe:
		if spec.Variant == "" {
			return spec, server.Invalid("variant", "is required for the action %q", server.ActionServe)
		}
	default:
		return spec, server.Invalid("action", "must be %q, %q or %q, got %q", server.ActionEnable, server.ActionDisable, server.ActionServe, spec.Action)
	}
	spec.Steps = []server.PlanStep{{Percent: 100}}
	return spec, nil
}

func validateSteps(steps []server.PlanStep) error {
	if len(steps) == 0 {
		return server.Invalid("steps", "must not be empty")
	}
	for i, st := range steps {
		field := fmt.Sprintf("steps[%d]", i)
		switch {
		case st.Percent < 1 || st.Percent > 100:
			return server.Invalid(field+".percent", "must be between 1 and 100, got %d", st.Percent)
		case i > 0 && st.Percent <= steps[i-1].Percent:
			return server.Invalid(field+".percent", "must be greater than the step before (%d), got %d", steps[i-1].Percent, st.Percent)
		case st.Hold < MinHold:
			return server.Invalid(field+".hold", "must be at least %s, got %s", MinHold, st.Hold)
		}
	}
	if last := steps[len(steps)-1]; last.Percent != 100 {
		return server.Invalid(fmt.Sprintf("steps[%d].percent", len(steps)-1), "the last step of a release must be 100, got %d", last.Percent)
	}
	return nil
}

func validateGuard(g *server.GuardSpec) error {
	if g == nil {
		return nil
	}
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	switch {
	case g.Event == "":
		return server.Invalid("guard.event", "is required")
	case g.Measure != "" && g.Measure != server.MeasureRate && g.Measure != server.MeasureMean:
		return server.Invalid("guard.measure", "must be rate or mean, got %q", g.Measure)
	case bad(g.MaxRatio) || g.MaxRatio < 0 || (g.MaxRatio > 0 && g.MaxRatio < 1):
		return server.Invalid("guard.max_ratio", "must be at least 1 when set (0 = unset), got %g", g.MaxRatio)
	case bad(g.MaxDiff) || g.MaxDiff < 0:
		return server.Invalid("guard.max_diff", "must be 0 (unset) or positive, got %g", g.MaxDiff)
	case g.MaxRatio == 0 && g.MaxDiff == 0:
		return server.Invalid("guard.max_ratio", "or guard.max_diff must be set")
	case g.MinSamples < 1:
		return server.Invalid("guard.min_samples", "must be at least 1, got %d", g.MinSamples)
	}
	return nil
}

// resolveVariants fills in the default variants and checks that f has them.
func resolveVariants(f engine.Flag, cur engine.Config, spec server.PlanSpec) (server.PlanSpec, error) {
	if spec.Kind == server.KindSchedule {
		if spec.Variant != "" && !hasVariant(f, spec.Variant) {
			return spec, server.Invalid("variant", "flag %q has no variant %q", f.Key, spec.Variant)
		}
		return spec, nil
	}
	variant, control, err := rolloutVariants(f, cur, Rollout{Percent: 1, Variant: spec.Variant, RestVariant: spec.Control})
	if err != nil {
		var e *server.Error
		if errors.As(err, &e) && e.Field == "rest_variant" {
			e.Field = "control"
		}
		return spec, err
	}
	spec.Variant, spec.Control = variant, control
	return spec, nil
}

// checkPlanVariantsKept refuses a definition of f that drops a variant an
// active release plan of f will serve.
func checkPlanVariantsKept(tx server.Tx, f engine.Flag) error {
	plans, err := tx.ListPlans(server.PlanFilter{FlagKey: f.Key, Active: true})
	if err != nil {
		return err
	}
	for _, p := range plans {
		for _, v := range []string{p.Variant, p.Control} {
			if v != "" && !hasVariant(f, v) {
				return server.Invalid("flag.variants", "variant %q is used by %s in environment %q (%s); cancel the plan first",
					v, p.Name(), p.Environment, p.State)
			}
		}
	}
	return nil
}

// GetPlan returns a plan of environment env.
func (s *Service) GetPlan(ctx context.Context, env string, id int64) (server.ReleasePlan, error) {
	var p server.ReleasePlan
	err := s.view(ctx, func(tx server.Tx) (err error) {
		p, err = getPlan(tx, env, id)
		return err
	})
	return p, err
}

// getPlan reads a plan; one of another environment is not found, so that
// a caller allowed in env cannot reach it (env "" matches every one).
func getPlan(tx server.Tx, env string, id int64) (server.ReleasePlan, error) {
	if id <= 0 {
		return server.ReleasePlan{}, server.Invalid("id", "must be a plan ID, got %d", id)
	}
	p, err := tx.GetPlan(id)
	if err == nil && env != "" && p.Environment != env {
		err = server.Errorf(server.ENOTFOUND, "release plan %d not found in environment %q", id, env)
	}
	return p, notFound(err, "release plan %d not found", id)
}

// ListPlans returns the plans passing f, newest first.
func (s *Service) ListPlans(ctx context.Context, f server.PlanFilter) ([]server.ReleasePlan, error) {
	var plans []server.ReleasePlan
	err := s.view(ctx, func(tx server.Tx) (err error) {
		if f.Environment != "" {
			if _, err := getEnvironment(tx, f.Environment); err != nil {
				return err
			}
		}
		plans, err = tx.ListPlans(f)
		return err
	})
	return plans, err
}

// PausePlan stops a scheduled or running plan where it is.
func (s *Service) PausePlan(ctx context.Context, env string, id int64) (server.ReleasePlan, error) {
	return s.movePlan(ctx, env, id, "release.pause", func(o *op, p *server.ReleasePlan) error {
		if p.State != server.PlanRunning && p.State != server.PlanScheduled {
			return server.Invalid("id", "release plan %d is %s; only a scheduled or running plan can be paused", p.ID, p.State)
		}
		p.State, p.Reason = server.PlanPaused, fmt.Sprintf("paused by %s %s", o.actor.Kind, o.actor.Name)
		return nil
	})
}

// ResumePlan continues a paused plan: one that never started is scheduled
// again; one that did re-applies its current step and restarts its hold.
func (s *Service) ResumePlan(ctx context.Context, env string, id int64) (server.ReleasePlan, error) {
	return s.movePlan(ctx, env, id, "release.resume", func(o *op, p *server.ReleasePlan) error {
		if p.State != server.PlanPaused {
			return server.Invalid("id", "release plan %d is %s; only a paused plan can be resumed", p.ID, p.State)
		}
		p.Reason = fmt.Sprintf("resumed by %s %s", o.actor.Kind, o.actor.Name)
		if p.Step == 0 {
			p.State = server.PlanScheduled
			return nil
		}
		p.State, p.StepStartedAt = server.PlanRunning, o.now
		return o.applyStep(*p, p.Step, "release.resume")
	})
}

// CancelPlan ends an active plan for good, leaving the configuration as it
// is.
func (s *Service) CancelPlan(ctx context.Context, env string, id int64) (server.ReleasePlan, error) {
	return s.movePlan(ctx, env, id, "release.cancel", func(o *op, p *server.ReleasePlan) error {
		if !p.State.Active() {
			return server.Invalid("id", "release plan %d has ended (%s)", p.ID, p.State)
		}
		p.State, p.EndedAt = server.PlanCancelled, o.now
		p.Reason = fmt.Sprintf("cancelled by %s %s", o.actor.Kind, o.actor.Name)
		return o.unguard(*p, "release.cancel")
	})
}

// movePlan loads a plan, lets move change it (and the configuration), and
// stores and audits the result as action.
func (s *Service) movePlan(ctx context.Context, env string, id int64, action string, move func(o *op, p *server.ReleasePlan) error) (server.ReleasePlan, error) {
	if err := required("environment", env); err != nil {
		return server.ReleasePlan{}, err
	}
	var p server.ReleasePlan
	err := s.update(ctx, func(o *op) error {
		cur, err := getPlan(o.tx, env, id)
		if err != nil {
			return err
		}
		p = cur
		if err := move(o, &p); err != nil {
			return err
		}
		return o.storePlan(cur, &p, action)
	})
	return p, err
}

// storePlan writes next (cur moved on) at the next revision and audits it.
func (o *op) storePlan(cur server.ReleasePlan, next *server.ReleasePlan, action string) error {
	next.Revision, next.UpdatedAt = cur.Revision+1, o.now
	if err := o.tx.UpdatePlan(*next); err != nil {
		return err
	}
	return o.audit(action, "release_plan", next.FlagKey, next.Environment, docOfPlan(cur), docOfPlan(*next))
}

// pausePlansFor pauses the running plan of flagKey in env, if any, unless
// the change is the plan's own.
func (o *op) pausePlansFor(env, flagKey string) error {
	if o.actor.Kind == server.System.Kind && o.actor.Source == server.System.Source {
		return nil
	}
	plans, err := o.tx.ListPlans(server.PlanFilter{Environment: env, FlagKey: flagKey, Active: true})
	if err != nil {
		return err
	}
	for _, cur := range plans {
		if cur.State != server.PlanRunning {
			continue
		}
		next := cur
		next.State = server.PlanPaused
		next.Reason = fmt.Sprintf("paused: %s %s changed the configuration", o.actor.Kind, o.actor.Name)
		if err := o.storePlan(cur, &next, "release.pause"); err != nil {
			return err
		}
	}
	return nil
}

// applyStep makes the configuration what step n (1-based) of p serves,
// as the plan.
func (o *op) applyStep(p server.ReleasePlan, n int, action string) error {
	return o.planChange(p, n, action, func(f server.Flag, cur engine.Config) (engine.Config, error) {
		return stepConfig(f.Flag, cur, p, n)
	})
}

// planChange changes p's configuration as the plan at step n (0: the plan
// without a step), never pausing it.
func (o *op) planChange(p server.ReleasePlan, n int, action string, edit func(f server.Flag, cur engine.Config) (engine.Config, error)) error {
	person := o.actor
	name := p.Name()
	if n > 0 {
		name = fmt.Sprintf("%s step %d/%d", p.Name(), n, len(p.Steps))
	}
	o.actor = server.Actor{Kind: server.System.Kind, Source: server.System.Source, Name: name}
	defer func() { o.actor = person }()
	_, _, err := o.changeConfig(p.Environment, p.FlagKey, 0, action, func(_ *op, f server.Flag, cur engine.Config) (engine.Config, error) {
		return edit(f, cur)
	})
	return err
}

// unguard clears the configuration's Guarded mark when plan p ends (SDKs
// stop attributing tracked events to the flag's variants), as the plan;
// a plan without a guard never set it and leaves it as it is.
func (o *op) unguard(p server.ReleasePlan, action string) error {
	if p.Guard == nil || p.Kind != server.KindRelease || p.Step == 0 {
		return nil
	}
	return o.planChange(p, 0, action, func(_ server.Flag, cur engine.Config) (engine.Config, error) {
		cur.Guarded = false
		return cur, nil
	})
}

// stepConfig is cur as step n of p serves it.
func stepConfig(f engine.Flag, cur engine.Config, p server.ReleasePlan, n int) (engine.Config, error) {
	for _, v := range []string{p.Variant, p.Control} {
		if v != "" && !hasVariant(f, v) {
			return cur, server.Invalid("variant", "flag %q has no variant %q any more", f.Key, v)
		}
	}
	if p.Kind == server.KindSchedule {
		switch p.Action {
		case server.ActionEnable:
			cur.Enabled = true
		case server.ActionDisable:
			cur.Enabled = false
		case server.ActionServe:
			cur.Enabled, cur.Default = true, engine.Serve{Variant: p.Variant}
		}
		return cur, nil
	}
	cur = rollout(cur, p.Variant, p.Control, p.Steps[n-1].Percent)
	cur.Enabled = true
	// A guarded plan marks the flag guarded while it runs, so SDKs
	// attribute tracked events to its variants; the mark is cleared when
	// the plan completes, is rolled back or cancelled.
	cur.Guarded = p.Guard != nil
	return cur, nil
}

// The runner's side. These calls change a plan only from the state the
// runner saw (from: the steps applied), so a step is never applied twice
// and a plan someone paused or cancelled meanwhile stays as they left it:
// then they return an ECONFLICT error.

// ActivePlans returns every scheduled or running plan (not paused ones),
// the runner's work list.
func (s *Service) ActivePlans(ctx context.Context) ([]server.ReleasePlan, error) {
	var plans []server.ReleasePlan
	err := s.view(ctx, func(tx server.Tx) error {
		all, err := tx.ListPlans(server.PlanFilter{Active: true})
		for _, p := range all {
			if p.State != server.PlanPaused {
				plans = append(plans, p)
			}
		}
		return err
	})
	return plans, err
}

// LeasePlan gives plan id to owner for ttl from now, if no other owner
// holds it, and reports whether owner holds it. A negative ttl hands a
// plan owner holds over: its lease has ended.
func (s *Service) LeasePlan(ctx context.Context, id int64, owner string, ttl time.Duration) (bool, error) {
	var ok bool
	now := s.now()
	err := wrap(s.store.Update(ctx, func(tx server.Tx) (err error) {
		ok, err = tx.LeasePlan(id, owner, now, now.Add(ttl))
		return err
	}))
	return ok, err
}

// AdvancePlan applies step from+1 of plan id and moves the plan there, in
// one transaction, if the plan still has from steps applied and is
// scheduled (from 0) or running. Once the last step is applied a scheduled
// change completes at once; a release completes with CompletePlan after its
// last hold. evidence, when set, is the guard decision that let it advance.
func (s *Service) AdvancePlan(ctx context.Context, id int64, from int, evidence json.RawMessage) (server.ReleasePlan, error) {
	action := "release.advance" // the plan's own entry; its configuration change is "release.step"
	if from == 0 {
		action = "release.start"
	}
	return s.runnerMove(ctx, id, from, action, func(o *op, p *server.ReleasePlan) error {
		if from >= len(p.Steps) {
			return server.Invalid("step", "release plan %d has no step %d", p.ID, from+1)
		}
		if p.StartedAt.IsZero() {
			p.StartedAt = o.now
		}
		p.State, p.Step, p.StepStartedAt, p.Reason = server.PlanRunning, from+1, o.now, fmt.Sprintf("step %d/%d applied", from+1, len(p.Steps))
		if evidence != nil {
			p.Evidence = evidence
		}
		if p.Kind == server.KindSchedule {
			p.State, p.EndedAt, p.Reason = server.PlanCompleted, o.now, "applied"
		}
		return o.applyStep(*p, p.Step, "release.step")
	})
}

// CompletePlan ends a running release whose last step has held.
func (s *Service) CompletePlan(ctx context.Context, id int64, evidence json.RawMessage) (server.ReleasePlan, error) {
	return s.runnerMove(ctx, id, -1, "release.complete", func(o *op, p *server.ReleasePlan) error {
		if p.State != server.PlanRunning || p.Step != len(p.Steps) {
			return server.Errorf(server.ECONFLICT, "release plan %d is %s at step %d/%d, not running its last step", p.ID, p.State, p.Step, len(p.Steps))
		}
		p.State, p.EndedAt, p.Reason = server.PlanCompleted, o.now, "completed: the last step held"
		if evidence != nil {
			p.Evidence = evidence
		}
		return o.unguard(*p, "release.complete")
	})
}

// RollBackPlan ends running plan id, still at step, for a guard
// regression: everyone gets the control variant, or the flag is disabled,
// as the plan says. reason and evidence go on the plan and into the audit.
func (s *Service) RollBackPlan(ctx context.Context, id int64, step int, reason string, evidence json.RawMessage) (server.ReleasePlan, error) {
	return s.runnerMove(ctx, id, step, "release.rollback", func(o *op, p *server.ReleasePlan) error {
		p.State, p.EndedAt, p.Evidence = server.PlanRolledBack, o.now, evidence
		p.Reason = "rolled back at step " + fmt.Sprintf("%d/%d: %s", step, len(p.Steps), reason)
		return o.planChange(*p, step, "release.rollback", func(_ server.Flag, cur engine.Config) (engine.Config, error) {
			cur.Guarded = false
			if p.OnRegression == server.RegressDisable {
				cur.Enabled = false
				return cur, nil
			}
			return rollout(cur, p.Variant, p.Control, 0), nil
		})
	})
}

// PauseStuckPlan pauses scheduled or running plan id whose next move
// cannot be made (say, its guard cannot judge the plan's event), so
// that it waits for a person instead of failing every second. reason says
// why, in words.
func (s *Service) PauseStuckPlan(ctx context.Context, id int64, reason string) (server.ReleasePlan, error) {
	return s.runnerMove(ctx, id, -1, "release.pause", func(_ *op, p *server.ReleasePlan) error {
		p.State, p.Reason = server.PlanPaused, reason
		return nil
	})
}

// runnerMove is movePlan for the runner: the plan must be scheduled or
// running at from steps applied (from < 0: any step), and the actor is the
// plan itself.
func (s *Service) runnerMove(ctx context.Context, id int64, from int, action string, move func(o *op, p *server.ReleasePlan) error) (server.ReleasePlan, error) {
	var p server.ReleasePlan
	err := s.update(ctx, func(o *op) error {
		cur, err := getPlan(o.tx, "", id)
		if err != nil {
			return err
		}
		if cur.State != server.PlanRunning && cur.State != server.PlanScheduled || from >= 0 && cur.Step != from {
			return server.Errorf(server.ECONFLICT, "release plan %d is %s at step %d, not at step %d", id, cur.State, cur.Step, from)
		}
		p = cur
		o.actor = server.Actor{Kind: server.System.Kind, Source: server.System.Source, Name: cur.Name()}
		if err := move(o, &p); err != nil {
			return err
		}
		return o.storePlan(cur, &p, action)
	})
	return p, err
}

// planDoc is the JSON of a plan in its audit entries.
type planDoc struct {
	ID          int64  `json:"id"`
	FlagKey     string `json:"flagKey"`
	Environment string `json:"environment"`
	server.PlanSpec
	StartAt       *time.Time       `json:"startAt,omitempty"`
	State         server.PlanState `json:"state"`
	Step          int              `json:"step"`
	StepStartedAt *time.Time       `json:"stepStartedAt,omitempty"`
	Reason        string           `json:"reason,omitempty"`
	Evidence      json.RawMessage  `json:"evidence,omitempty"`
	Revision      int64            `json:"revision"`
}

func docOfPlan(p server.ReleasePlan) planDoc {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	return planDoc{p.ID, p.FlagKey, p.Environment, p.PlanSpec, opt(p.StartAt), p.State, p.Step, opt(p.StepStartedAt),
		p.Reason, p.Evidence, p.Revision}
}
