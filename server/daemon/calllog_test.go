package daemon_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/grpcapi"
	"github.com/flagpole/flagpole/server/testkit"
)

// TestCallLogAtDefaultLevel runs the real server with a logger at info, the
// level `flagpole serve` logs at by default, and checks which gRPC calls
// write a line: evaluations, a sync stream, health checks and reads write
// none; changes and failing calls do; the metrics count every call.
func TestCallLogAtDefaultLevel(t *testing.T) {
	t.Parallel()
	logs := &testkit.Buffer{}
	cfg := config(filepath.Join(t.TempDir(), "flagpole.db"))
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv := daemon.New(cfg)
	admin := clientsOf(start(t, srv))
	ctx := context.Background()

	// Changes: logged.
	testkit.Must(admin.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "checkout", Type: "boolean"}}))(t)
	testkit.Must(admin.flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "checkout", Environment: "production", Enabled: true}))(t)
	tok := testkit.Must(pb.NewTokenServiceClient(dialAs(t, srv, testAdminToken)).CreateToken(ctx,
		&pb.CreateTokenRequest{Name: "svc", Scope: "sdk", Environments: []string{"production"}}))(t)

	// Hot and read traffic: not logged at info.
	sdkConn := clientsOf(dialAs(t, srv, tok.GetSecret()))
	for range 5 {
		testkit.Must(sdkConn.eval.Evaluate(ctx, &pb.EvaluateRequest{Environment: "production", FlagKey: "checkout", TargetingKey: "u"}))(t)
		testkit.Must(sdkConn.eval.EvaluateAll(ctx, &pb.EvaluateAllRequest{Environment: "production", TargetingKey: "u"}))(t)
		testkit.Must(sdkConn.health.Check(ctx, &healthpb.HealthCheckRequest{}))(t)
	}
	testkit.Must(admin.flags.GetFlag(ctx, &pb.GetFlagRequest{Key: "checkout"}))(t)
	p, err := sdk.NewProvider(srv.GRPCAddr().String(), sdk.WithToken(tok.GetSecret()), sdk.WithInitTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.InitWithContext(ctx, openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	p.Shutdown()

	// Failing calls: logged, at warn.
	if _, err := sdkConn.eval.Evaluate(ctx, &pb.EvaluateRequest{Environment: "staging", FlagKey: "checkout"}); err == nil {
		t.Fatal("an sdk token of production evaluated in staging")
	}
	if _, err := admin.flags.GetFlag(ctx, &pb.GetFlagRequest{Key: "nope"}); err == nil {
		t.Fatal("GetFlag of a missing flag succeeded")
	}

	// The metrics count what the log leaves out; the sync stream is counted
	// when it ends.
	base := "http://" + srv.HTTPAddr().String()
	waitFor(t, "the sync stream's end in /metrics", func() bool {
		return metricWith(scrapeMetrics(t, base), "flagpole_api_requests_total",
			map[string]string{"method": syncpb.SyncService_Sync_FullMethodName}) != nil
	})
	fams := scrapeMetrics(t, base)
	for method, want := range map[string]float64{
		pb.EvaluationService_Evaluate_FullMethodName:    5,
		pb.EvaluationService_EvaluateAll_FullMethodName: 5,
		healthpb.Health_Check_FullMethodName:            5,
	} {
		m := metricWith(fams, "flagpole_api_requests_total", map[string]string{"transport": "grpc", "method": method, "code": "OK"})
		if got := m.GetCounter().GetValue(); got != want {
			t.Errorf("%s counted %v times, want %v", method, got, want)
		}
	}

	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "grpc call") {
			lines = append(lines, l)
		}
	}
	has := func(parts ...string) bool {
		for _, l := range lines {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(l, p)
			}
			if all {
				return true
			}
		}
		return false
	}
	for _, quiet := range []string{"/flagpole.v1.EvaluationService/Evaluate code=OK",
		"/flagpole.v1.EvaluationService/EvaluateAll code=OK", "/flagpole.v1.SyncService/Sync", "/grpc.health.",
		"/flagpole.v1.FlagService/GetFlag code=OK"} {
		if has(quiet) {
			t.Errorf("%s logged at the default level:\n%s", quiet, strings.Join(lines, "\n"))
		}
	}
	for _, logged := range [][]string{
		{"level=INFO", "method=/flagpole.v1.FlagService/CreateFlag code=OK"},
		{"level=INFO", "method=/flagpole.v1.FlagService/SetEnabled code=OK"},
		{"level=INFO", "method=/flagpole.v1.TokenService/CreateToken code=OK"},
		{"level=WARN", "method=/flagpole.v1.EvaluationService/Evaluate code=PermissionDenied"},
		{"level=WARN", "method=/flagpole.v1.FlagService/GetFlag code=NotFound"},
	} {
		if !has(logged...) {
			t.Errorf("no line with %q:\n%s", logged, strings.Join(lines, "\n"))
		}
	}
}

// dialAs dials srv's gRPC port with token; srv already runs.
func dialAs(t *testing.T, srv *daemon.Server, token string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(srv.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(grpcapi.TokenCredentials{Token: token, Insecure: true}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
