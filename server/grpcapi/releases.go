package grpcapi

import (
	"context"
	"strconv"

	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/service"
)

type releases struct {
	pb.UnimplementedReleaseServiceServer
	api
}

func (s *releases) CreateReleasePlan(ctx context.Context, req *pb.CreateReleasePlanRequest) (*pb.CreateReleasePlanResponse, error) {
	p, err := s.svc.CreatePlan(ctx, PlanRequestFromProto(req))
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.CreateReleasePlanResponse{Plan: PlanToProto(p)}, nil
}

func (s *releases) GetReleasePlan(ctx context.Context, req *pb.GetReleasePlanRequest) (*pb.GetReleasePlanResponse, error) {
	p, err := s.svc.GetPlan(ctx, req.GetEnvironment(), req.GetId())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.GetReleasePlanResponse{Plan: PlanToProto(p)}, nil
}

func (s *releases) ListReleasePlans(ctx context.Context, req *pb.ListReleasePlansRequest) (*pb.ListReleasePlansResponse, error) {
	plans, err := s.svc.ListPlans(ctx, server.PlanFilter{Environment: req.GetEnvironment(), FlagKey: req.GetFlagKey(), Active: req.GetActiveOnly()})
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	resp := &pb.ListReleasePlansResponse{Plans: make([]*pb.ReleasePlan, len(plans))}
	for i, p := range plans {
		resp.Plans[i] = PlanToProto(p)
	}
	return resp, nil
}

func (s *releases) PauseReleasePlan(ctx context.Context, req *pb.PauseReleasePlanRequest) (*pb.PauseReleasePlanResponse, error) {
	p, err := s.svc.PausePlan(ctx, req.GetEnvironment(), req.GetId())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.PauseReleasePlanResponse{Plan: PlanToProto(p)}, nil
}

func (s *releases) ResumeReleasePlan(ctx context.Context, req *pb.ResumeReleasePlanRequest) (*pb.ResumeReleasePlanResponse, error) {
	p, err := s.svc.ResumePlan(ctx, req.GetEnvironment(), req.GetId())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.ResumeReleasePlanResponse{Plan: PlanToProto(p)}, nil
}

func (s *releases) CancelReleasePlan(ctx context.Context, req *pb.CancelReleasePlanRequest) (*pb.CancelReleasePlanResponse, error) {
	p, err := s.svc.CancelPlan(ctx, req.GetEnvironment(), req.GetId())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.CancelReleasePlanResponse{Plan: PlanToProto(p)}, nil
}

// PlanRequestFromProto converts a create request.
func PlanRequestFromProto(req *pb.CreateReleasePlanRequest) service.PlanRequest {
	r := service.PlanRequest{
		FlagKey: req.GetFlagKey(), Environment: req.GetEnvironment(), Kind: server.PlanKind(req.GetKind()),
		Action: server.PlanAction(req.GetAction()), Variant: req.GetVariant(), Control: req.GetControl(),
		OnRegression: req.GetOnRegression(), StartAt: timeOf(req.GetStartTime()),
	}
	for _, st := range req.GetSteps() {
		r.Steps = append(r.Steps, server.PlanStep{Percent: int(st.GetPercent()), Hold: st.GetHold().AsDuration()})
	}
	if g := req.GetGuard(); g != nil {
		r.Guard = &server.GuardSpec{Event: g.GetEvent(), Measure: measureOf(g.GetMeasure()), MaxRatio: g.GetMaxRatio(), MaxDiff: g.GetMaxDiff(), MinSamples: g.GetMinSamples()}
	}
	return r
}

// PlanToProto converts a stored plan.
func PlanToProto(p server.ReleasePlan) *pb.ReleasePlan {
	out := &pb.ReleasePlan{
		Id: p.ID, FlagKey: p.FlagKey, Environment: p.Environment, Kind: string(p.Kind), Action: string(p.Action),
		Variant: p.Variant, Control: p.Control, OnRegression: p.OnRegression, StartTime: timestamp(p.StartAt),
		State: string(p.State), Step: int32(p.Step), StepStartTime: timestamp(p.StepStartedAt),
		StartedTime: timestamp(p.StartedAt), EndTime: timestamp(p.EndedAt), Reason: p.Reason, CreatedBy: p.CreatedBy,
		CreateTime: timestamp(p.CreatedAt), UpdateTime: timestamp(p.UpdatedAt), Revision: p.Revision,
	}
	if len(p.Evidence) > 0 {
		out.Evidence = jsonToProto(p.Evidence)
	}
	for _, st := range p.Steps {
		out.Steps = append(out.Steps, &pb.ReleaseStep{Percent: int32(st.Percent), Hold: durationpb.New(st.Hold)})
	}
	if g := p.Guard; g != nil {
		out.Guard = &pb.ReleaseGuard{Event: g.Event, Measure: measureToProto(g.Measure), MaxRatio: g.MaxRatio, MaxDiff: g.MaxDiff, MinSamples: g.MinSamples}
	}
	return out
}

// measureOf is a guard's measure as stored: "" (unspecified: a rate),
// rate or mean; an unknown value keeps its number, which validation
// refuses naming guard.measure.
func measureOf(m pb.GuardMeasure) string {
	switch m {
	case pb.GuardMeasure_GUARD_MEASURE_UNSPECIFIED:
		return ""
	case pb.GuardMeasure_GUARD_MEASURE_RATE:
		return server.MeasureRate
	case pb.GuardMeasure_GUARD_MEASURE_MEAN:
		return server.MeasureMean
	}
	return strconv.Itoa(int(m))
}

func measureToProto(m string) pb.GuardMeasure {
	switch m {
	case server.MeasureRate:
		return pb.GuardMeasure_GUARD_MEASURE_RATE
	case server.MeasureMean:
		return pb.GuardMeasure_GUARD_MEASURE_MEAN
	}
	return pb.GuardMeasure_GUARD_MEASURE_UNSPECIFIED
}
