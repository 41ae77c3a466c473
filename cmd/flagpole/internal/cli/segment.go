package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
)

// segmentView is a segment as the CLI prints it.
type segmentView struct {
	SegmentSpec
	Revision   int64      `json:"revision"`
	CreateTime *time.Time `json:"createTime,omitempty"`
	UpdateTime *time.Time `json:"updateTime,omitempty"`
}

func segmentViewOf(s *syncpb.Segment) segmentView {
	return segmentView{SegmentSpec: segmentFromProto(s), Revision: s.GetRevision(),
		CreateTime: timeOf(s.GetCreateTime()), UpdateTime: timeOf(s.GetUpdateTime())}
}

func (a *app) segmentCmd() *cobra.Command {
	cmd := group("segment", "List, show, create and delete segments",
		`A segment is a reusable, named set of contexts: conditions (all or any must
hold) plus explicit include and exclude lists of targeting keys. Rules use it
with the in_segment and not_in_segment operators.`)
	cmd.AddCommand(a.segmentListCmd(), a.segmentGetCmd(), a.segmentCreateCmd(), a.segmentDeleteCmd())
	return cmd
}

func (a *app) segmentListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List segments",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.seg.ListSegments(ctx, &flagpolev1.ListSegmentsRequest{})
				if err != nil {
					return fmt.Errorf("list segments: %w", err)
				}
				views := []segmentView{}
				for _, s := range res.GetSegments() {
					views = append(views, segmentViewOf(s))
				}
				return a.printer(cmd.OutOrStdout()).emit(views, func(t *tabwriter.Writer) {
					row(t, "KEY", "MATCH", "CONDITIONS", "INCLUDED", "EXCLUDED", "REVISION")
					for _, v := range views {
						row(t, v.Key, orDash(v.Match), len(v.Conditions), len(v.Included), len(v.Excluded), v.Revision)
					}
				})
			})
		},
	}
}

func (a *app) segmentGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get KEY",
		Short: "Show a segment",
		Args:  exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.seg.GetSegment(ctx, &flagpolev1.GetSegmentRequest{Key: args[0]})
				if err != nil {
					return fmt.Errorf("get segment %s: %w", args[0], err)
				}
				v := segmentViewOf(res.GetSegment())
				return a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) {
					row(t, "Key:", v.Key)
					if v.Name != "" {
						row(t, "Name:", v.Name)
					}
					if v.Description != "" {
						row(t, "Description:", v.Description)
					}
					row(t, "Match:", orDash(v.Match))
					for _, c := range v.Conditions {
						row(t, "Condition:", strings.TrimSpace(c.Attribute+" "+c.Operator+" "+strings.Join(c.Values, ",")))
					}
					row(t, "Included:", orDash(strings.Join(v.Included, ",")))
					row(t, "Excluded:", orDash(strings.Join(v.Excluded, ",")))
					row(t, "Revision:", v.Revision)
				})
			})
		},
	}
}

// parseCondition reads "ATTRIBUTE OPERATOR [VALUE,VALUE...]".
func parseCondition(s string) (ConditionSpec, error) {
	parts := strings.Fields(s)
	if len(parts) < 2 || len(parts) > 3 {
		return ConditionSpec{}, fmt.Errorf("want 'ATTRIBUTE OPERATOR [VALUE,...]', got %q", s)
	}
	c := ConditionSpec{Attribute: parts[0], Operator: parts[1]}
	if len(parts) == 3 {
		c.Values = strings.Split(parts[2], ",")
	}
	return c, nil
}

func (a *app) segmentCreateCmd() *cobra.Command {
	var s SegmentSpec
	var conditions []string
	cmd := &cobra.Command{
		Use:   "create KEY",
		Short: "Create a segment",
		Long: `Create a segment. Each --condition is 'ATTRIBUTE OPERATOR [VALUE,VALUE...]'
(operators as in rules: in, not_in, contains, starts_with, ends_with, matches,
lt, lte, gt, gte, semver_*, before, after, exists, not_exists). For values
containing spaces or commas, use 'flagpole apply'.`,
		Example: `  flagpole segment create beta-testers --include alice --include bob
  flagpole segment create eu --match any --condition 'country in de,fr,it' --condition 'region in eu'`,
		Args: exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s.Key = args[0]
			for _, c := range conditions {
				cond, err := parseCondition(c)
				if err != nil {
					return usagef("--condition: %v", err)
				}
				s.Conditions = append(s.Conditions, cond)
			}
			if s.Match != "" && s.Match != "all" && s.Match != "any" {
				return usagef("--match: must be all or any, got %q", s.Match)
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.seg.CreateSegment(ctx, &flagpolev1.CreateSegmentRequest{Segment: segmentToProto(s, 0)})
				if err != nil {
					return fmt.Errorf("create segment %s: %w", args[0], err)
				}
				v := segmentViewOf(res.GetSegment())
				return a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) {
					row(t, "Created segment "+v.Key+".")
				})
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&s.Name, "name", "", "human-readable name")
	f.StringVar(&s.Description, "description", "", "who is in it")
	f.StringVar(&s.Match, "match", "", "all (default) or any: how the conditions combine")
	f.StringArrayVar(&conditions, "condition", nil, "a condition 'ATTRIBUTE OPERATOR [VALUE,...]' (repeatable)")
	f.StringArrayVar(&s.Included, "include", nil, "a targeting key always in the segment (repeatable)")
	f.StringArrayVar(&s.Excluded, "exclude", nil, "a targeting key never in the segment (repeatable)")
	return cmd
}

func (a *app) segmentDeleteCmd() *cobra.Command {
	var rev int64
	cmd := &cobra.Command{
		Use:   "delete KEY",
		Short: "Delete a segment that no rule uses",
		Args:  exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				if _, err := c.seg.DeleteSegment(ctx, &flagpolev1.DeleteSegmentRequest{Key: args[0], ExpectedRevision: rev}); err != nil {
					return fmt.Errorf("delete segment %s: %w", args[0], err)
				}
				return a.printer(cmd.OutOrStdout()).emit(map[string]any{"deleted": args[0]}, func(t *tabwriter.Writer) {
					row(t, "Deleted segment "+args[0]+".")
				})
			})
		},
	}
	addRevisionFlag(cmd, &rev, "segment")
	return cmd
}
