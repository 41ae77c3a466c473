package auth

import (
	"errors"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/server"
)

func TestTokenSecretFormat(t *testing.T) {
	seen := map[string]bool{}
	for _, scope := range []string{server.ScopeSDK, server.ScopeCI, server.ScopeAdmin} {
		s := NewTokenSecret(scope)
		if !strings.HasPrefix(s, "fp_"+scope+"_") {
			t.Errorf("secret %q lacks prefix fp_%s_", s, scope)
		}
		if len(s) != len(TokenPrefix(scope))+secretChars+checksumChars {
			t.Errorf("secret %q has length %d", s, len(s))
		}
		if !WellFormedToken(s) {
			t.Errorf("WellFormedToken(%q) = false", s)
		}
		// One changed character breaks the checksum.
		i := len(TokenPrefix(scope)) + 3
		c := byte('a')
		if s[i] == 'a' {
			c = 'b'
		}
		typo := s[:i] + string(c) + s[i+1:]
		if WellFormedToken(typo) {
			t.Errorf("WellFormedToken(%q) = true after a typo", typo)
		}
		if seen[s] {
			t.Fatalf("secret %q generated twice", s)
		}
		seen[s] = true
		if h := hint(s); h != s[:len(TokenPrefix(scope))+4] {
			t.Errorf("hint(%q) = %q", s, h)
		}
	}
}

func TestRandomStringUsesAllOfBase62(t *testing.T) {
	counts := map[rune]int{}
	for range 200 {
		for _, c := range randomString(50) {
			counts[c]++
		}
	}
	if len(counts) != 62 {
		t.Fatalf("10000 characters used %d distinct symbols, want 62", len(counts))
	}
}

func TestPasswordHash(t *testing.T) {
	p := PasswordParams{Time: 1, Memory: 64, Threads: 1}
	h1, h2 := HashPassword("correct horse battery", p), HashPassword("correct horse battery", p)
	if h1 == h2 {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not an encoded argon2id hash", h1)
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"correct horse battery", true}, {"correct horse batterY", false}, {"", false}} {
		ok, err := VerifyPassword(tc.pw, h1)
		if err != nil || ok != tc.want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", tc.pw, ok, err, tc.want)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=64,t=0,p=1$AAAA$AAAA", "plain"} {
		if _, err := VerifyPassword("x", bad); err == nil {
			t.Errorf("VerifyPassword accepted malformed hash %q", bad)
		}
	}
}

func errorAs(err error, target **server.Error) bool { return errors.As(err, target) }
