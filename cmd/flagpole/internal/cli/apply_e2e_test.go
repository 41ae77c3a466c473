package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
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
	t.Parallel()
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
	t.Parallel()
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

// TestApplyAtomicUnderConcurrentEdit: a change set planned on a flag that
// someone edits before it arrives is refused whole (ABORTED, which the CLI
// maps to exit 3): the flag it would create, the configurations it would
// replace and the edit it would make are all absent, and no audit entry.
func TestApplyAtomicUnderConcurrentEdit(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok(t, "flag", "create", "shared", "--type", "boolean")
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+adminToken)
	flags := flagpolev1.NewFlagServiceClient(conn)
	// The plan reads the flag ...
	planned, err := flags.GetFlag(ctx, &flagpolev1.GetFlagRequest{Key: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	// ... a colleague edits it ...
	edit := proto.Clone(planned.GetFlag()).(*syncpb.Flag)
	edit.Description = "edited meanwhile"
	if _, err := flags.UpdateFlag(ctx, &flagpolev1.UpdateFlagRequest{Flag: edit}); err != nil {
		t.Fatal(err)
	}
	before := s.auditCount(t)
	// ... and the set arrives, based on the revision the plan read.
	mine := proto.Clone(planned.GetFlag()).(*syncpb.Flag)
	mine.Name = "Shared"
	set := &flagpolev1.ApplyChangesRequest{Changes: []*flagpolev1.ApplyChange{
		{Change: &flagpolev1.ApplyChange_CreateFlag{CreateFlag: &syncpb.Flag{Key: "fresh", Type: "boolean"}}},
		{Change: &flagpolev1.ApplyChange_ReplaceConfig{ReplaceConfig: &syncpb.FlagConfig{
			FlagKey: "fresh", Environment: "production", Enabled: true}}},
		{Change: &flagpolev1.ApplyChange_ReplaceConfig{ReplaceConfig: &syncpb.FlagConfig{
			FlagKey: "shared", Environment: "staging", Enabled: true, Revision: planned.GetConfigs()[0].GetRevision()}}},
		{Change: &flagpolev1.ApplyChange_UpdateFlag{UpdateFlag: mine}},
	}}
	_, err = flags.ApplyChanges(ctx, set)
	if status.Code(err) != codes.Aborted {
		t.Fatalf("ApplyChanges on a stale plan = %v, want ABORTED", err)
	}
	s.expectCode(t, 1, "flag", "get", "fresh")
	var got exportJSON
	s.json(t, &got, "export")
	if len(got.Flags) != 1 {
		t.Fatalf("flags after a refused set: %+v, want shared only", got.Flags)
	}
	if f := got.Flags[0]; f.Name == "Shared" || f.Description != "edited meanwhile" {
		t.Errorf("shared after a refused set = %+v, want the colleague's edit only", f)
	}
	for env, c := range got.Flags[0].Environments {
		if c.Enabled {
			t.Errorf("shared enabled in %s by a refused set", env)
		}
	}
	if n := s.auditCount(t); n != before {
		t.Errorf("refused set wrote %d audit entries", n-before)
	}
}

// exportJSON is what `flagpole export -o json` prints, as far as the
// tests read it.
type exportJSON struct {
	Flags []struct {
		Key          string `json:"key"`
		Name         string `json:"name"`
		Description  string `json:"description"`
		Environments map[string]struct {
			Enabled bool  `json:"enabled"`
			Rules   []any `json:"rules"`
		} `json:"environments"`
	} `json:"flags"`
}

// bigFile defines n flags, each enabled with a rule in every default
// environment: a change set of 4n items.
func bigFile(n int) string {
	var b strings.Builder
	b.WriteString("flags:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - key: bulk-%04d\n    type: boolean\n    description: %s\n    environments:\n", i, strings.Repeat("x", 200))
		for _, env := range []string{"development", "staging", "production"} {
			fmt.Fprintf(&b, "      %s:\n        enabled: true\n        rules:\n          - conditions:\n              - {attribute: email, operator: ends_with, values: [\"@example.com\"]}\n            serve: on\n        default: off\n", env)
		}
	}
	return b.String()
}

// TestApplyAllOrNothingUnderKill: `flagpole serve` is killed with SIGKILL
// while it runs the ApplyChanges call of a large file; after a restart on
// the same database the file is there entirely or not at all. A first,
// undisturbed apply measures how long the CLI takes; the kills then come at
// fractions of that time, and at least one must land while the call runs
// (the CLI's reads done, its apply call unanswered).
func TestApplyAllOrNothingUnderKill(t *testing.T) {
	t.Parallel()
	const n = 300
	file := writeFile(t, "big.yaml", bigFile(n))
	start := time.Now()
	var first applyJSON
	startServer(t).json(t, &first, "apply", "-f", file)
	took := time.Since(start)
	if first.Applied != 4*n {
		t.Fatalf("undisturbed apply: %d applied, want %d", first.Applied, 4*n)
	}
	t.Logf("an undisturbed apply of %d changes takes %v", 4*n, took)
	midCall, reapplied := 0, false
	for attempt, frac := range []float64{0.3, 0.5, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9} {
		if midCall >= 2 {
			break
		}
		db := filepath.Join(t.TempDir(), "flagpole.db")
		s := startServerOn(t, db)
		cli := exec.Command(flagpoleBin(t), "apply", "-f", file, "-o", "json")
		cli.Env = append(cleanEnv(), "FLAGPOLE_ADDR="+s.addr, "FLAGPOLE_TOKEN="+adminToken)
		var out, errb bytes.Buffer
		cli.Stdout, cli.Stderr = &out, &errb
		begun := time.Now()
		if err := cli.Start(); err != nil {
			t.Fatal(err)
		}
		delay := time.Duration(frac * float64(took))
		time.Sleep(time.Until(begun.Add(delay)))
		if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = s.cmd.Wait()
		answered := cli.Wait() == nil
		// The CLI's reads are "list ..." errors; its one write is "apply: ...".
		inCall := !answered && strings.HasPrefix(strings.TrimPrefix(errb.String(), "flagpole: "), "apply: ")
		if inCall {
			midCall++
		}

		s2 := startServerOn(t, db)
		var list exportJSON
		s2.json(t, &list, "export")
		complete := 0
		for _, f := range list.Flags {
			ok := len(f.Environments) == 3
			for _, c := range f.Environments {
				ok = ok && c.Enabled && len(c.Rules) == 1
			}
			if ok {
				complete++
			}
		}
		t.Logf("attempt %d: SIGKILL %v after the CLI started; answered: %v, killed during the call: %v; after restart %d flags (%d complete)",
			attempt, delay.Round(time.Millisecond), answered, inCall, len(list.Flags), complete)
		switch {
		case answered && (len(list.Flags) != n || complete != n):
			t.Fatalf("the CLI was told the file was applied, but after a restart %d of %d flags are there (%d complete)", len(list.Flags), n, complete)
		case len(list.Flags) != 0 && (len(list.Flags) != n || complete != n):
			t.Fatalf("part of an apply survived a kill: %d of %d flags, %d complete", len(list.Flags), n, complete)
		}
		if len(list.Flags) == n && !reapplied {
			reapplied = true
			// The file is there: applying it again changes nothing.
			var res applyJSON
			s2.json(t, &res, "apply", "-f", file)
			if len(res.Changes) != 0 {
				t.Fatalf("re-applying after the restart planned %d changes", len(res.Changes))
			}
		}
	}
	if midCall == 0 {
		t.Fatal("no kill landed during the apply call: make the file larger")
	}
}

// TestApplyDropsAServedVariantInOneApply: one file both removes a variant
// and stops serving it (the README's former known limit needed two
// applies); a file that removes a variant still served is refused whole.
func TestApplyDropsAServedVariantInOneApply(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	three := "flags:\n  - key: color\n    type: string\n    variants: {blue: b, green: g, red: r}\n    environments:\n      production: {enabled: true, offVariant: blue, default: green}\n      staging: {enabled: true, offVariant: blue, default: red}\n"
	s.ok(t, "apply", "-f", writeFile(t, "three.yaml", three))

	stillServed := strings.Replace(three, "variants: {blue: b, green: g, red: r}", "variants: {blue: b, red: r}", 1)
	before := s.auditCount(t)
	r := s.expectCode(t, 1, "apply", "-f", writeFile(t, "served.yaml", stillServed))
	if !strings.Contains(r.stderr, `variant "green"`) || !strings.Contains(r.stderr, "nothing was changed") {
		t.Errorf("removing a served variant: %s", r)
	}
	if n := s.auditCount(t); n != before {
		t.Errorf("refused apply wrote %d audit entries", n-before)
	}

	both := strings.Replace(stillServed, "default: green", "default: blue", 1)
	var res applyJSON
	s.json(t, &res, "apply", "-f", writeFile(t, "both.yaml", both))
	if res.Applied != 2 {
		t.Errorf("apply = %+v, want the definition and the production configuration applied", res)
	}
	if ev := s.eval(t, "color", "production"); ev["variant"] != "blue" {
		t.Errorf("eval after the apply = %v, want blue", ev)
	}
}
