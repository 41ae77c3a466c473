package grpcapi_test

import (
	"log/slog"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/grpcapi"
)

func TestCallLevel(t *testing.T) {
	for _, c := range []struct {
		method string
		code   codes.Code
		want   slog.Level
	}{
		{pb.EvaluationService_Evaluate_FullMethodName, codes.OK, slog.LevelDebug},
		{pb.EvaluationService_EvaluateAll_FullMethodName, codes.OK, slog.LevelDebug},
		{syncpb.SyncService_Sync_FullMethodName, codes.OK, slog.LevelDebug},
		{syncpb.SyncService_Sync_FullMethodName, codes.Canceled, slog.LevelDebug},
		{"/grpc.health.v1.Health/Check", codes.OK, slog.LevelDebug},
		{pb.FlagService_ListFlags_FullMethodName, codes.OK, slog.LevelDebug},
		{pb.AuthService_WhoAmI_FullMethodName, codes.OK, slog.LevelDebug},
		{syncpb.SyncService_ListClients_FullMethodName, codes.OK, slog.LevelDebug},
		{pb.FlagService_SetEnabled_FullMethodName, codes.OK, slog.LevelInfo},
		{pb.TokenService_RevokeToken_FullMethodName, codes.OK, slog.LevelInfo},
		{pb.UserService_SetPassword_FullMethodName, codes.OK, slog.LevelInfo},
		{"/flagpole.v1.FlagService/SomeNewCall", codes.OK, slog.LevelInfo},
		{pb.EvaluationService_Evaluate_FullMethodName, codes.PermissionDenied, slog.LevelWarn},
		{pb.FlagService_GetFlag_FullMethodName, codes.NotFound, slog.LevelWarn},
		{syncpb.SyncService_Sync_FullMethodName, codes.Unavailable, slog.LevelWarn},
		{pb.EvaluationService_Evaluate_FullMethodName, codes.Internal, slog.LevelError},
		{pb.FlagService_SetEnabled_FullMethodName, codes.Unknown, slog.LevelError},
	} {
		if got := grpcapi.CallLevel(c.method, c.code); got != c.want {
			t.Errorf("CallLevel(%s, %s) = %s, want %s", c.method, c.code, got, c.want)
		}
	}
}
