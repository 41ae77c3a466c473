package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flagpole/flagpole/server"
)

// DB keeps the credentials of server/auth too, in the same database and,
// for their audit entries, the same transactions.
var _ server.AuthStore = (*DB)(nil)

// UpdateAuth runs fn in one SERIALIZABLE transaction, retried like Update.
func (db *DB) UpdateAuth(ctx context.Context, fn func(server.AuthTx) error) error {
	return db.update(ctx, func(t *tx) error { return fn(t) })
}

// ViewAuth runs fn in a read-only transaction, like View.
func (db *DB) ViewAuth(ctx context.Context, fn func(server.AuthTx) error) error {
	return db.view(ctx, func(t *tx) error { return fn(t) })
}

const tokenColumns = "name, scope, environments, hash, hint, created_by, created_at, expires_at, last_used_at, revoked_at"

func scanToken(s pgx.Row) (server.Token, error) {
	var t server.Token
	var expires, used, revoked *time.Time
	err := s.Scan(&t.Name, &t.Scope, &t.Environments, &t.Hash, &t.Hint, &t.CreatedBy, &t.CreatedAt, &expires, &used, &revoked)
	t.CreatedAt = utc(t.CreatedAt)
	t.ExpiresAt, t.LastUsedAt, t.RevokedAt = fromNullTime(expires), fromNullTime(used), fromNullTime(revoked)
	if len(t.Environments) == 0 {
		t.Environments = nil
	}
	return t, err
}

// CreateToken stores a token; a taken name (or, never in practice, a taken
// secret hash) is EEXISTS.
func (t *tx) CreateToken(tok server.Token) error {
	envs := append([]string{}, tok.Environments...)
	return t.insert("create token", "token", tok.Name,
		"INSERT INTO tokens ("+tokenColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
		tok.Name, tok.Scope, envs, tok.Hash, tok.Hint, tok.CreatedBy, tok.CreatedAt,
		nullTime(tok.ExpiresAt), nullTime(tok.LastUsedAt), nullTime(tok.RevokedAt))
}

func (t *tx) getToken(op, key, where string, arg any) (server.Token, error) {
	tok, err := scanToken(t.tx.QueryRow(t.ctx, "SELECT "+tokenColumns+" FROM tokens WHERE "+where, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return tok, notFound("token", key)
	}
	if err != nil {
		return tok, wrap(op, err)
	}
	return tok, nil
}

func (t *tx) GetToken(name string) (server.Token, error) {
	return t.getToken("get token", name, "name = $1", name)
}

// GetTokenByHash finds a token by the hash of its secret; the error names
// no secret.
func (t *tx) GetTokenByHash(hash []byte) (server.Token, error) {
	return t.getToken("get token", "with this secret", "hash = $1", hash)
}

func (t *tx) ListTokens() ([]server.Token, error) {
	rows, err := t.tx.Query(t.ctx, "SELECT "+tokenColumns+` FROM tokens ORDER BY name COLLATE "C"`)
	list, err := collect(rows, err, scanToken)
	if err != nil {
		return nil, wrap("list tokens", err)
	}
	return list, nil
}

func (t *tx) UpdateToken(tok server.Token) error {
	return t.execOne("update token", "token", tok.Name,
		"UPDATE tokens SET last_used_at = $1, revoked_at = $2 WHERE name = $3",
		nullTime(tok.LastUsedAt), nullTime(tok.RevokedAt), tok.Name)
}

func (t *tx) DeleteToken(name string) error {
	return t.execOne("delete token", "token", name, "DELETE FROM tokens WHERE name = $1", name)
}

const userColumns = "username, role, password_hash, created_at, updated_at"

func scanUser(s pgx.Row) (server.User, error) {
	var u server.User
	err := s.Scan(&u.Username, &u.Role, &u.PasswordHash, &u.CreatedAt, &u.UpdatedAt)
	u.CreatedAt, u.UpdatedAt = utc(u.CreatedAt), utc(u.UpdatedAt)
	return u, err
}

func (t *tx) CreateUser(u server.User) error {
	return t.insert("create user", "user", u.Username,
		"INSERT INTO users ("+userColumns+") VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING",
		u.Username, u.Role, u.PasswordHash, u.CreatedAt, u.UpdatedAt)
}

func (t *tx) GetUser(username string) (server.User, error) {
	u, err := scanUser(t.tx.QueryRow(t.ctx, "SELECT "+userColumns+" FROM users WHERE username = $1", username))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, notFound("user", username)
	}
	if err != nil {
		return u, wrap("get user", err)
	}
	return u, nil
}

func (t *tx) ListUsers() ([]server.User, error) {
	rows, err := t.tx.Query(t.ctx, "SELECT "+userColumns+` FROM users ORDER BY username COLLATE "C"`)
	list, err := collect(rows, err, scanUser)
	if err != nil {
		return nil, wrap("list users", err)
	}
	return list, nil
}

func (t *tx) UpdateUser(u server.User) error {
	return t.execOne("update user", "user", u.Username,
		"UPDATE users SET role = $1, password_hash = $2, updated_at = $3 WHERE username = $4",
		u.Role, u.PasswordHash, u.UpdatedAt, u.Username)
}

// DeleteUser removes the user; the sessions go with it (ON DELETE CASCADE).
func (t *tx) DeleteUser(username string) error {
	return t.execOne("delete user", "user", username, "DELETE FROM users WHERE username = $1", username)
}

func (t *tx) CreateSession(s server.Session) error {
	_, err := t.exec("INSERT INTO sessions (hash, username, created_at, expires_at) VALUES ($1, $2, $3, $4)",
		s.Hash, s.Username, s.CreatedAt, s.ExpiresAt)
	switch pgCode(err) {
	case codeForeignKeyViolation:
		return notFound("user", s.Username)
	case codeUniqueViolation:
		return server.Errorf(server.EEXISTS, "session already exists")
	}
	if err != nil {
		return wrap("create session", err)
	}
	return nil
}

func (t *tx) GetSession(hash []byte) (server.Session, error) {
	var s server.Session
	err := t.tx.QueryRow(t.ctx, "SELECT hash, username, created_at, expires_at FROM sessions WHERE hash = $1", hash).
		Scan(&s.Hash, &s.Username, &s.CreatedAt, &s.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, notFound("session", "with this secret")
	}
	if err != nil {
		return s, wrap("get session", err)
	}
	s.CreatedAt, s.ExpiresAt = utc(s.CreatedAt), utc(s.ExpiresAt)
	return s, nil
}

func (t *tx) DeleteSession(hash []byte) error {
	if _, err := t.exec("DELETE FROM sessions WHERE hash = $1", hash); err != nil {
		return wrap("delete session", err)
	}
	return nil
}

func (t *tx) DeleteUserSessions(username string, keep []byte) error {
	if keep == nil {
		keep = []byte{}
	}
	if _, err := t.exec("DELETE FROM sessions WHERE username = $1 AND hash <> $2", username, keep); err != nil {
		return wrap("delete user sessions", err)
	}
	return nil
}

func (t *tx) DeleteExpiredSessions(now time.Time) error {
	if _, err := t.exec("DELETE FROM sessions WHERE expires_at < $1", now); err != nil {
		return wrap("delete expired sessions", err)
	}
	return nil
}
