package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flagpole/flagpole/server/dbschema"
)

// Migrations are the files migrations/NNNN_name.sql, applied in order of
// their number, each in its own transaction together with its row in
// schema_migrations. A new schema change is a new file with the next number;
// an applied file is never edited.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations is the parsed content of migrationFiles.
var migrations = dbschema.MustLoad(migrationFiles, "migrations")

// ErrSchemaNewer is returned by Open for a database migrated by a newer
// Flagpole than this binary.
var ErrSchemaNewer = dbschema.ErrNewer

type migration = dbschema.Migration

// latestVersion is the schema version this binary migrates to.
func latestVersion() int { return migrations[len(migrations)-1].Version }

const createSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

// migrate applies every migration of ms the schema lacks. Each runs in its
// own transaction that first takes an advisory lock for the schema and
// re-reads the version, so replicas starting at once apply each migration
// once and the others wait for it.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string, ms []migration) error {
	current, err := lockedVersion(ctx, pool, schema, func(pgx.Tx, int) error { return nil })
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if latest := ms[len(ms)-1].Version; current > latest {
		return fmt.Errorf("postgres: %w: the database is at version %d, this binary knows up to %d; run a newer flagpole",
			ErrSchemaNewer, current, latest)
	}
	for _, m := range ms { // gaps filled in later are applied too
		_, err := lockedVersion(ctx, pool, schema, func(tx pgx.Tx, _ int) error {
			var done bool
			err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)", m.Version).Scan(&done)
			if err != nil || done {
				return err // done: applied before, or by another replica meanwhile
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}

// lockedVersion runs fn in a transaction that holds the schema's migration
// lock, with the schema version read under that lock, and commits.
func lockedVersion(ctx context.Context, pool *pgxpool.Pool, schema string, fn func(tx pgx.Tx, version int) error) (int, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// The lock is the database's, so its key names the schema: two
	// Flagpole schemas in one database migrate independently.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('flagpole migrate ' || $1, 0))", schema); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, createSchemaMigrations); err != nil {
		return 0, err
	}
	v, err := schemaVersion(ctx, tx)
	if err != nil {
		return 0, err
	}
	if err := fn(tx, v); err != nil {
		return 0, err
	}
	return v, tx.Commit(ctx)
}

type queryer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// schemaVersion is the highest applied migration, 0 for a new schema.
func schemaVersion(ctx context.Context, q queryer) (int, error) {
	var v int
	if err := q.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// SchemaVersion returns the highest migration applied to the database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	v, err := schemaVersion(ctx, db.pool)
	if err != nil {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	return v, nil
}

// Migrated reports whether the database answers and carries every migration
// this binary knows; a readiness check.
func (db *DB) Migrated(ctx context.Context) error {
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if latest := latestVersion(); v != latest {
		return fmt.Errorf("postgres: schema at version %d, want %d", v, latest)
	}
	return nil
}
