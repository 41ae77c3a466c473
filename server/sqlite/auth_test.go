package sqlite

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/auth"
	"github.com/flagpole/flagpole/server/service"
)

func TestAuthStoreRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flagpole.db")
	db := mustOpen(t, path)
	ctx := t.Context()
	now := time.Date(2030, 5, 6, 7, 8, 9, 123456789, time.UTC)
	if err := db.Update(ctx, func(tx service.Tx) error {
		return tx.CreateEnvironment(server.Environment{Name: "production", Protected: true, CreatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	tok := auth.Token{Name: "deploy", Scope: auth.ScopeCI, Environments: []string{"production", "staging"},
		Hash: auth.HashSecret("secret"), Hint: "fp_ci_abcd", CreatedBy: "ada", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	user := auth.User{Username: "ada", Role: auth.RoleAdmin, PasswordHash: "$argon2id$x", CreatedAt: now, UpdatedAt: now}
	sess := auth.Session{Hash: auth.HashSecret("cookie"), Username: "ada", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	err := db.UpdateAuth(ctx, func(tx auth.Tx) error {
		if err := tx.CreateToken(tok); err != nil {
			return err
		}
		if err := tx.CreateUser(user); err != nil {
			return err
		}
		if err := tx.CreateSession(sess); err != nil {
			return err
		}
		_, err := tx.AppendAudit(server.AuditEntry{Time: now, Actor: server.System, Action: "token.create", Resource: "token", Key: "deploy"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = mustOpen(t, path) // everything survives a reopen

	err = db.ViewAuth(ctx, func(tx auth.Tx) error {
		got, err := tx.GetTokenByHash(auth.HashSecret("secret"))
		if err != nil {
			return err
		}
		if got.Name != "deploy" || got.Scope != auth.ScopeCI || len(got.Environments) != 2 ||
			!got.CreatedAt.Equal(now) || !got.ExpiresAt.Equal(tok.ExpiresAt) || !got.LastUsedAt.IsZero() ||
			!got.RevokedAt.IsZero() || got.Hint != tok.Hint || got.CreatedBy != "ada" {
			t.Errorf("token read back as %+v, stored %+v", got, tok)
		}
		if _, err := tx.GetTokenByHash(auth.HashSecret("other")); server.ErrorCode(err) != server.ENOTFOUND {
			t.Errorf("unknown hash: %v, want ENOTFOUND", err)
		}
		u, err := tx.GetUser("ada")
		if err != nil || u != user {
			t.Errorf("user read back as %+v, %v", u, err)
		}
		s, err := tx.GetSession(sess.Hash)
		if err != nil || s.Username != "ada" || !s.ExpiresAt.Equal(sess.ExpiresAt) {
			t.Errorf("session read back as %+v, %v", s, err)
		}
		env, err := tx.GetEnvironment("production")
		if err != nil || !env.Protected {
			t.Errorf("environment %+v, %v", env, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	err = db.UpdateAuth(ctx, func(tx auth.Tx) error {
		if err := tx.CreateToken(tok); server.ErrorCode(err) != server.EEXISTS {
			t.Errorf("duplicate token: %v, want EEXISTS", err)
		}
		if err := tx.CreateUser(user); server.ErrorCode(err) != server.EEXISTS {
			t.Errorf("duplicate user: %v, want EEXISTS", err)
		}
		tok.LastUsedAt, tok.RevokedAt = now.Add(time.Minute), now.Add(2*time.Minute)
		if err := tx.UpdateToken(tok); err != nil {
			return err
		}
		if err := tx.UpdateToken(auth.Token{Name: "nope"}); server.ErrorCode(err) != server.ENOTFOUND {
			t.Errorf("update of a missing token: %v, want ENOTFOUND", err)
		}
		user.Role = auth.RoleViewer
		if err := tx.UpdateUser(user); err != nil {
			return err
		}
		if err := tx.DeleteExpiredSessions(now.Add(30 * time.Minute)); err != nil {
			return err
		}
		if _, err := tx.GetSession(sess.Hash); err != nil {
			t.Errorf("unexpired session deleted: %v", err)
		}
		// Deleting the user takes the sessions along.
		if err := tx.DeleteUser("ada"); err != nil {
			return err
		}
		if _, err := tx.GetSession(sess.Hash); server.ErrorCode(err) != server.ENOTFOUND {
			t.Errorf("session of a deleted user: %v, want ENOTFOUND", err)
		}
		ts, err := tx.ListTokens()
		if err != nil || len(ts) != 1 || !ts[0].RevokedAt.Equal(tok.RevokedAt) || !ts[0].LastUsedAt.Equal(tok.LastUsedAt) {
			t.Errorf("ListTokens = %+v, %v", ts, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAuthStoreSessions(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "flagpole.db"))
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	err := db.UpdateAuth(t.Context(), func(tx auth.Tx) error {
		if err := tx.CreateUser(auth.User{Username: "vi", Role: auth.RoleViewer, PasswordHash: "h", CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		if err := tx.CreateSession(auth.Session{Hash: []byte("nouser"), Username: "ghost", CreatedAt: now, ExpiresAt: now}); err == nil {
			t.Error("session of an unknown user stored")
		}
		for i, d := range []time.Duration{time.Minute, time.Hour, 2 * time.Hour} {
			s := auth.Session{Hash: []byte{byte(i)}, Username: "vi", CreatedAt: now, ExpiresAt: now.Add(d)}
			if err := tx.CreateSession(s); err != nil {
				return err
			}
		}
		if err := tx.DeleteExpiredSessions(now.Add(30 * time.Minute)); err != nil {
			return err
		}
		if _, err := tx.GetSession([]byte{0}); server.ErrorCode(err) != server.ENOTFOUND {
			t.Errorf("expired session kept: %v", err)
		}
		if err := tx.DeleteUserSessions("vi", []byte{2}); err != nil {
			return err
		}
		if _, err := tx.GetSession([]byte{1}); server.ErrorCode(err) != server.ENOTFOUND {
			t.Errorf("other session kept: %v", err)
		}
		if _, err := tx.GetSession([]byte{2}); err != nil {
			t.Errorf("kept session gone: %v", err)
		}
		if err := tx.DeleteUserSessions("vi", nil); err != nil {
			return err
		}
		if _, err := tx.GetSession([]byte{2}); server.ErrorCode(err) != server.ENOTFOUND {
			t.Errorf("session kept after deleting all: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAuthUpdateRollsBack: a failing UpdateAuth leaves neither the user nor
// its audit entry.
func TestAuthUpdateRollsBack(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "flagpole.db"))
	boom := errors.New("boom")
	err := db.UpdateAuth(t.Context(), func(tx auth.Tx) error {
		now := time.Now()
		if err := tx.CreateUser(auth.User{Username: "vi", Role: auth.RoleViewer, PasswordHash: "h", CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		if _, err := tx.AppendAudit(server.AuditEntry{Actor: server.System, Action: "user.create", Resource: "user", Key: "vi"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UpdateAuth = %v, want boom", err)
	}
	db.ViewAuth(t.Context(), func(tx auth.Tx) error {
		if us, _ := tx.ListUsers(); len(us) != 0 {
			t.Errorf("users after rollback: %+v", us)
		}
		return nil
	})
	var n int
	db.reader.QueryRow("SELECT COUNT(*) FROM audit_log").Scan(&n)
	if n != 0 {
		t.Errorf("%d audit entries after rollback", n)
	}
}

// TestAuthenticatorOnSQLite runs bootstrap, token and session checks of
// server/auth against a real database file.
func TestAuthenticatorOnSQLite(t *testing.T) {
	db := mustOpen(t, filepath.Join(t.TempDir(), "flagpole.db"))
	ctx := context.Background()
	a := auth.New(db, auth.WithPasswordParams(auth.PasswordParams{Time: 1, Memory: 64, Threads: 1}))
	token := "an-admin-token-of-at-least-32-characters"
	var out bytes.Buffer
	if err := a.Bootstrap(ctx, "admin-password-1", token, &out); err != nil {
		t.Fatal(err)
	}
	p, err := a.AuthenticateToken(ctx, token)
	if err != nil || !p.IsAdmin() {
		t.Fatalf("bootstrap token: %+v %v", p, err)
	}
	secret, _, _, err := a.SignIn(ctx, "admin", "admin-password-1", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := a.AuthenticateSession(ctx, secret); err != nil || p.Name != "admin" || p.Role != auth.RoleAdmin {
		t.Fatalf("session: %+v %v", p, err)
	}
	entries := 0
	db.View(ctx, func(tx service.Tx) error {
		es, err := tx.ListAudit(server.AuditFilter{Resource: "token"})
		entries = len(es)
		return err
	})
	if entries != 1 {
		t.Fatalf("%d token audit entries after bootstrap, want 1", entries)
	}
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
			a := auth.New(db, auth.WithPasswordParams(auth.PasswordParams{Time: 1, Memory: 64, Threads: 1}),
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
