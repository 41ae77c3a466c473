package signals

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server"
)

func TestListSignals(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 15, 42, 0, time.UTC)
	m0 := now.Truncate(time.Minute)
	st := &memStore{counts: []server.SignalCount{
		{Variant: "on", Event: server.Exposure, Minute: m0, Count: 10},
		{Variant: "on", Event: "error", Minute: m0, Count: 2, Sum: 0.5},
	}}
	s := &Server{Store: st, Now: func() time.Time { return now }}
	ctx := context.Background()
	for _, r := range []*flagpolev1.ListSignalsRequest{{FlagKey: "f"}, {Environment: "production"}} {
		var e *server.Error
		if _, err := s.ListSignals(ctx, r); !errors.As(err, &e) {
			t.Errorf("ListSignals(%v) = %v, want an invalid-argument error", r, err)
		}
	}
	res, err := s.ListSignals(ctx, &flagpolev1.ListSignalsRequest{Environment: "production", FlagKey: "f"})
	if err != nil {
		t.Fatal(err)
	}
	if !st.since.Equal(now.Add(-DefaultWindow).Truncate(time.Minute)) {
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
