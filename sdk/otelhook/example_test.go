package otelhook_test

import (
	"context"
	"fmt"
	"log"

	"github.com/open-feature/go-sdk/openfeature"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/flagpole/flagpole/sdk/otelhook"
)

// Record evaluations on the request's span. The example's provider is
// OpenFeature's no-op one and its spans stay in memory; a service registers
// sdk.NewProvider and exports its spans.
func Example() {
	spans := tracetest.NewSpanRecorder()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)).Tracer("checkout")

	hook, err := otelhook.New()
	if err != nil {
		log.Fatal(err)
	}
	if err := openfeature.SetNamedProviderAndWait("otelhook-example", openfeature.NoopProvider{}); err != nil {
		log.Fatal(err)
	}
	client := openfeature.NewClient("otelhook-example")
	client.AddHooks(hook)

	ctx, span := tracer.Start(context.Background(), "GET /checkout")
	client.Boolean(ctx, "new-checkout", false, openfeature.NewEvaluationContext("user-42", nil))
	span.End()

	for _, e := range spans.Ended()[0].Events() {
		fmt.Println(e.Name)
		for _, kv := range e.Attributes {
			fmt.Printf("  %s=%s\n", kv.Key, kv.Value.Emit())
		}
	}
	// Output:
	// feature_flag.evaluation
	//   feature_flag.key=new-checkout
	//   feature_flag.provider.name=NoopProvider
	//   feature_flag.result.variant=default-variant
	//   feature_flag.result.reason=default
	//   feature_flag.context.id=user-42
}
