package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/dbschema"
	"github.com/flagpole/flagpole/server/postgres/pgtest"
	"github.com/flagpole/flagpole/server/storetest"
)

func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) server.Store { return mustOpen(t, pgtest.Schema(t)) })
}

// mustOpen opens the database at dsn and closes it when the test ends.
func mustOpen(tb testing.TB, dsn string) *DB {
	tb.Helper()
	db, err := Open(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestIsDSN(t *testing.T) {
	for dsn, want := range map[string]bool{
		"postgres://u@h/db": true, "postgresql://h/db?sslmode=disable": true,
		"flagpole.db": false, "/var/lib/postgres.db": false, "postgres.db": false,
	} {
		if got := IsDSN(dsn); got != want {
			t.Errorf("IsDSN(%q) = %v, want %v", dsn, got, want)
		}
	}
}

func TestOpenRejectsBadDSN(t *testing.T) {
	if _, err := Open(t.Context(), "postgres://127.0.0.1:5432/test?sslmode=bogus"); err == nil || !strings.Contains(err.Error(), "postgres: dsn") {
		t.Errorf("Open with a bad sslmode = %v, want a dsn error", err)
	}
	dsn, err := pgtest.WithSearchPath(pgtest.ServerDSN(), "flagpole_no_such_schema")
	if err != nil {
		t.Fatal(err)
	}
	pgtest.Schema(t) // skips (or fails in CI) without a server
	if db, err := Open(t.Context(), dsn); err == nil || !strings.Contains(err.Error(), "no schema") {
		if db != nil {
			db.Close()
		}
		t.Errorf("Open with a missing schema = %v, want an error naming the schema", err)
	}
}

// TestMigrationsConcurrentOpen starts several replicas on one empty schema
// at once: each migration is applied once and every replica opens.
func TestMigrationsConcurrentOpen(t *testing.T) {
	dsn := pgtest.Schema(t)
	const replicas = 4
	var wg sync.WaitGroup
	errs := make(chan error, replicas)
	for range replicas {
		wg.Go(func() {
			db, err := Open(t.Context(), dsn)
			if err == nil {
				db.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	db := mustOpen(t, dsn)
	var rows, latest int
	if err := db.pool.QueryRow(t.Context(), "SELECT COUNT(*), MAX(version) FROM schema_migrations").Scan(&rows, &latest); err != nil {
		t.Fatal(err)
	}
	if rows != len(migrations) || latest != latestVersion() {
		t.Errorf("schema_migrations has %d rows up to %d, want %d up to %d", rows, latest, len(migrations), latestVersion())
	}
	if err := db.Migrated(t.Context()); err != nil {
		t.Errorf("Migrated: %v", err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	dsn := pgtest.Schema(t)
	db := mustOpen(t, dsn)
	if _, err := db.pool.Exec(t.Context(), "INSERT INTO schema_migrations (version, name) VALUES ($1, 'future')", latestVersion()+1); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), dsn)
	if !errors.Is(err, ErrSchemaNewer) {
		t.Fatalf("Open of a newer schema = %v, want ErrSchemaNewer", err)
	}
	if want := fmt.Sprintf("version %d", latestVersion()+1); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not mention %q", err, want)
	}
}

func TestLoadMigrationsRejectsGaps(t *testing.T) {
	if _, err := dbschema.Load(migrationFiles, "migrations"); err != nil {
		t.Fatalf("embedded migrations: %v", err)
	}
	if _, err := dbschema.Load(migrationFiles, "nope"); err == nil {
		t.Error("missing directory accepted")
	}
}

// TestAuditAppendOnly: not even a raw statement can change the trail.
func TestAuditAppendOnly(t *testing.T) {
	db := mustOpen(t, pgtest.Schema(t))
	err := db.Update(t.Context(), func(tx server.Tx) error {
		_, err := tx.AppendAudit(server.AuditEntry{Actor: server.System, Action: "flag.create", Resource: "flag", Key: "a"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"UPDATE audit_log SET action = 'forged'",
		"DELETE FROM audit_log",
		"TRUNCATE audit_log",
	} {
		_, err := db.pool.Exec(t.Context(), stmt)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s = %v, want the append-only error", stmt, err)
		}
	}
	var n int
	if err := db.pool.QueryRow(t.Context(), "SELECT COUNT(*) FROM audit_log WHERE action = 'flag.create'").Scan(&n); err != nil || n != 1 {
		t.Errorf("audit entries after the attempts: %d (%v), want 1", n, err)
	}
}

// TestDuplicateKeepsTransaction: a taken key is EEXISTS and the
// transaction goes on (PostgreSQL would abort it after a raw violation).
func TestDuplicateKeepsTransaction(t *testing.T) {
	db := mustOpen(t, pgtest.Schema(t))
	flag := server.Flag{Flag: engine.Flag{Key: "a", Type: engine.TypeBoolean,
		Variants: []engine.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}}, Revision: 1}
	err := db.Update(t.Context(), func(tx server.Tx) error {
		if err := tx.CreateFlag(flag); err != nil {
			return err
		}
		err := tx.CreateFlag(flag)
		if server.ErrorCode(err) != server.EEXISTS || !strings.Contains(err.Error(), `flag "a" already exists`) {
			t.Errorf("duplicate CreateFlag = %v, want EEXISTS naming the flag", err)
		}
		return tx.CreateEnvironment(server.Environment{Name: "qa", CreatedAt: time.Now()})
	})
	if err != nil {
		t.Fatalf("Update after a duplicate: %v", err)
	}
}

// TestConcurrentReplicas: two stores on one schema, as two server replicas,
// increment one revision concurrently; SERIALIZABLE plus retries lose
// nothing.
func TestConcurrentReplicas(t *testing.T) {
	dsn := pgtest.Schema(t)
	a, b := mustOpen(t, dsn), mustOpen(t, dsn)
	if err := a.Update(t.Context(), func(tx server.Tx) error {
		return tx.CreateEnvironment(server.Environment{Name: "production", CreatedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 4, 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*rounds)
	increment := func(tx server.Tx) error {
		env, err := tx.GetEnvironment("production")
		if err != nil {
			return err
		}
		env.Description = fmt.Sprint(len(env.Description) + 1)
		if err := tx.UpdateEnvironment(env); err != nil {
			return err
		}
		_, err = tx.BumpRevision("production")
		return err
	}
	for _, db := range []*DB{a, b} {
		for range workers {
			wg.Go(func() {
				for range rounds {
					errs <- db.Update(t.Context(), increment)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Update: %v", err)
		}
	}
	// Writers queue before their snapshot, so none had to run again.
	if n := a.retries.Load() + b.retries.Load(); n != 0 {
		t.Errorf("%d transactions retried, want 0", n)
	}
	err := b.View(t.Context(), func(tx server.Tx) error {
		env, err := tx.GetEnvironment("production")
		if err == nil && env.Revision != 2*workers*rounds {
			t.Errorf("revision %d after %d increments", env.Revision, 2*workers*rounds)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRetriesSerializationFailure: a write that loses a serialization
// conflict to another session runs again, whole, and commits.
func TestRetriesSerializationFailure(t *testing.T) {
	dsn := pgtest.Schema(t)
	db := mustOpen(t, dsn)
	if err := db.Update(t.Context(), func(tx server.Tx) error {
		return tx.CreateEnvironment(server.Environment{Name: "production", CreatedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	err := db.Update(t.Context(), func(tx server.Tx) error {
		calls++
		env, err := tx.GetEnvironment("production")
		if err != nil {
			return err
		}
		if calls == 1 {
			// Another session (not a Flagpole writer) changes the row
			// this transaction has read.
			if _, err := db.pool.Exec(t.Context(), "UPDATE environments SET description = 'outside' WHERE name = 'production'"); err != nil {
				return err
			}
		}
		env.Description += "+inside"
		return tx.UpdateEnvironment(env)
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if calls != 2 {
		t.Errorf("fn ran %d times, want 2 (one serialization failure, one retry)", calls)
	}
	err = db.View(t.Context(), func(tx server.Tx) error {
		env, err := tx.GetEnvironment("production")
		if err == nil && env.Description != "outside+inside" {
			t.Errorf("description %q, want %q: an update was lost", env.Description, "outside+inside")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWebhookContract(t *testing.T) {
	storetest.RunWebhooks(t, func(t *testing.T) storetest.WebhookStore { return mustOpen(t, pgtest.Schema(t)) })
}
