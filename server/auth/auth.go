// Package auth decides who is calling and whether they may do what they ask.
//
// It owns the credentials (machine tokens, user passwords, UI sessions), the
// one permission table that maps every gRPC method (and the HTTP routes named
// after them) to the access it needs, and its enforcement in one place per
// transport: gRPC interceptors and an HTTP middleware with CSRF protection
// and rate-limited sign-in. Token and user changes are audited like every
// other change, without secrets or hashes.
package auth

import (
	"context"
	"slices"
	"time"

	"github.com/flagpole/flagpole/server"
)

// Principal kinds.
const (
	KindUser  = "user"
	KindToken = "token"
)

// Token scopes.
const (
	ScopeSDK   = "sdk"
	ScopeCI    = "ci"
	ScopeAdmin = "admin"
)

// User roles.
const (
	RoleViewer = "viewer"
	RoleEditor = "editor"
	RoleAdmin  = "admin"
)

// Sources of a change, from the x-flagpole-source metadata or header.
const (
	SourceAPI = "api"
	SourceCLI = "cli"
	SourceUI  = "ui"
)

// SourceHeader is the gRPC metadata key and HTTP header naming the client
// kind (cli, ui or api) that audit entries record.
const SourceHeader = "x-flagpole-source"

// EnvironmentHeader is the gRPC metadata key by which sync streams name
// their environment. For sdk tokens the interceptor sets it to the token's
// environment, so the stream is bound to it.
const EnvironmentHeader = "x-flagpole-environment"

// Principal is an authenticated caller: a user (through a UI session) or a
// token.
type Principal struct {
	Kind         string   // KindUser or KindToken
	Name         string   // username or token name
	Role         string   // users: viewer, editor or admin
	Scope        string   // tokens: sdk, ci or admin
	Environments []string // tokens: the environments an sdk or ci token is bound to
	// ExpiresAt is when the session or token ends; zero for never.
	ExpiresAt time.Time
	// Session is set when the principal came from a session cookie; such
	// requests need a CSRF token to change anything.
	Session bool
	// csrf is the CSRF token expected from a session's requests.
	csrf string
	// session is the hash of the session's secret.
	session []byte
}

// IsAdmin reports whether p may do everything.
func (p Principal) IsAdmin() bool {
	if p.Kind == KindUser {
		return p.Role == RoleAdmin
	}
	return p.Scope == ScopeAdmin
}

// HasEnvironment reports whether the token is bound to env.
func (p Principal) HasEnvironment(env string) bool {
	return slices.Contains(p.Environments, env)
}

// sdkEnvironment is the one environment of an sdk token.
func (p Principal) sdkEnvironment() string {
	if len(p.Environments) == 0 {
		return ""
	}
	return p.Environments[0]
}

// Actor returns the audit actor of p for the given source.
func (p Principal) Actor(source string) server.Actor {
	return server.Actor{Kind: p.Kind, Name: p.Name, Source: source, Restricted: !p.IsAdmin()}
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, &p)
}

// FromContext returns the principal of ctx, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	if !ok {
		return Principal{}, false
	}
	return *p, true
}

// identity is an authenticated caller as the contexts of its calls carry
// it: the principal and its audit actor for each source. A cached token's
// identity is built once per cache entry and shared by every call made
// with the token meanwhile (it never changes), so a long-lived sync stream
// keeps two context nodes, not its own copy of principal and actor.
type identity struct {
	principal Principal
	actors    [3]server.Actor // by source: api, cli, ui
}

func newIdentity(p Principal) *identity {
	id := &identity{principal: p}
	for i, src := range []string{SourceAPI, SourceCLI, SourceUI} {
		id.actors[i] = p.Actor(src)
	}
	return id
}

// actor returns the audit actor for source, one of the known sources.
func (id *identity) actor(source string) *server.Actor {
	switch source {
	case SourceCLI:
		return &id.actors[1]
	case SourceUI:
		return &id.actors[2]
	}
	return &id.actors[0]
}

// withIdentity returns ctx carrying id's principal and its audit actor for
// source (one of the known sources).
func withIdentity(ctx context.Context, id *identity, source string) context.Context {
	ctx = context.WithValue(ctx, principalKey{}, &id.principal)
	return server.NewContextWithSharedActor(ctx, id.actor(source))
}

// normalizeSource maps a client-supplied source to one of the known ones.
// Only a browser session is the UI: a session is always audited as "ui",
// and a token may claim "api" or "cli" but never "ui" (it gets fallback).
func normalizeSource(s, fallback string, session bool) string {
	if session {
		return SourceUI
	}
	switch s {
	case SourceAPI, SourceCLI:
		return s
	}
	return fallback
}
