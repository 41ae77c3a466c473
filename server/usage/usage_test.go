package usage_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/usage"
)

// clock is an injectable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// batchStore is a hand-written Store that keeps the batches it was given.
type batchStore struct {
	mu      sync.Mutex
	batches [][]usage.Count
	fail    error
}

func (s *batchStore) AddUsage(_ context.Context, counts []usage.Count, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.batches = append(s.batches, counts)
	return nil
}

func (s *batchStore) ListUsage(context.Context, string, time.Time) ([]usage.FlagUsage, error) {
	return nil, nil
}

func TestAggregatorSumsPerHourAndService(t *testing.T) {
	clk := &clock{now: time.Date(2026, 3, 1, 10, 59, 0, 0, time.UTC)}
	st := &batchStore{}
	a := usage.NewAggregator(st, usage.WithClock(clk.Now))
	a.Record("production", "ofrep", "checkout", "on", 1)
	a.Record("production", "ofrep", "checkout", "on", 2)
	a.Report("token:billing-sdk", "production", "billing", &flagpolev1.UsageReport{
		Counts:  []*flagpolev1.UsageCount{{FlagKey: "checkout", Variant: "off", Count: 5}, {FlagKey: "", Count: 3}, {FlagKey: "x", Count: -1}},
		EndTime: timestamppb.New(clk.now.Add(-time.Minute)),
	}, nil)
	clk.Advance(2 * time.Minute) // next hour
	a.Record("production", "ofrep", "checkout", "on", 1)
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(st.batches) != 1 {
		t.Fatalf("%d batches", len(st.batches))
	}
	got := map[string]int64{}
	for _, c := range st.batches[0] {
		got[c.Service+"/"+c.Variant+"/"+c.Hour.Format("15")] = c.Count
	}
	want := map[string]int64{"ofrep/on/10": 3, "billing/off/10": 5, "ofrep/on/11": 1}
	if len(got) != len(want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
	if err := a.Flush(context.Background()); err != nil || len(st.batches) != 1 {
		t.Errorf("empty flush wrote a batch: %v %d", err, len(st.batches))
	}
}

func TestAggregatorKeepsCountsWhenFlushFails(t *testing.T) {
	st := &batchStore{fail: errors.New("database is locked")}
	a := usage.NewAggregator(st)
	a.Record("production", "svc", "checkout", "on", 4)
	if err := a.Flush(context.Background()); err == nil {
		t.Fatal("flush error swallowed")
	}
	st.fail = nil
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(st.batches) != 1 || st.batches[0][0].Count != 4 {
		t.Fatalf("counts lost after a failed flush: %v", st.batches)
	}
}

func TestAggregatorRunFlushesOnStop(t *testing.T) {
	st := &batchStore{}
	a := usage.NewAggregator(st)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx, time.Hour); close(done) }()
	a.Record("production", "svc", "checkout", "on", 1)
	cancel()
	<-done
	if len(st.batches) != 1 {
		t.Fatalf("final flush missing: %v", st.batches)
	}
}

func TestJudge(t *testing.T) {
	now := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	week := 7 * 24 * time.Hour
	created := now.Add(-30 * 24 * time.Hour)
	for _, tc := range []struct {
		name    string
		u       usage.FlagUsage
		created time.Time
		stale   bool
		reason  string
	}{
		{"new and unevaluated", usage.FlagUsage{}, now.Add(-time.Hour), false, ""},
		{"old and never evaluated", usage.FlagUsage{}, created, true, usage.StaleNeverEvaluated},
		{"evaluated yesterday with a mix", usage.FlagUsage{LastEvaluated: now.Add(-24 * time.Hour)}, created, false, ""},
		{"last evaluated 8 days ago", usage.FlagUsage{LastEvaluated: now.Add(-8 * 24 * time.Hour)}, created, true, usage.StaleNotEvaluated},
		{"one variant for 10 days", usage.FlagUsage{LastEvaluated: now, SingleVariant: "on", SingleVariantSince: now.Add(-10 * 24 * time.Hour)}, created, true, usage.StaleSingleVariant},
		{"one variant for 2 days", usage.FlagUsage{LastEvaluated: now, SingleVariant: "on", SingleVariantSince: now.Add(-2 * 24 * time.Hour)}, created, false, ""},
	} {
		stale, reason := usage.Judge(tc.u, tc.created, now, week)
		if stale != tc.stale || reason != tc.reason {
			t.Errorf("%s: got %v %q, want %v %q", tc.name, stale, reason, tc.stale, tc.reason)
		}
	}
}

// listStore serves fixed usage; flagList fixed flags.
type listStore struct{ list []usage.FlagUsage }

func (s listStore) AddUsage(context.Context, []usage.Count, time.Time) error { return nil }
func (s listStore) ListUsage(_ context.Context, env string, since time.Time) ([]usage.FlagUsage, error) {
	var out []usage.FlagUsage
	for _, u := range s.list {
		if env == "" || u.Environment == env {
			var hourly []usage.HourlyCount
			for _, h := range u.Hourly {
				if !h.Hour.Before(since) {
					hourly = append(hourly, h)
				}
			}
			u.Hourly = hourly
			out = append(out, u)
		}
	}
	return out, nil
}

type flagList []server.Flag

func (f flagList) ListFlags(context.Context) ([]server.Flag, error) { return f, nil }
func (f flagList) ListEnvironments(context.Context) ([]string, error) {
	return []string{"production", "staging"}, nil
}

func TestInsightsList(t *testing.T) {
	now := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	old := now.Add(-30 * 24 * time.Hour)
	flags := flagList{
		{Flag: engine.Flag{Key: "used"}, CreatedAt: old},
		{Flag: engine.Flag{Key: "unused"}, CreatedAt: old},
		{Flag: engine.Flag{Key: "retired", Archived: true}, CreatedAt: old},
	}
	st := listStore{list: []usage.FlagUsage{
		{Environment: "production", FlagKey: "used", LastEvaluated: now.Add(-time.Hour),
			Hourly: []usage.HourlyCount{{Hour: now.Add(-time.Hour), Variant: "on", Count: 3}, {Hour: now.Add(-time.Hour), Variant: "off", Count: 4}}},
		{Environment: "staging", FlagKey: "used", LastEvaluated: now.Add(-9 * 24 * time.Hour)},
	}}
	in := &usage.Insights{Store: st, Flags: flags, Now: func() time.Time { return now }}
	all, err := in.List(context.Background(), usage.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("want 2 flags × 2 environments (archived left out), got %d: %+v", len(all), all)
	}
	stale, err := in.List(context.Background(), usage.Query{Environment: "production", StaleOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != 1 || stale[0].FlagKey != "unused" || stale[0].StaleReason != usage.StaleNeverEvaluated {
		t.Errorf("stale in production: %+v", stale)
	}
	used, err := in.List(context.Background(), usage.Query{FlagKey: "used"})
	if err != nil {
		t.Fatal(err)
	}
	if len(used) != 2 || used[0].Stale || used[0].EvaluationsLastDay != 7 || !used[1].Stale || used[1].StaleReason != usage.StaleNotEvaluated {
		t.Errorf("used: %+v", used)
	}
	if _, err := in.List(context.Background(), usage.Query{FlagKey: "ghost"}); server.ErrorCode(err) != server.ENOTFOUND {
		t.Errorf("unknown flag: %v", err)
	}
	if _, err := in.List(context.Background(), usage.Query{Environment: "qa"}); server.ErrorCode(err) != server.ENOTFOUND {
		t.Errorf("unknown environment: %v", err)
	}
}

// TestInsightsHours: a query for a week of hourly counts gets them all,
// the default a day's; evaluations of the last day count the day's only;
// more than a week is refused naming the field hours.
func TestInsightsHours(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)
	hour := now.Truncate(time.Hour)
	st := listStore{list: []usage.FlagUsage{{Environment: "production", FlagKey: "used", LastEvaluated: now,
		Hourly: []usage.HourlyCount{
			{Hour: hour.Add(-6 * 24 * time.Hour), Variant: "on", Count: 5},
			{Hour: hour.Add(-2 * 24 * time.Hour), Variant: "off", Count: 2},
			{Hour: hour.Add(-time.Hour), Variant: "on", Count: 3},
		}}}}
	in := &usage.Insights{Store: st, Flags: flagList{{Flag: engine.Flag{Key: "used"}}}, Now: func() time.Time { return now }}
	for _, c := range []struct {
		hours, entries int
	}{{0, 1}, {24, 1}, {72, 2}, {usage.MaxHours, 3}} {
		vs, err := in.List(context.Background(), usage.Query{Environment: "production", FlagKey: "used", Hours: c.hours})
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 1 || len(vs[0].Hourly) != c.entries || vs[0].EvaluationsLastDay != 3 {
			t.Errorf("hours %d: %+v, want %d hourly counts and 3 evaluations in the last day", c.hours, vs, c.entries)
		}
	}
	for _, h := range []int{-1, usage.MaxHours + 1} {
		_, err := in.List(context.Background(), usage.Query{Hours: h})
		var e *server.Error
		if !errors.As(err, &e) || e.Code != server.EINVALID || e.Field != "hours" {
			t.Errorf("hours %d: %v, want invalid field hours", h, err)
		}
	}
}

// Issue 11 F7: a report counts only what the known function accepts, at
// most MaxCountsPerReport of it, and a credential's service names beyond
// MaxServicesPerSource in an hour count as one.
func TestAggregatorBoundsReports(t *testing.T) {
	clk := &clock{now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	st := &batchStore{}
	a := usage.NewAggregator(st, usage.WithClock(clk.Now))
	known := func(flag, variant string) bool { return flag == "checkout" && (variant == "on" || variant == "off") }
	r := &flagpolev1.UsageReport{}
	for i := range 2 * usage.MaxCountsPerReport {
		r.Counts = append(r.Counts, &flagpolev1.UsageCount{FlagKey: "checkout", Variant: fmt.Sprintf("invented-%d", i), Count: 1})
	}
	r.Counts = append(r.Counts, &flagpolev1.UsageCount{FlagKey: "checkout", Variant: "on", Count: 1})
	if n := a.Report("token:a", "production", "billing", r, known); n != 0 {
		t.Fatalf("took %d counts of invented variants (the known one is past the per-report bound)", n)
	}
	for i := range usage.MaxServicesPerSource + 50 {
		a.Report("token:a", "production", fmt.Sprintf("svc-%d", i), &flagpolev1.UsageReport{Counts: []*flagpolev1.UsageCount{{FlagKey: "checkout", Variant: "on", Count: 1}}}, known)
	}
	a.Report("token:b", "production", "svc-x", &flagpolev1.UsageReport{Counts: []*flagpolev1.UsageCount{{FlagKey: "checkout", Variant: "off", Count: 1}}}, known)
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	services := map[string]int64{}
	for _, c := range st.batches[0] {
		if c.FlagKey != "checkout" || (c.Variant != "on" && c.Variant != "off") {
			t.Fatalf("stored %+v", c)
		}
		services[c.Service] += c.Count
	}
	if len(services) != usage.MaxServicesPerSource+2 || services[usage.OtherService] != 50 || services["svc-x"] != 1 {
		t.Fatalf("%d services, %d under %s; want %d and 50", len(services), services[usage.OtherService], usage.OtherService, usage.MaxServicesPerSource+2)
	}
}
