package grpcapi

import (
	"context"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
)

type environments struct {
	pb.UnimplementedEnvironmentServiceServer
	api
}

func (s *environments) ListEnvironments(ctx context.Context, _ *pb.ListEnvironmentsRequest) (*pb.ListEnvironmentsResponse, error) {
	envs, err := s.svc.ListEnvironments(ctx)
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	resp := &pb.ListEnvironmentsResponse{}
	for _, e := range envs {
		resp.Environments = append(resp.Environments, EnvironmentToProto(e))
	}
	return resp, nil
}

func (s *environments) GetEnvironment(ctx context.Context, req *pb.GetEnvironmentRequest) (*pb.GetEnvironmentResponse, error) {
	env, err := s.svc.GetEnvironment(ctx, req.GetName())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.GetEnvironmentResponse{Environment: EnvironmentToProto(env)}, nil
}

func (s *environments) CreateEnvironment(ctx context.Context, req *pb.CreateEnvironmentRequest) (*pb.CreateEnvironmentResponse, error) {
	env, err := s.svc.CreateEnvironment(ctx, environmentFromProto(req.GetEnvironment()))
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.CreateEnvironmentResponse{Environment: EnvironmentToProto(env)}, nil
}

func (s *environments) UpdateEnvironment(ctx context.Context, req *pb.UpdateEnvironmentRequest) (*pb.UpdateEnvironmentResponse, error) {
	env, err := s.svc.UpdateEnvironment(ctx, environmentFromProto(req.GetEnvironment()))
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.UpdateEnvironmentResponse{Environment: EnvironmentToProto(env)}, nil
}

func (s *environments) DeleteEnvironment(ctx context.Context, req *pb.DeleteEnvironmentRequest) (*pb.DeleteEnvironmentResponse, error) {
	if err := s.svc.DeleteEnvironment(ctx, req.GetName()); err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.DeleteEnvironmentResponse{}, nil
}
