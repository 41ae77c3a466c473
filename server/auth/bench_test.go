package auth

import (
	"context"
	"testing"

	v1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server"
)

// BenchmarkAuthorize is the permission check of one call (table lookup and
// rule), without the credential lookup.
func BenchmarkAuthorize(b *testing.B) {
	a, _ := testAuthenticator(b)
	ctx := NewContext(context.Background(), ciStaging)
	req := &v1.SetEnabledRequest{FlagKey: "f", Environment: "staging"}
	for b.Loop() {
		if err := a.Authorize(ctx, v1.FlagService_SetEnabled_FullMethodName, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewTokenSecret is the generation of one token secret.
func BenchmarkNewTokenSecret(b *testing.B) {
	for b.Loop() {
		NewTokenSecret(server.ScopeCI)
	}
}

// BenchmarkAuthenticateTokenCached is the credential check of a call whose
// token was read from the store less than DefaultTokenCacheTTL ago: a hash
// and a map lookup, no store read (the SQLite read it saves is
// server/sqlite's BenchmarkGetTokenByHash).
func BenchmarkAuthenticateTokenCached(b *testing.B) {
	a, _ := testAuthenticator(b)
	ctx := NewContext(context.Background(), adminUser)
	_, secret, err := a.CreateToken(ctx, NewToken{Name: "svc", Scope: server.ScopeSDK, Environments: []string{"production"}})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := a.AuthenticateToken(ctx, secret); err != nil {
			b.Fatal(err)
		}
	}
}
