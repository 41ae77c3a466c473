package grpcapi

import (
	"context"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/service"
)

type flags struct {
	pb.UnimplementedFlagServiceServer
	api
}

func (s *flags) CreateFlag(ctx context.Context, req *pb.CreateFlagRequest) (*pb.CreateFlagResponse, error) {
	f, configs, err := s.svc.CreateFlag(ctx, FlagFromProto(req.GetFlag()))
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	pf, err := FlagToProto(f)
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.CreateFlagResponse{Flag: pf, Configs: configsToProto(configs)}, nil
}

func (s *flags) GetFlag(ctx context.Context, req *pb.GetFlagRequest) (*pb.GetFlagResponse, error) {
	f, configs, err := s.svc.GetFlag(ctx, req.GetKey())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	pf, err := FlagToProto(f)
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.GetFlagResponse{Flag: pf, Configs: configsToProto(configs)}, nil
}

func (s *flags) ListFlags(ctx context.Context, req *pb.ListFlagsRequest) (*pb.ListFlagsResponse, error) {
	filter := server.FlagFilter{Tag: req.GetTag(), Query: req.GetQuery(), IncludeArchived: req.GetIncludeArchived()}
	list, err := s.svc.ListFlags(ctx, filter, req.GetEnvironment())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	resp := &pb.ListFlagsResponse{Flags: make([]*pb.FlagWithConfigs, len(list))}
	for i, f := range list {
		pf, err := FlagToProto(f.Flag)
		if err != nil {
			return nil, ToStatus(ctx, s.log, err)
		}
		resp.Flags[i] = &pb.FlagWithConfigs{Flag: pf, Configs: configsToProto(f.Configs)}
	}
	return resp, nil
}

func (s *flags) UpdateFlag(ctx context.Context, req *pb.UpdateFlagRequest) (*pb.UpdateFlagResponse, error) {
	f, err := s.svc.UpdateFlag(ctx, FlagFromProto(req.GetFlag()), req.GetFlag().GetRevision())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	pf, err := FlagToProto(f)
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.UpdateFlagResponse{Flag: pf}, nil
}

func (s *flags) ArchiveFlag(ctx context.Context, req *pb.ArchiveFlagRequest) (*pb.ArchiveFlagResponse, error) {
	f, err := s.svc.ArchiveFlag(ctx, req.GetKey(), req.GetArchived(), req.GetExpectedRevision(), req.GetForce())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	pf, err := FlagToProto(f)
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.ArchiveFlagResponse{Flag: pf}, nil
}

func (s *flags) DeleteFlag(ctx context.Context, req *pb.DeleteFlagRequest) (*pb.DeleteFlagResponse, error) {
	if err := s.svc.DeleteFlag(ctx, req.GetKey(), req.GetExpectedRevision(), req.GetForce()); err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.DeleteFlagResponse{}, nil
}

func (s *flags) GetFlagConfig(ctx context.Context, req *pb.GetFlagConfigRequest) (*pb.GetFlagConfigResponse, error) {
	c, err := s.svc.GetConfig(ctx, req.GetEnvironment(), req.GetFlagKey())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.GetFlagConfigResponse{Config: ConfigToProto(c)}, nil
}

func (s *flags) ReplaceFlagConfig(ctx context.Context, req *pb.ReplaceFlagConfigRequest) (*pb.ReplaceFlagConfigResponse, error) {
	in := req.GetConfig()
	c, err := s.svc.ReplaceConfig(ctx, in.GetEnvironment(), in.GetFlagKey(), ConfigFromProto(in), in.GetRevision())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.ReplaceFlagConfigResponse{Config: ConfigToProto(c)}, nil
}

func (s *flags) SetEnabled(ctx context.Context, req *pb.SetEnabledRequest) (*pb.SetEnabledResponse, error) {
	c, err := s.svc.SetEnabled(ctx, req.GetEnvironment(), req.GetFlagKey(), req.GetEnabled(), req.GetExpectedRevision())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.SetEnabledResponse{Config: ConfigToProto(c)}, nil
}

func (s *flags) SetRollout(ctx context.Context, req *pb.SetRolloutRequest) (*pb.SetRolloutResponse, error) {
	r := service.Rollout{Percent: int(req.GetPercent()), Variant: req.GetVariant(), RestVariant: req.GetRestVariant()}
	c, err := s.svc.SetRollout(ctx, req.GetEnvironment(), req.GetFlagKey(), r, req.GetExpectedRevision())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.SetRolloutResponse{Config: ConfigToProto(c)}, nil
}

func (s *flags) ApplyChanges(ctx context.Context, req *pb.ApplyChangesRequest) (*pb.ApplyChangesResponse, error) {
	items := make([]service.ApplyItem, len(req.GetChanges()))
	for i, c := range req.GetChanges() {
		items[i] = applyItemFromProto(c)
	}
	changed, err := s.svc.ApplyChanges(ctx, items, req.GetValidateOnly())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	resp := &pb.ApplyChangesResponse{Results: make([]*pb.ApplyChangeResult, len(changed))}
	for i, c := range changed {
		resp.Results[i] = &pb.ApplyChangeResult{Changed: c}
		if c {
			resp.Applied++
		}
	}
	return resp, nil
}

// applyItemFromProto converts one item of a change set; an empty one keeps
// kind 0, which the service refuses.
func applyItemFromProto(c *pb.ApplyChange) service.ApplyItem {
	switch c.GetChange().(type) {
	case *pb.ApplyChange_CreateSegment:
		return service.ApplyItem{Kind: service.ApplyCreateSegment, Segment: SegmentFromProto(c.GetCreateSegment())}
	case *pb.ApplyChange_UpdateSegment:
		return service.ApplyItem{Kind: service.ApplyUpdateSegment, Segment: SegmentFromProto(c.GetUpdateSegment()),
			Expected: c.GetUpdateSegment().GetRevision()}
	case *pb.ApplyChange_DeleteSegment:
		d := c.GetDeleteSegment()
		return service.ApplyItem{Kind: service.ApplyDeleteSegment, Key: d.GetKey(), Expected: d.GetExpectedRevision()}
	case *pb.ApplyChange_CreateFlag:
		return service.ApplyItem{Kind: service.ApplyCreateFlag, Flag: FlagFromProto(c.GetCreateFlag())}
	case *pb.ApplyChange_UpdateFlag:
		return service.ApplyItem{Kind: service.ApplyUpdateFlag, Flag: FlagFromProto(c.GetUpdateFlag()),
			Expected: c.GetUpdateFlag().GetRevision()}
	case *pb.ApplyChange_ArchiveFlag:
		a := c.GetArchiveFlag()
		return service.ApplyItem{Kind: service.ApplyArchiveFlag, Key: a.GetKey(), Archived: a.GetArchived(),
			Force: a.GetForce(), Expected: a.GetExpectedRevision()}
	case *pb.ApplyChange_DeleteFlag:
		d := c.GetDeleteFlag()
		return service.ApplyItem{Kind: service.ApplyDeleteFlag, Key: d.GetKey(), Force: d.GetForce(), Expected: d.GetExpectedRevision()}
	case *pb.ApplyChange_ReplaceConfig:
		cfg := c.GetReplaceConfig()
		return service.ApplyItem{Kind: service.ApplyReplaceConfig, Key: cfg.GetFlagKey(), Environment: cfg.GetEnvironment(),
			Config: ConfigFromProto(cfg), Expected: cfg.GetRevision()}
	}
	return service.ApplyItem{}
}
