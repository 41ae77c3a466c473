package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"hash/crc32"
	"strings"

	"github.com/flagpole/flagpole/server"
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// secretChars is the number of random base62 characters in a token:
// 43 × log2(62) ≈ 256 bits, the entropy of 32 random bytes.
const secretChars = 43

// checksumChars is the length of the base62 CRC-32 suffix that lets secret
// scanners tell a real token from a look-alike without asking the server.
const checksumChars = 6

// TokenPrefix returns the prefix of secrets of a scope: fp_sdk_, fp_ci_ or
// fp_admin_.
func TokenPrefix(scope string) string { return "fp_" + scope + "_" }

// randomString returns n characters drawn uniformly from base62.
func randomString(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		rand.Read(buf) // never returns an error (crypto/rand contract)
		for _, b := range buf {
			// 248 = 4×62: rejecting larger bytes keeps the choice uniform.
			if b < 248 && len(out) < n {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out)
}

// encodeBase62 writes v as exactly n base62 digits.
func encodeBase62(v uint32, n int) string {
	out := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return string(out)
}

// NewTokenSecret returns a fresh secret for scope: the prefix, 43 random
// base62 characters and a 6-character checksum of both.
func NewTokenSecret(scope string) string {
	body := TokenPrefix(scope) + randomString(secretChars)
	return body + encodeBase62(crc32.ChecksumIEEE([]byte(body)), checksumChars)
}

// WellFormedToken reports whether s looks like a secret NewTokenSecret made:
// a known prefix, the right length and a matching checksum.
func WellFormedToken(s string) bool {
	for _, scope := range []string{server.ScopeSDK, server.ScopeCI, server.ScopeAdmin} {
		p := TokenPrefix(scope)
		if !strings.HasPrefix(s, p) || len(s) != len(p)+secretChars+checksumChars {
			continue
		}
		body, sum := s[:len(s)-checksumChars], s[len(s)-checksumChars:]
		return encodeBase62(crc32.ChecksumIEEE([]byte(body)), checksumChars) == sum
	}
	return false
}

// HashSecret returns the SHA-256 of a token or session secret. A plain hash
// is enough for secrets of 256 random bits, and it allows lookup by hash.
func HashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// hint returns the part of a secret shown in lists: its prefix and four
// characters, not enough to use it.
func hint(secret string) string {
	i := strings.LastIndexByte(secret, '_')
	if i < 0 || !strings.HasPrefix(secret, "fp_") {
		return ""
	}
	end := min(len(secret), i+1+4)
	return secret[:end]
}
