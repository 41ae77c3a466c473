package passhash

import (
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	p := Params{Time: 1, Memory: 64, Threads: 1}
	h1, h2 := Hash("correct horse battery", p), Hash("correct horse battery", p)
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
		ok, err := Verify(tc.pw, h1)
		if err != nil || ok != tc.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tc.pw, ok, err, tc.want)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=64,t=0,p=1$AAAA$AAAA", "plain"} {
		if _, err := Verify("x", bad); err == nil {
			t.Errorf("VerifyPassword accepted malformed hash %q", bad)
		}
	}
}

// BenchmarkHashPassword is one argon2id hash at the default cost: the work
// of a sign-in attempt.
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		Hash("correct horse battery staple", DefaultParams)
	}
}
