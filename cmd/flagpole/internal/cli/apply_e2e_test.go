package cli_test

import (
	"strings"
	"testing"
)

// twoFlagsBadSecond defines two flags; the second has an operator that does
// not exist, deep inside its production configuration.
const twoFlagsBadSecond = `flags:
  - key: first
    type: boolean
    environments:
      production: {enabled: true}
  - key: second
    type: boolean
    environments:
      production:
        enabled: true
        rules:
          - conditions:
              - {attribute: email, operator: equals, values: [a@example.com]}
            serve: on
`

const badOperatorPath = "flags[1].environments.production.rules[0].conditions[0].operator"

// TestApplyInvalidSecondFlagChangesNothing: a file whose second flag is
// invalid is refused as a whole, before anything is written, naming the
// field by its path in the file; a dry run of it fails the same way.
func TestApplyInvalidSecondFlagChangesNothing(t *testing.T) {
	s := startServer(t)
	file := writeFile(t, "bad.yaml", twoFlagsBadSecond)
	before := s.auditCount(t)

	r := s.expectCode(t, 1, "apply", "-f", file, "--dry-run")
	if !strings.Contains(r.stderr, badOperatorPath) {
		t.Errorf("dry run of an invalid file: stderr does not name %s:\n%s", badOperatorPath, r)
	}
	if strings.Contains(r.stdout, "Dry run") {
		t.Errorf("dry run of an invalid file reports a plan:\n%s", r)
	}

	r = s.expectCode(t, 1, "apply", "-f", file)
	if !strings.Contains(r.stderr, badOperatorPath) {
		t.Errorf("apply of an invalid file: stderr does not name %s:\n%s", badOperatorPath, r)
	}
	if strings.Contains(r.stderr, "applied)") {
		t.Errorf("apply of an invalid file applied part of it:\n%s", r)
	}
	s.expectCode(t, 1, "flag", "get", "first")
	if n := s.auditCount(t); n != before {
		t.Errorf("refused apply wrote %d audit entries", n-before)
	}
}

// TestApplyCountsOnlyWrites: a new flag whose file configuration equals the
// configuration the server gives it is listed as planned, but only the
// creation wrote something.
func TestApplyCountsOnlyWrites(t *testing.T) {
	s := startServer(t)
	file := writeFile(t, "flags.yaml", "flags:\n  - key: quiet\n    type: boolean\n    environments:\n      production: {enabled: false}\n")
	var res applyJSON
	s.json(t, &res, "apply", "-f", file)
	if len(res.Changes) != 2 || res.Applied != 1 {
		t.Errorf("apply = %+v, want 2 planned changes of which 1 applied", res)
	}
	file2 := writeFile(t, "flags2.yaml", "flags:\n  - key: quiet2\n    type: boolean\n    environments:\n      production: {enabled: false}\n")
	if out := s.ok(t, "apply", "-f", file2); !strings.Contains(out, "Applied 1 change(s)") {
		t.Errorf("table output does not count only the writes:\n%s", out)
	}
}
