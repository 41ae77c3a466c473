package cli_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"
)

// TestLargeEnvironment: an environment whose snapshot is over gRPC's
// default 4 MiB message size (24 flags of four 60 KB variants each, every
// one under the definition limits) still reaches an SDK, and the CLI still
// lists and exports it; a definition over the limits is refused, naming
// the field.
func TestLargeEnvironment(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	var b strings.Builder
	b.WriteString("flags:\n")
	value := strings.Repeat("x", 60<<10)
	for i := range 24 {
		fmt.Fprintf(&b, "  - key: big-%02d\n    type: string\n    variants: {a: %q, b: %q, c: %q, d: %q}\n    environments:\n      production: {enabled: true, default: a}\n",
			i, value, value+"b", value+"c", value+"d")
	}
	s.ok(t, "apply", "-f", writeFile(t, "big.yaml", b.String()), "-o", "json")

	p := s.connectSDK(t, "production", "big-reader")
	got := p.StringEvaluation(t.Context(), "big-23", "", openfeature.FlattenedContext{})
	if len(got.Value) != len(value) {
		t.Errorf("SDK served %d bytes of big-23, want %d (%v)", len(got.Value), len(value), got.Error())
	}
	var list []flagJSON
	s.json(t, &list, "flag", "list")
	if len(list) != 24 {
		t.Errorf("flag list: %d flags, want 24", len(list))
	}
	if out := s.ok(t, "export"); !strings.Contains(out, "big-23") {
		t.Errorf("export lacks big-23")
	}

	tooBig := fmt.Sprintf("flags:\n  - key: huge\n    type: string\n    variants: {a: %q}\n", strings.Repeat("y", 100<<10))
	r := s.expectCode(t, 1, "apply", "-f", writeFile(t, "huge.yaml", tooBig))
	if !strings.Contains(r.stderr, "variants[0].value") {
		t.Errorf("a variant over the limit: %s, want the field named", r.stderr)
	}
}
