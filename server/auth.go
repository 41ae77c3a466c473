package server

import (
	"context"
	"time"
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

// Token is a stored machine token. The secret itself is never stored: Hash
// is its SHA-256.
type Token struct {
	Name         string
	Scope        string
	Environments []string
	Hash         []byte
	Hint         string
	CreatedBy    string
	CreatedAt    time.Time
	ExpiresAt    time.Time // zero: never
	LastUsedAt   time.Time // zero: never used
	RevokedAt    time.Time // zero: not revoked
}

// User is a stored user. PasswordHash is an encoded argon2id hash.
type User struct {
	Username     string
	Role         string
	PasswordHash string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Session is a stored UI session. Hash is the SHA-256 of the cookie value.
type Session struct {
	Hash      []byte
	Username  string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuthStore keeps tokens, users and sessions. server/sqlite and
// server/postgres implement it. UpdateAuth runs fn in one read-write transaction, committed when fn
// returns nil; ViewAuth runs fn in a read-only one.
type AuthStore interface {
	UpdateAuth(ctx context.Context, fn func(AuthTx) error) error
	ViewAuth(ctx context.Context, fn func(AuthTx) error) error
}

// AuthTx is one transaction of an AuthStore. Lookups of missing rows return
// an *Error with code ENOTFOUND; inserts of existing names EEXISTS.
type AuthTx interface {
	CreateToken(t Token) error
	GetToken(name string) (Token, error)
	GetTokenByHash(hash []byte) (Token, error)
	// ListTokens returns every token, revoked ones included, by name.
	ListTokens() ([]Token, error)
	// UpdateToken stores LastUsedAt and RevokedAt of an existing token.
	UpdateToken(t Token) error
	// DeleteToken removes a token (ENOTFOUND when there is none).
	DeleteToken(name string) error

	CreateUser(u User) error
	GetUser(username string) (User, error)
	// ListUsers returns every user by username.
	ListUsers() ([]User, error)
	// UpdateUser stores Role, PasswordHash and UpdatedAt of an existing user.
	UpdateUser(u User) error
	// DeleteUser removes the user and their sessions.
	DeleteUser(username string) error

	CreateSession(s Session) error
	GetSession(hash []byte) (Session, error)
	DeleteSession(hash []byte) error
	// DeleteUserSessions removes the user's sessions except the one whose
	// hash is keep (nil keeps none).
	DeleteUserSessions(username string, keep []byte) error
	// DeleteExpiredSessions removes sessions that expired before now.
	DeleteExpiredSessions(now time.Time) error

	// GetEnvironment is read to know whether an environment is protected.
	GetEnvironment(name string) (Environment, error)
	// AppendAudit stores an audit entry in the same transaction.
	AppendAudit(e AuditEntry) (int64, error)
}
