// Command flagpole is the Flagpole binary: `flagpole serve` runs the server,
// the other subcommands are the client that CI scripts use.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/flagpole/flagpole/cmd/flagpole/internal/cli"
	"github.com/flagpole/flagpole/cmd/flagpole/internal/misuse"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// newRoot builds the command tree.
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "flagpole",
		Short:         "Flagpole feature flags: the server and its command-line client",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return misuse.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	root.Version = version()
	root.SetVersionTemplate("flagpole {{.Version}}\n")
	root.AddCommand(newServeCommand())
	root.AddCommand(cli.Commands()...)
	return root
}

// run executes the command line and returns the exit status: 0 on success,
// 2 for a usage error (unknown command or flag, bad arguments), otherwise
// cli.ExitCode: 3 for a conflict, 4 for a --wait timeout, 1 for the rest.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return misuse.FlagError(err) })
	started := trackStart(root)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "flagpole: %v\n", err)
	// Everything cobra refuses before a command runs (unknown commands,
	// bad flags, wrong arguments, missing required flags) is usage.
	if misuse.Is(err) || !*started {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		return 2
	}
	return cli.ExitCode(err)
}

// trackStart wraps the RunE of every command so that run can tell errors
// raised before any command ran from errors of the command itself.
func trackStart(root *cobra.Command) *bool {
	started := new(bool)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if runE := c.RunE; runE != nil {
			c.RunE = func(cmd *cobra.Command, args []string) error {
				*started = true
				return runE(cmd, args)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return started
}
