package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
)

// webhookView is a webhook as the CLI prints it; it never holds the secret.
type webhookView struct {
	ID           string     `json:"id"`
	URL          string     `json:"url"`
	Events       []string   `json:"events"`
	Environments []string   `json:"environments"`
	Slack        bool       `json:"slack"`
	CreatedBy    string     `json:"createdBy"`
	CreateTime   *time.Time `json:"createTime,omitempty"`
}

func webhookViewOf(w *flagpolev1.Webhook) webhookView {
	envs := w.GetEnvironments()
	if envs == nil {
		envs = []string{}
	}
	return webhookView{ID: w.GetId(), URL: w.GetUrl(), Events: w.GetEvents(), Environments: envs, Slack: w.GetSlack(),
		CreatedBy: w.GetCreatedBy(), CreateTime: timeOf(w.GetCreateTime())}
}

// deliveryView is a delivery as the CLI prints it.
type deliveryView struct {
	ID              string     `json:"id"`
	WebhookID       string     `json:"webhookId"`
	Kind            string     `json:"kind"`
	State           string     `json:"state"`
	Attempts        int32      `json:"attempts"`
	LastStatus      int32      `json:"lastStatus"`
	LastError       string     `json:"lastError,omitempty"`
	NextAttemptTime *time.Time `json:"nextAttemptTime,omitempty"`
	CreateTime      *time.Time `json:"createTime,omitempty"`
	UpdateTime      *time.Time `json:"updateTime,omitempty"`
}

func (a *app) webhookCmd() *cobra.Command {
	cmd := group("webhook", "Create, list, test and delete webhooks; see their deliveries (admin)",
		`Webhooks tell other systems about changes: every audited change of the kinds
a webhook names is posted to its URL as JSON, signed with HMAC-SHA256
(header Flagpole-Signature: t=<unix>,v1=<hex of HMAC(secret, "<t>.<body>")>),
retried with backoff for about an hour, then marked failed.

Kinds: flag.changed, config.changed, segment.changed, environment.changed,
token.changed, user.changed, webhook.changed, release.step,
release.completed, release.rolled_back.`)
	cmd.AddCommand(a.webhookCreateCmd(), a.webhookListCmd(), a.webhookDeleteCmd(), a.webhookTestCmd(), a.webhookDeliveriesCmd())
	return cmd
}

func (a *app) webhookCreateCmd() *cobra.Command {
	var events, envs []string
	var slack bool
	cmd := &cobra.Command{
		Use:   "create URL --event KIND... [--env E]... [--slack]",
		Short: "Create a webhook and print its id and signing secret",
		Long: `Create a webhook. The default output is the id and the signing secret on
one line each; -o json prints the webhook and its secret. The secret cannot
be shown again. --slack posts a Slack incoming-webhook body instead of the
event document.`,
		Example: `  flagpole webhook create https://hooks.internal/flagpole --event flag.changed --event config.changed --env production
  flagpole webhook create https://hooks.slack.com/services/T0/B0/XXXX --event config.changed --slack`,
		Args: exactArgs("URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(events) == 0 {
				return usagef("--event is required (repeat it for several kinds)")
			}
			var kinds []string
			for _, e := range events {
				kinds = append(kinds, strings.Split(e, ",")...)
			}
			req := &flagpolev1.CreateWebhookRequest{Url: args[0], Events: kinds, Environments: envs, Slack: slack}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.hook.CreateWebhook(ctx, req)
				if err != nil {
					return fmt.Errorf("create webhook: %w", err)
				}
				if a.output == "table" {
					_, err := fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\n", res.GetWebhook().GetId(), res.GetSecret())
					return err
				}
				return a.printer(cmd.OutOrStdout()).emit(struct {
					Webhook webhookView `json:"webhook"`
					Secret  string      `json:"secret"`
				}{webhookViewOf(res.GetWebhook()), res.GetSecret()}, nil)
			})
		},
	}
	cmd.Flags().StringArrayVar(&events, "event", nil, "event kind to deliver (repeatable, or comma-separated; required)")
	cmd.Flags().StringArrayVar(&envs, "env", nil, "deliver only changes in this environment (repeatable; default all)")
	cmd.Flags().BoolVar(&slack, "slack", false, "post a Slack incoming-webhook body")
	return cmd
}

func (a *app) webhookListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List webhooks (never their secrets)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.hook.ListWebhooks(ctx, &flagpolev1.ListWebhooksRequest{})
				if err != nil {
					return fmt.Errorf("list webhooks: %w", err)
				}
				views := []webhookView{}
				for _, w := range res.GetWebhooks() {
					views = append(views, webhookViewOf(w))
				}
				return a.printer(cmd.OutOrStdout()).emit(views, func(t *tabwriter.Writer) {
					row(t, "ID", "URL", "EVENTS", "ENVIRONMENTS", "SLACK", "CREATED BY")
					for _, v := range views {
						row(t, v.ID, v.URL, strings.Join(v.Events, ","), orDash(strings.Join(v.Environments, ",")),
							strconv.FormatBool(v.Slack), orDash(v.CreatedBy))
					}
				})
			})
		},
	}
}

func (a *app) webhookDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a webhook and its pending deliveries",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				if _, err := c.hook.DeleteWebhook(ctx, &flagpolev1.DeleteWebhookRequest{Id: args[0]}); err != nil {
					return fmt.Errorf("delete webhook %s: %w", args[0], err)
				}
				return a.printer(cmd.OutOrStdout()).emit(map[string]string{"deleted": args[0]}, func(t *tabwriter.Writer) {
					row(t, "Deleted webhook "+args[0]+".")
				})
			})
		},
	}
}

func (a *app) webhookTestCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "test ID",
		Short: "Send a webhook.test event now and show the receiver's answer",
		Long:  "Send a webhook.test event now and show the receiver's answer; exits non-zero when it did not answer 2xx.",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.hook.TestWebhook(ctx, &flagpolev1.TestWebhookRequest{Id: args[0]})
				if err != nil {
					return fmt.Errorf("test webhook %s: %w", args[0], err)
				}
				v := struct {
					Status   int32  `json:"status"`
					Error    string `json:"error,omitempty"`
					Duration string `json:"duration"`
				}{res.GetStatus(), res.GetError(), res.GetDuration().AsDuration().Round(time.Millisecond).String()}
				if err := a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) {
					row(t, "STATUS", "DURATION", "ERROR")
					row(t, strconv.Itoa(int(v.Status)), v.Duration, orDash(v.Error))
				}); err != nil {
					return err
				}
				if v.Error != "" {
					return fmt.Errorf("test webhook %s: %s", args[0], v.Error)
				}
				return nil
			})
		},
	}
}

func (a *app) webhookDeliveriesCmd() *cobra.Command {
	var failed bool
	var webhookID, state string
	var limit int32
	cmd := &cobra.Command{
		Use:   "deliveries [--failed] [--webhook ID] [--state S]",
		Short: "List recent deliveries, newest first",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if failed {
				if state != "" && state != "failed" {
					return usagef("--failed and --state %s contradict each other", state)
				}
				state = "failed"
			}
			req := &flagpolev1.ListDeliveriesRequest{WebhookId: webhookID, State: state, PageSize: limit}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.hook.ListDeliveries(ctx, req)
				if err != nil {
					return fmt.Errorf("list deliveries: %w", err)
				}
				views := []deliveryView{}
				for _, d := range res.GetDeliveries() {
					views = append(views, deliveryView{ID: d.GetId(), WebhookID: d.GetWebhookId(), Kind: d.GetKind(),
						State: d.GetState(), Attempts: d.GetAttempts(), LastStatus: d.GetLastStatus(), LastError: d.GetLastError(),
						NextAttemptTime: timeOf(d.GetNextAttemptTime()), CreateTime: timeOf(d.GetCreateTime()), UpdateTime: timeOf(d.GetUpdateTime())})
				}
				return a.printer(cmd.OutOrStdout()).emit(views, func(t *tabwriter.Writer) {
					row(t, "ID", "WEBHOOK", "KIND", "STATE", "ATTEMPTS", "STATUS", "CREATED", "ERROR")
					for _, v := range views {
						row(t, v.ID, v.WebhookID, v.Kind, strings.ToUpper(v.State), strconv.Itoa(int(v.Attempts)),
							strconv.Itoa(int(v.LastStatus)), fmtTime(v.CreateTime), orDash(v.LastError))
					}
				})
			})
		},
	}
	cmd.Flags().BoolVar(&failed, "failed", false, "only deliveries that failed every attempt")
	cmd.Flags().StringVar(&webhookID, "webhook", "", "only this webhook's deliveries")
	cmd.Flags().StringVar(&state, "state", "", "only deliveries in this state: pending, delivered or failed")
	cmd.Flags().Int32Var(&limit, "limit", 0, "at most this many (default 100, at most 1000)")
	return cmd
}
