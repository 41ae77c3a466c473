package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flagpole/flagpole/server"
)

// tx implements service.Tx. It lives only for the duration of one Update or
// View call, which is why it carries that call's context.
type tx struct {
	ctx context.Context
	tx  pgx.Tx
	db  *DB
	// What the transaction changed, announced when it commits.
	bumped      map[string]int64 // environment → its revision now
	changes     []string         // environments whose Change was recorded
	invalidated []string         // environments created or deleted
	deleted     []string         // environments deleted
}

func (t *tx) exec(query string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(t.ctx, query, args...)
	return tag.RowsAffected(), err
}

// execOne runs a statement that must change exactly one row; otherwise the
// missing row is reported as ENOTFOUND.
func (t *tx) execOne(op, what, key, query string, args ...any) error {
	n, err := t.exec(query, args...)
	if err != nil {
		return wrap(op, err)
	}
	if n == 0 {
		return notFound(what, key)
	}
	return nil
}

// insert runs an INSERT ... ON CONFLICT DO NOTHING of one row: a taken key
// is EEXISTS without aborting the transaction; a unique violation of
// another constraint is EEXISTS too.
func (t *tx) insert(op, what, key, query string, args ...any) error {
	n, err := t.exec(query, args...)
	if pgCode(err) == codeUniqueViolation {
		return exists(what, key)
	}
	if err != nil {
		return wrap(op, err)
	}
	if n == 0 {
		return exists(what, key)
	}
	return nil
}

// utc returns t in UTC (pgx gives the local zone).
func utc(t time.Time) time.Time { return t.UTC() }

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// collect reads every row of rows with scan.
func collect[T any](rows pgx.Rows, err error, scan func(pgx.Row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var list []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
	return list, rows.Err()
}

const environmentColumns = "name, description, protected, revision, created_at, require_comment"

func scanEnvironment(s pgx.Row) (server.Environment, error) {
	var env server.Environment
	err := s.Scan(&env.Name, &env.Description, &env.Protected, &env.Revision, &env.CreatedAt, &env.RequireComment)
	env.CreatedAt = utc(env.CreatedAt)
	return env, err
}

// ListEnvironments returns every environment, oldest first; environments
// created at the same time come in the order they were created.
func (t *tx) ListEnvironments() ([]server.Environment, error) {
	rows, err := t.tx.Query(t.ctx, "SELECT "+environmentColumns+" FROM environments ORDER BY created_at, seq")
	envs, err := collect(rows, err, scanEnvironment)
	if err != nil {
		return nil, wrap("list environments", err)
	}
	return envs, nil
}

func (t *tx) GetEnvironment(name string) (server.Environment, error) {
	env, err := scanEnvironment(t.tx.QueryRow(t.ctx, "SELECT "+environmentColumns+" FROM environments WHERE name = $1", name))
	if errors.Is(err, pgx.ErrNoRows) {
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
	err := t.insert("create environment", "environment", env.Name,
		"INSERT INTO environments ("+environmentColumns+`) VALUES ($1, $2, $3,
		greatest($4::bigint, coalesce((SELECT revision FROM retired_environments WHERE name = $1), 0)), $5, $6)
		ON CONFLICT (name) DO NOTHING`,
		env.Name, env.Description, env.Protected, env.Revision, env.CreatedAt, env.RequireComment)
	if err == nil {
		t.invalidated = append(t.invalidated, env.Name)
	}
	return err
}

func (t *tx) UpdateEnvironment(env server.Environment) error {
	return t.execOne("update environment", "environment", env.Name,
		"UPDATE environments SET description = $1, protected = $2, require_comment = $3 WHERE name = $4",
		env.Description, env.Protected, env.RequireComment, env.Name)
}

// DeleteEnvironment removes the environment; its configurations go with it
// (ON DELETE CASCADE). Its last revision is kept in retired_environments,
// so that an environment created again under its name continues from it;
// its logged changes go, so that no replica replays them as the new one's.
func (t *tx) DeleteEnvironment(name string) error {
	var rev int64
	err := t.tx.QueryRow(t.ctx, "DELETE FROM environments WHERE name = $1 RETURNING revision", name).Scan(&rev)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound("environment", name)
	}
	if err != nil {
		return wrap("delete environment", err)
	}
	_, err = t.exec(`INSERT INTO retired_environments (name, revision) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET revision = greatest(retired_environments.revision, excluded.revision)`, name, rev)
	if err != nil {
		return wrap("delete environment", err)
	}
	if _, err := t.exec("DELETE FROM changes WHERE environment = $1", name); err != nil {
		return wrap("delete environment", err)
	}
	t.invalidated = append(t.invalidated, name)
	t.deleted = append(t.deleted, name)
	delete(t.bumped, name)
	return nil
}

func (t *tx) BumpRevision(env string) (int64, error) {
	var rev int64
	err := t.tx.QueryRow(t.ctx, "UPDATE environments SET revision = revision + 1 WHERE name = $1 RETURNING revision", env).Scan(&rev)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, notFound("environment", env)
	}
	if err != nil {
		return 0, wrap("bump revision", err)
	}
	if t.bumped == nil {
		t.bumped = map[string]int64{}
	}
	t.bumped[env] = rev
	return rev, nil
}
