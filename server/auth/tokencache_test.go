package auth

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/passhash"
)

// countingStore counts the read transactions of a Store.
type countingStore struct {
	server.AuthStore
	views atomic.Int64
}

func (c *countingStore) ViewAuth(ctx context.Context, fn func(server.AuthTx) error) error {
	c.views.Add(1)
	return c.AuthStore.ViewAuth(ctx, fn)
}

func cacheFixture(t *testing.T, opts ...Option) (*Authenticator, *memStore, *countingStore, *clock, context.Context) {
	t.Helper()
	clk := &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	mem := newMemStore()
	st := &countingStore{AuthStore: mem}
	opts = append([]Option{WithPasswordParams(passhash.Params{Time: 1, Memory: 64, Threads: 1}), WithClock(clk.Now)}, opts...)
	a := New(st, opts...)
	ctx := NewContext(context.Background(), adminUser)
	ctx = server.NewContextWithActor(ctx, adminUser.Actor(server.SourceCLI))
	return a, mem, st, clk, ctx
}

func TestTokenCacheSavesReadsWithinTTL(t *testing.T) {
	a, _, st, clk, ctx := cacheFixture(t)
	_, secret, err := a.CreateToken(ctx, NewToken{Name: "svc", Scope: server.ScopeSDK, Environments: []string{"staging"}})
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if _, err := a.AuthenticateToken(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.views.Load(); n != 1 {
		t.Fatalf("100 calls within the TTL read the store %d times, want 1", n)
	}
	clk.Add(DefaultTokenCacheTTL)
	if _, err := a.AuthenticateToken(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if n := st.views.Load(); n != 2 {
		t.Fatalf("a call after the TTL: %d reads, want 2", n)
	}
	// Unknown secrets are not cached: each is a read, each refused.
	for range 3 {
		if _, err := a.AuthenticateToken(ctx, secret+"x"); server.ErrorCode(err) != server.EUNAUTHORIZED {
			t.Fatalf("unknown token: %v", err)
		}
	}
	if n := st.views.Load(); n != 5 {
		t.Fatalf("3 unknown secrets: %d reads in all, want 5", n)
	}
}

func TestTokenCacheOff(t *testing.T) {
	a, _, st, _, ctx := cacheFixture(t, WithTokenCacheTTL(0))
	_, secret, _ := a.CreateToken(ctx, NewToken{Name: "svc", Scope: server.ScopeCI})
	for range 3 {
		if _, err := a.AuthenticateToken(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.views.Load(); n != 3 {
		t.Fatalf("cache off: %d reads for 3 calls, want 3", n)
	}
}

// TestTokenCacheRevokeAppliesAtOnce: a token in use, revoked in this
// process, is refused on the very next call.
func TestTokenCacheRevokeAppliesAtOnce(t *testing.T) {
	a, _, _, _, ctx := cacheFixture(t)
	_, secret, _ := a.CreateToken(ctx, NewToken{Name: "deploy", Scope: server.ScopeCI})
	if _, err := a.AuthenticateToken(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RevokeToken(ctx, "deploy"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AuthenticateToken(ctx, secret); server.ErrorCode(err) != server.EUNAUTHORIZED ||
		!strings.Contains(err.Error(), "revoked") {
		t.Fatalf("call right after revoke: %v, want revoked", err)
	}
}

// TestTokenCacheExpiryAppliesAtOnce: a cached token is refused from the
// moment it expires, not a TTL later.
func TestTokenCacheExpiryAppliesAtOnce(t *testing.T) {
	a, _, _, clk, ctx := cacheFixture(t)
	_, secret, _ := a.CreateToken(ctx, NewToken{Name: "svc", Scope: server.ScopeCI, ExpiresAt: clk.Now().Add(time.Second)})
	if _, err := a.AuthenticateToken(ctx, secret); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second)
	if _, err := a.AuthenticateToken(ctx, secret); server.ErrorCode(err) != server.EUNAUTHORIZED ||
		!strings.Contains(err.Error(), "expired") {
		t.Fatalf("call at expiry: %v, want expired", err)
	}
}

// TestTokenCacheOtherReplicaRevoke: a revocation written by another
// process (straight to the shared store) is noticed within the TTL.
func TestTokenCacheOtherReplicaRevoke(t *testing.T) {
	a, mem, _, clk, ctx := cacheFixture(t)
	_, secret, _ := a.CreateToken(ctx, NewToken{Name: "deploy", Scope: server.ScopeCI})
	if _, err := a.AuthenticateToken(ctx, secret); err != nil {
		t.Fatal(err)
	}
	other := New(mem, WithPasswordParams(passhash.Params{Time: 1, Memory: 64, Threads: 1}), WithClock(clk.Now))
	if _, err := other.RevokeToken(ctx, "deploy"); err != nil {
		t.Fatal(err)
	}
	clk.Add(DefaultTokenCacheTTL - time.Millisecond)
	if _, err := a.AuthenticateToken(ctx, secret); err != nil {
		t.Fatalf("within the TTL the cached token still serves: %v", err)
	}
	clk.Add(time.Millisecond)
	if _, err := a.AuthenticateToken(ctx, secret); server.ErrorCode(err) != server.EUNAUTHORIZED {
		t.Fatalf("after the TTL: %v, want the revocation seen", err)
	}
}

// blockingStore holds the next token read until released, to put a
// revocation in the middle of it.
type blockingStore struct {
	server.AuthStore
	reading, release chan struct{}
	once             sync.Once
}

func (b *blockingStore) ViewAuth(ctx context.Context, fn func(server.AuthTx) error) error {
	err := b.AuthStore.ViewAuth(ctx, fn)
	b.once.Do(func() {
		close(b.reading)
		<-b.release
	})
	return err
}

// TestTokenCacheRevokeDuringRead: a read of the store that began before a
// revocation must not put the unrevoked token back into the cache.
func TestTokenCacheRevokeDuringRead(t *testing.T) {
	clk := &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	mem := newMemStore()
	params := WithPasswordParams(passhash.Params{Time: 1, Memory: 64, Threads: 1})
	ctx := server.NewContextWithActor(NewContext(context.Background(), adminUser), adminUser.Actor(server.SourceCLI))
	_, secret, err := New(mem, params, WithClock(clk.Now)).CreateToken(ctx, NewToken{Name: "deploy", Scope: server.ScopeCI})
	if err != nil {
		t.Fatal(err)
	}
	st := &blockingStore{AuthStore: mem, reading: make(chan struct{}), release: make(chan struct{})}
	a := New(st, params, WithClock(clk.Now))
	done := make(chan error, 1)
	go func() { _, err := a.AuthenticateToken(ctx, secret); done <- err }()
	<-st.reading // the token is read, not yet cached
	if _, err := a.RevokeToken(ctx, "deploy"); err != nil {
		t.Fatal(err)
	}
	close(st.release)
	if err := <-done; err != nil {
		t.Fatalf("the call that raced the revocation: %v (it read the token before)", err)
	}
	if _, err := a.AuthenticateToken(ctx, secret); server.ErrorCode(err) != server.EUNAUTHORIZED {
		t.Fatalf("call after revoke returned: %v, want revoked", err)
	}
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
