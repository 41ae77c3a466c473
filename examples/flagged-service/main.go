// Command flagged-service is a small HTTP service that ships a new code path
// dark and releases it with a Flagpole flag, evaluated in-process by the Go
// SDK. GET /checkout answers from the new flow for users the flag
// "new-checkout" is on for, and from the old flow for everyone else; a
// change to the flag reaches the running service within milliseconds.
//
//	FLAGPOLE_ADDR=localhost:9090 FLAGPOLE_ENV=production go run ./examples/flagged-service
//	curl 'localhost:8081/checkout?user=alice'
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk"
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts := []sdk.Option{
		sdk.WithToken(os.Getenv("FLAGPOLE_TOKEN")),
		sdk.WithServiceName("flagged-service"),
		sdk.WithCacheFile(env("FLAGPOLE_CACHE", os.TempDir()+"/flagged-service.flags")),
	}
	if e := os.Getenv("FLAGPOLE_ENV"); e != "" {
		// Only needed with an admin or ci token; an sdk token names its
		// environment itself.
		opts = append(opts, sdk.WithEnvironment(e))
	}
	provider, err := sdk.NewProvider(env("FLAGPOLE_ADDR", "localhost:9090"), opts...)
	if err != nil {
		return err
	}
	initCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := openfeature.SetProviderWithContextAndWait(initCtx, provider); err != nil {
		return err
	}
	defer openfeature.Shutdown()
	onChange := func(d openfeature.EventDetails) { log.Printf("flags changed: %v", d.FlagChanges) }
	openfeature.AddHandler(openfeature.ProviderConfigChange, &onChange)

	flags := openfeature.NewDefaultClient()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /checkout", func(w http.ResponseWriter, r *http.Request) {
		user := r.URL.Query().Get("user")
		evalCtx := openfeature.NewEvaluationContext(user, map[string]any{"country": r.URL.Query().Get("country")})
		if flags.Boolean(r.Context(), "new-checkout", false, evalCtx) {
			fmt.Fprintf(w, "new checkout for %s\n", user)
			flags.Track(r.Context(), "checkout-viewed", evalCtx, openfeature.NewTrackingEventDetails(1).Add("flow", "new"))
			return
		}
		fmt.Fprintf(w, "old checkout for %s\n", user)
	})
	srv := &http.Server{Addr: env("ADDR", "localhost:8081"), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	log.Printf("listening on %s", srv.Addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func env(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
