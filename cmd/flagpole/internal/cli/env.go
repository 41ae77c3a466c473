package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
)

// envView is an environment as the CLI prints it.
type envView struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Protected   bool   `json:"protected"`
	// RequireComment: every change to the environment must carry --comment.
	RequireComment bool       `json:"requireComment"`
	Revision       int64      `json:"revision"`
	CreateTime     *time.Time `json:"createTime,omitempty"`
}

func envFromProto(e *flagpolev1.Environment) envView {
	return envView{Name: e.GetName(), Description: e.GetDescription(), Protected: e.GetProtected(),
		RequireComment: e.GetRequireComment(), Revision: e.GetRevision(), CreateTime: timeOf(e.GetCreateTime())}
}

func timeOf(t *timestamppb.Timestamp) *time.Time {
	if t == nil {
		return nil
	}
	v := t.AsTime().UTC()
	return &v
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func (a *app) envCmd() *cobra.Command {
	cmd := group("env", "List, create, update, delete, protect and unprotect environments",
		"Environments (development, staging, production, ...) each serve their own configuration of every flag.")
	cmd.AddCommand(a.envListCmd(), a.envCreateCmd(), a.envUpdateCmd(), a.envDeleteCmd(), a.envProtectCmd(true), a.envProtectCmd(false))
	return cmd
}

// envProtectView is what 'env protect|unprotect -o json' prints: the
// environment and whether the command changed it.
type envProtectView struct {
	envView
	Changed bool `json:"changed"`
}

func (a *app) envProtectCmd(protect bool) *cobra.Command {
	verb, short := "protect", "Protect an environment: only admins may change what it serves"
	if !protect {
		verb, short = "unprotect", "Unprotect an environment: editors and ci tokens may change it again"
	}
	return &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				got, err := c.env.GetEnvironment(ctx, &flagpolev1.GetEnvironmentRequest{Name: args[0]})
				if err != nil {
					return fmt.Errorf("%s environment %s: %w", verb, args[0], err)
				}
				e := got.GetEnvironment()
				v := envProtectView{envView: envFromProto(e)}
				if e.GetProtected() != protect {
					e.Protected = protect
					res, err := c.env.UpdateEnvironment(ctx, &flagpolev1.UpdateEnvironmentRequest{Environment: e})
					if err != nil {
						return fmt.Errorf("%s environment %s: %w", verb, args[0], err)
					}
					v = envProtectView{envView: envFromProto(res.GetEnvironment()), Changed: true}
				}
				return a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) {
					switch {
					case v.Changed && protect:
						row(t, "Protected environment "+v.Name+".")
					case v.Changed:
						row(t, "Unprotected environment "+v.Name+".")
					case protect:
						row(t, "Environment "+v.Name+" is already protected.")
					default:
						row(t, "Environment "+v.Name+" is already unprotected.")
					}
				})
			})
		},
	}
}

func (a *app) envListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List environments with their current revision",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.env.ListEnvironments(ctx, &flagpolev1.ListEnvironmentsRequest{})
				if err != nil {
					return fmt.Errorf("list environments: %w", err)
				}
				views := []envView{}
				for _, e := range res.GetEnvironments() {
					views = append(views, envFromProto(e))
				}
				return a.printer(cmd.OutOrStdout()).emit(views, func(t *tabwriter.Writer) {
					row(t, "NAME", "REVISION", "PROTECTED", "COMMENTS", "DESCRIPTION")
					for _, v := range views {
						comments := "optional"
						if v.RequireComment {
							comments = "required"
						}
						row(t, v.Name, v.Revision, v.Protected, comments, orDash(v.Description))
					}
				})
			})
		},
	}
}

func (a *app) envCreateCmd() *cobra.Command {
	var description string
	var protected, requireComment bool
	cmd := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create an environment; every existing flag gets a disabled configuration in it",
		Example: "  flagpole env create qa --description 'QA cluster'",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.env.CreateEnvironment(ctx, &flagpolev1.CreateEnvironmentRequest{
					Environment: &flagpolev1.Environment{Name: args[0], Description: description, Protected: protected, RequireComment: requireComment}})
				if err != nil {
					return fmt.Errorf("create environment %s: %w", args[0], err)
				}
				v := envFromProto(res.GetEnvironment())
				return a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) {
					row(t, "Created environment "+v.Name+".")
				})
			})
		},
	}
	cmd.Flags().StringVar(&description, "description", "", "what the environment is for")
	cmd.Flags().BoolVar(&protected, "protected", false, "only admins may change it")
	cmd.Flags().BoolVar(&requireComment, "require-comment", false, "every change to it must carry a comment (--comment)")
	return cmd
}

// envUpdateView is what 'env update -o json' prints: the environment and
// whether the command changed it.
type envUpdateView = envProtectView

func (a *app) envUpdateCmd() *cobra.Command {
	var description string
	var requireComment bool
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change an environment's description or whether its changes require a comment (admins only)",
		Long: `Update changes what its flags name and leaves the rest as it is. With
--require-comment, every change to the environment (toggles, rollouts,
targeting, apply, release plans) is refused without --comment; changes the
server makes itself (release plan steps) need none. Setting or lifting the
requirement once it holds needs a --comment too.`,
		Example: `  flagpole env update production --require-comment --comment 'SOX: say why'
  flagpole env update production --require-comment=false --comment 'audit over'`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			set := cmd.Flags().Changed
			if !set("description") && !set("require-comment") {
				return usagef("%s: nothing to change: give --description or --require-comment", cmd.CommandPath())
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				got, err := c.env.GetEnvironment(ctx, &flagpolev1.GetEnvironmentRequest{Name: args[0]})
				if err != nil {
					return fmt.Errorf("update environment %s: %w", args[0], err)
				}
				e := got.GetEnvironment()
				next := proto.Clone(e).(*flagpolev1.Environment)
				if set("description") {
					next.Description = description
				}
				if set("require-comment") {
					next.RequireComment = requireComment
				}
				v := envUpdateView{envView: envFromProto(e)}
				if !proto.Equal(e, next) {
					res, err := c.env.UpdateEnvironment(ctx, &flagpolev1.UpdateEnvironmentRequest{Environment: next})
					if err != nil {
						return fmt.Errorf("update environment %s: %w", args[0], err)
					}
					v = envUpdateView{envView: envFromProto(res.GetEnvironment()), Changed: true}
				}
				return a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) {
					if v.Changed {
						row(t, "Updated environment "+v.Name+".")
					} else {
						row(t, "Environment "+v.Name+" is already so.")
					}
				})
			})
		},
	}
	cmd.Flags().StringVar(&description, "description", "", "what the environment is for")
	cmd.Flags().BoolVar(&requireComment, "require-comment", false, "every change to it must carry a comment (--comment); =false lifts it")
	return cmd
}

func (a *app) envDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete an environment and every flag configuration in it",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				if _, err := c.env.DeleteEnvironment(ctx, &flagpolev1.DeleteEnvironmentRequest{Name: args[0]}); err != nil {
					return fmt.Errorf("delete environment %s: %w", args[0], err)
				}
				return a.printer(cmd.OutOrStdout()).emit(map[string]any{"deleted": args[0]}, func(t *tabwriter.Writer) {
					row(t, "Deleted environment "+args[0]+".")
				})
			})
		},
	}
}
