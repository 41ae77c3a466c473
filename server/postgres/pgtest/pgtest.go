// Package pgtest gives tests a fresh, empty PostgreSQL schema of their own,
// so tests of the postgres store (and of servers running on it) run in
// parallel against one real server without seeing each other's rows.
//
// The server is the one FLAGPOLE_TEST_POSTGRES names (default DefaultDSN).
// When it cannot be reached the test is skipped, unless the environment
// variable CI is set: then it fails, so CI cannot pass by skipping.
package pgtest

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultDSN is the server tests use when FLAGPOLE_TEST_POSTGRES is unset.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// ServerDSN is the DSN of the test server.
func ServerDSN() string {
	if dsn := os.Getenv("FLAGPOLE_TEST_POSTGRES"); dsn != "" {
		return dsn
	}
	return DefaultDSN
}

// Schema creates an empty schema, drops it when tb ends, and returns a DSN
// whose search_path is that schema.
func Schema(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, ServerDSN())
	if err != nil {
		unreachable(tb, err)
	}
	defer conn.Close(context.Background())
	name := "flagpole_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		tb.Fatalf("pgtest: create schema: %v", err)
	}
	tb.Cleanup(func() { drop(tb, name) })
	dsn, err := WithSearchPath(ServerDSN(), name)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// WithSearchPath returns dsn (a URL) with its search_path set to schema.
func WithSearchPath(dsn, schema string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func drop(tb testing.TB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, ServerDSN())
	if err != nil {
		tb.Errorf("pgtest: drop schema %s: %v", name, err)
		return
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
		tb.Errorf("pgtest: drop schema %s: %v", name, err)
	}
}

func unreachable(tb testing.TB, err error) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatalf("pgtest: PostgreSQL at FLAGPOLE_TEST_POSTGRES (or %s) is required in CI: %v", DefaultDSN, err)
	}
	tb.Skipf("pgtest: no PostgreSQL to test against (set FLAGPOLE_TEST_POSTGRES): %v", err)
}
