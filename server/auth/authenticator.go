package auth

import (
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/passhash"
	"github.com/flagpole/flagpole/server/ratelimit"
)

// Defaults of an Authenticator.
const (
	DefaultSessionTTL = 12 * time.Hour
	// touchEvery throttles the recording of a token's last-used time.
	touchEvery = time.Minute
)

// Authenticator checks credentials against a Store and enforces the
// permission table. It is safe for concurrent use.
type Authenticator struct {
	store      server.AuthStore
	log        *slog.Logger
	now        func() time.Time
	sessionTTL time.Duration
	params     passhash.Params
	// Sign-in limits: per username and client address (a person's
	// mistakes), per username from anywhere (distributed guessing; ten
	// times the first), and per client address.
	users, accounts, ips *ratelimit.Limiter
	dummyHash            string // verified for unknown users, so timing does not tell
	// hashes admits one password hash (argon2id, 19 MiB by default) per
	// slot; waiting counts the callers queued for one.
	hashes  chan struct{}
	waiting atomic.Int32
	peak    atomic.Int32 // most slots ever held at once (tests)

	tokens *tokenCache

	mu      sync.Mutex
	touched map[string]time.Time // token name → last recorded use

	onRevoke []func(name string)
}

// Option configures an Authenticator.
type Option func(*Authenticator)

// WithLogger sets the logger (default: discard). Nothing secret is logged.
func WithLogger(l *slog.Logger) Option { return func(a *Authenticator) { a.log = l } }

// WithRevokeHook adds f, called with a token's name after its revocation
// commits, so that long-lived calls authenticated by the token (sync
// streams) can be ended; f must not block.
func WithRevokeHook(f func(name string)) Option {
	return func(a *Authenticator) { a.onRevoke = append(a.onRevoke, f) }
}

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(a *Authenticator) { a.now = now } }

// WithTokenCacheTTL sets how long a token read from the store is used
// without reading it again (default DefaultTokenCacheTTL; 0 reads it on
// every call). It bounds how late this process notices a revocation made
// through another replica; its own revocations apply at once.
func WithTokenCacheTTL(d time.Duration) Option {
	return func(a *Authenticator) { a.tokens = newTokenCache(d) }
}

// WithSessionTTL sets how long a UI session lasts after sign-in.
func WithSessionTTL(d time.Duration) Option { return func(a *Authenticator) { a.sessionTTL = d } }

// WithPasswordParams sets the argon2id cost of new password hashes.
func WithPasswordParams(p passhash.Params) Option { return func(a *Authenticator) { a.params = p } }

// WithSignInLimit sets the sign-in token buckets: per username and client
// IP, burst attempts then one more every userEvery (and per username from
// any address ten times that burst); per client IP, ipBurst then one every
// ipEvery.
func WithSignInLimit(burst int, userEvery time.Duration, ipBurst int, ipEvery time.Duration) Option {
	return func(a *Authenticator) {
		a.users = ratelimit.New(burst, userEvery)
		a.accounts = ratelimit.New(10*burst, userEvery)
		a.ips = ratelimit.New(ipBurst, ipEvery)
	}
}

// WithConcurrentHashes sets how many password hashes may run at once
// (default: the number of CPUs, at least 2). Each takes the memory of the
// argon2id parameters (19 MiB by default), so this bounds sign-in memory.
func WithConcurrentHashes(n int) Option {
	return func(a *Authenticator) { a.hashes = make(chan struct{}, max(n, 1)) }
}

// New returns an Authenticator over store.
func New(store server.AuthStore, opts ...Option) *Authenticator {
	a := &Authenticator{
		store:      store,
		log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		now:        time.Now,
		sessionTTL: DefaultSessionTTL,
		params:     passhash.DefaultParams,
		users:      ratelimit.New(5, 20*time.Second),
		accounts:   ratelimit.New(50, 20*time.Second),
		ips:        ratelimit.New(20, 3*time.Second),
		hashes:     make(chan struct{}, max(2, runtime.NumCPU())),
		touched:    map[string]time.Time{},
		tokens:     newTokenCache(DefaultTokenCacheTTL),
	}
	for _, opt := range opts {
		opt(a)
	}
	a.dummyHash = passhash.Hash("not a password of anyone", a.params)
	return a
}

var (
	ErrNoCredential  = server.Errorf(server.EUNAUTHORIZED, "authentication required: send \"authorization: Bearer <token>\"")
	errBadToken      = server.Errorf(server.EUNAUTHORIZED, "invalid token")
	errBadSession    = server.Errorf(server.EUNAUTHORIZED, "invalid session: sign in again")
	errSessionExpiry = server.Errorf(server.EUNAUTHORIZED, "session expired: sign in again")
)

// Logger returns the logger of a, for the transports that report its
// errors.
func (a *Authenticator) Logger() *slog.Logger { return a.log }

// AuthenticateToken returns the principal of a token secret, or an
// EUNAUTHORIZED error if it is unknown, revoked or expired.
func (a *Authenticator) AuthenticateToken(ctx context.Context, secret string) (Principal, error) {
	id, err := a.TokenIdentity(ctx, secret)
	if err != nil {
		return Principal{}, err
	}
	return id.principal, nil
}

// TokenIdentity is AuthenticateToken returning the identity, shared
// with the token's other calls while it is cached.
func (a *Authenticator) TokenIdentity(ctx context.Context, secret string) (*Identity, error) {
	if secret == "" {
		return nil, ErrNoCredential
	}
	t, id, err := a.lookupToken(ctx, secret)
	switch {
	case server.ErrorCode(err) == server.ENOTFOUND:
		return nil, errBadToken
	case err != nil:
		return nil, err
	case !t.RevokedAt.IsZero():
		return nil, server.Errorf(server.EUNAUTHORIZED, "token %q is revoked", t.Name)
	case !t.ExpiresAt.IsZero() && !a.now().Before(t.ExpiresAt):
		return nil, server.Errorf(server.EUNAUTHORIZED, "token %q expired at %s", t.Name, t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	a.touch(ctx, t)
	return id, nil
}

// tokenIdentity is the identity of a token's calls.
func tokenIdentity(t server.Token) *Identity {
	return newIdentity(Principal{Kind: server.KindToken, Name: t.Name, Scope: t.Scope, Environments: t.Environments, ExpiresAt: t.ExpiresAt})
}

// lookupToken returns the token of secret from the cache, or from the
// store when it is not cached or was read too long ago.
func (a *Authenticator) lookupToken(ctx context.Context, secret string) (server.Token, *Identity, error) {
	hash, now := sha256.Sum256([]byte(secret)), a.now()
	t, id, ok, gen := a.tokens.get(hash, now)
	if ok {
		return t, id, nil
	}
	err := a.store.ViewAuth(ctx, func(tx server.AuthTx) error {
		var err error
		t, err = tx.GetTokenByHash(hash[:])
		return err
	})
	if err != nil {
		return t, nil, err
	}
	id = tokenIdentity(t)
	a.tokens.put(hash, t, id, now, gen)
	return t, id, nil
}

// touch records the token's last use, at most once per touchEvery per token
// and process; a failure is logged, never the caller's problem.
func (a *Authenticator) touch(ctx context.Context, t server.Token) {
	now := a.now()
	a.mu.Lock()
	last, ok := a.touched[t.Name]
	if !ok {
		last = t.LastUsedAt
	}
	due := now.Sub(last) >= touchEvery
	if due {
		a.touched[t.Name] = now
	}
	a.mu.Unlock()
	if !due {
		return
	}
	err := a.store.UpdateAuth(ctx, func(tx server.AuthTx) error {
		cur, err := tx.GetToken(t.Name)
		if err != nil {
			return err
		}
		cur.LastUsedAt = now
		return tx.UpdateToken(cur)
	})
	if err != nil {
		a.log.Warn("auth: record token use", "token", t.Name, "err", err)
	}
}

// AuthenticateSession returns the principal of a session cookie value, or
// an EUNAUTHORIZED error if the session is unknown or expired.
func (a *Authenticator) AuthenticateSession(ctx context.Context, secret string) (Principal, error) {
	if secret == "" {
		return Principal{}, ErrNoCredential
	}
	hash := HashSecret(secret)
	var s server.Session
	var u server.User
	err := a.store.ViewAuth(ctx, func(tx server.AuthTx) error {
		var err error
		if s, err = tx.GetSession(hash); err != nil {
			return err
		}
		u, err = tx.GetUser(s.Username)
		return err
	})
	switch {
	case server.ErrorCode(err) == server.ENOTFOUND:
		return Principal{}, errBadSession
	case err != nil:
		return Principal{}, err
	case !a.now().Before(s.ExpiresAt):
		a.deleteSession(ctx, hash)
		return Principal{}, errSessionExpiry
	}
	return Principal{Kind: server.KindUser, Name: u.Username, Role: u.Role, ExpiresAt: s.ExpiresAt,
		Session: true, session: hash}, nil
}

// SessionIdentity is AuthenticateSession returning the identity that
// WithIdentity puts into the contexts of the session's requests.
func (a *Authenticator) SessionIdentity(ctx context.Context, secret string) (*Identity, error) {
	p, err := a.AuthenticateSession(ctx, secret)
	if err != nil {
		return nil, err
	}
	return newIdentity(p), nil
}

// EndSession deletes the session of a session cookie value (signing out).
func (a *Authenticator) EndSession(ctx context.Context, secret string) {
	a.deleteSession(ctx, HashSecret(secret))
}

func (a *Authenticator) deleteSession(ctx context.Context, hash []byte) {
	err := a.store.UpdateAuth(ctx, func(tx server.AuthTx) error { return tx.DeleteSession(hash) })
	if err != nil && server.ErrorCode(err) != server.ENOTFOUND {
		a.log.Warn("auth: delete session", "err", err)
	}
}

// maxHashWaiters bounds the callers queued for a hashing slot: past it a
// sign-in is refused at once rather than holding a goroutine and a request.
const maxHashWaiters = 64

// errHashBusy refuses a password check while too many are queued.
var errHashBusy = &RateLimitError{RetryAfter: time.Second}

// withHashSlot runs fn, which hashes a password, once a hashing slot is
// free: at most cap(a.hashes) hashes run at once, whatever the number of
// requests. It fails with errHashBusy when too many callers already wait,
// and with ctx's error when ctx ends first.
func (a *Authenticator) withHashSlot(ctx context.Context, fn func()) error {
	if a.waiting.Add(1) > maxHashWaiters {
		a.waiting.Add(-1)
		return errHashBusy
	}
	select {
	case a.hashes <- struct{}{}:
		a.waiting.Add(-1)
	case <-ctx.Done():
		a.waiting.Add(-1)
		return ctx.Err()
	}
	defer func() { <-a.hashes }()
	if n := int32(len(a.hashes)); n > a.peak.Load() {
		a.peak.Store(n) // a test statistic: a lost race only under-reports
	}
	fn()
	return nil
}
