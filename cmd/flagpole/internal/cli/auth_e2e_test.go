package cli_test

import (
	"strings"
	"testing"
)

func TestTokenCommands(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok(t, "flag", "create", "gated", "--type", "boolean")

	secret := strings.TrimSpace(s.ok(t, "token", "create", "deploy-bot", "--scope", "ci", "--env", "production"))
	if secret == "" || strings.ContainsAny(secret, " \n\t") {
		t.Fatalf("token create printed %q, want only the secret", secret)
	}
	var created struct {
		Token struct {
			Name         string   `json:"name"`
			Scope        string   `json:"scope"`
			Environments []string `json:"environments"`
		} `json:"token"`
		Secret string `json:"secret"`
	}
	s.json(t, &created, "token", "create", "checkout-prod", "--scope", "sdk", "--env", "production", "--expires", "24h")
	if created.Secret == "" || created.Token.Scope != "sdk" || strings.Join(created.Token.Environments, ",") != "production" {
		t.Errorf("token create -o json = %+v", created)
	}
	var tokens []struct {
		Name         string   `json:"name"`
		Scope        string   `json:"scope"`
		Environments []string `json:"environments"`
		Hint         string   `json:"hint"`
		ExpireTime   *string  `json:"expireTime"`
	}
	s.json(t, &tokens, "token", "list")
	found := false
	for _, tk := range tokens {
		if tk.Name == "deploy-bot" {
			found = true
			if tk.Scope != "ci" || tk.Hint == "" || !strings.HasPrefix(secret, tk.Hint) || tk.ExpireTime != nil {
				t.Errorf("token list entry %+v does not match the created token", tk)
			}
		}
		if tk.Name == "checkout-prod" && tk.ExpireTime == nil {
			t.Errorf("checkout-prod has no expiry despite --expires 24h")
		}
	}
	if !found {
		t.Fatalf("token list lacks deploy-bot: %+v", tokens)
	}
	if out := s.ok(t, "token", "list"); strings.Contains(out, secret) {
		t.Errorf("token list shows the secret")
	}

	// The CI token works in its environment only.
	ci := []string{"FLAGPOLE_ADDR=" + s.addr, "FLAGPOLE_TOKEN=" + secret}
	if r := runCLI(t, ci, "", "flag", "enable", "gated", "--env", "production"); r.code != 0 {
		t.Errorf("ci token enabling in production: %s", r)
	}
	if r := runCLI(t, ci, "", "flag", "enable", "gated", "--env", "staging"); r.code != 1 || !strings.Contains(r.stderr, "permission denied") {
		t.Errorf("ci token enabling in staging: want exit 1 permission denied, got %s", r)
	}
	var entries []struct {
		Actor  string `json:"actor"`
		Source string `json:"source"`
	}
	s.json(t, &entries, "audit", "--flag", "gated", "--env", "production")
	if len(entries) == 0 || entries[0].Actor != "deploy-bot" || entries[0].Source != "cli" {
		t.Errorf("audit of the ci token's change = %+v, want actor deploy-bot, source cli", entries)
	}

	s.ok(t, "token", "revoke", "deploy-bot")
	if r := runCLI(t, ci, "", "flag", "list"); r.code != 1 || !strings.Contains(r.stderr, "unauthenticated") {
		t.Errorf("revoked token: want exit 1 unauthenticated, got %s", r)
	}
	if r := runCLI(t, []string{"FLAGPOLE_ADDR=" + s.addr}, "", "flag", "list"); r.code != 1 || !strings.Contains(r.stderr, "FLAGPOLE_TOKEN") {
		t.Errorf("no token: want exit 1 naming FLAGPOLE_TOKEN, got %s", r)
	}
}

func TestUserCommands(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	env := []string{"FLAGPOLE_ADDR=" + s.addr, "FLAGPOLE_TOKEN=" + adminToken}
	if r := runCLI(t, env, "correct-horse-battery\n", "user", "create", "alice", "--role", "editor", "--password-stdin"); r.code != 0 {
		t.Fatalf("user create: %s", r)
	}
	var users []struct {
		Username string `json:"username"`
		Role     string `json:"role"`
	}
	s.json(t, &users, "user", "list")
	found := false
	for _, u := range users {
		found = found || (u.Username == "alice" && u.Role == "editor")
	}
	if !found {
		t.Errorf("user list = %+v, want alice (editor)", users)
	}
	if r := runCLI(t, env, "short\n", "user", "passwd", "alice", "--password-stdin"); r.code != 1 {
		t.Errorf("a too short password: want exit 1, got %s", r)
	}
	if r := runCLI(t, env, "a-much-better-password\n", "user", "passwd", "alice", "--password-stdin"); r.code != 0 {
		t.Errorf("user passwd: %s", r)
	}
	if r := runCLI(t, env, "", "user", "create", "bob", "--role", "viewer", "--password-stdin"); r.code != 2 {
		t.Errorf("user create without a password on stdin: want exit 2, got %s", r)
	}
	s.ok(t, "user", "delete", "alice")
	users = nil
	s.json(t, &users, "user", "list")
	for _, u := range users {
		if u.Username == "alice" {
			t.Errorf("alice still listed after user delete")
		}
	}
}
