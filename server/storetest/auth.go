package storetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/auth"
	"github.com/flagpole/flagpole/server/passhash"
)

// AuthStore is a store that keeps both the service's records and the
// tokens, users and sessions of server/auth, in one database.
type AuthStore interface {
	server.Store
	server.AuthStore
}

// RunAuth runs the server.AuthStore suite, each test in a subtest of its own.
// open must return a new, empty store, closed when t ends, and reopen: a
// function that opens the same database again (it may close the first
// store before), so the suite can check that everything committed is there.
// precision is the finest time the store keeps (time.Nanosecond,
// time.Microsecond); fixture times are truncated to it.
func RunAuth(t *testing.T, precision time.Duration, open func(t *testing.T) (s AuthStore, reopen func() AuthStore)) {
	t.Run("StoreRoundTrip", func(t *testing.T) { testAuthRoundTrip(t, precision, open) })
	t.Run("StoreSessions", func(t *testing.T) {
		s, _ := open(t)
		testAuthSessions(t, s)
	})
	t.Run("UpdateRollsBack", func(t *testing.T) {
		s, _ := open(t)
		testAuthUpdateRollsBack(t, s)
	})
	t.Run("Authenticator", func(t *testing.T) {
		s, _ := open(t)
		testAuthenticator(t, s)
	})
}

func testAuthRoundTrip(t *testing.T, precision time.Duration, open func(t *testing.T) (AuthStore, func() AuthStore)) {
	db, reopen := open(t)
	ctx := t.Context()
	now := time.Date(2030, 5, 6, 7, 8, 9, 123456789, time.UTC).Truncate(precision)
	if err := db.Update(ctx, func(tx server.Tx) error {
		return tx.CreateEnvironment(server.Environment{Name: "production", Protected: true, CreatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	tok := server.Token{Name: "deploy", Scope: server.ScopeCI, Environments: []string{"production", "staging"},
		Hash: auth.HashSecret("secret"), Hint: "fp_ci_abcd", CreatedBy: "ada", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	user := server.User{Username: "ada", Role: server.RoleAdmin, PasswordHash: "$argon2id$x", CreatedAt: now, UpdatedAt: now}
	sess := server.Session{Hash: auth.HashSecret("cookie"), Username: "ada", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	err := db.UpdateAuth(ctx, func(tx server.AuthTx) error {
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
	db = reopen() // everything committed is there for a new store

	err = db.ViewAuth(ctx, func(tx server.AuthTx) error {
		got, err := tx.GetTokenByHash(auth.HashSecret("secret"))
		if err != nil {
			return err
		}
		if got.Name != "deploy" || got.Scope != server.ScopeCI || !slices.Equal(got.Environments, tok.Environments) ||
			!got.CreatedAt.Equal(now) || !got.ExpiresAt.Equal(tok.ExpiresAt) || !got.LastUsedAt.IsZero() ||
			!got.RevokedAt.IsZero() || got.Hint != tok.Hint || got.CreatedBy != "ada" || !bytes.Equal(got.Hash, tok.Hash) {
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

	err = db.UpdateAuth(ctx, func(tx server.AuthTx) error {
		if err := tx.CreateToken(tok); server.ErrorCode(err) != server.EEXISTS {
			t.Errorf("duplicate token: %v, want EEXISTS", err)
		}
		other := tok
		other.Name = "other" // the same secret under another name
		if err := tx.CreateToken(other); server.ErrorCode(err) != server.EEXISTS {
			t.Errorf("token with a taken hash: %v, want EEXISTS", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.UpdateAuth(ctx, func(tx server.AuthTx) error {
		if err := tx.CreateUser(user); server.ErrorCode(err) != server.EEXISTS {
			t.Errorf("duplicate user: %v, want EEXISTS", err)
		}
		tok.LastUsedAt, tok.RevokedAt = now.Add(time.Minute), now.Add(2*time.Minute)
		if err := tx.UpdateToken(tok); err != nil {
			return err
		}
		if err := tx.UpdateToken(server.Token{Name: "nope"}); server.ErrorCode(err) != server.ENOTFOUND {
			t.Errorf("update of a missing token: %v, want ENOTFOUND", err)
		}
		temp := tok
		temp.Name, temp.Hash = "temp", append([]byte("temp-"), tok.Hash...)
		if err := tx.CreateToken(temp); err != nil {
			return err
		}
		if err := tx.DeleteToken("temp"); err != nil {
			t.Errorf("delete token: %v", err)
		}
		if _, err := tx.GetToken("temp"); server.ErrorCode(err) != server.ENOTFOUND {
			t.Errorf("deleted token still there: %v", err)
		}
		if err := tx.DeleteToken("nope"); server.ErrorCode(err) != server.ENOTFOUND {
			t.Errorf("delete of a missing token: %v, want ENOTFOUND", err)
		}
		user.Role = server.RoleViewer
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

func testAuthSessions(t *testing.T, db AuthStore) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	err := db.UpdateAuth(t.Context(), func(tx server.AuthTx) error {
		if err := tx.CreateUser(server.User{Username: "vi", Role: server.RoleViewer, PasswordHash: "h", CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		for i, d := range []time.Duration{time.Minute, time.Hour, 2 * time.Hour} {
			s := server.Session{Hash: []byte{byte(i)}, Username: "vi", CreatedAt: now, ExpiresAt: now.Add(d)}
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
	// In a transaction of its own: on PostgreSQL a failed statement ends
	// the transaction. Which error code a store returns is its own test's.
	err = db.UpdateAuth(t.Context(), func(tx server.AuthTx) error {
		return tx.CreateSession(server.Session{Hash: []byte("nouser"), Username: "ghost", CreatedAt: now, ExpiresAt: now})
	})
	if server.ErrorCode(err) != server.ENOTFOUND {
		t.Errorf("session of an unknown user: err = %v, want ENOTFOUND", err)
	}
}

// testAuthUpdateRollsBack: a failing UpdateAuth leaves neither the user nor
// its audit entry.
func testAuthUpdateRollsBack(t *testing.T, db AuthStore) {
	boom := errors.New("boom")
	err := db.UpdateAuth(t.Context(), func(tx server.AuthTx) error {
		now := time.Now()
		if err := tx.CreateUser(server.User{Username: "vi", Role: server.RoleViewer, PasswordHash: "h", CreatedAt: now, UpdatedAt: now}); err != nil {
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
	db.ViewAuth(t.Context(), func(tx server.AuthTx) error {
		if us, _ := tx.ListUsers(); len(us) != 0 {
			t.Errorf("users after rollback: %+v", us)
		}
		return nil
	})
	var n int
	view(t, db, func(tx server.Tx) error {
		es, err := tx.ListAudit(server.AuditFilter{})
		n = len(es)
		return err
	})
	if n != 0 {
		t.Errorf("%d audit entries after rollback", n)
	}
}

// testAuthenticator runs bootstrap, token and session checks of
// server/auth against the store.
func testAuthenticator(t *testing.T, db AuthStore) {
	ctx := context.Background()
	a := auth.New(db, auth.WithPasswordParams(passhash.Params{Time: 1, Memory: 64, Threads: 1}))
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
	if p, err := a.AuthenticateSession(ctx, secret); err != nil || p.Name != "admin" || p.Role != server.RoleAdmin {
		t.Fatalf("session: %+v %v", p, err)
	}
	entries := 0
	db.View(ctx, func(tx server.Tx) error {
		es, err := tx.ListAudit(server.AuditFilter{Resource: "token"})
		entries = len(es)
		return err
	})
	if entries != 1 {
		t.Fatalf("%d token audit entries after bootstrap, want 1", entries)
	}
}
