package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/structpb"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
)

// evalView is exactly what 'flagpole eval -o json' prints. ErrorCode is
// null when the evaluation succeeded.
type evalView struct {
	Value     any     `json:"value"`
	Variant   string  `json:"variant"`
	Reason    string  `json:"reason"`
	ErrorCode *string `json:"errorCode"`
}

func (a *app) evalCmd() *cobra.Command {
	var env, targetingKey, contextJSON, typ string
	cmd := &cobra.Command{
		Use:   "eval KEY --env E",
		Short: "Evaluate a flag on the server for a context",
		Long: `Eval evaluates a flag remotely, with the same engine the SDK uses.
-o json prints exactly {"value":...,"variant":...,"reason":...,"errorCode":...};
errorCode is null on success. An evaluation error (FLAG_NOT_FOUND,
TYPE_MISMATCH, ...) is a result, not a failure: the exit code is 0.`,
		Example: `  flagpole eval new-checkout --env production --targeting-key user-42 -o json
  flagpole eval new-checkout --env production --context '{"targetingKey":"u1","country":"de"}'`,
		Args: exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag("env", env); err != nil {
				return err
			}
			var evalCtx *structpb.Struct
			if contextJSON != "" {
				m, err := parseJSONObject(contextJSON)
				if err != nil {
					return usagef("--context: %v", err)
				}
				s, err := structpb.NewStruct(m)
				if err != nil {
					return usagef("--context: %v", err)
				}
				evalCtx = s
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.eval.Evaluate(ctx, &flagpolev1.EvaluateRequest{Environment: env, FlagKey: args[0],
					Type: typ, TargetingKey: targetingKey, Context: evalCtx})
				if err != nil {
					return fmt.Errorf("eval %s in %s: %w", args[0], env, err)
				}
				e := res.GetEvaluation()
				v := evalView{Value: e.GetValue().AsInterface(), Variant: e.GetVariant(), Reason: e.GetReason()}
				if code := e.GetErrorCode(); code != "" {
					v.ErrorCode = &code
				}
				return a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) {
					row(t, "KEY", "VALUE", "VARIANT", "REASON", "ERROR")
					errText := "-"
					if v.ErrorCode != nil {
						errText = *v.ErrorCode
						if m := e.GetErrorMessage(); m != "" {
							errText += ": " + m
						}
					}
					row(t, args[0], compact(v.Value), orDash(v.Variant), v.Reason, errText)
				})
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment (required)")
	cmd.Flags().StringVar(&targetingKey, "targeting-key", "", "targeting key of the context (overrides targetingKey in --context)")
	cmd.Flags().StringVar(&contextJSON, "context", "", `evaluation context as a JSON object, e.g. '{"country":"de"}'`)
	cmd.Flags().StringVar(&typ, "type", "", "expected flag type (TYPE_MISMATCH otherwise)")
	return cmd
}
