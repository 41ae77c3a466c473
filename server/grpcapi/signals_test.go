package grpcapi_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/grpcapi"
)

func TestListSignals(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 15, 42, 0, time.UTC)
	m0 := now.Truncate(time.Minute)
	st := &signalStore{counts: []server.SignalCount{
		{Variant: "on", Event: server.Exposure, Minute: m0, Count: 10},
		{Variant: "on", Event: "error", Minute: m0, Count: 2, Sum: 0.5},
	}}
	s := &grpcapi.SignalServer{Store: st, Now: func() time.Time { return now }}
	ctx := context.Background()
	for _, r := range []*flagpolev1.ListSignalsRequest{{FlagKey: "f"}, {Environment: "production"}} {
		if _, err := s.ListSignals(ctx, r); status.Code(err) != codes.InvalidArgument {
			t.Errorf("ListSignals(%v) = %v, want an invalid-argument error", r, err)
		}
	}
	res, err := s.ListSignals(ctx, &flagpolev1.ListSignalsRequest{Environment: "production", FlagKey: "f"})
	if err != nil {
		t.Fatal(err)
	}
	if !st.since.Equal(now.Add(-grpcapi.DefaultSignalWindow).Truncate(time.Minute)) {
		t.Errorf("default start %v", st.since)
	}
	if len(res.GetExposures()) != 1 || res.GetExposures()[0].GetCount() != 10 ||
		len(res.GetEvents()) != 1 || res.GetEvents()[0].GetEvent() != "error" || res.GetEvents()[0].GetSum() != 0.5 ||
		!res.GetEvents()[0].GetMinuteTime().AsTime().Equal(m0) {
		t.Errorf("ListSignals = %v", res)
	}
	// A start beyond the retention reads what is kept.
	if _, err := s.ListSignals(ctx, &flagpolev1.ListSignalsRequest{Environment: "production", FlagKey: "f",
		StartTime: timestamppb.New(now.Add(-30 * 24 * time.Hour))}); err != nil {
		t.Fatal(err)
	}
	if !st.since.Equal(now.Add(-server.SignalRetention).Truncate(time.Minute)) {
		t.Errorf("start clamped to %v", st.since)
	}
}

// signalStore keeps counts for ListSignals and remembers what it was asked.
type signalStore struct {
	counts []server.SignalCount
	since  time.Time // of the last ListSignals
}

func (m *signalStore) AddSignals(context.Context, []server.SignalCount, time.Time) error { return nil }

func (m *signalStore) ListSignals(_ context.Context, env, flag string, since time.Time) ([]server.SignalCount, error) {
	m.since = since
	return m.counts, nil
}
