package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

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
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL
) STRICT`

// migrate applies every migration of ms the database lacks. Each runs in its
// own IMMEDIATE transaction that first re-reads the version, so two
// processes opening the same file at once apply each migration once.
func migrate(ctx context.Context, db *sql.DB, ms []migration) error {
	if _, err := db.ExecContext(ctx, createSchemaMigrations); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	current, err := schemaVersion(ctx, db)
	if err != nil {
		return err
	}
	if latest := ms[len(ms)-1].Version; current > latest {
		return fmt.Errorf("sqlite: %w: the database is at version %d, this binary knows up to %d; run a newer flagpole",
			ErrSchemaNewer, current, latest)
	}
	for _, m := range ms { // apply skips the ones applied, gaps filled later included
		if err := apply(ctx, db, m); err != nil {
			return err
		}
	}
	return nil
}

func apply(ctx context.Context, db *sql.DB, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migration %04d_%s: %w", m.Version, m.Name, err)
	}
	defer tx.Rollback()
	var done bool
	err = tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)", m.Version).Scan(&done)
	if err != nil || done {
		return wrapMigration(m, err)
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return wrapMigration(m, err)
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.Version, m.Name, formatTime(time.Now()))
	if err != nil {
		return wrapMigration(m, err)
	}
	return wrapMigration(m, tx.Commit())
}

func wrapMigration(m migration, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlite: migration %04d_%s: %w", m.Version, m.Name, err)
}

// schemaVersion is the highest applied migration, 0 for a new database.
func schemaVersion(ctx context.Context, q queryer) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// SchemaVersion returns the highest migration applied to the database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	return schemaVersion(ctx, db.reader)
}

// Migrated reports whether the database answers and carries every migration
// this binary knows; a readiness check.
func (db *DB) Migrated(ctx context.Context) error {
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if latest := latestVersion(); v != latest {
		return fmt.Errorf("sqlite: schema at version %d, want %d", v, latest)
	}
	return nil
}
