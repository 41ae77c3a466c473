package server

import (
	"context"
	"time"
)

// Store is the persistence the service needs. Implementations: server/sqlite
// and server/postgres, both run against the shared contract suite.
//
// Update runs fn in one read-write transaction and commits when fn returns
// nil; any error rolls everything back, so nothing half-written remains.
// View runs fn in a read-only transaction. Updates are serializable:
// concurrent read-modify-write Updates all commit and lose nothing; a View
// never sees uncommitted writes. server/storetest checks all of this.
type Store interface {
	Update(ctx context.Context, fn func(Tx) error) error
	View(ctx context.Context, fn func(Tx) error) error
}

// Tx is one transaction. Lookups of missing rows return a *Error with
// code ENOTFOUND; inserts of existing keys return EEXISTS. Tx methods do no
// validation and no revision checks beyond that: the service does both.
type Tx interface {
	// ListEnvironments returns every environment, oldest first (ties in the
	// order of creation).
	ListEnvironments() ([]Environment, error)
	GetEnvironment(name string) (Environment, error)
	CreateEnvironment(env Environment) error
	// UpdateEnvironment stores description and protected of an existing environment.
	UpdateEnvironment(env Environment) error
	// DeleteEnvironment removes the environment and its flag configurations.
	DeleteEnvironment(name string) error
	// BumpRevision increments the environment's revision and returns the new one.
	BumpRevision(env string) (int64, error)

	GetFlag(key string) (Flag, error)
	// ListFlags returns the flags passing filter, sorted by key.
	ListFlags(filter FlagFilter) ([]Flag, error)
	CreateFlag(f Flag) error
	// UpdateFlag replaces the stored definition (matched by key), including
	// its Revision and UpdatedAt as given; CreatedAt keeps its stored value.
	UpdateFlag(f Flag) error
	// DeleteFlag removes the flag and its configurations in every environment.
	DeleteFlag(key string) error

	GetConfig(env, flagKey string) (FlagConfig, error)
	// ListConfigs returns every flag configuration of an environment, sorted
	// by flag key (none for an unknown environment).
	ListConfigs(env string) ([]FlagConfig, error)
	// PutConfig inserts or replaces a configuration, Revision as given. A
	// missing environment or flag is ENOTFOUND.
	PutConfig(c FlagConfig) error

	GetSegment(key string) (Segment, error)
	// ListSegments returns every segment, sorted by key.
	ListSegments() ([]Segment, error)
	CreateSegment(s Segment) error
	// UpdateSegment replaces the stored segment like UpdateFlag.
	UpdateSegment(s Segment) error
	DeleteSegment(key string) error

	// AppendAudit stores an entry and returns its ID.
	AppendAudit(e AuditEntry) (int64, error)
	// ListAudit returns matching entries, newest first.
	ListAudit(f AuditFilter) ([]AuditEntry, error)

	// CreatePlan stores a new release plan (its ID is ignored) and returns
	// its ID. A second active plan of the same flag in the same environment
	// is EEXISTS naming field flag_key (a unique index decides); a missing
	// environment or flag is ENOTFOUND.
	CreatePlan(p ReleasePlan) (int64, error)
	GetPlan(id int64) (ReleasePlan, error)
	// ListPlans returns the plans passing f, newest first.
	ListPlans(f PlanFilter) ([]ReleasePlan, error)
	// UpdatePlan stores p's state, step, times, reason, evidence and
	// revision, only if the stored revision is p.Revision-1: otherwise
	// ECONFLICT (someone else moved the plan), ENOTFOUND if it is gone.
	// Spec, lease and creation fields keep their stored values.
	UpdatePlan(p ReleasePlan) error
	// LeasePlan gives plan id to owner until until, if it is free (no owner,
	// or a lease that ended before now) or already owner's, and reports
	// whether owner holds it now. It does not change the plan's revision.
	LeasePlan(id int64, owner string, now, until time.Time) (bool, error)
}

// ChangeRecorder is an optional capability of a Tx. A store that several
// server replicas share implements it to keep each committed Change, written
// in the transaction that makes it, so that the other replicas can publish
// it to their own sync streams. The service calls RecordChange once per
// Change, after the change's work and before the commit.
type ChangeRecorder interface {
	RecordChange(c Change) error
}

// Publisher receives every committed change, one Change per affected
// environment, after the commit. Publish must not block.
type Publisher interface {
	Publish(Change)
}

// Forgetter is an optional capability of a Publisher: Forget is called
// after the commit of an environment's deletion, so that the publisher
// drops what it keeps for the environment (the sync hub ends its streams,
// which resync, and forgets its revisions). A recreated environment of the
// same name continues the deleted one's revisions, but whatever a
// publisher kept of the old one must not be served as the new one.
type Forgetter interface {
	Forget(env string)
}
