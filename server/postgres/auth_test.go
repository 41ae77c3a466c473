package postgres

import (
	"testing"
	"time"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/postgres/pgtest"
	"github.com/flagpole/flagpole/server/storetest"
)

// TestAuth runs storetest's server.AuthStore suite on a schema of its own; times
// are at microsecond precision, the finest PostgreSQL keeps. The second
// store is a second replica on the same schema.
func TestAuth(t *testing.T) {
	storetest.RunAuth(t, time.Microsecond, func(t *testing.T) (storetest.AuthStore, func() storetest.AuthStore) {
		dsn := pgtest.Schema(t)
		return mustOpen(t, dsn), func() storetest.AuthStore { return mustOpen(t, dsn) }
	})
}

// TestAuthSessionOfUnknownUser: the foreign key violation is reported as
// ENOTFOUND (the SQLite store does not map it).
func TestAuthSessionOfUnknownUser(t *testing.T) {
	db := mustOpen(t, pgtest.Schema(t))
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	err := db.UpdateAuth(t.Context(), func(tx server.AuthTx) error {
		return tx.CreateSession(server.Session{Hash: []byte("nouser"), Username: "ghost", CreatedAt: now, ExpiresAt: now})
	})
	if server.ErrorCode(err) != server.ENOTFOUND {
		t.Errorf("session of an unknown user: %v, want ENOTFOUND", err)
	}
}
