package grpcapi

import (
	"context"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
)

type segments struct {
	pb.UnimplementedSegmentServiceServer
	api
}

func (s *segments) CreateSegment(ctx context.Context, req *pb.CreateSegmentRequest) (*pb.CreateSegmentResponse, error) {
	seg, err := s.svc.CreateSegment(ctx, SegmentFromProto(req.GetSegment()))
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.CreateSegmentResponse{Segment: SegmentToProto(seg)}, nil
}

func (s *segments) GetSegment(ctx context.Context, req *pb.GetSegmentRequest) (*pb.GetSegmentResponse, error) {
	seg, err := s.svc.GetSegment(ctx, req.GetKey())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.GetSegmentResponse{Segment: SegmentToProto(seg)}, nil
}

func (s *segments) ListSegments(ctx context.Context, _ *pb.ListSegmentsRequest) (*pb.ListSegmentsResponse, error) {
	segs, err := s.svc.ListSegments(ctx)
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	resp := &pb.ListSegmentsResponse{}
	for _, seg := range segs {
		resp.Segments = append(resp.Segments, SegmentToProto(seg))
	}
	return resp, nil
}

func (s *segments) UpdateSegment(ctx context.Context, req *pb.UpdateSegmentRequest) (*pb.UpdateSegmentResponse, error) {
	seg, err := s.svc.UpdateSegment(ctx, SegmentFromProto(req.GetSegment()), req.GetSegment().GetRevision())
	if err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.UpdateSegmentResponse{Segment: SegmentToProto(seg)}, nil
}

func (s *segments) DeleteSegment(ctx context.Context, req *pb.DeleteSegmentRequest) (*pb.DeleteSegmentResponse, error) {
	if err := s.svc.DeleteSegment(ctx, req.GetKey(), req.GetExpectedRevision()); err != nil {
		return nil, ToStatus(ctx, s.log, err)
	}
	return &pb.DeleteSegmentResponse{}, nil
}
