package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
)

const defaultAddr = "localhost:9090"

// commentHeader carries a change's comment (the server's
// server.CommentHeader; the CLI does not import the server).
const commentHeader = "x-flagpole-comment"

// app holds the flags every client command shares and, once a command runs,
// its connection to the server.
type app struct {
	addr           string
	token          string
	tls            bool
	tlsCA          string
	tlsServerName  string
	output         string
	connectTimeout time.Duration
	callTimeout    time.Duration
	comment        string
}

func (a *app) addGlobalFlags(c *cobra.Command) {
	f := c.PersistentFlags()
	f.StringVar(&a.addr, "addr", "", "server gRPC address host:port (env FLAGPOLE_ADDR, default "+defaultAddr+")")
	f.StringVar(&a.token, "token", "", "API token sent as 'authorization: Bearer' (env FLAGPOLE_TOKEN)")
	f.BoolVar(&a.tls, "tls", false, "connect with TLS, verifying the server against the system roots (env FLAGPOLE_TLS=1); plaintext otherwise")
	f.StringVar(&a.tlsCA, "tls-ca", "", "PEM file of the CA that signed the server certificate; implies --tls (env FLAGPOLE_TLS_CA)")
	f.StringVar(&a.tlsServerName, "tls-server-name", "", "server name to verify instead of the host in --addr")
	f.StringVarP(&a.output, "output", "o", "table", "output format: table, json or yaml")
	f.DurationVar(&a.connectTimeout, "connect-timeout", 5*time.Second, "how long to try to reach the server")
	f.DurationVar(&a.callTimeout, "timeout", 30*time.Second, "deadline of each request to the server")
	f.StringVar(&a.comment, "comment", "", "why: a comment stored with every change the command makes (at most 1000 characters; "+
		"environments with require_comment refuse changes without one)")
}

// resolve fills unset flags from the environment and validates them.
func (a *app) resolve() error {
	if a.addr == "" {
		a.addr = getenv("FLAGPOLE_ADDR")
	}
	if a.addr == "" {
		a.addr = defaultAddr
	}
	if a.token == "" {
		a.token = getenv("FLAGPOLE_TOKEN")
	}
	if a.tlsCA == "" {
		a.tlsCA = getenv("FLAGPOLE_TLS_CA")
	}
	if v := getenv("FLAGPOLE_TLS"); v == "1" || v == "true" {
		a.tls = true
	}
	if a.tlsCA != "" {
		a.tls = true
	}
	switch a.output {
	case "table", "json", "yaml":
	default:
		return usagef("-o/--output: must be table, json or yaml, got %q", a.output)
	}
	if a.connectTimeout <= 0 {
		return usagef("--connect-timeout: must be more than 0, got %s", a.connectTimeout)
	}
	if a.callTimeout <= 0 {
		return usagef("--timeout: must be more than 0, got %s", a.callTimeout)
	}
	if _, _, err := net.SplitHostPort(a.addr); err != nil {
		return usagef("--addr: %q is not host:port: %v", a.addr, err)
	}
	return nil
}

// clients are the gRPC clients of one command run.
type clients struct {
	conn *grpc.ClientConn
	env  flagpolev1.EnvironmentServiceClient
	flag flagpolev1.FlagServiceClient
	seg  flagpolev1.SegmentServiceClient
	eval flagpolev1.EvaluationServiceClient
	aud  flagpolev1.AuditServiceClient
	sync flagpolev1.SyncServiceClient
	tok  flagpolev1.TokenServiceClient
	hook flagpolev1.WebhookServiceClient
	user flagpolev1.UserServiceClient
	// release manages release plans and scheduled changes.
	release flagpolev1.ReleaseServiceClient
}

// connect resolves the flags and opens a connection with extra dial
// options. The connection is lazy; the first call reports an unreachable
// server.
func (a *app) connect(extra ...grpc.DialOption) (*clients, error) {
	if err := a.resolve(); err != nil {
		return nil, err
	}
	creds := insecure.NewCredentials()
	if a.tls {
		cfg := &tls.Config{ServerName: a.tlsServerName, MinVersion: tls.VersionTLS12}
		if a.tlsCA != "" {
			pem, err := os.ReadFile(a.tlsCA)
			if err != nil {
				return nil, fmt.Errorf("--tls-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--tls-ca: %s holds no PEM certificate", a.tlsCA)
			}
			cfg.RootCAs = pool
		}
		creds = credentials.NewTLS(cfg)
	}
	timeout := a.connectTimeout
	conn, err := grpc.NewClient(a.addr, append([]grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: timeout}
			return d.DialContext(ctx, "tcp", addr)
		}),
		grpc.WithUnaryInterceptor(a.unaryInterceptor),
		grpc.WithStreamInterceptor(a.streamInterceptor),
		// A list or export is as large as the environment: accept whatever
		// the server may send (gRPC's default would refuse over 4 MiB).
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32)),
	}, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("--addr %s: %w", a.addr, err)
	}
	return &clients{
		conn: conn,
		env:  flagpolev1.NewEnvironmentServiceClient(conn),
		flag: flagpolev1.NewFlagServiceClient(conn),
		seg:  flagpolev1.NewSegmentServiceClient(conn),
		eval: flagpolev1.NewEvaluationServiceClient(conn),
		aud:  flagpolev1.NewAuditServiceClient(conn),
		sync: flagpolev1.NewSyncServiceClient(conn),
		tok:  flagpolev1.NewTokenServiceClient(conn),
		hook: flagpolev1.NewWebhookServiceClient(conn),
		user: flagpolev1.NewUserServiceClient(conn),

		release: flagpolev1.NewReleaseServiceClient(conn),
	}, nil
}

func (c *clients) Close() error { return c.conn.Close() }

// outgoing adds the token, the audit source and the change comment
// (percent-encoded: metadata is ASCII) to a call's metadata.
func (a *app) outgoing(ctx context.Context) context.Context {
	ctx = metadata.AppendToOutgoingContext(ctx, "x-flagpole-source", "cli")
	if a.comment != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, commentHeader, url.PathEscape(a.comment))
	}
	if a.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+a.token)
	}
	return ctx
}

func (a *app) unaryInterceptor(ctx context.Context, method string, req, reply any,
	cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if _, ok := ctx.Deadline(); !ok && a.callTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.callTimeout)
		defer cancel()
	}
	if err := invoker(a.outgoing(ctx), method, req, reply, cc, opts...); err != nil {
		return &rpcError{st: status.Convert(err), addr: a.addr}
	}
	return nil
}

func (a *app) streamInterceptor(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn,
	method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(a.outgoing(ctx), desc, cc, method, opts...)
	if err != nil {
		return nil, &rpcError{st: status.Convert(err), addr: a.addr}
	}
	return s, nil
}

// rpcError is a failed call, phrased for a person at a terminal. It keeps the
// gRPC status so ExitCode can map it.
type rpcError struct {
	st   *status.Status
	addr string
}

func (e *rpcError) GRPCStatus() *status.Status { return e.st }

func (e *rpcError) Error() string {
	msg := e.st.Message()
	switch e.st.Code() {
	case codes.Unavailable:
		return fmt.Sprintf("cannot reach flagpole server at %s: %s", e.addr, msg)
	case codes.DeadlineExceeded:
		return fmt.Sprintf("flagpole server at %s did not answer in time: %s", e.addr, msg)
	case codes.Aborted:
		return "conflict: " + msg
	case codes.Unauthenticated:
		return "unauthenticated (set --token or FLAGPOLE_TOKEN): " + msg
	case codes.PermissionDenied:
		return "permission denied: " + msg
	case codes.NotFound, codes.InvalidArgument, codes.AlreadyExists:
		return msg
	}
	return fmt.Sprintf("%s (%s)", msg, strings.ToLower(e.st.Code().String()))
}

// run connects, runs fn with a context bound to the command (and its
// trace, when traced), and closes the connection.
func (a *app) run(cmd *cobra.Command, fn func(ctx context.Context, c *clients) error) (err error) {
	if err := noNegativeDurations(cmd); err != nil {
		return err
	}
	ctx, traced, end := a.trace(cmd)
	defer func() { end(err) }()
	c, err := a.connect(traced...)
	if err != nil {
		return err
	}
	defer c.Close()
	return a.addrHint(fn(ctx, c))
}

// addrHint explains the error of a call that reached an HTTP/1 server, as
// --addr pointing at Flagpole's HTTP port (or a proxy) gives: gRPC reports
// only an HTTP/2 framing error.
func (a *app) addrHint(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if strings.Contains(msg, "http2: frame too large") || strings.Contains(msg, "error reading server preface") ||
		strings.Contains(msg, "malformed header: missing HTTP content-type") {
		return fmt.Errorf("%w\nhint: %s answered like an HTTP/1 server, not gRPC: is --addr (FLAGPOLE_ADDR) the HTTP port? "+
			"The CLI talks to the gRPC port (serve --grpc-addr, default :9090)", err, a.addr)
	}
	return err
}

// noNegativeDurations refuses a negative value of any duration flag of cmd
// (--wait, --since, --expires, --timeout, ...): none of them means
// anything below zero.
func noNegativeDurations(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Value.Type() != "duration" {
			return
		}
		if d, perr := time.ParseDuration(f.Value.String()); perr == nil && d < 0 {
			err = usagef("--%s: %s is negative; give a duration of 0 or more", f.Name, d)
		}
	})
	return err
}
