package server

import (
	"encoding/json"
	"time"

	"github.com/flagpole/flagpole/sdk/engine"
)

// DefaultEnvironments are created on the first start.
var DefaultEnvironments = []string{"development", "staging", "production"}

// Environment is a set of flag configurations served together. Revision
// increases with every committed change that alters what it serves.
type Environment struct {
	Name        string
	Description string
	// Protected environments are changed by admins only.
	Protected bool
	// RequireComment makes every change to the environment carry a
	// comment (server.CommentHeader); changes without one are refused.
	RequireComment bool
	Revision       int64
	CreatedAt      time.Time
}

// Flag is a stored flag definition. Revision counts the definition's own
// updates (1 after creation) and is what optimistic concurrency checks.
type Flag struct {
	engine.Flag
	Revision  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// FlagConfig is a stored per-environment configuration of a flag. Revision
// counts this configuration's own updates (1 after creation).
type FlagConfig struct {
	FlagKey     string
	Environment string
	engine.Config
	Revision  int64
	UpdatedAt time.Time
}

// Segment is a stored segment definition with its own revision.
type Segment struct {
	engine.Segment
	Revision  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Actor is who makes a change: a user or a token, through a source.
type Actor struct {
	Kind   string // "user", "token" or "system"
	Name   string
	Source string // "api", "cli", "ui", "system"
	// Restricted is set for an actor without rights on protected
	// environments (an editor): the service refuses its changes to shared
	// objects (flag definitions, segments) that would alter what a
	// protected environment serves. It is not stored with audit entries.
	Restricted bool
}

// System is the actor of changes the server makes itself (bootstrap).
var System = Actor{Kind: "system", Name: "flagpole", Source: "system"}

// AuditEntry records one committed change. Append-only.
type AuditEntry struct {
	ID          int64
	Time        time.Time
	Actor       Actor
	Action      string          // e.g. "flag.create", "config.set_enabled"
	Resource    string          // "flag", "config", "segment", "environment", "token", "user"
	Key         string          // the flag / segment / environment / token key
	Environment string          // "" for changes that are not environment-specific
	Before      json.RawMessage // JSON of the state before, null on create
	After       json.RawMessage // JSON of the state after, null on delete
	Comment     string          // why, as the actor said; "" when they said nothing
}

// AuditFilter selects audit entries; zero fields match everything.
type AuditFilter struct {
	FlagKey     string // resource "flag", "config" or "release_plan" with this key
	Resource    string
	Key         string
	Environment string
	Actor       string    // the actor's name (a user or a token)
	Since       time.Time // inclusive
	Until       time.Time // exclusive
	Limit       int       // 0 means a default of 100
	BeforeID    int64     // page: only entries with ID < BeforeID
}

// FlagFilter selects flags; zero fields match everything.
type FlagFilter struct {
	Tag             string
	Query           string // substring of key, name or description
	IncludeArchived bool
}

// Change is what one committed transaction did to one environment, published
// to sync streams after the commit. Flags and Segments hold the new state of
// what changed; the Deleted lists name what is gone.
type Change struct {
	Environment     string
	Revision        int64
	Flags           []engine.FlagState
	Segments        []engine.Segment
	DeletedFlags    []string
	DeletedSegments []string
	Time            time.Time
	// Created is set on the change that creates the environment: it
	// carries every flag's configuration there, and a client whose revision
	// predates it (it held an environment of the same name that was
	// deleted) must start over from a snapshot instead of applying it.
	Created bool `json:",omitempty"`
}
