package auth

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/flagpole/flagpole/server"
)

// memStore is a hand-written in-memory Store for unit tests; the real one
// (server/sqlite) runs in the serve tests.
type memStore struct {
	mu       sync.Mutex
	tokens   []server.Token
	users    []server.User
	sessions []server.Session
	envs     map[string]server.Environment
	audit    []server.AuditEntry
}

func newMemStore() *memStore {
	return &memStore{envs: map[string]server.Environment{
		"development": {Name: "development"},
		"staging":     {Name: "staging"},
		"production":  {Name: "production", Protected: true},
	}}
}

func (m *memStore) UpdateAuth(_ context.Context, fn func(server.AuthTx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	tokens, users := slices.Clone(m.tokens), slices.Clone(m.users)
	sessions, audit := slices.Clone(m.sessions), slices.Clone(m.audit)
	if err := fn(memTx{m}); err != nil {
		m.tokens, m.users, m.sessions, m.audit = tokens, users, sessions, audit
		return err
	}
	return nil
}

func (m *memStore) ViewAuth(ctx context.Context, fn func(server.AuthTx) error) error {
	return m.UpdateAuth(ctx, fn)
}

type memTx struct{ m *memStore }

func notFound(what, key string) error {
	return server.Errorf(server.ENOTFOUND, "%s %q not found", what, key)
}

func (t memTx) CreateToken(tok server.Token) error {
	if _, err := t.GetToken(tok.Name); err == nil {
		return server.Errorf(server.EEXISTS, "token %q exists", tok.Name)
	}
	t.m.tokens = append(t.m.tokens, tok)
	return nil
}

func (t memTx) GetToken(name string) (server.Token, error) {
	for _, tok := range t.m.tokens {
		if tok.Name == name {
			return tok, nil
		}
	}
	return server.Token{}, notFound("token", name)
}

func (t memTx) GetTokenByHash(hash []byte) (server.Token, error) {
	for _, tok := range t.m.tokens {
		if bytes.Equal(tok.Hash, hash) {
			return tok, nil
		}
	}
	return server.Token{}, notFound("token", "by hash")
}

func (t memTx) ListTokens() ([]server.Token, error) { return slices.Clone(t.m.tokens), nil }

func (t memTx) UpdateToken(tok server.Token) error {
	for i := range t.m.tokens {
		if t.m.tokens[i].Name == tok.Name {
			t.m.tokens[i].LastUsedAt, t.m.tokens[i].RevokedAt = tok.LastUsedAt, tok.RevokedAt
			return nil
		}
	}
	return notFound("token", tok.Name)
}

func (t memTx) DeleteToken(name string) error {
	for i := range t.m.tokens {
		if t.m.tokens[i].Name == name {
			t.m.tokens = slices.Delete(t.m.tokens, i, i+1)
			return nil
		}
	}
	return notFound("token", name)
}

func (t memTx) CreateUser(u server.User) error {
	if _, err := t.GetUser(u.Username); err == nil {
		return server.Errorf(server.EEXISTS, "user %q exists", u.Username)
	}
	t.m.users = append(t.m.users, u)
	return nil
}

func (t memTx) GetUser(name string) (server.User, error) {
	for _, u := range t.m.users {
		if u.Username == name {
			return u, nil
		}
	}
	return server.User{}, notFound("user", name)
}

func (t memTx) ListUsers() ([]server.User, error) { return slices.Clone(t.m.users), nil }

func (t memTx) UpdateUser(u server.User) error {
	for i := range t.m.users {
		if t.m.users[i].Username == u.Username {
			t.m.users[i] = u
			return nil
		}
	}
	return notFound("user", u.Username)
}

func (t memTx) DeleteUser(name string) error {
	if _, err := t.GetUser(name); err != nil {
		return err
	}
	t.m.users = slices.DeleteFunc(t.m.users, func(u server.User) bool { return u.Username == name })
	return t.DeleteUserSessions(name, nil)
}

func (t memTx) CreateSession(s server.Session) error {
	t.m.sessions = append(t.m.sessions, s)
	return nil
}

func (t memTx) GetSession(hash []byte) (server.Session, error) {
	for _, s := range t.m.sessions {
		if bytes.Equal(s.Hash, hash) {
			return s, nil
		}
	}
	return server.Session{}, notFound("session", "by hash")
}

func (t memTx) DeleteSession(hash []byte) error {
	t.m.sessions = slices.DeleteFunc(t.m.sessions, func(s server.Session) bool { return bytes.Equal(s.Hash, hash) })
	return nil
}

func (t memTx) DeleteUserSessions(name string, keep []byte) error {
	t.m.sessions = slices.DeleteFunc(t.m.sessions, func(s server.Session) bool {
		return s.Username == name && !bytes.Equal(s.Hash, keep)
	})
	return nil
}

func (t memTx) DeleteExpiredSessions(now time.Time) error {
	t.m.sessions = slices.DeleteFunc(t.m.sessions, func(s server.Session) bool { return s.ExpiresAt.Before(now) })
	return nil
}

func (t memTx) GetEnvironment(name string) (server.Environment, error) {
	if e, ok := t.m.envs[name]; ok {
		return e, nil
	}
	return server.Environment{}, notFound("environment", name)
}

func (t memTx) AppendAudit(e server.AuditEntry) (int64, error) {
	e.ID = int64(len(t.m.audit) + 1)
	t.m.audit = append(t.m.audit, e)
	return e.ID, nil
}

// auditText is every audit entry as one string, to search for secrets.
func (m *memStore) auditText() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	for _, e := range m.audit {
		b.WriteString(e.Actor.Name + " " + e.Action + " " + e.Key + " " + string(e.Before) + " " + string(e.After) + "\n")
	}
	return b.String()
}
