// Package sqlite is the default store of the Flagpole server: the persistence
// contract of server/service kept in one SQLite file through
// github.com/mattn/go-sqlite3. The file runs in WAL mode with foreign keys
// on; its schema comes from migrations embedded in the binary and applied
// when the file is opened.
//
// Writes go through a single connection that begins every transaction with
// BEGIN IMMEDIATE, so concurrent writers queue instead of deadlocking on a
// lock upgrade, and each Update is serializable. Reads go through a pool of
// read-only connections that never block the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"

	"github.com/flagpole/flagpole/server"

	// The driver registers itself as "sqlite3".
	_ "github.com/mattn/go-sqlite3"
)

// busyTimeoutMS is how long a connection waits for a lock held by another
// process (or a checkpoint) before giving up with SQLITE_BUSY.
const busyTimeoutMS = 10000

// DB is an open Flagpole database. It implements server.Store and is safe
// for concurrent use.
type DB struct {
	path   string
	writer *sql.DB // one connection, BEGIN IMMEDIATE
	reader *sql.DB // several query-only connections
}

var _ server.Store = (*DB)(nil)

// Open opens (creating if needed) the database file at path and applies any
// migrations it lacks. It refuses a database whose schema is newer than this
// binary knows (ErrSchemaNewer).
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: path %q: need a plain file path", path)
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: path %q: must not contain '?' or '#'", path)
	}
	db := &DB{path: path}
	var err error
	if db.writer, err = sql.Open("sqlite3", dsn(path, writerParams())); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.writer.SetMaxOpenConns(1)
	db.writer.SetMaxIdleConns(1)
	if db.reader, err = sql.Open("sqlite3", dsn(path, readerParams())); err != nil {
		db.writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	readers := max(4, runtime.NumCPU())
	db.reader.SetMaxOpenConns(readers)
	db.reader.SetMaxIdleConns(readers)
	if err := db.init(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// init checks the journal mode and migrates the schema.
func (db *DB) init(ctx context.Context) error {
	var mode string
	if err := db.writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", db.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("sqlite: open %s: journal mode is %q, want wal", db.path, mode)
	}
	return migrate(ctx, db.writer, migrations)
}

func writerParams() url.Values {
	return url.Values{
		"_journal_mode": {"WAL"},
		"_foreign_keys": {"on"},
		"_busy_timeout": {fmt.Sprint(busyTimeoutMS)},
		"_synchronous":  {"NORMAL"},
		"_txlock":       {"immediate"},
	}
}

func readerParams() url.Values {
	return url.Values{
		"_foreign_keys": {"on"},
		"_busy_timeout": {fmt.Sprint(busyTimeoutMS)},
		"_query_only":   {"on"},
		"_txlock":       {"deferred"},
	}
}

// dsn builds a go-sqlite3 data source name. The driver cuts the path at
// the first '?', which Open has ruled out of paths.
func dsn(path string, params url.Values) string {
	return path + "?" + params.Encode()
}

// Close closes every connection. The last one to close checkpoints the WAL.
func (db *DB) Close() error {
	var errs []error
	if db.reader != nil {
		errs = append(errs, db.reader.Close())
	}
	if db.writer != nil {
		errs = append(errs, db.writer.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// Update runs fn in one IMMEDIATE transaction and commits when fn returns
// nil. An error from fn is returned unchanged after rolling back; a panic
// rolls back and propagates.
func (db *DB) Update(ctx context.Context, fn func(server.Tx) error) error {
	return run(ctx, db.writer, nil, fn)
}

// View runs fn in a read-only transaction that sees one consistent snapshot
// from its first read on.
func (db *DB) View(ctx context.Context, fn func(server.Tx) error) error {
	return run(ctx, db.reader, &sql.TxOptions{ReadOnly: true}, fn)
}

func run(ctx context.Context, pool *sql.DB, opts *sql.TxOptions, fn func(server.Tx) error) error {
	sqlTx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer sqlTx.Rollback() // after Commit a no-op; on panic it undoes everything
	if err := fn(&tx{ctx: ctx, tx: sqlTx}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}
