package grpcapi

import (
	"context"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server"
)

type audit struct {
	pb.UnimplementedAuditServiceServer
	api
}

func (s *audit) ListAuditEntries(ctx context.Context, req *pb.ListAuditEntriesRequest) (*pb.ListAuditEntriesResponse, error) {
	f := server.AuditFilter{
		FlagKey: req.GetFlagKey(), Environment: req.GetEnvironment(), Resource: req.GetResource(), Key: req.GetKey(), Actor: req.GetActor(),
		Since: timeOf(req.GetSince()), Until: timeOf(req.GetUntil()), Limit: int(req.GetPageSize()),
	}
	entries, next, err := s.svc.ListAudit(ctx, f, req.GetPageToken())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	resp := &pb.ListAuditEntriesResponse{NextPageToken: next, Entries: make([]*pb.AuditEntry, len(entries))}
	for i, e := range entries {
		resp.Entries[i] = auditEntryToProto(e)
	}
	return resp, nil
}
