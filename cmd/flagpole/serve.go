package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flagpole/flagpole/cmd/flagpole/internal/misuse"
	"github.com/flagpole/flagpole/server/daemon"
	flagusage "github.com/flagpole/flagpole/server/usage"
)

func newServeCommand() *cobra.Command {
	var (
		cfg       daemon.Config
		logLevel  string
		logFormat string
		proxies   []string
		allow     []string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Flagpole server",
		Long: "Run the Flagpole server: the gRPC API on --grpc-addr and HTTP (the JSON API, OFREP, the\n" +
			"admin UI, /metrics, /healthz, /readyz) on --http-addr, storing everything in the SQLite file\n" +
			"--db or in the PostgreSQL database of a postgres:// URL. The first\n" +
			"start creates the environments development, staging and production (protected), an admin\n" +
			"user and an admin token, and prints their secrets once on stdout; FLAGPOLE_ADMIN_PASSWORD and\n" +
			"FLAGPOLE_ADMIN_TOKEN (at least 32 characters) set them instead. SIGINT or SIGTERM\n" +
			"stop it gracefully, letting in-flight calls finish.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.StaleAfter <= 0 {
				return misuse.Errorf("--stale-after: must be more than 0, got %s", cfg.StaleAfter)
			}
			if cfg.ShutdownTimeout < 0 {
				return misuse.Errorf("--shutdown-timeout: %s is negative; give a duration of 0 or more", cfg.ShutdownTimeout)
			}
			for _, o := range cfg.CORSOrigins {
				if err := validOrigin(o); err != nil {
					return misuse.Errorf("--cors-origin: %v", err)
				}
			}
			for _, p := range proxies {
				prefix, err := parseProxy(p)
				if err != nil {
					return misuse.Errorf("--trusted-proxies: %q is neither an IP address nor a CIDR range", p)
				}
				cfg.TrustedProxies = append(cfg.TrustedProxies, prefix)
			}
			for _, p := range allow {
				prefix, err := parseProxy(p)
				if err != nil {
					return misuse.Errorf("--webhook-allow: %q is neither an IP address nor a CIDR range", p)
				}
				cfg.WebhookAllow = append(cfg.WebhookAllow, prefix)
			}
			if cfg.Webhooks.Attempts < 1 || cfg.Webhooks.Backoff <= 0 {
				return misuse.Errorf("--webhook-attempts must be at least 1 and --webhook-backoff more than 0")
			}
			log, err := newLogger(cmd.ErrOrStderr(), logLevel, logFormat)
			if err != nil {
				return err
			}
			cfg.Logger = log
			cfg.AdminPassword = os.Getenv("FLAGPOLE_ADMIN_PASSWORD")
			cfg.AdminToken = os.Getenv("FLAGPOLE_ADMIN_TOKEN")
			cfg.Out = cmd.OutOrStdout()
			return daemon.New(cfg).Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DBPath, "db", daemon.DefaultDBPath, "SQLite database file, or a postgres:// URL to share one PostgreSQL database among replicas")
	f.StringVar(&cfg.GRPCAddr, "grpc-addr", daemon.DefaultGRPCAddr, "gRPC listen address")
	f.StringVar(&cfg.HTTPAddr, "http-addr", daemon.DefaultHTTPAddr, "HTTP listen address")
	f.DurationVar(&cfg.StaleAfter, "stale-after", flagusage.DefaultStaleAfter, "a flag not evaluated, or serving a single variant, for this long is stale")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", daemon.DefaultShutdownTimeout, "how long in-flight calls may finish after SIGINT/SIGTERM")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "PEM certificate file: serve both ports over TLS (with --tls-key)")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "PEM private key file of --tls-cert")
	f.StringSliceVar(&proxies, "trusted-proxies", nil, "reverse proxies (IPs or CIDR ranges) whose X-Forwarded-For names the client address for sign-in limits")
	f.StringArrayVar(&cfg.CORSOrigins, "cors-origin", nil, "an origin (scheme://host[:port]) whose browser pages may call OFREP (/ofrep/v1); repeat for more, or * for any")
	f.StringSliceVar(&allow, "webhook-allow", nil, "IPs or CIDR ranges webhooks may reach although refused by default (link-local, cloud metadata)")
	f.IntVar(&cfg.Webhooks.Attempts, "webhook-attempts", 8, "attempts per webhook delivery before it is marked failed")
	f.DurationVar(&cfg.Webhooks.Backoff, "webhook-backoff", 30*time.Second, "wait after a delivery's first failed attempt, doubled after each further one (±25% jitter)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	return cmd
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, misuse.Errorf("--log-level: %q is not one of debug, info, warn, error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, misuse.Errorf("--log-format: %q is not one of text, json", format)
	}
}

// parseProxy reads an IP address (a range of one) or a CIDR range.
func parseProxy(s string) (netip.Prefix, error) {
	if addr, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(addr, addr.BitLen()), nil
	}
	return netip.ParsePrefix(s)
}

// validOrigin accepts "*" or an origin: scheme://host[:port], nothing more.
func validOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not an origin: give scheme://host[:port] (like https://app.example.com) or *", o)
	}
	return nil
}
