// Package auth decides who is calling and whether they may do what they ask.
//
// It is the application service of credentials: it checks machine tokens
// and UI sessions, signs users in (rate-limited), manages tokens and users,
// and applies the permission table that maps every gRPC method (and the
// HTTP routes named after them) to the access it needs. The transports put
// its decisions into effect: grpcapi's interceptors and services, httpapi's
// Sessions (cookies, CSRF, sign-in routes). Token and user changes are
// audited like every other change, without secrets or hashes.
package auth

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/flagpole/flagpole/server"
)

// SourceHeader is the gRPC metadata key and HTTP header naming the client
// kind (cli, ui or api) that audit entries record.
const SourceHeader = "x-flagpole-source"

// APIKeyHeader carries a token for OFREP clients (HTTP header, or gRPC
// metadata in lower case).
const APIKeyHeader = "X-API-Key"

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
	// session is the hash of the session's secret.
	session []byte
}

// IsAdmin reports whether p may do everything.
func (p Principal) IsAdmin() bool {
	if p.Kind == server.KindUser {
		return p.Role == server.RoleAdmin
	}
	return p.Scope == server.ScopeAdmin
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

// Identity is an authenticated caller as the contexts of its calls carry
// it: the principal and its audit actor for each source. A cached token's
// Identity is built once per cache entry and shared by every call made
// with the token meanwhile (it never changes), so a long-lived sync stream
// keeps two context nodes, not its own copy of principal and actor.
type Identity struct {
	principal Principal
	actors    [3]server.Actor // by source: api, cli, ui
}

// Principal returns the principal of id.
func (id *Identity) Principal() Principal { return id.principal }

func newIdentity(p Principal) *Identity {
	id := &Identity{principal: p}
	for i, src := range []string{server.SourceAPI, server.SourceCLI, server.SourceUI} {
		id.actors[i] = p.Actor(src)
	}
	return id
}

// actor returns the audit actor for source, one of the known sources.
func (id *Identity) actor(source string) *server.Actor {
	switch source {
	case server.SourceCLI:
		return &id.actors[1]
	case server.SourceUI:
		return &id.actors[2]
	}
	return &id.actors[0]
}

// WithIdentity returns ctx carrying id's principal and its audit actor for
// source (one of the known sources).
func WithIdentity(ctx context.Context, id *Identity, source string) context.Context {
	ctx = context.WithValue(ctx, principalKey{}, &id.principal)
	return server.NewContextWithSharedActor(ctx, id.actor(source))
}

// NormalizeSource maps a client-supplied source to one of the known ones.
// Only a browser session is the UI: a session is always audited as "ui",
// and a token may claim "api" or "cli" but never "ui" (it gets fallback).
func NormalizeSource(s, fallback string, session bool) string {
	if session {
		return server.SourceUI
	}
	switch s {
	case server.SourceAPI, server.SourceCLI:
		return s
	}
	return fallback
}

// StreamEnvironment returns the environment the sdk token of ctx's caller
// is bound to; ok is false for any other caller. Sync streams resolve their
// environment with it rather than from rewritten metadata, which would keep
// a copy of every header for the life of each stream.
func StreamEnvironment(ctx context.Context) (env string, ok bool) {
	if p, ok := FromContext(ctx); ok && p.Kind == server.KindToken && p.Scope == server.ScopeSDK {
		return p.sdkEnvironment(), true
	}
	return "", false
}

// Bearer returns the credential of an "authorization: Bearer x" value.
func Bearer(h string) string {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(cred)
}
