package grpcapi

import (
	"context"
	"io"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/usage"
)

// UsageServer implements flagpolev1.UsageServiceServer over
// usage.Insights. Its errors go through ToStatus; Log (default: discard)
// gets the detail of internal ones.
type UsageServer struct {
	flagpolev1.UnimplementedUsageServiceServer
	Insights *usage.Insights
	Log      *slog.Logger
}

// GetFlagUsage returns a flag's usage per environment.
func (s *UsageServer) GetFlagUsage(ctx context.Context, r *flagpolev1.GetFlagUsageRequest) (*flagpolev1.GetFlagUsageResponse, error) {
	if r.GetFlagKey() == "" {
		return nil, s.mapError(ctx, server.Invalid("flag_key", "is required"))
	}
	vs, err := s.Insights.List(ctx, usage.Query{Environment: r.GetEnvironment(), FlagKey: r.GetFlagKey(), Hours: int(r.GetHours())})
	if err != nil {
		return nil, s.mapError(ctx, err)
	}
	return &flagpolev1.GetFlagUsageResponse{Usage: UsageToProto(vs)}, nil
}

// ListFlagUsage returns the usage of every flag.
func (s *UsageServer) ListFlagUsage(ctx context.Context, r *flagpolev1.ListFlagUsageRequest) (*flagpolev1.ListFlagUsageResponse, error) {
	vs, err := s.Insights.List(ctx, usage.Query{Environment: r.GetEnvironment(), StaleOnly: r.GetStaleOnly()})
	if err != nil {
		return nil, s.mapError(ctx, err)
	}
	after := s.Insights.StaleAfter
	if after <= 0 {
		after = usage.DefaultStaleAfter
	}
	return &flagpolev1.ListFlagUsageResponse{Usage: UsageToProto(vs), StaleAfterSeconds: int64(after / time.Second)}, nil
}

func (s *UsageServer) mapError(ctx context.Context, err error) error {
	return ToStatus(ctx, orDiscard(s.Log), err)
}

// UsageToProto converts verdicts to their wire form.
func UsageToProto(vs []usage.Verdict) []*flagpolev1.FlagUsage {
	out := make([]*flagpolev1.FlagUsage, 0, len(vs))
	for _, v := range vs {
		u := &flagpolev1.FlagUsage{
			FlagKey:                v.FlagKey,
			Environment:            v.Environment,
			LastEvaluateTime:       timestamp(v.LastEvaluated),
			FirstEvaluateTime:      timestamp(v.FirstEvaluated),
			EvaluationsLastDay:     v.EvaluationsLastDay,
			Stale:                  v.Stale,
			StaleReason:            v.StaleReason,
			SingleVariant:          v.SingleVariant,
			SingleVariantSinceTime: timestamp(v.SingleVariantSince),
		}
		for _, s := range v.Services {
			u.Services = append(u.Services, &flagpolev1.ServiceUsage{Name: s.Name, LastSeenTime: timestamp(s.LastSeen)})
		}
		for _, h := range v.Hourly {
			u.Hourly = append(u.Hourly, &flagpolev1.HourlyCount{HourTime: timestamp(h.Hour), Variant: h.Variant, Count: h.Count})
		}
		out = append(out, u)
	}
	return out
}

// StaleFlags decorates a FlagService so that ListFlags honours stale_only:
// it keeps the flags stale in the requested environment (or in any) and
// fills each item's usage. Every other call goes to the inner service.
type StaleFlags struct {
	flagpolev1.FlagServiceServer
	Insights *usage.Insights
	Log      *slog.Logger
}

// ListFlags lists flags, keeping only the stale ones when asked.
func (s *StaleFlags) ListFlags(ctx context.Context, r *flagpolev1.ListFlagsRequest) (*flagpolev1.ListFlagsResponse, error) {
	resp, err := s.FlagServiceServer.ListFlags(ctx, r)
	if err != nil || !r.GetStaleOnly() {
		return resp, err
	}
	vs, err := s.Insights.List(ctx, usage.Query{Environment: r.GetEnvironment(), StaleOnly: true})
	if err != nil {
		return nil, ToStatus(ctx, orDiscard(s.Log), err)
	}
	byFlag := make(map[string][]usage.Verdict)
	for _, v := range vs {
		byFlag[v.FlagKey] = append(byFlag[v.FlagKey], v)
	}
	kept := resp.Flags[:0]
	for _, f := range resp.GetFlags() {
		if v, ok := byFlag[f.GetFlag().GetKey()]; ok {
			f.Usage = UsageToProto(v)
			kept = append(kept, f)
		}
	}
	resp.Flags = kept
	return resp, nil
}

// UsageRegistrar passes registrations on to a grpc.ServiceRegistrar, wrapping the
// FlagService implementation in StaleFlags on the way, so that the usual
// registration function (Register) serves stale_only unchanged.
type UsageRegistrar struct {
	grpc.ServiceRegistrar
	Insights *usage.Insights
	Log      *slog.Logger
}

// RegisterService registers impl, decorated when it is the FlagService.
func (r UsageRegistrar) RegisterService(desc *grpc.ServiceDesc, impl any) {
	if fs, ok := impl.(flagpolev1.FlagServiceServer); ok && desc.ServiceName == flagpolev1.FlagService_ServiceDesc.ServiceName {
		impl = &StaleFlags{FlagServiceServer: fs, Insights: r.Insights, Log: r.Log}
	}
	r.ServiceRegistrar.RegisterService(desc, impl)
}

// orDiscard is l, or a logger that discards for nil.
func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return l
}
