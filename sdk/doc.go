// Package sdk is Flagpole's Go SDK: an OpenFeature provider that evaluates
// flags in-process from a live stream.
//
// The provider keeps one long-lived stream to the server. It receives the
// environment's flags as a snapshot, then every committed change within
// milliseconds, compiles them into an immutable engine.Snapshot and swaps it
// in atomically, so an evaluation is a map lookup and a few comparisons, with
// no network call and no half-applied change. While the server is away the
// provider keeps serving the last snapshot (reporting PROVIDER_STALE, then
// PROVIDER_ERROR after a grace period) and reconnects forever with
// exponential backoff and jitter; on recovery it reports PROVIDER_READY and
// the changes made meanwhile arrive as PROVIDER_CONFIGURATION_CHANGED.
//
// Register it with OpenFeature:
//
//	provider, err := sdk.NewProvider("flags.internal:9090", sdk.WithToken(os.Getenv("FLAGPOLE_TOKEN")))
//	if err != nil { ... }
//	if err := openfeature.SetProviderAndWait(ctx, provider); err != nil { ... }
//	client := openfeature.NewDefaultClient()
//	on, _ := client.BooleanValue(ctx, "checkout.new-flow", false, openfeature.NewEvaluationContext("user-42", nil))
//
// The SDK depends on neither the server nor any SQL driver nor cgo; a test
// enforces that.
package sdk
