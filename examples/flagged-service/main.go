// Command flagged-service is a small HTTP service that ships a new code path
// dark and releases it with a Flagpole flag, evaluated in-process by the Go
// SDK. GET /checkout answers from the new flow for users the flag
// "new-checkout" is on for, and from the old flow for everyone else; a
// change to the flag reaches the running service within milliseconds.
//
//	FLAGPOLE_TOKEN=... go run ./examples/flagged-service --server localhost:9090 --port 8081
//	curl 'localhost:8081/checkout?user=alice'
//
// Run it with --help for every flag. The flags default to the environment
// variables FLAGPOLE_ADDR, FLAGPOLE_ENV, FLAGPOLE_CACHE and ADDR (host:port to
// listen on) where those are set.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		return
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		log.Fatal(err)
	}
}

// errUsage is a command line that could not be parsed (already reported).
var errUsage = errors.New("usage")

// config is the command line.
type config struct {
	server   string // Flagpole gRPC address
	env      string
	addr     string // host to listen on
	port     int
	cache    string
	cacheDir string
	timeout  time.Duration
}

func parse(args []string, stderr io.Writer) (config, error) {
	host, port := "localhost", 8081
	if a := os.Getenv("ADDR"); a != "" {
		h, p, err := net.SplitHostPort(a)
		n, perr := strconv.Atoi(p)
		if err != nil || perr != nil {
			return config{}, fmt.Errorf("ADDR %q: want host:port", a)
		}
		host, port = h, n
	}
	var c config
	fs := flag.NewFlagSet("flagged-service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: flagged-service [flags]\n\n"+
			"An HTTP service whose GET /checkout is gated by the Flagpole flag new-checkout.\n"+
			"The SDK token is read from FLAGPOLE_TOKEN.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.server, "server", env("FLAGPOLE_ADDR", "localhost:9090"), "`address` (host:port) of the Flagpole server's gRPC API")
	fs.StringVar(&c.env, "env", os.Getenv("FLAGPOLE_ENV"), "`environment` to stream; only needed with an admin or ci token (an sdk token names its own)")
	fs.StringVar(&c.addr, "addr", host, "`host` (address) to listen on for HTTP")
	fs.IntVar(&c.port, "port", port, "`port` to listen on for HTTP (0 picks a free one)")
	fs.StringVar(&c.cache, "cache", os.Getenv("FLAGPOLE_CACHE"), "cache `file` of the last flags (default: a file in --cache-dir named after the server and environment)")
	fs.StringVar(&c.cacheDir, "cache-dir", os.TempDir(), "`directory` of the cache file")
	fs.DurationVar(&c.timeout, "init-timeout", 10*time.Second, "how long to wait for the flags at start")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "flagged-service: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return c, errUsage
	}
	if c.port < 0 || c.port > 65535 {
		fmt.Fprintf(stderr, "flagged-service: --port %d: not a port\n", c.port)
		return c, errUsage
	}
	return c, nil
}

// run serves until ctx ends.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	logger := log.New(stderr, "", log.LstdFlags)

	opts := []sdk.Option{
		sdk.WithToken(os.Getenv("FLAGPOLE_TOKEN")),
		sdk.WithServiceName("flagged-service"),
		sdk.WithCacheDir(c.cacheDir),
	}
	if c.cache != "" {
		opts = append(opts, sdk.WithCacheFile(c.cache))
	}
	if c.env != "" {
		// Only needed with an admin or ci token; an sdk token names its
		// environment itself.
		opts = append(opts, sdk.WithEnvironment(c.env))
	}
	provider, err := sdk.NewProvider(c.server, opts...)
	if err != nil {
		return err
	}
	initCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := openfeature.SetProviderWithContextAndWait(initCtx, provider); err != nil {
		provider.Shutdown()
		return fmt.Errorf("flags from %s: %w", c.server, err)
	}
	defer openfeature.Shutdown()
	logger.Printf("flags at revision %d (cache %s)", provider.Revision(), provider.CacheFile())
	onChange := func(d openfeature.EventDetails) { logger.Printf("flags changed: %v", d.FlagChanges) }
	openfeature.AddHandler(openfeature.ProviderConfigChange, &onChange)
	defer openfeature.RemoveHandler(openfeature.ProviderConfigChange, &onChange)

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
	lis, err := net.Listen("tcp", net.JoinHostPort(c.addr, strconv.Itoa(c.port)))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	logger.Printf("listening on %s", lis.Addr())
	if err := srv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-stopped
	return nil
}

func env(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
