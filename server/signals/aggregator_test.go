package signals

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/server"
)

type memStore struct {
	fail   error
	counts []server.SignalCount
	prune  time.Time
	since  time.Time // of the last ListSignals
}

func (m *memStore) AddSignals(_ context.Context, counts []server.SignalCount, pruneBefore time.Time) error {
	if m.fail != nil {
		return m.fail
	}
	m.counts = append(m.counts, counts...)
	m.prune = pruneBefore
	return nil
}

func (m *memStore) ListSignals(_ context.Context, env, flag string, since time.Time) ([]server.SignalCount, error) {
	m.since = since
	return m.counts, nil
}

func TestAggregatorSumsPerMinute(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 15, 42, 0, time.UTC)
	st := &memStore{}
	a := NewAggregator(st, WithClock(func() time.Time { return now }))
	events := []Reported{
		{FlagKey: "checkout", Variant: "on", Event: "latency", Count: 2, Sum: 150, SumSquares: 11250},
		{FlagKey: "checkout", Variant: "on", Event: "", Count: 1},                               // no event name
		{FlagKey: "checkout", Variant: "", Event: "error", Count: 1},                            // no variant
		{FlagKey: "checkout", Variant: "on", Event: strings.Repeat("e", maxKeyLen+1), Count: 1}, // too long
		{FlagKey: "checkout", Variant: "on", Event: "error", Count: -1},                         // negative
	}
	exposures := []Reported{{FlagKey: "checkout", Variant: "on", Count: 10}}
	a.Report("production", exposures, events)
	a.Report("production", exposures, events)
	if a.Dropped() != 8 {
		t.Errorf("dropped %d, want 8", a.Dropped())
	}
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range st.counts {
		got[c.Event] = fmt.Sprintf("%s %s %s %s %d %g %g", c.Environment, c.FlagKey, c.Variant, c.Minute.Format("15:04:05"), c.Count, c.Sum, c.SumSquares)
	}
	want := map[string]string{
		"latency":       "production checkout on 10:15:00 4 300 22500", // sums of squares add up too
		server.Exposure: "production checkout on 10:15:00 20 0 0",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("flushed %v\nwant %v", got, want)
	}
	if wantPrune := now.Add(-server.SignalRetention).Truncate(time.Minute); !st.prune.Equal(wantPrune) {
		t.Errorf("pruned before %v, want %v", st.prune, wantPrune)
	}
}

func TestAggregatorBoundsAReport(t *testing.T) {
	st := &memStore{}
	a := NewAggregator(st)
	var events []Reported
	for i := range MaxCountsPerReport + 10 {
		events = append(events, Reported{FlagKey: "f", Variant: "on", Event: fmt.Sprint("e", i), Count: 1})
	}
	a.Report("production", nil, events)
	if a.Dropped() != 10 {
		t.Errorf("dropped %d, want 10", a.Dropped())
	}
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(st.counts) != MaxCountsPerReport {
		t.Errorf("flushed %d counts, want %d", len(st.counts), MaxCountsPerReport)
	}
}

func TestAggregatorKeepsCountsWhenTheStoreFails(t *testing.T) {
	st := &memStore{fail: errors.New("disk full")}
	a := NewAggregator(st)
	a.Report("production", nil, []Reported{{FlagKey: "f", Variant: "on", Event: "error", Count: 3}})
	if err := a.Flush(context.Background()); err == nil {
		t.Fatal("flush succeeded on a failing store")
	}
	st.fail = nil
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(st.counts) != 1 || st.counts[0].Count != 3 {
		t.Errorf("after the retry: %+v", st.counts)
	}
}
