package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"time"
)

// Migrations are the files migrations/NNNN_name.sql, applied in order of
// their number, each in its own transaction together with its row in
// schema_migrations. A new schema change is a new file with the next number;
// an applied file is never edited.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrations is the parsed content of migrationFiles.
var migrations = mustLoadMigrations(migrationFiles, "migrations")

// ErrSchemaNewer is returned by Open for a database migrated by a newer
// Flagpole than this binary.
var ErrSchemaNewer = errors.New("database schema is newer than this binary supports")

type migration struct {
	version int
	name    string
	sql     string
}

var migrationName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// loadMigrations reads dir of fsys. Versions must run 1, 2, 3, ... without
// gaps or duplicates.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries { // ReadDir sorts by name
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("sqlite: migrations: file %q: name must be NNNN_name.sql", e.Name())
		}
		version, _ := strconv.Atoi(m[1])
		if version != len(ms)+1 {
			return nil, fmt.Errorf("sqlite: migrations: file %q: version %d, want %d", e.Name(), version, len(ms)+1)
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("sqlite: migrations: %w", err)
		}
		ms = append(ms, migration{version: version, name: m[2], sql: string(body)})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("sqlite: migrations: none in %s", dir)
	}
	return ms, nil
}

func mustLoadMigrations(fsys fs.FS, dir string) []migration {
	ms, err := loadMigrations(fsys, dir)
	if err != nil {
		panic(err)
	}
	return ms
}

// latestVersion is the schema version this binary migrates to.
func latestVersion() int { return migrations[len(migrations)-1].version }

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
	if latest := ms[len(ms)-1].version; current > latest {
		return fmt.Errorf("sqlite: %w: the database is at version %d, this binary knows up to %d; run a newer flagpole",
			ErrSchemaNewer, current, latest)
	}
	for _, m := range ms[current:] {
		if err := apply(ctx, db, m); err != nil {
			return err
		}
	}
	return nil
}

func apply(ctx context.Context, db *sql.DB, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migration %04d_%s: %w", m.version, m.name, err)
	}
	defer tx.Rollback()
	var done bool
	err = tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)", m.version).Scan(&done)
	if err != nil || done {
		return wrapMigration(m, err)
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return wrapMigration(m, err)
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		m.version, m.name, formatTime(time.Now()))
	if err != nil {
		return wrapMigration(m, err)
	}
	return wrapMigration(m, tx.Commit())
}

func wrapMigration(m migration, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlite: migration %04d_%s: %w", m.version, m.name, err)
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
