package auth

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/passhash"
)

// TestSignInHashesCapped: however many sign-ins arrive at once, at most
// the configured number of password hashes run concurrently (each takes
// the argon2id memory), and a full queue is refused at once.
func TestSignInHashesCapped(t *testing.T) {
	a, _ := testAuthenticator(t, WithConcurrentHashes(2),
		WithPasswordParams(passhash.Params{Time: 2, Memory: 4 << 10, Threads: 1}),
		WithSignInLimit(1000, time.Second, 1000, time.Second))
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			_, _, _, err := a.SignIn(context.Background(), fmt.Sprintf("user%d", i), "wrong-password", fmt.Sprintf("10.0.0.%d", i))
			if err != errBadPassword {
				t.Errorf("sign-in %d: %v, want bad password", i, err)
			}
		})
	}
	wg.Wait()
	if p := a.peak.Load(); p < 1 || p > 2 {
		t.Errorf("peak concurrent hashes %d, want at most 2", p)
	}
	// A queue already at its bound refuses without hashing.
	a.waiting.Store(maxHashWaiters)
	if _, _, _, err := a.SignIn(context.Background(), "late", "wrong-password", "10.0.1.1"); err != errHashBusy {
		t.Errorf("sign-in with a full queue: %v, want busy", err)
	}
}

// TestWrongPasswordsElsewhereDoNotLockOut: failures from one address lock
// that address's attempts on the account, not its owner signing in from
// another one; an address refused by its own limit spends nothing of the
// account's.
func TestWrongPasswordsElsewhereDoNotLockOut(t *testing.T) {
	a, _ := testAuthenticator(t, WithSignInLimit(5, time.Minute, 6, time.Hour))
	ctx := context.Background()
	if _, err := a.CreateUser(ctx, "admin", "admin-password-1", server.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, _, _, err := a.SignIn(ctx, "admin", "guess", "203.0.113.9"); err != errBadPassword {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if _, _, _, err := a.SignIn(ctx, "admin", "admin-password-1", "203.0.113.9"); err == nil {
		t.Fatal("the guessing address signed in after its limit")
	}
	if _, _, _, err := a.SignIn(ctx, "admin", "admin-password-1", "198.51.100.7"); err != nil {
		t.Fatalf("the owner from another address: %v, want signed in", err)
	}
	// The guessing address is out of its own budget (6 per hour): further
	// attempts on another account are refused before any account bucket.
	for range 3 {
		a.SignIn(ctx, "other", "guess", "203.0.113.9")
	}
	if n := a.accounts.Size(); n != 0 {
		t.Errorf("account buckets %d after refused attempts, want 0 (admin's reset by its sign-in, none for other)", n)
	}
}
