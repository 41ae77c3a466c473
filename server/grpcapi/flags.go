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
