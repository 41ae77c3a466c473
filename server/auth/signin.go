package auth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/passhash"
	"github.com/flagpole/flagpole/server/ratelimit"
)

// RateLimitError is returned by SignIn when attempts come too fast.
type RateLimitError struct {
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("too many sign-in attempts: retry in %s", e.RetryAfter.Round(time.Second))
}

var errBadPassword = server.Errorf(server.EUNAUTHORIZED, "invalid username or password")

// SignIn checks a username and password and starts a session. It returns
// the session secret (the cookie value), the user and the session. Each
// attempt spends a token of the username's and of the client IP's bucket;
// when either is empty the attempt is refused with a *RateLimitError before
// the password is looked at. A successful sign-in refills the username's
// bucket, so only failures add up against a user.
func (a *Authenticator) SignIn(ctx context.Context, username, password, ip string) (string, server.User, server.Session, error) {
	now := a.now()
	account := strings.ToLower(username)
	pair := account + "\x00" + ip
	// Each limit is asked only once the one before admitted the attempt,
	// so a refused attempt spends nothing of the others.
	for _, l := range []struct {
		limiter *ratelimit.Limiter
		key     string
	}{{a.ips, ip}, {a.users, pair}, {a.accounts, account}} {
		if ok, wait := l.limiter.Take(l.key, now); !ok {
			a.log.Warn("auth: sign-in rate limited", "ip", ip)
			return "", server.User{}, server.Session{}, &RateLimitError{RetryAfter: wait}
		}
	}
	var u server.User
	err := a.store.ViewAuth(ctx, func(tx server.AuthTx) error {
		var err error
		u, err = tx.GetUser(username)
		return err
	})
	if err != nil && server.ErrorCode(err) != server.ENOTFOUND {
		return "", server.User{}, server.Session{}, err
	}
	hash := u.PasswordHash
	if err != nil {
		hash = a.dummyHash // same work as for a real user
	}
	var match bool
	var verr error
	if herr := a.withHashSlot(ctx, func() { match, verr = passhash.Verify(password, hash) }); herr != nil {
		return "", server.User{}, server.Session{}, herr
	}
	if err != nil || verr != nil || !match {
		a.log.Info("auth: sign-in failed", "ip", ip) // not the username: it may be a mistyped password
		return "", server.User{}, server.Session{}, errBadPassword
	}
	secret := randomString(secretChars)
	s := server.Session{Hash: HashSecret(secret), Username: u.Username, CreatedAt: now, ExpiresAt: now.Add(a.sessionTTL)}
	err = a.store.UpdateAuth(ctx, func(tx server.AuthTx) error {
		if err := tx.DeleteExpiredSessions(now); err != nil {
			return err
		}
		return tx.CreateSession(s)
	})
	if err != nil {
		return "", server.User{}, server.Session{}, err
	}
	a.users.Reset(pair) // only failures count against a user
	a.accounts.Reset(account)
	a.log.Info("auth: signed in", "user", u.Username, "ip", ip)
	return secret, u, s, nil
}
