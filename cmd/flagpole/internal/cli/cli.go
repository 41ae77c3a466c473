// Package cli holds the client commands of the flagpole binary: the commands
// CI scripts and operators run against a Flagpole server over gRPC (env, flag,
// segment, eval, apply, export, audit, history, clients, release, token, user). The server
// command lives elsewhere; main wires both into one cobra root.
package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flagpole/flagpole/cmd/flagpole/internal/misuse"
)

// Exit codes of every client command.
const (
	ExitOK          = 0 // success
	ExitError       = 1 // any error: server unreachable, not found, invalid, denied
	ExitUsage       = 2 // bad command line: unknown command or flag, missing or bad argument
	ExitConflict    = 3 // stale revision: someone changed the object since it was read
	ExitWaitTimeout = 4 // --wait timed out before every connected instance applied the change
)

// exitCodesHelp is appended to the help text of every client command.
const exitCodesHelp = `
Exit codes:
  0  success
  1  error (server unreachable, not found, invalid input, permission denied)
  2  usage error (unknown command or flag, missing or malformed argument)
  3  conflict: the object changed since the revision you sent (re-read and retry)
  4  --wait timed out: some connected instances have not applied the change
     (release start --wait=T: the plan had not ended)
  5  release start --wait: the plan was rolled back by its guard`

func usagef(format string, args ...any) error { return misuse.Errorf(format, args...) }

// WaitTimeoutError says --wait gave up. It maps to exit code 4.
type WaitTimeoutError struct {
	Environment string
	Revision    int64
	Pending     []string // instances that have not applied Revision
	Unnamed     int      // more such instances, not named (the server names 100)
}

func (e *WaitTimeoutError) Error() string {
	names := strings.Join(e.Pending, ", ")
	if e.Unnamed > 0 {
		names += fmt.Sprintf(" and %d more", e.Unnamed)
	}
	return fmt.Sprintf("wait: timed out: %d instance(s) in %s have not applied revision %d: %s",
		len(e.Pending)+e.Unnamed, e.Environment, e.Revision, names)
}

// ExitCode maps an error returned by a command to the documented exit code.
// main uses it for every error of a command that ran.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	if misuse.Is(err) {
		return ExitUsage
	}
	var we *WaitTimeoutError
	var pe *PlanWaitTimeoutError
	if errors.As(err, &we) || errors.As(err, &pe) {
		return ExitWaitTimeout
	}
	var rb *RolledBackError
	if errors.As(err, &rb) {
		return ExitRolledBack
	}
	if st, ok := status.FromError(unwrapAll(err)); ok && st.Code() == codes.Aborted {
		return ExitConflict
	}
	return ExitError
}

// unwrapAll returns the innermost error that carries a gRPC status, or err.
func unwrapAll(err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if _, ok := e.(interface{ GRPCStatus() *status.Status }); ok {
			return e
		}
	}
	return err
}

// Commands returns the client commands, ready to be added to the root command.
// Each carries the connection and output flags (--addr, --token, --tls-*,
// -o) as persistent flags.
func Commands() []*cobra.Command {
	a := &app{}
	cmds := []*cobra.Command{
		a.envCmd(), a.flagCmd(), a.segmentCmd(), a.evalCmd(), a.applyCmd(),
		a.exportCmd(), a.auditCmd(), a.historyCmd(), a.clientsCmd(), a.releaseCmd(), a.webhookCmd(),
	}
	cmds = append(cmds, a.authCmds()...)
	for _, c := range cmds {
		a.addGlobalFlags(c)
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return misuse.FlagError(err) })
		documentExitCodes(c)
	}
	return cmds
}

// documentExitCodes appends the exit codes to the help of c and every
// command under it.
func documentExitCodes(c *cobra.Command) {
	long := c.Long
	if long == "" {
		long = c.Short + "."
	}
	c.Long = strings.TrimRight(long, "\n") + "\n" + exitCodesHelp
	for _, sub := range c.Commands() {
		documentExitCodes(sub)
	}
}

// group returns a parent command that only holds subcommands: without
// arguments it prints help, with an unknown subcommand it is a usage error.
func group(use, short, long string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
}

// exactArgs is cobra.ExactArgs returning a UsageError that names the arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < len(names):
			return usagef("%s: missing %s", cmd.CommandPath(), strings.Join(names[len(args):], " "))
		case len(args) > len(names):
			return usagef("%s: unexpected argument %q (takes %s)", cmd.CommandPath(), args[len(names)],
				strings.Join(names, " "))
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// requireFlag returns a usage error when a required flag is empty.
func requireFlag(name, value string) error {
	if value == "" {
		return usagef("--%s is required", name)
	}
	return nil
}

// getenv is os.Getenv, a seam for tests.
var getenv = os.Getenv
