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

func errorAs(err error, target **server.Error) bool { return errors.As(err, target) }
