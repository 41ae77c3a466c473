package server

import (
	"encoding/json"
	"fmt"
	"time"
)

// PlanKind is what a release plan does.
type PlanKind string

const (
	// KindRelease ramps the new variant through percentage steps, each held
	// for a time and, when the plan has a guard, judged before the next.
	KindRelease PlanKind = "release"
	// KindSchedule is a scheduled change: one step, applied at StartAt,
	// that performs Action ("enable at 09:00", "serve X at T").
	KindSchedule PlanKind = "schedule"
)

// PlanAction is what a scheduled change does.
type PlanAction string

const (
	ActionEnable  PlanAction = "enable"  // turn the kill switch on
	ActionDisable PlanAction = "disable" // turn the kill switch off
	ActionServe   PlanAction = "serve"   // serve Variant to every context the default reaches
)

// PlanState is where a release plan is in its life.
type PlanState string

const (
	PlanScheduled  PlanState = "scheduled"   // waiting for StartAt
	PlanRunning    PlanState = "running"     // a step is applied and holding
	PlanPaused     PlanState = "paused"      // stopped by a person; resumable
	PlanCompleted  PlanState = "completed"   // the last step held (or the change applied)
	PlanRolledBack PlanState = "rolled_back" // the guard found a regression
	PlanCancelled  PlanState = "cancelled"   // stopped for good by a person
)

// Active reports whether a plan in state s still owns its flag's
// configuration in its environment: at most one active plan per flag and
// environment.
func (s PlanState) Active() bool {
	return s == PlanScheduled || s == PlanRunning || s == PlanPaused
}

// On a guard regression a plan serves the control variant to everyone
// (RegressControl) or disables the flag (RegressDisable).
const (
	RegressControl = "control"
	RegressDisable = "disable"
)

// PlanStep is one step of a release: Percent of the contexts the default
// serve reaches get the new variant, for Hold.
type PlanStep struct {
	Percent int           `json:"percent"`
	Hold    time.Duration `json:"hold"`
}

// GuardSpec is what a plan's guard watches. With Measure MeasureRate (or
// empty) the new variant's rate of Event (events per exposure) may be at
// most MaxRatio × control's and at most control's + MaxDiff (0 = unset),
// judged once every variant has MinSamples exposures. With MeasureMean the
// same limits apply to the mean of Event's values (e.g. latency in
// seconds), judged once every variant has MinSamples events. The release code stores it; the guard
// decides with it.
type GuardSpec struct {
	Event      string  `json:"event"`
	Measure    string  `json:"measure,omitempty"`
	MaxRatio   float64 `json:"maxRatio,omitempty"`
	MaxDiff    float64 `json:"maxDiff,omitempty"`
	MinSamples int64   `json:"minSamples,omitempty"`
}

// What a guard measures (GuardSpec.Measure).
const (
	MeasureRate = "rate" // events per exposure (the default, "")
	MeasureMean = "mean" // the mean of the events' values
)

// Mean reports whether g judges the mean of its event's values.
func (g GuardSpec) Mean() bool { return g.Measure == MeasureMean }

// PlanSpec is what a plan was asked to do; it does not change after
// creation.
type PlanSpec struct {
	Kind PlanKind `json:"kind"`
	// Action is the change of a KindSchedule plan.
	Action PlanAction `json:"action,omitempty"`
	Steps  []PlanStep `json:"steps"`
	// Variant is the new variant (rolled out, or served by ActionServe);
	// Control the one the others get.
	Variant string `json:"variant,omitempty"`
	Control string `json:"control,omitempty"`
	// Guard is nil for an unguarded plan: its steps advance on hold alone.
	Guard *GuardSpec `json:"guard,omitempty"`
	// OnRegression is RegressControl or RegressDisable.
	OnRegression string `json:"onRegression,omitempty"`
}

// ReleasePlan is a stored release plan or scheduled change of one flag in
// one environment.
type ReleasePlan struct {
	ID          int64
	FlagKey     string
	Environment string
	PlanSpec
	// StartAt is when the plan starts; zero starts it at once.
	StartAt time.Time
	State   PlanState
	// Step is how many steps are applied: 0 before the first, len(Steps)
	// once the last is. The current step is Steps[Step-1].
	Step int
	// StepStartedAt is when the current step was applied (or re-applied on
	// resume): its hold runs from then.
	StepStartedAt time.Time
	StartedAt     time.Time
	EndedAt       time.Time
	// Reason says in words why the plan last changed state (paused by whom,
	// rolled back because...).
	Reason string
	// Evidence is the guard's decision behind a rollback (or the last
	// passing one), as JSON.
	Evidence  json.RawMessage
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Revision counts the plan's updates (1 after creation).
	Revision int64
	// LeaseOwner holds the plan until LeaseUntil: the one server replica
	// that runs it meanwhile.
	LeaseOwner string
	LeaseUntil time.Time
}

// Name is how the plan acts in audit entries: "release-plan/ID".
func (p ReleasePlan) Name() string { return fmt.Sprintf("release-plan/%d", p.ID) }

// PlanFilter selects plans; zero fields match everything.
type PlanFilter struct {
	Environment string
	FlagKey     string
	// Active keeps scheduled, running and paused plans.
	Active bool
}
