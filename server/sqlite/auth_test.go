package sqlite

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/flagpole/flagpole/server/auth"
	"github.com/flagpole/flagpole/server/passhash"
	"github.com/flagpole/flagpole/server/storetest"
)

// TestAuth runs storetest's server.AuthStore suite on a database file, which
// keeps times to the nanosecond; the second store opens the file again
// after the first is closed.
func TestAuth(t *testing.T) {
	storetest.RunAuth(t, time.Nanosecond, func(t *testing.T) (storetest.AuthStore, func() storetest.AuthStore) {
		path := filepath.Join(t.TempDir(), "flagpole.db")
		db := mustOpen(t, path)
		return db, func() storetest.AuthStore {
			db.Close()
			return mustOpen(t, path)
		}
	})
}

// BenchmarkAuthenticateToken is the credential check of one call against a
// real database file: SHA-256 of the secret and a lookup by hash (uncached),
// or within auth.DefaultTokenCacheTTL of the last lookup (cached).
func BenchmarkAuthenticateToken(b *testing.B) {
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"uncached", 0}, {"cached", auth.DefaultTokenCacheTTL}} {
		b.Run(bc.name, func(b *testing.B) {
			db := mustOpen(b, filepath.Join(b.TempDir(), "flagpole.db"))
			ctx := context.Background()
			a := auth.New(db, auth.WithPasswordParams(passhash.Params{Time: 1, Memory: 64, Threads: 1}),
				auth.WithTokenCacheTTL(bc.ttl))
			token := "an-admin-token-of-at-least-32-characters"
			if err := a.Bootstrap(ctx, "admin-password-1", token, &bytes.Buffer{}); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := a.AuthenticateToken(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
