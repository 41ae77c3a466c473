package usage

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server"
)

// Server implements flagpolev1.UsageServiceServer over Insights. Its errors
// are *server.Error values; ErrorMapper turns them into gRPC statuses.
type Server struct {
	flagpolev1.UnimplementedUsageServiceServer
	Insights *Insights
	// MapError converts a domain error to the gRPC status error (the
	// transport's one mapping table, grpcapi.ToStatus). Nil returns errors
	// unchanged.
	MapError func(context.Context, error) error
}

// GetFlagUsage returns a flag's usage per environment.
func (s *Server) GetFlagUsage(ctx context.Context, r *flagpolev1.GetFlagUsageRequest) (*flagpolev1.GetFlagUsageResponse, error) {
	if r.GetFlagKey() == "" {
		return nil, s.mapError(ctx, server.Invalid("flag_key", "is required"))
	}
	vs, err := s.Insights.List(ctx, Query{Environment: r.GetEnvironment(), FlagKey: r.GetFlagKey(), Hours: int(r.GetHours())})
	if err != nil {
		return nil, s.mapError(ctx, err)
	}
	return &flagpolev1.GetFlagUsageResponse{Usage: ToProto(vs)}, nil
}

// ListFlagUsage returns the usage of every flag.
func (s *Server) ListFlagUsage(ctx context.Context, r *flagpolev1.ListFlagUsageRequest) (*flagpolev1.ListFlagUsageResponse, error) {
	vs, err := s.Insights.List(ctx, Query{Environment: r.GetEnvironment(), StaleOnly: r.GetStaleOnly()})
	if err != nil {
		return nil, s.mapError(ctx, err)
	}
	after := s.Insights.StaleAfter
	if after <= 0 {
		after = DefaultStaleAfter
	}
	return &flagpolev1.ListFlagUsageResponse{Usage: ToProto(vs), StaleAfterSeconds: int64(after / time.Second)}, nil
}

func (s *Server) mapError(ctx context.Context, err error) error {
	if s.MapError == nil {
		return err
	}
	return s.MapError(ctx, err)
}

// ToProto converts verdicts to their wire form.
func ToProto(vs []Verdict) []*flagpolev1.FlagUsage {
	out := make([]*flagpolev1.FlagUsage, 0, len(vs))
	for _, v := range vs {
		u := &flagpolev1.FlagUsage{
			FlagKey:                v.FlagKey,
			Environment:            v.Environment,
			LastEvaluateTime:       ts(v.LastEvaluated),
			FirstEvaluateTime:      ts(v.FirstEvaluated),
			EvaluationsLastDay:     v.EvaluationsLastDay,
			Stale:                  v.Stale,
			StaleReason:            v.StaleReason,
			SingleVariant:          v.SingleVariant,
			SingleVariantSinceTime: ts(v.SingleVariantSince),
		}
		for _, s := range v.Services {
			u.Services = append(u.Services, &flagpolev1.ServiceUsage{Name: s.Name, LastSeenTime: ts(s.LastSeen)})
		}
		for _, h := range v.Hourly {
			u.Hourly = append(u.Hourly, &flagpolev1.HourlyCount{HourTime: ts(h.Hour), Variant: h.Variant, Count: h.Count})
		}
		out = append(out, u)
	}
	return out
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// StaleFlags decorates a FlagService so that ListFlags honours stale_only:
// it keeps the flags stale in the requested environment (or in any) and
// fills each item's usage. Every other call goes to the inner service.
type StaleFlags struct {
	flagpolev1.FlagServiceServer
	Insights *Insights
	MapError func(context.Context, error) error
}

// ListFlags lists flags, keeping only the stale ones when asked.
func (s *StaleFlags) ListFlags(ctx context.Context, r *flagpolev1.ListFlagsRequest) (*flagpolev1.ListFlagsResponse, error) {
	resp, err := s.FlagServiceServer.ListFlags(ctx, r)
	if err != nil || !r.GetStaleOnly() {
		return resp, err
	}
	vs, err := s.Insights.List(ctx, Query{Environment: r.GetEnvironment(), StaleOnly: true})
	if err != nil {
		if s.MapError != nil {
			err = s.MapError(ctx, err)
		}
		return nil, err
	}
	byFlag := make(map[string][]Verdict)
	for _, v := range vs {
		byFlag[v.FlagKey] = append(byFlag[v.FlagKey], v)
	}
	kept := resp.Flags[:0]
	for _, f := range resp.GetFlags() {
		if v, ok := byFlag[f.GetFlag().GetKey()]; ok {
			f.Usage = ToProto(v)
			kept = append(kept, f)
		}
	}
	resp.Flags = kept
	return resp, nil
}

// Registrar passes registrations on to a grpc.ServiceRegistrar, wrapping the
// FlagService implementation in StaleFlags on the way, so that the usual
// registration function (grpcapi.Register) serves stale_only unchanged.
type Registrar struct {
	grpc.ServiceRegistrar
	Insights *Insights
	MapError func(context.Context, error) error
}

// RegisterService registers impl, decorated when it is the FlagService.
func (r Registrar) RegisterService(desc *grpc.ServiceDesc, impl any) {
	if fs, ok := impl.(flagpolev1.FlagServiceServer); ok && desc.ServiceName == flagpolev1.FlagService_ServiceDesc.ServiceName {
		impl = &StaleFlags{FlagServiceServer: fs, Insights: r.Insights, MapError: r.MapError}
	}
	r.ServiceRegistrar.RegisterService(desc, impl)
}
