package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/storetest"
)

func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) server.Store { return mustOpen(t, filepath.Join(t.TempDir(), "flagpole.db")) })
}

// mustOpen opens the database at path and closes it when the test ends.
func mustOpen(tb testing.TB, path string) *DB {
	tb.Helper()
	db, err := Open(tb.Context(), path)
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

func TestOpenRejectsPaths(t *testing.T) {
	for _, path := range []string{"", ":memory:", "file:x.db", "a?b.db", "a#b.db"} {
		if db, err := Open(t.Context(), path); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded, want an error", path)
		}
	}
}

func TestPragmas(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "flagpole.db"))
	for _, c := range []struct {
		pool   *sql.DB
		pragma string
		want   string
	}{
		{db.writer, "journal_mode", "wal"},
		{db.reader, "journal_mode", "wal"},
		{db.writer, "foreign_keys", "1"},
		{db.reader, "foreign_keys", "1"},
		{db.writer, "synchronous", "1"}, // NORMAL
		{db.writer, "busy_timeout", "10000"},
		{db.reader, "busy_timeout", "10000"},
		{db.reader, "query_only", "1"},
	} {
		var got string
		if err := c.pool.QueryRowContext(t.Context(), "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", c.pragma, err)
		}
		if got != c.want {
			t.Errorf("PRAGMA %s = %q, want %q", c.pragma, got, c.want)
		}
	}
}

func TestMigrationsOnceAndIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flagpole.db")
	for range 3 {
		db, err := Open(t.Context(), path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if err := db.Migrated(t.Context()); err != nil {
			t.Errorf("Migrated: %v", err)
		}
		var rows, version int
		err = db.reader.QueryRowContext(t.Context(), "SELECT COUNT(*), MAX(version) FROM schema_migrations").Scan(&rows, &version)
		if err != nil {
			t.Fatal(err)
		}
		if rows != len(migrations) || version != latestVersion() {
			t.Errorf("schema_migrations has %d rows up to %d, want %d up to %d", rows, version, len(migrations), latestVersion())
		}
		db.Close()
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flagpole.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(t.Context(), func(tx server.Tx) error {
		if err := tx.CreateEnvironment(server.Environment{Name: "production", CreatedAt: time.Now()}); err != nil {
			return err
		}
		if _, err := tx.BumpRevision("production"); err != nil {
			return err
		}
		_, err := tx.AppendAudit(server.AuditEntry{Actor: server.System, Action: "environment.create", Resource: "environment", Key: "production"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = mustOpen(t, path)
	err = db.View(t.Context(), func(tx server.Tx) error {
		env, err := tx.GetEnvironment("production")
		if err != nil {
			return err
		}
		if env.Revision != 1 {
			t.Errorf("revision after reopen = %d, want 1", env.Revision)
		}
		audit, err := tx.ListAudit(server.AuditFilter{})
		if len(audit) != 1 {
			t.Errorf("%d audit entries after reopen, want 1", len(audit))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAuditZeroTimeIsNow checks that an entry without a time gets the
// current one.
func TestAuditZeroTimeIsNow(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "flagpole.db"))
	before := time.Now()
	err := db.Update(t.Context(), func(tx server.Tx) error {
		_, err := tx.AppendAudit(server.AuditEntry{Actor: server.System, Action: "x", Resource: "flag", Key: "k"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(t.Context(), func(tx server.Tx) error {
		audit, err := tx.ListAudit(server.AuditFilter{})
		if err == nil && (len(audit) != 1 || audit[0].Time.Before(before.Truncate(time.Microsecond)) || audit[0].Time.After(time.Now())) {
			t.Errorf("audit = %+v, want one entry timed between %v and now", audit, before)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAuditTriggersRefuseChanges(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "flagpole.db"))
	err := db.Update(t.Context(), func(tx server.Tx) error {
		_, err := tx.AppendAudit(server.AuditEntry{Time: time.Now(), Actor: server.System, Action: "x", Resource: "flag", Key: "k"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"UPDATE audit_log SET actor_name = 'mallory'",
		"DELETE FROM audit_log",
	} {
		_, err := db.writer.ExecContext(t.Context(), stmt)
		if !isConstraint(err, sqlite3.ErrConstraintTrigger) || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: error %v, want the append-only trigger", stmt, err)
		}
	}
	var n int
	var name string
	if err := db.reader.QueryRowContext(t.Context(), "SELECT COUNT(*), MAX(actor_name) FROM audit_log").Scan(&n, &name); err != nil {
		t.Fatal(err)
	}
	if n != 1 || name != server.System.Name {
		t.Errorf("audit_log has %d rows, actor %q; want 1 untouched row", n, name)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flagpole.db")
	db := mustOpen(t, path)
	next := latestVersion() + 1
	_, err := db.writer.ExecContext(t.Context(),
		"INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', ?)", next, formatTime(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrated(t.Context()); err == nil {
		t.Errorf("Migrated on a newer schema succeeded, want an error")
	}
	db.Close()

	db, err = Open(t.Context(), path)
	if err == nil {
		db.Close()
		t.Fatal("Open of a newer schema succeeded, want an error")
	}
	if !errors.Is(err, ErrSchemaNewer) || !strings.Contains(err.Error(), "newer flagpole") {
		t.Errorf("Open of a newer schema: %v, want ErrSchemaNewer saying what to do", err)
	}
}

// TestMigrationsEachInOwnTransaction applies a set whose second migration
// fails: the first stays applied, nothing of the second remains, and the
// fixed set then applies the rest.
func TestMigrationsEachInOwnTransaction(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "flagpole.db"))
	base, n := latestVersion(), len(migrations)
	ms := append(migrations[:n:n],
		migration{Version: base + 1, Name: "good", SQL: "CREATE TABLE probe_first (id INTEGER PRIMARY KEY)"},
		migration{Version: base + 2, Name: "bad", SQL: "CREATE TABLE probe_second (id INTEGER PRIMARY KEY); SELECT no_such_function()"},
	)
	err := migrate(t.Context(), db.writer, ms)
	if err == nil || !strings.Contains(err.Error(), "_bad") {
		t.Fatalf("migrate with a failing migration: %v, want an error naming it", err)
	}
	if v, _ := db.SchemaVersion(t.Context()); v != base+1 {
		t.Errorf("schema version %d, want %d", v, base+1)
	}
	if tableExists(t, db, "probe_second") || !tableExists(t, db, "probe_first") {
		t.Errorf("after the failure: probe_second exists %v (want false), probe_first %v (want true)",
			tableExists(t, db, "probe_second"), tableExists(t, db, "probe_first"))
	}
	ms[n+1].SQL = "CREATE TABLE probe_second (id INTEGER PRIMARY KEY)"
	if err := migrate(t.Context(), db.writer, ms); err != nil {
		t.Fatalf("migrate with the fix: %v", err)
	}
	if v, _ := db.SchemaVersion(t.Context()); v != base+2 || !tableExists(t, db, "probe_second") {
		t.Errorf("after the fix: version %d, probe_second exists %v", v, tableExists(t, db, "probe_second"))
	}
}

func tableExists(t *testing.T, db *DB, name string) bool {
	var n int
	err := db.reader.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", name).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flagpole.db")
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() {
			db, err := Open(context.Background(), path)
			if err == nil {
				err = db.Close()
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	db := mustOpen(t, path)
	var n int
	if err := db.reader.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(migrations) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(migrations))
	}
}

// TestMigrationFillingAGap applies a migration numbered below the database's
// version, as when a change developed in parallel lands later: the database
// first gets a migration two above the latest, then the one in between.
func TestMigrationFillingAGap(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "flagpole.db"))
	n, base := len(migrations), latestVersion()
	high := migration{Version: base + 2, Name: "high", SQL: "CREATE TABLE probe_high (id INTEGER PRIMARY KEY)"}
	if err := migrate(t.Context(), db.writer, append(migrations[:n:n], high)); err != nil {
		t.Fatalf("migrate with a gap: %v", err)
	}
	late := migration{Version: base + 1, Name: "late", SQL: "CREATE TABLE probe_late (id INTEGER PRIMARY KEY)"}
	if err := migrate(t.Context(), db.writer, append(migrations[:n:n], late, high)); err != nil {
		t.Fatal(err)
	}
	if !tableExists(t, db, "probe_late") {
		t.Errorf("migration %d below the applied %d was not applied", base+1, base+2)
	}
}

func TestWebhookContract(t *testing.T) {
	storetest.RunWebhooks(t, func(t *testing.T) storetest.WebhookStore {
		return mustOpen(t, filepath.Join(t.TempDir(), "flagpole.db"))
	})
}
