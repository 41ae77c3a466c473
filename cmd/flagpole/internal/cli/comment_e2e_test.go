package cli_test

import (
	"strings"
	"testing"
)

// TestChangeComments: --comment goes with every change the CLI makes,
// apply included, and `audit` shows it (and filters by actor); an
// environment updated to require comments refuses a change without one,
// naming the field and the environment, and writes nothing.
func TestChangeComments(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok(t, "flag", "create", "checkout", "--type", "boolean", "--comment", "for the Q3 checkout")
	r := s.expectCode(t, 1, "env", "update", "production", "--require-comment")
	if !strings.Contains(r.stderr, "comment:") || !strings.Contains(r.stderr, `"production"`) {
		t.Errorf("requiring comments without one: stderr does not name the field and production:\n%s", r)
	}
	s.ok(t, "env", "update", "production", "--require-comment", "--comment", "SOX: say why")
	var envs []struct {
		Name           string
		RequireComment bool
	}
	s.json(t, &envs, "env", "list")
	for _, e := range envs {
		if e.RequireComment != (e.Name == "production") {
			t.Errorf("env list: %s requireComment %v", e.Name, e.RequireComment)
		}
	}

	before := s.auditCount(t)
	r = s.expectCode(t, 1, "flag", "enable", "checkout", "--env", "production")
	if !strings.Contains(r.stderr, `comment: environment "production" requires a comment`) {
		t.Errorf("toggle without a comment:\n%s", r)
	}
	if n := s.auditCount(t); n != before {
		t.Errorf("a refused toggle wrote %d audit entries", n-before)
	}
	r = s.expectCode(t, 1, "flag", "enable", "checkout", "--env", "production", "--comment", strings.Repeat("x", 1001))
	if !strings.Contains(r.stderr, "comment: is 1001 characters long, the limit is 1000") {
		t.Errorf("toggle with a comment too long:\n%s", r)
	}
	const why = "INC-4711: 100% after the fix — ok'd by Zoë"
	s.ok(t, "flag", "enable", "checkout", "--env", "production", "--comment", why)
	file := writeFile(t, "flags.yaml", "flags:\n  - key: checkout\n    type: boolean\n    environments:\n      production: {enabled: false}\n")
	r = s.expectCode(t, 1, "apply", "-f", file)
	if !strings.Contains(r.stderr, "requires a comment") {
		t.Errorf("apply without a comment:\n%s", r)
	}
	s.ok(t, "apply", "-f", file, "--comment", "roll back by file")

	var entries []struct {
		Action, Environment, Comment, Actor string
	}
	s.json(t, &entries, "audit", "--flag", "checkout", "--actor", "admin")
	var got []string
	for _, e := range entries {
		got = append(got, e.Action+"@"+e.Environment+": "+e.Comment)
	}
	want := []string{"config.replace@production: roll back by file", "config.set_enabled@production: " + why, "flag.create@: for the Q3 checkout"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit --flag checkout --actor admin:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if out := s.ok(t, "audit", "--flag", "checkout", "--env", "production"); !strings.Contains(out, "COMMENT") || !strings.Contains(out, why) {
		t.Errorf("audit table shows no comment:\n%s", out)
	}
	if out := s.ok(t, "history", "checkout", "--env", "production"); !strings.Contains(out, "roll back by file") || strings.Contains(out, "flag.create") {
		t.Errorf("history of checkout in production:\n%s\nwant the production changes with their comments", out)
	}
	s.json(t, &entries, "audit", "--actor", "someone-else")
	if len(entries) != 0 {
		t.Errorf("audit --actor someone-else: %v, want none", entries)
	}
}
