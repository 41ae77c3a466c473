package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the argon2id cost parameters. They are stored with
// every hash, so raising them later keeps old hashes verifiable.
type PasswordParams struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8
}

// DefaultPasswordParams follow the OWASP minimum for argon2id: 19 MiB, two
// passes, one thread.
var DefaultPasswordParams = PasswordParams{Time: 2, Memory: 19 * 1024, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32
	// MinPasswordLen and MaxPasswordLen bound the accepted password length.
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

var errBadHash = errors.New("auth: malformed password hash")

// HashPassword returns an encoded argon2id hash of password with a fresh
// random salt: $argon2id$v=19$m=...,t=...,p=...$salt$key (base64, no padding).
func HashPassword(password string, p PasswordParams) string {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// VerifyPassword reports whether password matches the encoded hash, in time
// that does not depend on where they differ.
func VerifyPassword(password, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var version int
	var p PasswordParams
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return false, errBadHash
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 || p.Time == 0 || p.Threads == 0 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
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
