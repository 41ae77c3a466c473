package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/structpb"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/engine"
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
errorCode is null on success; with -o json the error's message (which
names, say, the attribute a split lacks) is printed on stderr. A context's
targetingKey must be a string, as over OFREP and gRPC. An evaluation error (FLAG_NOT_FOUND,
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
				if _, ok := m[engine.TargetingKey]; ok && targetingKey == "" {
					if err := engine.CheckContext(m); err != nil {
						return usagef("--context: %v", err)
					}
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
					if (a.output == "json" || a.output == "yaml") && e.GetErrorMessage() != "" {
						// stdout stays exactly the four fields; the why
						// (e.g. which attribute a split lacks) goes to stderr.
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", code, e.GetErrorMessage())
					}
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
