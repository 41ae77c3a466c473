package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
)

func (a *app) applyCmd() *cobra.Command {
	var file string
	var dryRun, prune, force bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Make the server match a declarative YAML file of flags and segments",
		Long: `Apply reads a YAML file of flags (definition and configuration per environment)
and segments, compares it with the server and changes only what differs,
printing each change as a diff. Applying the same file twice changes nothing
the second time and writes no audit entry.

The server checks the whole file and makes every change in one transaction:
all of it or nothing. If anyone changed what the plan read before the
changes arrive, nothing is changed and apply exits 3; run it again.

Environments the file does not name under a flag keep their configuration.
With --prune, flags and segments on the server that the file lacks are
deleted. With --dry-run, the server checks the changes (exit 1 on anything
it would refuse), the diff is printed and nothing is changed; a dry run
needs only read access.
'-f -' reads the file from standard input. 'flagpole export' writes this format.`,
		Example: `  flagpole apply -f flags.yaml --dry-run
  flagpole apply -f flags.yaml --prune --wait=2m`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := requireFlag("file", file); err != nil {
				return err
			}
			b, err := readInput(cmd.InOrStdin(), file)
			if err != nil {
				return err
			}
			f, err := parseFile(b)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			if prune && len(f.Flags) == 0 && len(f.Segments) == 0 {
				return usagef("--prune with %s, which defines no flags and no segments, would delete every flag and segment: refused (delete them one by one instead)", file)
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				return a.apply(ctx, cmd, c, f, dryRun, planOptions{prune: prune, force: force}, wait)
			})
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "YAML file to apply ('-' for standard input)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the changes without making them")
	cmd.Flags().BoolVar(&prune, "prune", false, "delete flags and segments that the file lacks")
	addForceFlag(cmd, &force, "archive or delete (--prune)")
	addWaitFlag(cmd, &wait)
	return cmd
}

func readInput(stdin io.Reader, file string) ([]byte, error) {
	if file == "-" {
		return io.ReadAll(stdin)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--file: %w", err)
	}
	return b, nil
}

// applyResult is apply's machine-readable output.
type applyResult struct {
	DryRun  bool     `json:"dryRun"`
	Changes []change `json:"changes"`
	Applied int      `json:"applied"`
}

func (a *app) apply(ctx context.Context, cmd *cobra.Command, c *clients, f *File, dryRun bool, opts planOptions, wait time.Duration) error {
	st, err := readState(ctx, c, "")
	if err != nil {
		return err
	}
	changes, err := plan(f, st, opts)
	if err != nil {
		return fmt.Errorf("apply: %w", err)
	}
	out := cmd.OutOrStdout()
	res := applyResult{DryRun: dryRun, Changes: changes}
	if res.Changes == nil {
		res.Changes = []change{}
	}
	if len(changes) > 0 {
		// One call: the server checks the whole set (and, for a dry run,
		// rolls it back) and makes all of it or nothing.
		req := &flagpolev1.ApplyChangesRequest{ValidateOnly: dryRun}
		for _, ch := range changes {
			req.Changes = append(req.Changes, ch.item)
		}
		resp, err := c.flag.ApplyChanges(ctx, req)
		if err != nil {
			return applyFailure(changes, dryRun, err)
		}
		if !dryRun {
			res.Applied = int(resp.GetApplied())
		}
	}
	if a.output == "table" {
		printDiff(out, changes)
		switch {
		case len(changes) == 0:
			fmt.Fprintln(out, "No changes: the server matches the file.")
		case dryRun:
			fmt.Fprintf(out, "Dry run: %d change(s) planned, nothing changed.\n", len(changes))
		default:
			fmt.Fprintf(out, "Applied %d change(s).\n", res.Applied)
		}
	} else if err := a.printer(out).emit(res, nil); err != nil {
		return err
	}
	if dryRun || res.Applied == 0 || wait <= 0 {
		return nil
	}
	return a.waitAll(ctx, cmd, c, affectedEnvs(changes, st.envs), wait)
}

// itemRef is how the server names an item of the change set in its errors:
// "changes[3]" in a field path, "changes[3] (replace_config k [env])" in a
// message.
var itemRef = regexp.MustCompile(`changes\[(\d+)\](?: \([^)]*\))?((?:\.[A-Za-z_]+)?[^\s:]*)`)

// applyFailure rephrases the server's refusal of a change set in the
// file's terms: the item becomes its place in the file
// (flags[1].environments.production.rules[0]...) or, for a deletion, what
// it deletes. The gRPC status is kept for the exit code (3 on a conflict).
func applyFailure(changes []change, dryRun bool, err error) error {
	msg := itemRef.ReplaceAllStringFunc(err.Error(), func(ref string) string {
		m := itemRef.FindStringSubmatch(ref)
		i, convErr := strconv.Atoi(m[1])
		if convErr != nil || i >= len(changes) {
			return ref
		}
		ch := changes[i]
		// The field path below the item: drop the request part (config,
		// flag, segment) that the file does not have.
		rest := m[2]
		for _, part := range []string{".config", ".flag", ".segment"} {
			if rest == part || strings.HasPrefix(rest, part+".") || strings.HasPrefix(rest, part+"[") {
				rest = strings.TrimPrefix(rest, part)
				break
			}
		}
		if ch.where == "" { // a deletion by --prune: no place in the file
			what := fmt.Sprintf("%s %s %s", ch.Action, ch.Kind, ch.target())
			if rest != "" {
				what += " [" + strings.TrimPrefix(rest, ".") + "]"
			}
			return what
		}
		return ch.where + rest
	})
	what := "nothing was changed"
	if dryRun {
		what = "the file would be refused"
	}
	return &applyError{msg: fmt.Sprintf("apply: %s (%s)", msg, what), err: err}
}

// applyError is a refused change set; it unwraps to the call's error so
// that the exit code follows the gRPC status.
type applyError struct {
	msg string
	err error
}

func (e *applyError) Error() string { return e.msg }
func (e *applyError) Unwrap() error { return e.err }

func (ch change) target() string {
	if ch.Environment != "" {
		return ch.Key + " [" + ch.Environment + "]"
	}
	return ch.Key
}

// affectedEnvs lists the environments whose served state the changes alter.
func affectedEnvs(changes []change, all []string) []string {
	set := map[string]bool{}
	for _, ch := range changes {
		if ch.allEnvs {
			return slices.Clone(all)
		}
		set[ch.Environment] = true
	}
	envs := sortedKeys(set)
	sort.Strings(envs)
	return envs
}

// printDiff writes the changes as a readable diff: + create, ~ update,
// - delete, with one line per changed field.
func printDiff(w io.Writer, changes []change) {
	for _, ch := range changes {
		sign := map[string]string{"create": "+", "update": "~", "delete": "-"}[ch.Action]
		fmt.Fprintf(w, "%s %s %s\n", sign, ch.Kind, ch.target())
		for _, f := range ch.Fields {
			if ch.fresh {
				fmt.Fprintf(w, "    %s: %s\n", f.Field, compact(f.To))
			} else {
				fmt.Fprintf(w, "    %s: %s -> %s\n", f.Field, compact(f.From), compact(f.To))
			}
		}
	}
}

func (a *app) exportCmd() *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write every flag and segment as a YAML file that apply accepts",
		Long: `Export writes the server's flags (with their configuration in every
environment, or only in --env) and segments in the declarative format of
'flagpole apply'. Applying the output again changes nothing.
The default format is YAML; -o json writes the same document as JSON.`,
		Example: `  flagpole export > flags.yaml
  flagpole export --env production -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				f, err := export(ctx, c, env)
				if err != nil {
					return err
				}
				if a.output == "json" {
					return writeJSON(cmd.OutOrStdout(), f)
				}
				return writeFileYAML(cmd.OutOrStdout(), f)
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "export the configuration of this environment only")
	return cmd
}

func export(ctx context.Context, c *clients, env string) (*File, error) {
	if env != "" {
		if _, err := c.env.GetEnvironment(ctx, &flagpolev1.GetEnvironmentRequest{Name: env}); err != nil {
			return nil, fmt.Errorf("--env %s: %w", env, err)
		}
	}
	st, err := readState(ctx, c, env)
	if err != nil {
		return nil, err
	}
	f := &File{}
	for _, key := range sortedKeys(st.flags) {
		fw := st.flags[key]
		fs := flagFromProto(fw.GetFlag())
		if reflect.DeepEqual(fs.Variants, defaultVariants(fs.Type)) {
			fs.Variants = nil // apply fills them in again
		}
		for _, cfg := range fw.GetConfigs() {
			if env != "" && cfg.GetEnvironment() != env {
				continue
			}
			if fs.Environments == nil {
				fs.Environments = map[string]*ConfigSpec{}
			}
			fs.Environments[cfg.GetEnvironment()] = configFromProto(cfg)
		}
		f.Flags = append(f.Flags, fs)
	}
	for _, key := range sortedKeys(st.segments) {
		f.Segments = append(f.Segments, segmentFromProto(st.segments[key]))
	}
	return f, nil
}

// writeFileYAML writes a declarative file with the spec types' own YAML
// forms (plain-string serves, one-line splits).
func writeFileYAML(w io.Writer, f *File) error {
	var b strings.Builder
	if err := encodeYAML(&b, f); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}
