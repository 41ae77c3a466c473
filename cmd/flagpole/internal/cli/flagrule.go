package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
)

// The rule commands edit one environment's ordered rules of a flag without
// a file: each reads the configuration, changes its rules and writes it
// back guarded by the revision it read (a concurrent change is a conflict,
// exit 3, not lost). Positions are 1-based, as 'flag get' lists them.

func (a *app) flagRuleCmd() *cobra.Command {
	cmd := group("rule", "Add, remove and reorder a flag's targeting rules in one environment",
		`Rules are tried in order; the first whose conditions all hold serves. Positions
are 1-based. A condition is written 'ATTRIBUTE OPERATOR VALUE[,VALUE...]'
('plan in pro,enterprise', 'version semver_gte 2.1.0', 'email exists'); a
segment condition is 'in_segment SEGMENT[,SEGMENT...]'. Values cannot contain
commas here: use 'flagpole apply' for those.`)
	cmd.AddCommand(a.flagRuleAddCmd(), a.flagRuleRemoveCmd(), a.flagRuleMoveCmd())
	return cmd
}

// parseRuleCondition reads 'ATTRIBUTE OPERATOR VALUES' (see flagRuleCmd).
func parseRuleCondition(s string) (*syncpb.Condition, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return nil, fmt.Errorf("empty condition: write 'ATTRIBUTE OPERATOR VALUE[,VALUE...]'")
	}
	split := func(v string) []string {
		var out []string
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		return out
	}
	if f[0] == "in_segment" || f[0] == "not_in_segment" {
		if len(f) != 2 {
			return nil, fmt.Errorf("%q: write '%s SEGMENT[,SEGMENT...]'", s, f[0])
		}
		return &syncpb.Condition{Operator: f[0], Values: split(f[1])}, nil
	}
	if len(f) < 2 {
		return nil, fmt.Errorf("%q has no operator: write 'ATTRIBUTE OPERATOR VALUE[,VALUE...]'", s)
	}
	c := &syncpb.Condition{Attribute: f[0], Operator: f[1]}
	if len(f) > 2 {
		c.Values = split(strings.Join(f[2:], " "))
	}
	return c, nil
}

// parseServe reads a variant ('on') or a split ('on:10,off:90').
func parseServe(s string) (*syncpb.Serve, error) {
	if !strings.Contains(s, ":") {
		if s == "" || strings.Contains(s, ",") {
			return nil, fmt.Errorf("%q: give a variant (on) or a split (on:10,off:90)", s)
		}
		return &syncpb.Serve{Kind: &syncpb.Serve_Variant{Variant: s}}, nil
	}
	sp := &syncpb.Split{}
	for _, part := range strings.Split(s, ",") {
		v, w, ok := strings.Cut(strings.TrimSpace(part), ":")
		n, err := strconv.ParseInt(w, 10, 32)
		if !ok || v == "" || err != nil || n < 0 {
			return nil, fmt.Errorf("%q: a split is VARIANT:WEIGHT,... with whole weights (on:10,off:90)", s)
		}
		sp.Weights = append(sp.Weights, &syncpb.Weight{Variant: v, Weight: int32(n)})
	}
	return &syncpb.Serve{Kind: &syncpb.Serve_Split{Split: sp}}, nil
}

// position reads a 1-based rule position argument.
func position(name, s string, max int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		if max == 0 {
			return 0, usagef("%s: the flag has no rules in this environment", name)
		}
		return 0, usagef("%s: want a position from 1 to %d, got %q", name, max, s)
	}
	return n, nil
}

// editRules reads the configuration, lets edit change its rules and
// writes it back guarded by the revision read (or --revision).
func (a *app) editRules(cmd *cobra.Command, cc *configCmd, key, verb string, edit func(rules []*syncpb.Rule) ([]*syncpb.Rule, string, error)) error {
	if err := requireFlag("env", cc.env); err != nil {
		return err
	}
	return a.run(cmd, func(ctx context.Context, c *clients) error {
		got, err := c.flag.GetFlagConfig(ctx, &flagpolev1.GetFlagConfigRequest{FlagKey: key, Environment: cc.env})
		if err != nil {
			return fmt.Errorf("%s rule of flag %s in %s: %w", verb, key, cc.env, err)
		}
		cfg := got.GetConfig()
		if cc.rev == 0 {
			cc.rev = cfg.GetRevision()
		}
		rules, msg, err := edit(cfg.GetRules())
		if err != nil {
			return err
		}
		cfg.Rules, cfg.Revision = rules, cc.rev
		res, err := c.flag.ReplaceFlagConfig(ctx, &flagpolev1.ReplaceFlagConfigRequest{Config: cfg})
		if err != nil {
			return fmt.Errorf("%s rule of flag %s in %s: %w", verb, key, cc.env, err)
		}
		return a.finish(ctx, cmd, c, cc, res.GetConfig(), msg)
	})
}

func (a *app) flagRuleAddCmd() *cobra.Command {
	cc := &configCmd{}
	var conds []string
	var serve string
	var pos int
	cmd := &cobra.Command{
		Use:   "add KEY --env E --condition 'ATTR OP V1,V2' ... --serve V [--position N]",
		Short: "Add a rule (at the end, or at --position)",
		Example: `  flagpole flag rule add new-checkout --env production --condition 'country in NL,BE' --serve on
  flagpole flag rule add new-checkout --env production --condition 'plan in pro' --condition 'version semver_gte 2.1' --serve on:20,off:80 --position 1`,
		Args: exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(conds) == 0 {
				return usagef("--condition is required (repeat it for several; all must hold)")
			}
			if err := requireFlag("serve", serve); err != nil {
				return err
			}
			rule := &syncpb.Rule{}
			for _, s := range conds {
				c, err := parseRuleCondition(s)
				if err != nil {
					return usagef("--condition: %v", err)
				}
				rule.Conditions = append(rule.Conditions, c)
			}
			sv, err := parseServe(serve)
			if err != nil {
				return usagef("--serve: %v", err)
			}
			rule.Serve = sv
			if pos < 0 {
				return usagef("--position: want 1 or more, got %d", pos)
			}
			return a.editRules(cmd, cc, args[0], "add", func(rules []*syncpb.Rule) ([]*syncpb.Rule, string, error) {
				at := len(rules)
				if pos > 0 {
					if pos > len(rules)+1 {
						return nil, "", usagef("--position: want 1 to %d, got %d", len(rules)+1, pos)
					}
					at = pos - 1
				}
				rules = append(rules[:at:at], append([]*syncpb.Rule{rule}, rules[at:]...)...)
				return rules, fmt.Sprintf("Added rule %d to %s", at+1, args[0]), nil
			})
		},
	}
	cc.register(cmd)
	cmd.Flags().StringArrayVar(&conds, "condition", nil, "a condition 'ATTRIBUTE OPERATOR VALUE[,VALUE...]' (repeatable; all must hold)")
	cmd.Flags().StringVar(&serve, "serve", "", "what the rule serves: a variant (on) or a split (on:10,off:90)")
	cmd.Flags().IntVar(&pos, "position", 0, "1-based position of the new rule (default: last)")
	return cmd
}

func (a *app) flagRuleRemoveCmd() *cobra.Command {
	cc := &configCmd{}
	cmd := &cobra.Command{
		Use:     "remove KEY --env E N",
		Short:   "Remove the rule at position N",
		Example: "  flagpole flag rule remove new-checkout --env production 2",
		Args:    exactArgs("KEY", "N"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.editRules(cmd, cc, args[0], "remove", func(rules []*syncpb.Rule) ([]*syncpb.Rule, string, error) {
				n, err := position("N", args[1], len(rules))
				if err != nil {
					return nil, "", err
				}
				return append(rules[:n-1:n-1], rules[n:]...), fmt.Sprintf("Removed rule %d of %s", n, args[0]), nil
			})
		},
	}
	cc.register(cmd)
	return cmd
}

func (a *app) flagRuleMoveCmd() *cobra.Command {
	cc := &configCmd{}
	cmd := &cobra.Command{
		Use:     "move KEY --env E FROM TO",
		Short:   "Move the rule at position FROM to position TO",
		Example: "  flagpole flag rule move new-checkout --env production 3 1",
		Args:    exactArgs("KEY", "FROM", "TO"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.editRules(cmd, cc, args[0], "move", func(rules []*syncpb.Rule) ([]*syncpb.Rule, string, error) {
				from, err := position("FROM", args[1], len(rules))
				if err != nil {
					return nil, "", err
				}
				to, err := position("TO", args[2], len(rules))
				if err != nil {
					return nil, "", err
				}
				r := rules[from-1]
				rest := append(rules[:from-1:from-1], rules[from:]...)
				out := append(rest[:to-1:to-1], append([]*syncpb.Rule{r}, rest[to-1:]...)...)
				return out, fmt.Sprintf("Moved rule %d of %s to %d", from, args[0], to), nil
			})
		},
	}
	cc.register(cmd)
	return cmd
}
