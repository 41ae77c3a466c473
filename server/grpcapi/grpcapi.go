// Package grpcapi is Flagpole's gRPC transport: it implements the
// flagpole.v1 admin and evaluation services on top of server/service,
// converting messages to domain types and service errors to gRPC statuses.
// It holds no logic of its own.
package grpcapi

import (
	"log/slog"

	"google.golang.org/grpc"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server/service"
)

// api is what every service implementation shares.
type api struct {
	svc *service.Service
	log *slog.Logger
}

// Register registers EnvironmentService, FlagService, SegmentService,
// AuditService, EvaluationService and ReleaseService on gs.
func Register(gs grpc.ServiceRegistrar, svc *service.Service, log *slog.Logger) {
	a := api{svc: svc, log: log}
	pb.RegisterEnvironmentServiceServer(gs, &environments{api: a})
	pb.RegisterFlagServiceServer(gs, &flags{api: a})
	pb.RegisterSegmentServiceServer(gs, &segments{api: a})
	pb.RegisterAuditServiceServer(gs, &audit{api: a})
	pb.RegisterEvaluationServiceServer(gs, &evaluation{api: a})
	pb.RegisterReleaseServiceServer(gs, &releases{api: a})
}
