package service

import (
	"context"

	"github.com/flagpole/flagpole/server"
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

// Tx is one transaction. Lookups of missing rows return a *server.Error with
// code ENOTFOUND; inserts of existing keys return EEXISTS. Tx methods do no
// validation and no revision checks beyond that: the service does both.
type Tx interface {
	// ListEnvironments returns every environment, oldest first (ties in the
	// order of creation).
	ListEnvironments() ([]server.Environment, error)
	GetEnvironment(name string) (server.Environment, error)
	CreateEnvironment(env server.Environment) error
	// UpdateEnvironment stores description and protected of an existing environment.
	UpdateEnvironment(env server.Environment) error
	// DeleteEnvironment removes the environment and its flag configurations.
	DeleteEnvironment(name string) error
	// BumpRevision increments the environment's revision and returns the new one.
	BumpRevision(env string) (int64, error)

	GetFlag(key string) (server.Flag, error)
	// ListFlags returns the flags passing filter, sorted by key.
	ListFlags(filter server.FlagFilter) ([]server.Flag, error)
	CreateFlag(f server.Flag) error
	// UpdateFlag replaces the stored definition (matched by key), including
	// its Revision and UpdatedAt as given; CreatedAt keeps its stored value.
	UpdateFlag(f server.Flag) error
	// DeleteFlag removes the flag and its configurations in every environment.
	DeleteFlag(key string) error

	GetConfig(env, flagKey string) (server.FlagConfig, error)
	// ListConfigs returns every flag configuration of an environment, sorted
	// by flag key (none for an unknown environment).
	ListConfigs(env string) ([]server.FlagConfig, error)
	// PutConfig inserts or replaces a configuration, Revision as given. A
	// missing environment or flag is ENOTFOUND.
	PutConfig(c server.FlagConfig) error

	GetSegment(key string) (server.Segment, error)
	// ListSegments returns every segment, sorted by key.
	ListSegments() ([]server.Segment, error)
	CreateSegment(s server.Segment) error
	// UpdateSegment replaces the stored segment like UpdateFlag.
	UpdateSegment(s server.Segment) error
	DeleteSegment(key string) error

	// AppendAudit stores an entry and returns its ID.
	AppendAudit(e server.AuditEntry) (int64, error)
	// ListAudit returns matching entries, newest first.
	ListAudit(f server.AuditFilter) ([]server.AuditEntry, error)
}

// ChangeRecorder is an optional capability of a Tx. A store that several
// server replicas share implements it to keep each committed Change, written
// in the transaction that makes it, so that the other replicas can publish
// it to their own sync streams. The service calls RecordChange once per
// Change, after the change's work and before the commit.
type ChangeRecorder interface {
	RecordChange(c server.Change) error
}
