package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/timestamppb"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
)

// auditView is an audit entry as the CLI prints it.
type auditView struct {
	ID          int64      `json:"id"`
	Time        *time.Time `json:"time"`
	Actor       string     `json:"actor"`
	ActorKind   string     `json:"actorKind"`
	Source      string     `json:"source"`
	Action      string     `json:"action"`
	Resource    string     `json:"resource"`
	Key         string     `json:"key"`
	Environment string     `json:"environment,omitempty"`
	Before      any        `json:"before"`
	After       any        `json:"after"`
	Comment     string     `json:"comment,omitempty"`
}

func (a *app) auditCmd() *cobra.Command {
	var flagKey, env, resource, actor string
	var since time.Duration
	var limit int
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit trail, newest first",
		Long: `Audit lists committed changes, newest first: who (user or token), through
what (ui, cli, api), what changed, in which environment, why (the comment the
change was made with, --comment), before and after (-o json shows before and
after in full).`,
		Example: `  flagpole audit --flag new-checkout --env production --since 24h
  flagpole audit --actor ci-deploy --since 1h -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 0 {
				return usagef("--limit: must be 0 (all) or more, got %d", limit)
			}
			req := &flagpolev1.ListAuditEntriesRequest{FlagKey: flagKey, Environment: env, Resource: resource, Actor: actor}
			if since > 0 {
				req.Since = timestamppb.New(time.Now().Add(-since))
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				views, err := listAudit(ctx, c, req, limit)
				if err != nil {
					return err
				}
				return a.printAudit(cmd, views)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&flagKey, "flag", "", "only changes of this flag (definition and configurations)")
	f.StringVar(&env, "env", "", "only changes in this environment")
	f.StringVar(&actor, "actor", "", "only changes by this user or token (its exact name)")
	f.StringVar(&resource, "resource", "", "only changes of this resource: flag, config, segment, environment, token, user")
	f.DurationVar(&since, "since", 0, "only changes within this duration, e.g. 30m, 24h")
	f.IntVar(&limit, "limit", 100, "at most this many entries (0: all)")
	return cmd
}

// historyCmd is the history of one flag: `audit --flag KEY`, for people who
// look for it under that name.
func (a *app) historyCmd() *cobra.Command {
	var env string
	var limit int
	cmd := &cobra.Command{
		Use:   "history KEY",
		Short: "Show the changes of one flag, newest first, with who made them and why",
		Long: `History lists the changes of one flag: its definition, its configuration in
each environment and its release plans, newest first, with the actor, the source
and the comment each change was made with. It is 'flagpole audit --flag KEY'.`,
		Example: `  flagpole history new-checkout --env production
  flagpole history new-checkout -o json`,
		Args: exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usagef("--limit: must be 0 (all) or more, got %d", limit)
			}
			req := &flagpolev1.ListAuditEntriesRequest{FlagKey: args[0], Environment: env}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				views, err := listAudit(ctx, c, req, limit)
				if err != nil {
					return err
				}
				return a.printAudit(cmd, views)
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "only changes in this environment (definition changes belong to none)")
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many entries (0: all)")
	return cmd
}

// printAudit prints audit entries as a table, or whole as JSON or YAML.
func (a *app) printAudit(cmd *cobra.Command, views []auditView) error {
	return a.printer(cmd.OutOrStdout()).emit(views, func(t *tabwriter.Writer) {
		row(t, "TIME", "ACTOR", "SOURCE", "ACTION", "KEY", "ENVIRONMENT", "COMMENT")
		for _, v := range views {
			row(t, fmtTime(v.Time), v.ActorKind+":"+v.Actor, v.Source, v.Action, v.Key, orDash(v.Environment), orDash(oneLine(v.Comment)))
		}
	})
}

// listAudit pages through the audit trail until limit entries (0: all).
func listAudit(ctx context.Context, c *clients, req *flagpolev1.ListAuditEntriesRequest, limit int) ([]auditView, error) {
	views := []auditView{}
	for {
		req.PageSize = 1000
		if limit > 0 {
			req.PageSize = int32(min(1000, limit-len(views)))
		}
		res, err := c.aud.ListAuditEntries(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("list audit entries: %w", err)
		}
		for _, e := range res.GetEntries() {
			views = append(views, auditView{ID: e.GetId(), Time: timeOf(e.GetTime()), Actor: e.GetActor(),
				ActorKind: e.GetActorKind(), Source: e.GetSource(), Action: e.GetAction(), Resource: e.GetResource(),
				Key: e.GetKey(), Environment: e.GetEnvironment(), Before: e.GetBefore().AsInterface(),
				After: e.GetAfter().AsInterface(), Comment: e.GetComment()})
		}
		if res.GetNextPageToken() == "" || len(res.GetEntries()) == 0 || (limit > 0 && len(views) >= limit) {
			return views, nil
		}
		req.PageToken = res.GetNextPageToken()
	}
}

// oneLine shows a comment in a table cell: line breaks and tabs as spaces,
// at most 80 characters (-o json has it whole).
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 80 {
		return string(r[:79]) + "…"
	}
	return s
}
