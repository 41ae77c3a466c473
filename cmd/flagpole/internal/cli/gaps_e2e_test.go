package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAdminGaps (issue 12, CLI): env protect|unprotect, user role, a
// second revoke that says so, and a hint when --addr is the HTTP port.
func TestAdminGaps(t *testing.T) {
	t.Parallel()
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
	// A revoked token can be deleted, and its name used again.
	s.ok(t, "token", "create", "live", "--scope", "ci", "--env", "staging")
	if r := s.run(t, "token", "delete", "live"); r.code != 1 || !strings.Contains(r.stderr, "revoke it first") {
		t.Errorf("delete a working token: %s", r)
	}
	if out := s.ok(t, "token", "delete", "once"); !strings.Contains(out, "Deleted token once.") {
		t.Errorf("delete said %q", out)
	}
	s.ok(t, "token", "create", "once", "--scope", "ci", "--env", "staging")

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

// TestFlagRuleCommands (issue 12): rules are editable without a file.
func TestFlagRuleCommands(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok(t, "flag", "create", "checkout", "--type", "boolean")
	s.ok(t, "flag", "enable", "checkout", "--env", "staging")
	s.ok(t, "flag", "default", "checkout", "--env", "staging", "--variant", "off")

	type ruleJSON struct {
		Conditions []struct {
			Attribute string   `json:"attribute"`
			Operator  string   `json:"operator"`
			Values    []string `json:"values"`
		} `json:"conditions"`
	}
	rules := func(args ...string) []ruleJSON {
		t.Helper()
		var cfg struct {
			Rules []ruleJSON `json:"rules"`
		}
		s.json(t, &cfg, args...)
		return cfg.Rules
	}
	attrs := func(rs []ruleJSON) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Conditions[0].Attribute)
		}
		return strings.Join(out, ",")
	}
	got := rules("flag", "rule", "add", "checkout", "--env", "staging", "--condition", "country in NL,BE", "--serve", "on")
	if len(got) != 1 || got[0].Conditions[0].Operator != "in" || strings.Join(got[0].Conditions[0].Values, ",") != "NL,BE" {
		t.Fatalf("rule add = %+v", got)
	}
	got = rules("flag", "rule", "add", "checkout", "--env", "staging", "--condition", "plan in pro", "--condition", "version semver_gte 2.1.0", "--serve", "on:20,off:80", "--position", "1")
	if attrs(got) != "plan,country" || len(got[0].Conditions) != 2 {
		t.Fatalf("rule add --position 1 = %+v", got)
	}
	rules("flag", "rule", "add", "checkout", "--env", "staging", "--condition", "email exists", "--serve", "off")
	if got = rules("flag", "rule", "move", "checkout", "--env", "staging", "3", "1"); attrs(got) != "email,plan,country" {
		t.Errorf("rule move 3 1 = %s", attrs(got))
	}
	if got = rules("flag", "rule", "remove", "checkout", "--env", "staging", "2"); attrs(got) != "email,country" {
		t.Errorf("rule remove 2 = %s", attrs(got))
	}
	// What the rules serve is what evaluation sees.
	if ev := s.eval(t, "checkout", "staging", "--context", `{"targetingKey":"u","country":"NL"}`); ev["value"] != true || ev["reason"] != "TARGETING_MATCH" {
		t.Errorf("eval after rule edits = %v", ev)
	}
	for _, bad := range [][]string{
		{"flag", "rule", "remove", "checkout", "--env", "staging", "9"},
		{"flag", "rule", "add", "checkout", "--env", "staging", "--serve", "on"},
		{"flag", "rule", "add", "checkout", "--env", "staging", "--condition", "country", "--serve", "on"},
		{"flag", "rule", "add", "checkout", "--env", "staging", "--condition", "a in b", "--serve", "on:x"},
	} {
		if r := s.run(t, bad...); r.code != 2 {
			t.Errorf("flagpole %s: want exit 2, got %s", strings.Join(bad, " "), r)
		}
	}
	// An invalid operator is the server's to refuse, naming the field.
	if r := s.run(t, "flag", "rule", "add", "checkout", "--env", "staging", "--condition", "a like b", "--serve", "on"); r.code != 1 || !strings.Contains(r.stderr, "operator") {
		t.Errorf("bad operator: %s", r)
	}
}
