// Package postgres is the store of Flagpole servers that run as several
// replicas: the persistence contract of server/service kept in PostgreSQL
// through github.com/jackc/pgx/v5. Its schema comes from migrations
// embedded in the binary and applied when the store is opened, under an
// advisory lock, so replicas that start together apply each one once.
//
// Every Update runs SERIALIZABLE and is retried when PostgreSQL reports a
// serialization failure, so concurrent writers, on one replica or several,
// never lose an update. Writers also queue on a transaction-scoped advisory
// lock before they begin, as SQLite's writers queue on its one write lock: nearly every
// change bumps an environment's revision, so concurrent writers would
// conflict anyway, and queueing spares them the aborted work and the retry
// storms of a hot row. Views never wait for it. Each committed change is also written to a change
// log and announced with NOTIFY; Watch follows those announcements so that
// a replica publishes changes made through the others to its own sync
// streams.
package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/flagpole/flagpole/server"
)

// maxAttempts bounds how often an Update is tried when it keeps losing
// serialization conflicts.
const maxAttempts = 30

// DB is an open Flagpole database. It implements server.Store and is safe
// for concurrent use.
type DB struct {
	pool *pgxpool.Pool
	// replica identifies this DB among the replicas sharing the database,
	// so it can tell its own change notifications from the others'.
	replica string
	// schema is the schema the tables live in (the search_path's first).
	schema string
	// writeLock is the key of the advisory lock writers queue on.
	writeLock int64
	log       *slog.Logger
	retries   atomic.Int64 // transactions run again after a conflict

	mu      sync.Mutex
	closed  bool
	watchWG sync.WaitGroup
	stop    context.CancelFunc // stops the Watch goroutine, nil if none
}

var _ server.Store = (*DB)(nil)

// Option configures a DB.
type Option func(*DB)

// WithLogger sets where Watch reports trouble with its connection (default:
// nowhere).
func WithLogger(l *slog.Logger) Option { return func(db *DB) { db.log = l } }

// IsDSN reports whether dsn names a PostgreSQL database (a postgres:// or
// postgresql:// URL) rather than a SQLite file.
func IsDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open connects to the database dsn names (a postgres:// URL; any
// parameter pgx does not know, such as search_path, is sent to the server
// as a run-time setting) and applies the migrations it lacks. It refuses a
// database whose schema is newer than this binary knows (ErrSchemaNewer).
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: dsn: %w", err)
	}
	if cfg.MaxConns < int32(max(4, runtime.NumCPU())) {
		cfg.MaxConns = int32(max(4, runtime.NumCPU()))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db := &DB{pool: pool, replica: newReplicaID(), log: discard}
	for _, o := range opts {
		o(db)
	}
	if err := db.init(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

func newReplicaID() string { return rand.Text()[:16] }

// init finds the schema and migrates it.
func (db *DB) init(ctx context.Context) error {
	var schema *string
	if err := db.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("postgres: open: %w", err)
	}
	if schema == nil {
		return errors.New("postgres: open: no schema of the search_path exists; create it first")
	}
	db.schema = *schema
	if err := db.pool.QueryRow(ctx, "SELECT hashtextextended('flagpole write ' || $1, 0)", db.schema).Scan(&db.writeLock); err != nil {
		return fmt.Errorf("postgres: open: %w", err)
	}
	return migrate(ctx, db.pool, db.schema, migrations)
}

// Close stops Watch and closes every connection.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	stop := db.stop
	db.mu.Unlock()
	if stop != nil {
		stop()
	}
	db.watchWG.Wait()
	db.pool.Close()
	return nil
}

// Replica is the ID this DB puts on the changes it commits.
func (db *DB) Replica() string { return db.replica }

// Update runs fn in one SERIALIZABLE transaction and commits when fn returns
// nil. When PostgreSQL aborts the transaction for a serialization failure or
// a deadlock, the whole transaction, fn included, runs again; fn must
// therefore keep no effects outside the transaction. An error from fn is
// returned unchanged after rolling back; a panic rolls back and propagates.
func (db *DB) Update(ctx context.Context, fn func(server.Tx) error) error {
	return db.update(ctx, func(t *tx) error { return fn(t) })
}

// View runs fn in a read-only transaction that sees one consistent snapshot.
func (db *DB) View(ctx context.Context, fn func(server.Tx) error) error {
	return db.view(ctx, func(t *tx) error { return fn(t) })
}

func (db *DB) update(ctx context.Context, fn func(*tx) error) error {
	for attempt := 1; ; attempt++ {
		err := db.run(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable}, fn)
		if !retryable(err) {
			return err
		}
		db.retries.Add(1)
		if attempt == maxAttempts {
			return server.Errorf(server.EUNAVAILABLE, "postgres: transaction lost %d serialization conflicts in a row, try again", attempt)
		}
		// Back off, with jitter, so the conflicting writers part.
		wait := time.Duration(mrand.Int64N(int64(min(1<<attempt, 64)) * int64(time.Millisecond)))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (db *DB) view(ctx context.Context, fn func(*tx) error) error {
	return db.run(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// run runs fn in one transaction. Before a read-write transaction commits,
// it records and announces what the transaction changed (see notify).
func (db *DB) run(ctx context.Context, opts pgx.TxOptions, fn func(*tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return wrapCtx(ctx, "begin", err)
	}
	defer conn.Release()
	write := opts.AccessMode != pgx.ReadOnly
	if write {
		// The lock is taken before BEGIN: a SERIALIZABLE transaction's
		// snapshot dates from its first statement, so waiting inside it
		// would leave it with a snapshot older than the writer before it.
		if err := db.lockWriters(ctx, conn); err != nil {
			return err
		}
		defer db.unlockWriters(ctx, conn)
	}
	pgTx, err := conn.BeginTx(ctx, opts)
	if err != nil {
		return wrapCtx(ctx, "begin", err)
	}
	// After Commit a no-op; on an error or a panic it undoes everything.
	defer pgTx.Rollback(context.WithoutCancel(ctx))
	t := &tx{ctx: ctx, tx: pgTx, db: db}
	if err := fn(t); err != nil {
		return err
	}
	if write {
		if err := t.notify(); err != nil {
			return err
		}
	}
	if err := pgTx.Commit(ctx); err != nil {
		return wrapCtx(ctx, "commit", err)
	}
	return nil
}

// lockWriters waits for the writer lock on conn's session.
func (db *DB) lockWriters(ctx context.Context, conn *pgxpool.Conn) error {
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", db.writeLock); err != nil {
		conn.Conn().Close(context.WithoutCancel(ctx)) // it may hold the lock after all
		return wrapCtx(ctx, "lock writers", err)
	}
	return nil
}

// unlockWriters releases the writer lock; a connection that cannot say so
// is closed, which releases it too, so no pooled session keeps it.
func (db *DB) unlockWriters(ctx context.Context, conn *pgxpool.Conn) {
	ctx = context.WithoutCancel(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", db.writeLock); err != nil {
		conn.Conn().Close(ctx)
	}
}

// wrapCtx prefers the context's error: a canceled call reports
// context.Canceled, not whatever the driver made of it.
func wrapCtx(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("postgres: %s: %w (%w)", op, ctxErr, err)
	}
	return wrap(op, err)
}
