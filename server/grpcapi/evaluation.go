package grpcapi

import (
	"context"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/engine"
)

type evaluation struct {
	pb.UnimplementedEvaluationServiceServer
	api
}

func (s *evaluation) Evaluate(ctx context.Context, req *pb.EvaluateRequest) (*pb.EvaluateResponse, error) {
	evalCtx, err := evaluationContext(req.GetTargetingKey(), req.GetContext())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	e, err := s.svc.Evaluate(ctx, req.GetEnvironment(), req.GetFlagKey(), engine.FlagType(req.GetType()), evalCtx)
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.EvaluateResponse{Evaluation: EvaluationToProto(e)}, nil
}

func (s *evaluation) EvaluateAll(ctx context.Context, req *pb.EvaluateAllRequest) (*pb.EvaluateAllResponse, error) {
	evalCtx, err := evaluationContext(req.GetTargetingKey(), req.GetContext())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	results, rev, err := s.svc.EvaluateAll(ctx, req.GetEnvironment(), evalCtx)
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	resp := &pb.EvaluateAllResponse{Revision: rev, Evaluations: make([]*pb.Evaluation, len(results))}
	for i, e := range results {
		resp.Evaluations[i] = EvaluationToProto(e)
	}
	return resp, nil
}
