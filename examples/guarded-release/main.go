// Command guarded-shop runs instances of the guarded-release example's
// checkout service (package shop): each connects to Flagpole with its own
// SDK provider, serves GET /checkout behind the flag new-checkout through
// the SDK's httpsignals middleware, and is sent requests by its own users.
// --fault makes the new flow fail that share of its requests, so a release
// plan guarded by "http.server.error" rolls itself back.
//
//	FLAGPOLE_TOKEN=$(flagpole token create shop --scope sdk --env production) \
//	  guarded-shop --server localhost:9090 --instances 5 --rps 50 --fault 0.3
//
// It runs until interrupted, then prints each flow's requests and failures.
// demo.sh in this directory runs the whole release.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/examples/guarded-release/shop"
	"github.com/flagpole/flagpole/sdk"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "guarded-shop:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("guarded-shop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", envOr("FLAGPOLE_ADDR", "localhost:9090"), "`address` of the Flagpole gRPC API")
	n := fs.Int("instances", 1, "how many service instances to run")
	rps := fs.Float64("rps", 20, "requests per second each instance's users send")
	fault := fs.Float64("fault", 0, "share (0..1) of the new flow's requests that fail")
	base := fs.Float64("base-errors", 0, "share (0..1) of every request that fails")
	track := fs.Duration("track-interval", 0, "how often the SDK sends signals (0: the SDK's default, 2s)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if *n < 1 || *rps < 0 || *fault < 0 || *fault > 1 || *base < 0 || *base > 1 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "guarded-shop: want --instances ≥ 1, --rps ≥ 0, --fault and --base-errors in 0..1, no arguments")
		return errUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	var opts []sdk.Option
	if *track > 0 {
		opts = append(opts, sdk.WithTrackFlushInterval(*track))
	}
	var instances []*shop.Instance
	defer func() {
		for _, in := range instances {
			in.Close()
		}
		_ = openfeature.ShutdownWithContext(context.Background())
	}()
	for i := range *n {
		startCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		in, err := shop.Start(startCtx, shop.Config{Server: *server, Token: os.Getenv("FLAGPOLE_TOKEN"), ID: fmt.Sprintf("shop-%d", i+1),
			Fault: *fault, BaseErrors: *base, RPS: *rps, SDKOptions: opts, Logger: log})
		cancel()
		if err != nil {
			return err
		}
		instances = append(instances, in)
	}
	fmt.Fprintf(stdout, "%d instance(s) serving /checkout, %g requests/s each; new flow fault %g, base errors %g\n", *n, *rps, *fault, *base)
	<-ctx.Done()
	for _, in := range instances {
		or, of, nr, nf := in.Counts()
		fmt.Fprintf(stdout, "%s: old flow %d requests, %d failed; new flow %d requests, %d failed\n", in.ID(), or, of, nr, nf)
	}
	return nil
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
