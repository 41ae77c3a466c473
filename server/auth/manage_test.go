package auth

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/server"
)

func TestBootstrap(t *testing.T) {
	a, st := testAuthenticator(t)
	ctx := context.Background()
	if err := a.Bootstrap(ctx, "", "short", &bytes.Buffer{}); server.ErrorCode(err) != server.EINVALID ||
		!strings.Contains(err.Error(), "FLAGPOLE_ADMIN_TOKEN") {
		t.Fatalf("short token: %v, want EINVALID naming FLAGPOLE_ADMIN_TOKEN", err)
	}
	if err := a.Bootstrap(ctx, "short", "", &bytes.Buffer{}); server.ErrorCode(err) != server.EINVALID {
		t.Fatalf("short password: %v, want EINVALID", err)
	}
	token := strings.Repeat("t", 32)
	var out bytes.Buffer
	if err := a.Bootstrap(ctx, "given-admin-password", token, &out); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("given secrets were printed: %q", out.String())
	}
	p, err := a.AuthenticateToken(ctx, token)
	if err != nil || !p.IsAdmin() || p.Name != BootstrapToken {
		t.Fatalf("bootstrap token: %+v, %v", p, err)
	}
	if _, _, _, err := a.SignIn(ctx, BootstrapUser, "given-admin-password", "127.0.0.1"); err != nil {
		t.Fatalf("bootstrap user cannot sign in: %v", err)
	}
	// A second start changes nothing and prints nothing.
	if err := a.Bootstrap(ctx, "", "", &out); err != nil || out.Len() != 0 {
		t.Fatalf("second bootstrap: %v, printed %q", err, out.String())
	}
	if len(st.users) != 1 || len(st.tokens) != 1 || len(st.audit) != 2 {
		t.Fatalf("after two bootstraps: %d users, %d tokens, %d audit entries; want 1, 1, 2",
			len(st.users), len(st.tokens), len(st.audit))
	}
	if st.audit[0].Actor != server.System {
		t.Fatalf("bootstrap audited as %+v, want system", st.audit[0].Actor)
	}
}

func TestGeneratedBootstrapSecretsWork(t *testing.T) {
	a, _ := testAuthenticator(t)
	ctx := context.Background()
	var out bytes.Buffer
	if err := a.Bootstrap(ctx, "", "", &out); err != nil {
		t.Fatal(err)
	}
	var password, token string
	for _, line := range strings.Split(out.String(), "\n") {
		if _, v, ok := strings.Cut(line, "password: "); ok {
			password = v
		}
		if _, v, ok := strings.Cut(line, `token "admin": `); ok {
			token = v
		}
	}
	if !WellFormedToken(token) || !strings.HasPrefix(token, "fp_admin_") {
		t.Fatalf("printed token %q is not a well-formed admin token:\n%s", token, out.String())
	}
	if _, err := a.AuthenticateToken(ctx, token); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := a.SignIn(ctx, "admin", password, "127.0.0.1"); err != nil {
		t.Fatalf("printed password %q: %v", password, err)
	}
}

func TestTokenLifecycle(t *testing.T) {
	clk := &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	a, st := testAuthenticator(t, WithClock(clk.Now))
	ctx := NewContext(context.Background(), adminUser)
	ctx = server.NewContextWithActor(ctx, adminUser.Actor(server.SourceCLI))

	for _, tc := range []struct {
		nt    NewToken
		field string
	}{
		{NewToken{Name: "Bad Name", Scope: server.ScopeCI}, "name"},
		{NewToken{Name: "x", Scope: "root"}, "scope"},
		{NewToken{Name: "x", Scope: server.ScopeSDK}, "environments"},
		{NewToken{Name: "x", Scope: server.ScopeSDK, Environments: []string{"staging", "production"}}, "environments"},
		{NewToken{Name: "x", Scope: server.ScopeCI, Environments: []string{"nowhere"}}, "environments"},
		{NewToken{Name: "x", Scope: server.ScopeAdmin, Environments: []string{"staging"}}, "environments"},
		{NewToken{Name: "x", Scope: server.ScopeCI, ExpiresAt: clk.Now()}, "expire_time"},
	} {
		_, _, err := a.CreateToken(ctx, tc.nt)
		var e *server.Error
		if !errorAs(err, &e) || e.Code != server.EINVALID || e.Field != tc.field {
			t.Errorf("CreateToken(%+v) = %v, want EINVALID on %s", tc.nt, err, tc.field)
		}
	}

	tok, secret, err := a.CreateToken(ctx, NewToken{Name: "svc", Scope: server.ScopeSDK, Environments: []string{"staging"},
		ExpiresAt: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if tok.CreatedBy != "ada" || tok.Hint != secret[:len("fp_sdk_")+4] {
		t.Fatalf("token %+v", tok)
	}
	if _, _, err := a.CreateToken(ctx, NewToken{Name: "svc", Scope: server.ScopeCI}); server.ErrorCode(err) != server.EEXISTS {
		t.Fatalf("duplicate name: %v, want EEXISTS", err)
	}
	if _, err := a.AuthenticateToken(ctx, secret); err != nil {
		t.Fatal(err)
	}
	first := st.tokens[0].LastUsedAt
	if !first.Equal(clk.Now()) {
		t.Fatalf("last used %v, want %v", first, clk.Now())
	}
	clk.Add(30 * time.Second)
	a.AuthenticateToken(ctx, secret)
	if !st.tokens[0].LastUsedAt.Equal(first) {
		t.Fatalf("last used written again within a minute")
	}
	clk.Add(30 * time.Second)
	a.AuthenticateToken(ctx, secret)
	if !st.tokens[0].LastUsedAt.Equal(clk.Now()) {
		t.Fatalf("last used not written after a minute")
	}

	clk.Add(time.Hour)
	if _, err := a.AuthenticateToken(ctx, secret); server.ErrorCode(err) != server.EUNAUTHORIZED ||
		!strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: %v", err)
	}

	_, ci, _ := a.CreateToken(ctx, NewToken{Name: "deploy", Scope: server.ScopeCI})
	if _, err := a.RevokeToken(ctx, "deploy"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RevokeToken(ctx, "deploy"); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if _, err := a.AuthenticateToken(ctx, ci); server.ErrorCode(err) != server.EUNAUTHORIZED ||
		!strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked token: %v", err)
	}
	if _, err := a.AuthenticateToken(ctx, ci+"x"); server.ErrorCode(err) != server.EUNAUTHORIZED {
		t.Fatalf("unknown token: %v", err)
	}
	active, _ := a.ListTokens(ctx, false)
	all, _ := a.ListTokens(ctx, true)
	if len(active) != 1 || len(all) != 2 {
		t.Fatalf("ListTokens: %d active, %d in all; want 1, 2", len(active), len(all))
	}
	actions := []string{}
	for _, e := range st.audit {
		actions = append(actions, e.Action+":"+e.Actor.Name+":"+e.Actor.Source)
	}
	want := "token.create:ada:cli token.create:ada:cli token.revoke:ada:cli"
	if got := strings.Join(actions, " "); got != want {
		t.Fatalf("audit %q, want %q", got, want)
	}
}

func TestUserManagement(t *testing.T) {
	a, st := testAuthenticator(t)
	ctx := context.Background()
	if _, err := a.CreateUser(ctx, "ada", "admin-password-1", server.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ user, pw, role, field string }{
		{"Ada Lovelace", "long-enough-password", server.RoleViewer, "username"},
		{"bob", "short", server.RoleViewer, "password"},
		{"bob", "long-enough-password", "owner", "role"},
	} {
		_, err := a.CreateUser(ctx, tc.user, tc.pw, tc.role)
		var e *server.Error
		if !errorAs(err, &e) || e.Field != tc.field {
			t.Errorf("CreateUser(%q, %q, %q) = %v, want EINVALID on %s", tc.user, tc.pw, tc.role, err, tc.field)
		}
	}
	if err := a.DeleteUser(ctx, "ada"); server.ErrorCode(err) != server.EINVALID {
		t.Fatalf("deleting the last admin: %v, want EINVALID", err)
	}
	if _, err := a.SetRole(ctx, "ada", server.RoleViewer); server.ErrorCode(err) != server.EINVALID {
		t.Fatalf("demoting the last admin: %v, want EINVALID", err)
	}
	a.CreateUser(ctx, "vi", "viewer-password-1", server.RoleViewer)
	self := NewContext(ctx, Principal{Kind: server.KindUser, Name: "vi", Role: server.RoleViewer})
	if err := a.SetPassword(self, "vi", "viewer-password-2", "wrong"); server.ErrorCode(err) != server.EINVALID {
		t.Fatalf("own password without the current one: %v", err)
	}
	if err := a.SetPassword(self, "vi", "viewer-password-2", "viewer-password-1"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := a.SignIn(ctx, "vi", "viewer-password-2", "::1"); err != nil {
		t.Fatal(err)
	}
	// An admin resets without the current password; the user's sessions end.
	if err := a.SetPassword(NewContext(ctx, adminUser), "vi", "viewer-password-3", ""); err != nil {
		t.Fatal(err)
	}
	if len(st.sessions) != 0 {
		t.Fatalf("%d sessions left after a password reset", len(st.sessions))
	}
	if u, err := a.SetRole(ctx, "vi", server.RoleEditor); err != nil || u.Role != server.RoleEditor {
		t.Fatalf("SetRole: %+v %v", u, err)
	}
	if err := a.DeleteUser(ctx, "vi"); err != nil {
		t.Fatal(err)
	}
}

// TestDeleteRevokedToken (issue 12): a revoked token can be deleted so its
// name can be used again; a working one cannot.
func TestDeleteRevokedToken(t *testing.T) {
	a, _ := testAuthenticator(t)
	ctx := NewContext(context.Background(), adminUser)
	ctx = server.NewContextWithActor(ctx, adminUser.Actor(server.SourceCLI))
	if _, _, err := a.CreateToken(ctx, NewToken{Name: "deploy", Scope: server.ScopeCI}); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteToken(ctx, "deploy"); server.ErrorCode(err) != server.EINVALID || !strings.Contains(err.Error(), "revoke it first") {
		t.Fatalf("delete a working token = %v, want EINVALID saying revoke it first", err)
	}
	if _, err := a.RevokeToken(ctx, "deploy"); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteToken(ctx, "deploy"); err != nil {
		t.Fatalf("delete a revoked token: %v", err)
	}
	if err := a.DeleteToken(ctx, "deploy"); server.ErrorCode(err) != server.ENOTFOUND {
		t.Errorf("delete twice = %v, want ENOTFOUND", err)
	}
	if _, _, err := a.CreateToken(ctx, NewToken{Name: "deploy", Scope: server.ScopeCI}); err != nil {
		t.Errorf("reuse the name: %v", err)
	}
}
