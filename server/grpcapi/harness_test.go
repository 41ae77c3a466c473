package grpcapi_test

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/grpcapi"
	"github.com/flagpole/flagpole/server/service"
	"github.com/flagpole/flagpole/server/sqlite"
	"github.com/flagpole/flagpole/server/testkit"
)

// api is a real gRPC server on 127.0.0.1:0 over a real SQLite file, and
// the generated clients connected to it.
type api struct {
	t    *testing.T
	ctx  context.Context
	db   *sqlite.DB
	logs *testkit.Buffer
	svc  *service.Service

	envs  pb.EnvironmentServiceClient
	flags pb.FlagServiceClient
	segs  pb.SegmentServiceClient
	audit pb.AuditServiceClient
	eval  pb.EvaluationServiceClient
}

func newAPI(t *testing.T) *api {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "flagpole.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := service.New(db)
	if err := svc.EnsureDefaults(ctx); err != nil {
		t.Fatal(err)
	}
	logs := &testkit.Buffer{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	grpcapi.Register(gs, svc, slog.New(slog.NewTextHandler(logs, nil)))
	served := make(chan struct{})
	go func() {
		defer close(served)
		gs.Serve(ln)
	}()
	t.Cleanup(func() {
		gs.Stop()
		<-served
	})
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &api{
		t: t, ctx: ctx, db: db, logs: logs, svc: svc,
		envs: pb.NewEnvironmentServiceClient(conn), flags: pb.NewFlagServiceClient(conn),
		segs: pb.NewSegmentServiceClient(conn), audit: pb.NewAuditServiceClient(conn),
		eval: pb.NewEvaluationServiceClient(conn),
	}
}

// wantCode checks err's gRPC code; for InvalidArgument it also checks that
// a google.rpc.BadRequest names field (when field is not "").
func wantCode(t *testing.T, err error, code codes.Code, field string) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
	if code == codes.InvalidArgument && field != "" {
		if got := violationField(st); got != field {
			t.Fatalf("BadRequest field = %q (%v), want %q", got, st.Message(), field)
		}
	}
	return st
}

func violationField(st *status.Status) string {
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			return br.GetFieldViolations()[0].GetField()
		}
	}
	return ""
}

// state is what a failed call must leave untouched.
type state struct {
	audit     int
	revisions map[string]int64
}

func (a *api) state() state {
	a.t.Helper()
	resp, err := a.audit.ListAuditEntries(a.ctx, &pb.ListAuditEntriesRequest{PageSize: 1000})
	if err != nil {
		a.t.Fatal(err)
	}
	envs, err := a.envs.ListEnvironments(a.ctx, &pb.ListEnvironmentsRequest{})
	if err != nil {
		a.t.Fatal(err)
	}
	s := state{audit: len(resp.GetEntries()), revisions: map[string]int64{}}
	for _, e := range envs.GetEnvironments() {
		s.revisions[e.GetName()] = e.GetRevision()
	}
	return s
}

// unchanged runs a call that must fail with code and checks that nothing
// was written: no audit entry, no revision moved.
func (a *api) unchanged(code codes.Code, field string, call func() error) *status.Status {
	a.t.Helper()
	before := a.state()
	st := wantCode(a.t, call(), code, field)
	after := a.state()
	if after.audit != before.audit {
		a.t.Errorf("a refused call wrote %d audit entries", after.audit-before.audit)
	}
	for env, rev := range before.revisions {
		if after.revisions[env] != rev {
			a.t.Errorf("a refused call moved %s from revision %d to %d", env, rev, after.revisions[env])
		}
	}
	return st
}

func value(t *testing.T, v any) *structpb.Value {
	t.Helper()
	pv, err := structpb.NewValue(v)
	if err != nil {
		t.Fatal(err)
	}
	return pv
}

func (a *api) createBool(key string) *pb.CreateFlagResponse {
	a.t.Helper()
	resp, err := a.flags.CreateFlag(a.ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: key, Type: "boolean"}})
	if err != nil {
		a.t.Fatal(err)
	}
	return resp
}

func variantServe(v string) *syncpb.Serve {
	return &syncpb.Serve{Kind: &syncpb.Serve_Variant{Variant: v}}
}

func splitServe(weights ...any) *syncpb.Serve {
	s := &syncpb.Split{}
	for i := 0; i < len(weights); i += 2 {
		s.Weights = append(s.Weights, &syncpb.Weight{Variant: weights[i].(string), Weight: int32(weights[i+1].(int))})
	}
	return &syncpb.Serve{Kind: &syncpb.Serve_Split{Split: s}}
}
