package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/flagpole/flagpole/server"
)

// tx implements service.Tx. It lives only for the duration of one Update or
// View call, which is why it carries that call's context.
type tx struct {
	ctx context.Context
	tx  *sql.Tx
}

// timeLayout is fixed-width, so stored times sort correctly as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlite: stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(t.ctx, query, args...)
}

// execOne runs a statement that must change exactly one row; otherwise the
// missing row is reported as ENOTFOUND.
func (t *tx) execOne(op, what, key, query string, args ...any) error {
	res, err := t.exec(query, args...)
	if err != nil {
		return wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(op, err)
	}
	if n == 0 {
		return notFound(what, key)
	}
	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

const environmentColumns = "name, description, protected, revision, created_at, require_comment"

func scanEnvironment(s scanner) (server.Environment, error) {
	var env server.Environment
	var created string
	if err := s.Scan(&env.Name, &env.Description, &env.Protected, &env.Revision, &created, &env.RequireComment); err != nil {
		return env, err
	}
	var err error
	env.CreatedAt, err = parseTime(created)
	return env, err
}

// ListEnvironments returns every environment, oldest first; environments
// created at the same time come in the order they were created.
func (t *tx) ListEnvironments() ([]server.Environment, error) {
	rows, err := t.tx.QueryContext(t.ctx, "SELECT "+environmentColumns+" FROM environments ORDER BY created_at, rowid")
	if err != nil {
		return nil, wrap("list environments", err)
	}
	defer rows.Close()
	var envs []server.Environment
	for rows.Next() {
		env, err := scanEnvironment(rows)
		if err != nil {
			return nil, wrap("list environments", err)
		}
		envs = append(envs, env)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list environments", err)
	}
	return envs, nil
}

func (t *tx) GetEnvironment(name string) (server.Environment, error) {
	row := t.tx.QueryRowContext(t.ctx, "SELECT "+environmentColumns+" FROM environments WHERE name = ?", name)
	env, err := scanEnvironment(row)
	if errors.Is(err, sql.ErrNoRows) {
		return env, notFound("environment", name)
	}
	if err != nil {
		return env, wrap("get environment", err)
	}
	return env, nil
}

// CreateEnvironment stores env; an environment of the same name deleted
// before makes it start at the deleted one's last revision when that is
// higher than env.Revision (see DeleteEnvironment).
func (t *tx) CreateEnvironment(env server.Environment) error {
	_, err := t.exec("INSERT INTO environments ("+environmentColumns+`) VALUES (?, ?, ?,
		max(?, coalesce((SELECT revision FROM retired_environments WHERE name = ?), 0)), ?, ?)`,
		env.Name, env.Description, env.Protected, env.Revision, env.Name, formatTime(env.CreatedAt), env.RequireComment)
	if isUnique(err) {
		return exists("environment", env.Name)
	}
	if err != nil {
		return wrap("create environment", err)
	}
	return nil
}

func (t *tx) UpdateEnvironment(env server.Environment) error {
	return t.execOne("update environment", "environment", env.Name,
		"UPDATE environments SET description = ?, protected = ?, require_comment = ? WHERE name = ?",
		env.Description, env.Protected, env.RequireComment, env.Name)
}

// DeleteEnvironment removes the environment; its configurations go with it
// (ON DELETE CASCADE). Its last revision is kept in retired_environments,
// so that an environment created again under its name continues from it.
func (t *tx) DeleteEnvironment(name string) error {
	var rev int64
	err := t.tx.QueryRowContext(t.ctx, "DELETE FROM environments WHERE name = ? RETURNING revision", name).Scan(&rev)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("environment", name)
	}
	if err != nil {
		return wrap("delete environment", err)
	}
	_, err = t.exec(`INSERT INTO retired_environments (name, revision) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET revision = max(revision, excluded.revision)`, name, rev)
	if err != nil {
		return wrap("delete environment", err)
	}
	return nil
}

func (t *tx) BumpRevision(env string) (int64, error) {
	var rev int64
	err := t.tx.QueryRowContext(t.ctx,
		"UPDATE environments SET revision = revision + 1 WHERE name = ? RETURNING revision", env).Scan(&rev)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound("environment", env)
	}
	if err != nil {
		return 0, wrap("bump revision", err)
	}
	return rev, nil
}
