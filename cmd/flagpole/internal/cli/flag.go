package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
)

// flagView is a flag as the CLI prints it: the definition in the apply
// format, its revision and its configuration per environment.
type flagView struct {
	FlagSpec
	Revision   int64        `json:"revision"`
	CreateTime *time.Time   `json:"createTime,omitempty"`
	UpdateTime *time.Time   `json:"updateTime,omitempty"`
	Configs    []configView `json:"configs"`
	// Stale maps each environment where the flag is stale to why
	// (never_evaluated, not_evaluated, single_variant); set by list --stale.
	Stale map[string]string `json:"stale,omitempty"`
}

// configView is a flag's configuration in one environment.
type configView struct {
	FlagKey     string `json:"flagKey"`
	Environment string `json:"environment"`
	ConfigSpec
	Revision   int64      `json:"revision"`
	UpdateTime *time.Time `json:"updateTime,omitempty"`
	// Changed is set by enable and disable: false when the flag already
	// was in the asked state and nothing was written.
	Changed *bool `json:"changed,omitempty"`
}

func flagViewOf(f *syncpb.Flag, configs []*syncpb.FlagConfig) flagView {
	v := flagView{FlagSpec: flagFromProto(f), Revision: f.GetRevision(),
		CreateTime: timeOf(f.GetCreateTime()), UpdateTime: timeOf(f.GetUpdateTime()), Configs: []configView{}}
	for _, c := range configs {
		v.Configs = append(v.Configs, configViewOf(c))
	}
	return v
}

func configViewOf(c *syncpb.FlagConfig) configView {
	return configView{FlagKey: c.GetFlagKey(), Environment: c.GetEnvironment(), ConfigSpec: *configFromProto(c),
		Revision: c.GetRevision(), UpdateTime: timeOf(c.GetUpdateTime())}
}

// serving summarises what a configuration serves: "off (disabled)",
// "on", "on 10% / off 90%", plus the number of rules.
func (c configView) serving() string {
	s := "-"
	if d := c.Default; d != nil {
		s = d.Variant
		if len(d.Split) > 0 {
			total := 0
			for _, w := range d.Split {
				total += w.Weight
			}
			parts := make([]string, len(d.Split))
			for i, w := range d.Split {
				parts[i] = fmt.Sprintf("%s %s", w.Variant, percent(w.Weight, total))
			}
			s = strings.Join(parts, " / ")
		}
	}
	if n := len(c.Rules); n > 0 {
		s += " (+" + rulesText(n) + ")"
	}
	if !c.Enabled {
		return fmt.Sprintf("%s (disabled; enabled: %s)", orDash(c.OffVariant), s)
	}
	return s
}

// glance is the configuration at a glance, as the admin UI's flag list
// shows it: "off" while disabled, else "on" with the share its default
// serve gives the first variant ("on 25%", "on 100%" for a boolean flag
// serving on, "on 50% green" for a split of other variants, "on green" for
// one fixed variant of a non-boolean flag), and the number of rules.
func (c configView) glance(flagType string) string {
	if !c.Enabled {
		return "off"
	}
	s := "on"
	if d := c.Default; d != nil {
		variant, share := d.Variant, ""
		if len(d.Split) > 0 {
			total := 0
			for _, w := range d.Split {
				total += w.Weight
			}
			variant, share = d.Split[0].Variant, percent(d.Split[0].Weight, total)
		} else if flagType == "boolean" && (variant == "on" || variant == "off") {
			share = map[string]string{"on": "100%", "off": "0%"}[variant]
		}
		if share != "" {
			s += " " + share
		}
		// A boolean flag's share is of "on" unless the split starts elsewhere.
		implied := flagType == "boolean" && (variant == "on" || len(d.Split) == 0 && share != "")
		if variant != "" && !implied {
			s += " " + variant
		}
	}
	if n := len(c.Rules); n > 0 {
		s += " (" + rulesText(n) + ")"
	}
	return s
}

func rulesText(n int) string {
	if n == 1 {
		return "1 rule"
	}
	return fmt.Sprintf("%d rules", n)
}

func percent(w, total int) string {
	if total == 0 {
		return "0%"
	}
	p := float64(w) * 100 / float64(total)
	if p == float64(int(p)) {
		return fmt.Sprintf("%d%%", int(p))
	}
	return fmt.Sprintf("%.2f%%", p)
}

func (a *app) flagCmd() *cobra.Command {
	cmd := group("flag", "Manage flags and their configuration per environment",
		`Flag definitions (key, type, variants) are shared by all environments; each
environment has its own configuration: enabled (the kill switch), the off
variant, targeting rules and the default serve.`)
	cmd.AddCommand(a.flagListCmd(), a.flagGetCmd(), a.flagCreateCmd(), a.flagArchiveCmd(), a.flagDeleteCmd(),
		a.flagToggleCmd(true), a.flagToggleCmd(false), a.flagRolloutCmd(), a.flagDefaultCmd(), a.flagSignalsCmd(), a.flagScheduleCmd(), a.flagRuleCmd())
	return cmd
}

func (a *app) flagListCmd() *cobra.Command {
	var env, tag, query string
	var archived, stale bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List flags, with their state in every environment or in --env",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.flag.ListFlags(ctx, &flagpolev1.ListFlagsRequest{Tag: tag, Query: query,
					IncludeArchived: archived, Environment: env, StaleOnly: stale})
				if err != nil {
					return fmt.Errorf("list flags: %w", err)
				}
				views := []flagView{}
				for _, f := range res.GetFlags() {
					v := flagViewOf(f.GetFlag(), f.GetConfigs())
					for _, u := range f.GetUsage() {
						if u.GetStale() {
							if v.Stale == nil {
								v.Stale = map[string]string{}
							}
							v.Stale[u.GetEnvironment()] = u.GetStaleReason()
						}
					}
					views = append(views, v)
				}
				return a.printer(cmd.OutOrStdout()).emit(views, func(t *tabwriter.Writer) {
					if env != "" {
						row(t, "KEY", "TYPE", "ENABLED", "SERVING", "REVISION", "TAGS")
					} else {
						row(t, "KEY", "TYPE", "ENVIRONMENTS", "TAGS")
					}
					for _, v := range views {
						key := v.Key
						if v.Archived {
							key += " (archived)"
						}
						if len(v.Stale) > 0 {
							key += " (stale: " + staleText(v.Stale) + ")"
						}
						tags := orDash(strings.Join(v.Tags, ","))
						if env != "" {
							for _, c := range v.Configs {
								row(t, key, v.Type, c.Enabled, c.serving(), c.Revision, tags)
							}
							continue
						}
						envs := make([]string, len(v.Configs))
						for i, c := range v.Configs {
							envs[i] = c.Environment + "=" + c.glance(v.Type)
						}
						row(t, key, v.Type, orDash(strings.Join(envs, ", ")), tags)
					}
				})
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "show the configuration in this environment")
	cmd.Flags().StringVar(&tag, "tag", "", "only flags with this tag")
	cmd.Flags().StringVar(&query, "query", "", "only flags whose key, name or description contains this")
	cmd.Flags().BoolVar(&archived, "archived", false, "include archived flags")
	cmd.Flags().BoolVar(&stale, "stale", false, "only flags that are stale (not evaluated, or serving one variant to everyone, for serve --stale-after) in --env or in any environment")
	return cmd
}

func (a *app) flagGetCmd() *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Show a flag's definition and its configuration per environment",
		Args:  exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.flag.GetFlag(ctx, &flagpolev1.GetFlagRequest{Key: args[0]})
				if err != nil {
					return fmt.Errorf("get flag %s: %w", args[0], err)
				}
				var configs []*syncpb.FlagConfig
				for _, cfg := range res.GetConfigs() {
					if env == "" || cfg.GetEnvironment() == env {
						configs = append(configs, cfg)
					}
				}
				if env != "" && len(configs) == 0 {
					return fmt.Errorf("get flag %s: no configuration in environment %q", args[0], env)
				}
				v := flagViewOf(res.GetFlag(), configs)
				return a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) { printFlag(t, v) })
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "show only this environment's configuration")
	return cmd
}

func printFlag(t *tabwriter.Writer, v flagView) {
	row(t, "Key:", v.Key)
	if v.Name != "" {
		row(t, "Name:", v.Name)
	}
	if v.Description != "" {
		row(t, "Description:", v.Description)
	}
	row(t, "Type:", v.Type)
	vars := make([]string, len(v.Variants))
	for i, va := range v.Variants {
		vars[i] = va.Key + "=" + compact(va.Value)
	}
	row(t, "Variants:", strings.Join(vars, " "))
	row(t, "Tags:", orDash(strings.Join(v.Tags, ",")))
	row(t, "Owner:", orDash(v.Owner))
	row(t, "Temporary:", v.Temporary)
	row(t, "Archived:", v.Archived)
	row(t, "Revision:", v.Revision)
	row(t, "")
	row(t, "ENVIRONMENT", "ENABLED", "SERVING", "OFF VARIANT", "REVISION")
	for _, c := range v.Configs {
		row(t, c.Environment, c.Enabled, c.serving(), orDash(c.OffVariant), c.Revision)
	}
}

func (a *app) flagCreateCmd() *cobra.Command {
	var typ, name, description, owner string
	var variants, tags []string
	var temporary bool
	cmd := &cobra.Command{
		Use:   "create KEY --type boolean|string|integer|float|object",
		Short: "Create a flag (disabled in every environment)",
		Long: `Create a flag. A boolean flag without --variant gets on=true and off=false.
Variant values are parsed by type: --variant blue='"#00f"' is not needed, a
string flag takes the text as is; object values are JSON.`,
		Example: `  flagpole flag create new-checkout --type boolean --description "New checkout flow" --tag checkout
  flagpole flag create button-color --type string --variant blue=#00f --variant green=#0f0
  flagpole flag create max-items --type integer --variant low=10 --variant high=100`,
		Args: exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag("type", typ); err != nil {
				return err
			}
			spec := FlagSpec{Key: args[0], Name: name, Description: description, Type: typ, Owner: owner,
				Tags: tags, Temporary: temporary}
			for _, v := range variants {
				k, val, ok := strings.Cut(v, "=")
				if !ok || k == "" {
					return usagef("--variant %q: want name=value", v)
				}
				parsed, err := parseVariantValue(typ, val)
				if err != nil {
					return usagef("--variant %s: %v", k, err)
				}
				spec.Variants = append(spec.Variants, VariantSpec{Key: k, Value: parsed})
			}
			p, err := flagToProto(spec, 0)
			if err != nil {
				return usagef("--variant %v", err)
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.flag.CreateFlag(ctx, &flagpolev1.CreateFlagRequest{Flag: p})
				if err != nil {
					return fmt.Errorf("create flag %s: %w", args[0], err)
				}
				v := flagViewOf(res.GetFlag(), res.GetConfigs())
				return a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) {
					row(t, fmt.Sprintf("Created flag %s (%s), disabled in %d environment(s).", v.Key, v.Type, len(v.Configs)))
				})
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&typ, "type", "", "flag type: boolean, string, integer, float or object (required)")
	f.StringArrayVar(&variants, "variant", nil, "a variant as name=value, in order (repeatable)")
	f.StringVar(&name, "name", "", "human-readable name")
	f.StringVar(&description, "description", "", "what the flag gates")
	f.StringArrayVar(&tags, "tag", nil, "a tag (repeatable)")
	f.StringVar(&owner, "owner", "", "team or person responsible")
	f.BoolVar(&temporary, "temporary", false, "a release flag meant to be removed once rolled out")
	return cmd
}

func (a *app) flagArchiveCmd() *cobra.Command {
	var restore, force bool
	var rev int64
	cmd := &cobra.Command{
		Use:   "archive KEY",
		Short: "Archive a flag: it stops being served (FLAG_NOT_FOUND) but keeps its history",
		Args:  exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.flag.ArchiveFlag(ctx, &flagpolev1.ArchiveFlagRequest{Key: args[0], Archived: !restore,
					ExpectedRevision: rev, Force: force})
				if err != nil {
					return fmt.Errorf("archive flag %s: %w", args[0], err)
				}
				v := flagViewOf(res.GetFlag(), nil)
				return a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) {
					row(t, fmt.Sprintf("Flag %s %s (revision %d).", v.Key,
						map[bool]string{true: "archived", false: "restored"}[v.Archived], v.Revision))
				})
			})
		},
	}
	cmd.Flags().BoolVar(&restore, "restore", false, "restore an archived flag instead")
	addForceFlag(cmd, &force, "archive")
	addRevisionFlag(cmd, &rev, "flag")
	return cmd
}

func (a *app) flagDeleteCmd() *cobra.Command {
	var rev int64
	var force bool
	cmd := &cobra.Command{
		Use:   "delete KEY",
		Short: "Delete a flag and its configuration in every environment",
		Args:  exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				if _, err := c.flag.DeleteFlag(ctx, &flagpolev1.DeleteFlagRequest{Key: args[0], ExpectedRevision: rev, Force: force}); err != nil {
					return fmt.Errorf("delete flag %s: %w", args[0], err)
				}
				return a.printer(cmd.OutOrStdout()).emit(map[string]any{"deleted": args[0]}, func(t *tabwriter.Writer) {
					row(t, "Deleted flag "+args[0]+".")
				})
			})
		},
	}
	addForceFlag(cmd, &force, "delete")
	addRevisionFlag(cmd, &rev, "flag")
	return cmd
}

// addForceFlag adds --force: verb a flag even when it is enabled in a
// protected environment (refused without it).
func addForceFlag(cmd *cobra.Command, force *bool, verb string) {
	cmd.Flags().BoolVar(force, "force", false, verb+" even a flag that is enabled in a protected environment")
}

func addRevisionFlag(cmd *cobra.Command, rev *int64, what string) {
	cmd.Flags().Int64Var(rev, "expected-revision", 0,
		"fail with exit code 3 unless the "+what+" is still at this revision (0: no check)")
}

// configCmd is the shape of the commands that change one configuration:
// KEY --env E, --expected-revision, --wait.
type configCmd struct {
	env  string
	rev  int64
	wait time.Duration
}

func (cc *configCmd) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&cc.env, "env", "", "environment (required)")
	addRevisionFlag(cmd, &cc.rev, "configuration")
	addWaitFlag(cmd, &cc.wait)
}

// finish prints the new configuration and waits if asked.
func (a *app) finish(ctx context.Context, cmd *cobra.Command, c *clients, cc *configCmd, cfg *syncpb.FlagConfig, msg string) error {
	return a.finishView(ctx, cmd, c, cc, configViewOf(cfg), msg)
}

func (a *app) finishView(ctx context.Context, cmd *cobra.Command, c *clients, cc *configCmd, v configView, msg string) error {
	if err := a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) {
		row(t, fmt.Sprintf("%s in %s: now serving %s (config revision %d).", msg, v.Environment, v.serving(), v.Revision))
	}); err != nil {
		return err
	}
	if cc.wait <= 0 {
		return nil
	}
	return a.waitAll(ctx, cmd, c, []string{cc.env}, cc.wait)
}

func (a *app) flagToggleCmd(enable bool) *cobra.Command {
	cc := &configCmd{}
	verb, short := "enable", "Turn a flag on in an environment (its rules and default serve apply)"
	if !enable {
		verb, short = "disable", "Turn a flag off in an environment (the kill switch: its off variant is served)"
	}
	cmd := &cobra.Command{
		Use:     verb + " KEY --env E",
		Short:   short,
		Example: fmt.Sprintf("  flagpole flag %s new-checkout --env production --wait=60s", verb),
		Args:    exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag("env", cc.env); err != nil {
				return err
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				// Already in the asked state (and at the expected revision,
				// if one is given): nothing to write, and the output says
				// so, so a script can tell it did not change the flag.
				cur, err := c.flag.GetFlagConfig(ctx, &flagpolev1.GetFlagConfigRequest{FlagKey: args[0], Environment: cc.env})
				if err == nil && cur.GetConfig().GetEnabled() == enable && (cc.rev == 0 || cc.rev == cur.GetConfig().GetRevision()) {
					v := configViewOf(cur.GetConfig())
					v.Changed = new(false)
					return a.finishView(ctx, cmd, c, cc, v, args[0]+" already "+verb+"d")
				}
				res, err := c.flag.SetEnabled(ctx, &flagpolev1.SetEnabledRequest{FlagKey: args[0], Environment: cc.env,
					Enabled: enable, ExpectedRevision: cc.rev})
				if err != nil {
					return fmt.Errorf("%s flag %s in %s: %w", verb, args[0], cc.env, err)
				}
				v := configViewOf(res.GetConfig())
				v.Changed = new(true)
				return a.finishView(ctx, cmd, c, cc, v, strings.ToUpper(verb[:1])+verb[1:]+"d "+args[0])
			})
		},
	}
	cc.register(cmd)
	return cmd
}

func (a *app) flagRolloutCmd() *cobra.Command {
	cc := &configCmd{}
	var pct int
	var variant, rest string
	cmd := &cobra.Command{
		Use:   "rollout KEY --env E --percent N",
		Short: "Serve a variant to N% of contexts by default, the rest to another",
		Long: `Rollout sets the default serve to a split: --variant (default "on") to N% of
contexts and --rest-variant (default "off", or the off variant) to the others.
The rolled-out variant stays first in the split, so raising 10% to 20% keeps
the first 10% of users in. It does not enable a disabled flag.`,
		Example: `  flagpole flag rollout new-checkout --env production --percent 10
  flagpole flag rollout button-color --env production --percent 50 --variant green --rest-variant blue`,
		Args: exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag("env", cc.env); err != nil {
				return err
			}
			if !cmd.Flags().Changed("percent") {
				return usagef("--percent is required")
			}
			if pct < 0 || pct > 100 {
				return usagef("--percent: must be 0 to 100, got %d", pct)
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.flag.SetRollout(ctx, &flagpolev1.SetRolloutRequest{FlagKey: args[0], Environment: cc.env,
					Percent: int32(pct), Variant: variant, RestVariant: rest, ExpectedRevision: cc.rev})
				if err != nil {
					return fmt.Errorf("rollout flag %s in %s: %w", args[0], cc.env, err)
				}
				return a.finish(ctx, cmd, c, cc, res.GetConfig(), fmt.Sprintf("Rolled out %s to %d%%", args[0], pct))
			})
		},
	}
	cc.register(cmd)
	cmd.Flags().IntVar(&pct, "percent", 0, "share of contexts, 0 to 100 (required)")
	cmd.Flags().StringVar(&variant, "variant", "", `variant rolled out (default "on" for boolean flags)`)
	cmd.Flags().StringVar(&rest, "rest-variant", "", `variant served to the others (default "off" for boolean flags, else the off variant)`)
	return cmd
}

func (a *app) flagDefaultCmd() *cobra.Command {
	cc := &configCmd{}
	var variant string
	cmd := &cobra.Command{
		Use:     "default KEY --env E --variant V",
		Short:   "Serve one variant to every context that no rule matches",
		Example: "  flagpole flag default button-color --env staging --variant green",
		Args:    exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag("env", cc.env); err != nil {
				return err
			}
			if err := requireFlag("variant", variant); err != nil {
				return err
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				got, err := c.flag.GetFlagConfig(ctx, &flagpolev1.GetFlagConfigRequest{FlagKey: args[0], Environment: cc.env})
				if err != nil {
					return fmt.Errorf("default flag %s in %s: %w", args[0], cc.env, err)
				}
				cfg := got.GetConfig()
				if cc.rev == 0 {
					cc.rev = cfg.GetRevision() // a change in between is a conflict, not lost
				}
				cfg.DefaultServe = &syncpb.Serve{Kind: &syncpb.Serve_Variant{Variant: variant}}
				cfg.Revision = cc.rev
				res, err := c.flag.ReplaceFlagConfig(ctx, &flagpolev1.ReplaceFlagConfigRequest{Config: cfg})
				if err != nil {
					return fmt.Errorf("default flag %s in %s: %w", args[0], cc.env, err)
				}
				return a.finish(ctx, cmd, c, cc, res.GetConfig(), "Set the default of "+args[0])
			})
		},
	}
	cc.register(cmd)
	cmd.Flags().StringVar(&variant, "variant", "", "variant served by default (required)")
	return cmd
}

// staleText lists environment=reason pairs in environment order.
func staleText(stale map[string]string) string {
	envs := make([]string, 0, len(stale))
	for env := range stale {
		envs = append(envs, env)
	}
	sort.Strings(envs)
	for i, env := range envs {
		envs[i] = env + "=" + stale[env]
	}
	return strings.Join(envs, " ")
}
