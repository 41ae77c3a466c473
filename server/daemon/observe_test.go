package daemon_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/testkit"
)

// TestReflectionAndCallLog checks what grpcurl relies on (reflection lists
// the flagpole.v1 services) and that a failing call is logged with its
// method, code and duration.
func TestReflectionAndCallLog(t *testing.T) {
	t.Parallel()
	logs := &testkit.Buffer{}
	cfg := config(filepath.Join(t.TempDir(), "flagpole.db"))
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	srv := daemon.New(cfg)
	conn := start(t, srv)
	ctx := context.Background()

	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	stream.CloseSend()
	listed := map[string]bool{}
	for _, s := range resp.GetListServicesResponse().GetService() {
		listed[s.GetName()] = true
	}
	for _, name := range []string{"flagpole.v1.EnvironmentService", "flagpole.v1.FlagService", "flagpole.v1.SegmentService",
		"flagpole.v1.AuditService", "flagpole.v1.EvaluationService", "grpc.health.v1.Health"} {
		if !listed[name] {
			t.Errorf("reflection does not list %s: %v", name, listed)
		}
	}

	if _, err := pb.NewFlagServiceClient(conn).GetFlag(ctx, &pb.GetFlagRequest{Key: "nope"}); err == nil {
		t.Fatal("GetFlag of a missing flag succeeded")
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "method=/flagpole.v1.FlagService/GetFlag code=NotFound duration=") {
		t.Errorf("no call log line for GetFlag:\n%s", out)
	}
	if !strings.Contains(out, "grpc="+srv.GRPCAddr().String()) || !strings.Contains(out, "http="+srv.HTTPAddr().String()) {
		t.Errorf("bound addresses not logged:\n%s", out)
	}
}
