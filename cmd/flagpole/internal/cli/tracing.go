package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/codes"
	"google.golang.org/grpc"

	"github.com/flagpole/flagpole/server/tracing"
)

// trace starts the tracing of one command when the OTEL_* variables ask for
// it (see server/tracing): a span named after the command
// ("flagpole flag toggle"), continuing the trace of TRACEPARENT when set,
// whose context every gRPC call of the command carries to the server. It
// returns the command's context, the dial options that trace the calls,
// and end, which ends the span with the command's error and exports the
// spans before the process exits. A tracing setup error is reported on
// stderr and the command runs untraced: tracing never stops a CI script.
func (a *app) trace(cmd *cobra.Command) (context.Context, []grpc.DialOption, func(error)) {
	ctx := cmd.Context()
	t, err := tracing.FromEnv(ctx, "flagpole-cli")
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "flagpole: %v; running without tracing\n", err)
	}
	if t == nil {
		return ctx, nil, func(error) {}
	}
	stderr := cmd.ErrOrStderr()
	tracing.ReportErrors(func(err error) { fmt.Fprintf(stderr, "flagpole: tracing: %v\n", err) })
	ctx, span := t.Tracer().Start(t.ContextFromEnv(ctx), cmd.CommandPath())
	end := func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
		if err := t.ShutdownWithin(ctx); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "flagpole: %v\n", err)
		}
	}
	return ctx, t.GRPCDialOptions(), end
}
