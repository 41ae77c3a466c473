package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/flagpole/flagpole/server"
)

// DB keeps the credentials of server/auth too, in the same file and, for
// their audit entries, the same transactions.
var _ server.AuthStore = (*DB)(nil)

// UpdateAuth runs fn in one IMMEDIATE transaction, like Update.
func (db *DB) UpdateAuth(ctx context.Context, fn func(server.AuthTx) error) error {
	return run(ctx, db.writer, nil, func(t server.Tx) error { return fn(t.(*tx)) })
}

// ViewAuth runs fn in a read-only transaction, like View.
func (db *DB) ViewAuth(ctx context.Context, fn func(server.AuthTx) error) error {
	return run(ctx, db.reader, &sql.TxOptions{ReadOnly: true}, func(t server.Tx) error { return fn(t.(*tx)) })
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return formatTime(t)
}

func parseNullTime(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	return parseTime(s.String)
}

const tokenColumns = "name, scope, environments, hash, hint, created_by, created_at, expires_at, last_used_at, revoked_at"

func scanToken(s scanner) (server.Token, error) {
	var t server.Token
	var envs, created string
	var expires, used, revoked sql.NullString
	err := s.Scan(&t.Name, &t.Scope, &envs, &t.Hash, &t.Hint, &t.CreatedBy, &created, &expires, &used, &revoked)
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal([]byte(envs), &t.Environments); err != nil {
		return t, err
	}
	if t.CreatedAt, err = parseTime(created); err != nil {
		return t, err
	}
	if t.ExpiresAt, err = parseNullTime(expires); err != nil {
		return t, err
	}
	if t.LastUsedAt, err = parseNullTime(used); err != nil {
		return t, err
	}
	t.RevokedAt, err = parseNullTime(revoked)
	return t, err
}

func (t *tx) CreateToken(tok server.Token) error {
	envs, err := json.Marshal(append([]string{}, tok.Environments...))
	if err != nil {
		return wrap("create token", err)
	}
	_, err = t.exec("INSERT INTO tokens ("+tokenColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		tok.Name, tok.Scope, string(envs), tok.Hash, tok.Hint, tok.CreatedBy, formatTime(tok.CreatedAt),
		nullTime(tok.ExpiresAt), nullTime(tok.LastUsedAt), nullTime(tok.RevokedAt))
	if isUnique(err) {
		return exists("token", tok.Name)
	}
	if err != nil {
		return wrap("create token", err)
	}
	return nil
}

func (t *tx) getToken(what, key, where string, arg any) (server.Token, error) {
	tok, err := scanToken(t.tx.QueryRowContext(t.ctx, "SELECT "+tokenColumns+" FROM tokens WHERE "+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return tok, notFound(what, key)
	}
	if err != nil {
		return tok, wrap("get token", err)
	}
	return tok, nil
}

func (t *tx) GetToken(name string) (server.Token, error) {
	return t.getToken("token", name, "name = ?", name)
}

// GetTokenByHash finds a token by the hash of its secret; the error names
// no secret.
func (t *tx) GetTokenByHash(hash []byte) (server.Token, error) {
	return t.getToken("token", "with this secret", "hash = ?", hash)
}

func (t *tx) ListTokens() ([]server.Token, error) {
	rows, err := t.tx.QueryContext(t.ctx, "SELECT "+tokenColumns+" FROM tokens ORDER BY name")
	if err != nil {
		return nil, wrap("list tokens", err)
	}
	defer rows.Close()
	var ts []server.Token
	for rows.Next() {
		tok, err := scanToken(rows)
		if err != nil {
			return nil, wrap("list tokens", err)
		}
		ts = append(ts, tok)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list tokens", err)
	}
	return ts, nil
}

func (t *tx) UpdateToken(tok server.Token) error {
	return t.execOne("update token", "token", tok.Name,
		"UPDATE tokens SET last_used_at = ?, revoked_at = ? WHERE name = ?",
		nullTime(tok.LastUsedAt), nullTime(tok.RevokedAt), tok.Name)
}

func (t *tx) DeleteToken(name string) error {
	return t.execOne("delete token", "token", name, "DELETE FROM tokens WHERE name = ?", name)
}

const userColumns = "username, role, password_hash, created_at, updated_at"

func scanUser(s scanner) (server.User, error) {
	var u server.User
	var created, updated string
	if err := s.Scan(&u.Username, &u.Role, &u.PasswordHash, &created, &updated); err != nil {
		return u, err
	}
	var err error
	if u.CreatedAt, err = parseTime(created); err != nil {
		return u, err
	}
	u.UpdatedAt, err = parseTime(updated)
	return u, err
}

func (t *tx) CreateUser(u server.User) error {
	_, err := t.exec("INSERT INTO users ("+userColumns+") VALUES (?, ?, ?, ?, ?)",
		u.Username, u.Role, u.PasswordHash, formatTime(u.CreatedAt), formatTime(u.UpdatedAt))
	if isUnique(err) {
		return exists("user", u.Username)
	}
	if err != nil {
		return wrap("create user", err)
	}
	return nil
}

func (t *tx) GetUser(username string) (server.User, error) {
	u, err := scanUser(t.tx.QueryRowContext(t.ctx, "SELECT "+userColumns+" FROM users WHERE username = ?", username))
	if errors.Is(err, sql.ErrNoRows) {
		return u, notFound("user", username)
	}
	if err != nil {
		return u, wrap("get user", err)
	}
	return u, nil
}

func (t *tx) ListUsers() ([]server.User, error) {
	rows, err := t.tx.QueryContext(t.ctx, "SELECT "+userColumns+" FROM users ORDER BY username")
	if err != nil {
		return nil, wrap("list users", err)
	}
	defer rows.Close()
	var us []server.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrap("list users", err)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list users", err)
	}
	return us, nil
}

func (t *tx) UpdateUser(u server.User) error {
	return t.execOne("update user", "user", u.Username,
		"UPDATE users SET role = ?, password_hash = ?, updated_at = ? WHERE username = ?",
		u.Role, u.PasswordHash, formatTime(u.UpdatedAt), u.Username)
}

// DeleteUser removes the user; the sessions go with it (ON DELETE CASCADE).
func (t *tx) DeleteUser(username string) error {
	return t.execOne("delete user", "user", username, "DELETE FROM users WHERE username = ?", username)
}

func (t *tx) CreateSession(s server.Session) error {
	_, err := t.exec("INSERT INTO sessions (hash, username, created_at, expires_at) VALUES (?, ?, ?, ?)",
		s.Hash, s.Username, formatTime(s.CreatedAt), formatTime(s.ExpiresAt))
	switch {
	case isConstraint(err, sqlite3.ErrConstraintForeignKey):
		return notFound("user", s.Username)
	case isUnique(err):
		return server.Errorf(server.EEXISTS, "session already exists")
	case err != nil:
		return wrap("create session", err)
	}
	return nil
}

func (t *tx) GetSession(hash []byte) (server.Session, error) {
	var s server.Session
	var created, expires string
	err := t.tx.QueryRowContext(t.ctx, "SELECT hash, username, created_at, expires_at FROM sessions WHERE hash = ?", hash).
		Scan(&s.Hash, &s.Username, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return s, notFound("session", "with this secret")
	}
	if err != nil {
		return s, wrap("get session", err)
	}
	if s.CreatedAt, err = parseTime(created); err != nil {
		return s, err
	}
	s.ExpiresAt, err = parseTime(expires)
	return s, err
}

func (t *tx) DeleteSession(hash []byte) error {
	if _, err := t.exec("DELETE FROM sessions WHERE hash = ?", hash); err != nil {
		return wrap("delete session", err)
	}
	return nil
}

func (t *tx) DeleteUserSessions(username string, keep []byte) error {
	if keep == nil {
		keep = []byte{}
	}
	if _, err := t.exec("DELETE FROM sessions WHERE username = ? AND hash != ?", username, keep); err != nil {
		return wrap("delete user sessions", err)
	}
	return nil
}

func (t *tx) DeleteExpiredSessions(now time.Time) error {
	if _, err := t.exec("DELETE FROM sessions WHERE expires_at < ?", formatTime(now)); err != nil {
		return wrap("delete expired sessions", err)
	}
	return nil
}
