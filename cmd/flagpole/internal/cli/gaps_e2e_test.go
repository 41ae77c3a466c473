package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAdminGaps (issue 12, CLI): env protect|unprotect, user role, a
// second revoke that says so, and a hint when --addr is the HTTP port.
func TestAdminGaps(t *testing.T) {
	s := startServer(t)

	var env struct {
		Name      string `json:"name"`
		Protected bool   `json:"protected"`
		Changed   bool   `json:"changed"`
	}
	s.json(t, &env, "env", "protect", "staging")
	if !env.Protected || !env.Changed {
		t.Errorf("env protect staging = %+v", env)
	}
	if out := s.ok(t, "env", "protect", "staging"); !strings.Contains(out, "already protected") {
		t.Errorf("second protect said %q", out)
	}
	s.json(t, &env, "env", "unprotect", "staging")
	if env.Protected || !env.Changed {
		t.Errorf("env unprotect staging = %+v", env)
	}
	if r := s.run(t, "env", "protect", "nowhere"); r.code != 1 || !strings.Contains(r.stderr, "nowhere") {
		t.Errorf("protect an unknown environment: %s", r)
	}

	if r := runCLI(t, []string{"FLAGPOLE_ADDR=" + s.addr, "FLAGPOLE_TOKEN=" + adminToken}, "correct-horse-battery-staple\n",
		"user", "create", "alice", "--role", "viewer", "--password-stdin"); r.code != 0 {
		t.Fatalf("user create: %s", r)
	}
	var user struct {
		Username string `json:"username"`
		Role     string `json:"role"`
	}
	s.json(t, &user, "user", "role", "alice", "editor")
	if user.Username != "alice" || user.Role != "editor" {
		t.Errorf("user role alice editor = %+v", user)
	}
	if r := s.run(t, "user", "role", "alice", "owner"); r.code != 2 {
		t.Errorf("user role with a bad role: %s", r)
	}

	s.ok(t, "token", "create", "once", "--scope", "ci", "--env", "staging")
	if out := s.ok(t, "token", "revoke", "once"); !strings.Contains(out, "Revoked token once.") {
		t.Errorf("first revoke said %q", out)
	}
	var rev struct {
		Name           string `json:"name"`
		AlreadyRevoked bool   `json:"alreadyRevoked"`
	}
	s.json(t, &rev, "token", "revoke", "once")
	if !rev.AlreadyRevoked {
		t.Errorf("second revoke -o json = %+v, want alreadyRevoked", rev)
	}
	if out := s.ok(t, "token", "revoke", "once"); !strings.Contains(out, "already revoked") {
		t.Errorf("second revoke said %q", out)
	}

	// --addr at the HTTP port.
	var httpAddr string
	for _, line := range strings.Split(s.log.String(), "\n") {
		var rec struct {
			Msg  string `json:"msg"`
			HTTP string `json:"http"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "flagpole serving" {
			httpAddr = rec.HTTP
		}
	}
	if httpAddr == "" {
		t.Fatal("no HTTP address in the server log")
	}
	r := runCLI(t, []string{"FLAGPOLE_ADDR=" + httpAddr, "FLAGPOLE_TOKEN=" + adminToken}, "", "env", "list")
	if r.code != 1 || !strings.Contains(r.stderr, "hint:") || !strings.Contains(r.stderr, "gRPC port") {
		t.Errorf("--addr at the HTTP port: %s", r)
	}
}
