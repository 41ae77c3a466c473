package grpcapi

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server"
)

// SignalServer implements flagpolev1.SignalServiceServer over a
// server.SignalStore. Its errors go through ToStatus; Log (default:
// discard) gets the detail of internal ones.
type SignalServer struct {
	flagpolev1.UnimplementedSignalServiceServer
	Store server.SignalStore
	// Now is the clock (default time.Now).
	Now func() time.Time
	Log *slog.Logger
}

// DefaultSignalWindow is how far back ListSignals reads without a start time.
const DefaultSignalWindow = time.Hour

// ListSignals returns a flag's signals per minute.
func (s *SignalServer) ListSignals(ctx context.Context, r *flagpolev1.ListSignalsRequest) (*flagpolev1.ListSignalsResponse, error) {
	switch {
	case r.GetEnvironment() == "":
		return nil, s.mapError(ctx, server.Invalid("environment", "is required"))
	case r.GetFlagKey() == "":
		return nil, s.mapError(ctx, server.Invalid("flag_key", "is required"))
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	since := now().Add(-DefaultSignalWindow)
	if r.GetStartTime() != nil {
		if err := r.GetStartTime().CheckValid(); err != nil {
			return nil, s.mapError(ctx, server.Invalid("start_time", "%v", err))
		}
		since = r.GetStartTime().AsTime()
	}
	if oldest := now().Add(-server.SignalRetention); since.Before(oldest) {
		since = oldest
	}
	since = since.UTC().Truncate(time.Minute)
	counts, err := s.Store.ListSignals(ctx, r.GetEnvironment(), r.GetFlagKey(), since)
	if err != nil {
		return nil, s.mapError(ctx, err)
	}
	out := &flagpolev1.ListSignalsResponse{}
	for _, c := range counts {
		m := timestamppb.New(c.Minute)
		if c.Event == server.Exposure {
			out.Exposures = append(out.Exposures, &flagpolev1.ExposureMinute{MinuteTime: m, Variant: c.Variant, Count: c.Count})
			continue
		}
		out.Events = append(out.Events, &flagpolev1.SignalMinute{MinuteTime: m, Variant: c.Variant, Event: c.Event, Count: c.Count, Sum: c.Sum,
			SumSquares: c.SumSquares, Mean: c.Mean(), Stddev: c.StdDev()})
	}
	return out, nil
}

func (s *SignalServer) mapError(ctx context.Context, err error) error {
	return ToStatus(ctx, orDiscard(s.Log), err)
}
