package daemon_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/grpcapi"
	"github.com/flagpole/flagpole/server/service"
	"github.com/flagpole/flagpole/server/sqlite"
	"github.com/flagpole/flagpole/server/testkit"
)

// testAdminToken is the bootstrap admin token of the test servers.
const testAdminToken = "test-admin-token-0123456789abcdefghij"

func config(dbPath string) daemon.Config {
	return daemon.Config{
		DBPath: dbPath, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		AdminToken: testAdminToken, AdminPassword: "test-admin-password", Out: io.Discard,
	}
}

// start runs the real server on port 0 and stops it at the end of the test
// unless the test stops it first.
func start(t *testing.T, srv *daemon.Server) *grpc.ClientConn {
	t.Helper()
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	conn, err := grpc.NewClient(srv.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(grpcapi.TokenCredentials{Token: testAdminToken, Insecure: true}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

type clients struct {
	envs   pb.EnvironmentServiceClient
	flags  pb.FlagServiceClient
	segs   pb.SegmentServiceClient
	audit  pb.AuditServiceClient
	eval   pb.EvaluationServiceClient
	health healthpb.HealthClient
}

func clientsOf(conn *grpc.ClientConn) clients {
	return clients{
		envs: pb.NewEnvironmentServiceClient(conn), flags: pb.NewFlagServiceClient(conn),
		segs: pb.NewSegmentServiceClient(conn), audit: pb.NewAuditServiceClient(conn),
		eval: pb.NewEvaluationServiceClient(conn), health: healthpb.NewHealthClient(conn),
	}
}

// everything reads all the state the API exposes, for comparing before and
// after a restart.
func everything(t *testing.T, ctx context.Context, c clients) []proto.Message {
	t.Helper()
	ctxStruct := testkit.Must(structpb.NewStruct(map[string]any{"email": "ada@flagpole.dev", "plan": "pro"}))(t)
	out := []proto.Message{
		testkit.Must(c.envs.ListEnvironments(ctx, &pb.ListEnvironmentsRequest{}))(t),
		testkit.Must(c.flags.ListFlags(ctx, &pb.ListFlagsRequest{IncludeArchived: true}))(t),
		testkit.Must(c.segs.ListSegments(ctx, &pb.ListSegmentsRequest{}))(t),
		testkit.Must(c.audit.ListAuditEntries(ctx, &pb.ListAuditEntriesRequest{PageSize: 1000}))(t),
	}
	for _, env := range []string{"development", "staging", "production", "qa"} {
		out = append(out, testkit.Must(c.eval.EvaluateAll(ctx, &pb.EvaluateAllRequest{Environment: env, TargetingKey: "user-42", Context: ctxStruct}))(t))
	}
	return out
}

// TestEndToEndRestart drives the real server through the generated client,
// stops it, starts it again on the same file and finds every change and
// every audit entry still there.
func TestEndToEndRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "flagpole.db")
	first := daemon.New(config(dbPath))
	c := clientsOf(start(t, first))

	hc := testkit.Must(c.health.Check(ctx, &healthpb.HealthCheckRequest{}))(t)
	if hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health %v", hc.GetStatus())
	}
	hc = testkit.Must(c.health.Check(ctx, &healthpb.HealthCheckRequest{Service: "flagpole.v1.FlagService"}))(t)
	if hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("FlagService health %v", hc.GetStatus())
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp := testkit.Must(http.Get("http://" + first.HTTPAddr().String() + path))(t)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}

	testkit.Must(c.envs.CreateEnvironment(ctx, &pb.CreateEnvironmentRequest{Environment: &pb.Environment{Name: "qa", Description: "QA"}}))(t)
	testkit.Must(c.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "new-checkout", Type: "boolean", Tags: []string{"checkout"}, Temporary: true}}))(t)
	testkit.Must(c.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "banner", Type: "string", Variants: []*syncpb.Variant{
		{Key: "blue", Value: structpb.NewStringValue("#00f")}, {Key: "green", Value: structpb.NewStringValue("#0f0")}}}}))(t)
	testkit.Must(c.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "old", Type: "boolean"}}))(t)
	testkit.Must(c.segs.CreateSegment(ctx, &pb.CreateSegmentRequest{Segment: &syncpb.Segment{Key: "staff", Match: "any",
		Conditions: []*syncpb.Condition{{Attribute: "email", Operator: "ends_with", Values: []string{"@flagpole.dev"}}}}}))(t)
	testkit.Must(c.flags.ReplaceFlagConfig(ctx, &pb.ReplaceFlagConfigRequest{Config: &syncpb.FlagConfig{
		FlagKey: "banner", Environment: "production", Enabled: true, OffVariant: "blue",
		Rules: []*syncpb.Rule{{Id: "staff", Conditions: []*syncpb.Condition{{Operator: "in_segment", Values: []string{"staff"}}},
			Serve: &syncpb.Serve{Kind: &syncpb.Serve_Variant{Variant: "green"}}}},
		DefaultServe: &syncpb.Serve{Kind: &syncpb.Serve_Variant{Variant: "blue"}},
	}}))(t)
	testkit.Must(c.flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "new-checkout", Environment: "staging", Enabled: true}))(t)
	testkit.Must(c.flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "new-checkout", Environment: "production", Enabled: true}))(t)
	testkit.Must(c.flags.SetRollout(ctx, &pb.SetRolloutRequest{FlagKey: "new-checkout", Environment: "production", Percent: 25}))(t)
	testkit.Must(c.flags.SetRollout(ctx, &pb.SetRolloutRequest{FlagKey: "banner", Environment: "qa", Percent: 40, Variant: "green"}))(t)
	testkit.Must(c.flags.UpdateFlag(ctx, &pb.UpdateFlagRequest{Flag: &syncpb.Flag{Key: "new-checkout", Type: "boolean", Description: "one-page checkout", Tags: []string{"checkout"}, Temporary: true}}))(t)
	testkit.Must(c.flags.ArchiveFlag(ctx, &pb.ArchiveFlagRequest{Key: "old", Archived: true}))(t)
	testkit.Must(c.envs.UpdateEnvironment(ctx, &pb.UpdateEnvironmentRequest{Environment: &pb.Environment{Name: "staging", Description: "pre-production"}}))(t)

	before := everything(t, ctx, c)
	ev := testkit.Must(c.eval.Evaluate(ctx, &pb.EvaluateRequest{Environment: "production", FlagKey: "banner", Context: testkit.Must(structpb.NewStruct(map[string]any{"email": "ada@flagpole.dev"}))(t)}))(t)
	if ev.GetEvaluation().GetVariant() != "green" {
		t.Fatalf("banner for staff: %v", ev.GetEvaluation())
	}
	// 2 more: the bootstrap admin user and token.
	if n := len(before[3].(*pb.ListAuditEntriesResponse).GetEntries()); n != 3+1+3+1+1+2+2+1+1+1+2 {
		t.Errorf("%d audit entries before restart, want 18", n)
	}
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	second := daemon.New(config(dbPath))
	c2 := clientsOf(start(t, second))
	after := everything(t, ctx, c2)
	for i := range before {
		if !proto.Equal(before[i], after[i]) {
			t.Errorf("after the restart, state %d differs:\nbefore %v\nafter  %v", i, before[i], after[i])
		}
	}
}

// gatedStore holds the next Update until released, to keep a call in flight.
type gatedStore struct {
	*sqlite.DB
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (g *gatedStore) Update(ctx context.Context, fn func(server.Tx) error) error {
	if g.armed.CompareAndSwap(true, false) {
		close(g.entered)
		<-g.release
	}
	return g.DB.Update(ctx, fn)
}

// TestGracefulShutdownFinishesInFlightCall stops the server while a write is
// in flight: the call completes and is stored, Shutdown waits for it, and
// later calls are refused.
func TestGracefulShutdownFinishesInFlightCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "flagpole.db")
	db := testkit.Must(sqlite.Open(ctx, dbPath))(t)
	gated := &gatedStore{DB: db, entered: make(chan struct{}), release: make(chan struct{})}
	srv := daemon.New(config(dbPath)).WithStore(gated)
	c := clientsOf(start(t, srv))

	gated.armed.Store(true)
	type result struct {
		resp *pb.CreateFlagResponse
		err  error
	}
	call := make(chan result, 1)
	go func() {
		resp, err := c.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "in-flight", Type: "boolean"}})
		call <- result{resp, err}
	}()
	<-gated.entered

	stopped := make(chan error, 1)
	go func() { stopped <- srv.Shutdown(ctx) }()
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) while a call was in flight", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(gated.release)
	r := <-call
	if r.err != nil || r.resp.GetFlag().GetKey() != "in-flight" {
		t.Fatalf("in-flight call: %v, %v", r.resp, r.err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	_, err := c.flags.GetFlag(ctx, &pb.GetFlagRequest{Key: "in-flight"})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("a call after shutdown: %v, want Unavailable", err)
	}

	// The in-flight write was committed before the store closed.
	reopened := testkit.Must(sqlite.Open(ctx, dbPath))(t)
	defer reopened.Close()
	if _, _, err := service.New(reopened).GetFlag(ctx, "in-flight"); err != nil {
		t.Errorf("the in-flight flag is not stored: %v", err)
	}
}

// TestShutdownCutsOffCallsAfterTimeout: a call that outlives the shutdown
// deadline does not keep the server up.
func TestShutdownCutsOffCallsAfterTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "flagpole.db")
	db := testkit.Must(sqlite.Open(ctx, dbPath))(t)
	gated := &gatedStore{DB: db, entered: make(chan struct{}), release: make(chan struct{})}
	srv := daemon.New(config(dbPath)).WithStore(gated)
	c := clientsOf(start(t, srv))
	gated.armed.Store(true)
	call := make(chan error, 1)
	go func() {
		_, err := c.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "stuck", Type: "boolean"}})
		call <- err
	}()
	<-gated.entered
	deadline, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Shutdown(deadline) }()
	if err := <-call; status.Code(err) != codes.Unavailable {
		t.Errorf("a call cut off by shutdown: %v, want Unavailable", err)
	}
	close(gated.release) // let the handler goroutine finish
	<-stopped
}

func TestReadyzDuringShutdown(t *testing.T) {
	t.Parallel()
	srv := daemon.New(config(filepath.Join(t.TempDir(), "flagpole.db")))
	start(t, srv)
	url := "http://" + srv.HTTPAddr().String() + "/readyz"
	resp := testkit.Must(http.Get(url))(t)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz %d", resp.StatusCode)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(url); err == nil {
		resp.Body.Close()
		t.Errorf("HTTP still answers after shutdown: %d", resp.StatusCode)
	}
}

func TestStartFailsOnBusyPort(t *testing.T) {
	t.Parallel()
	first := daemon.New(config(filepath.Join(t.TempDir(), "a.db")))
	start(t, first)
	cfg := config(filepath.Join(t.TempDir(), "b.db"))
	cfg.GRPCAddr = first.GRPCAddr().String()
	if err := daemon.New(cfg).Start(context.Background()); err == nil {
		t.Fatal("Start on a busy port succeeded")
	}
}
