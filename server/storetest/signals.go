package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
)

// SignalStore is a store that keeps both the service's records and the
// signals of server/signals, in one database.
type SignalStore interface {
	server.Store
	server.SignalStore
}

// RunSignals runs the server.SignalStore suite. open must return a new, empty
// store, closed when t ends.
func RunSignals(t *testing.T, open func(t *testing.T) SignalStore) {
	t.Run("RoundTrip", func(t *testing.T) { testSignalsRoundTrip(t, signalsDB(t, open(t))) })
	t.Run("Prune", func(t *testing.T) { testSignalsPrune(t, signalsDB(t, open(t))) })
	t.Run("SumSquares", func(t *testing.T) { testSignalsSumSquares(t, signalsDB(t, open(t))) })
}

// signalsDB seeds db with the environments production and staging and the
// boolean flag checkout (implicit on/off variants) configured in
// production only.
func signalsDB(t *testing.T, db SignalStore) SignalStore {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	err := db.Update(ctx, func(tx server.Tx) error {
		for _, env := range []string{"production", "staging"} {
			if err := tx.CreateEnvironment(server.Environment{Name: env, CreatedAt: now}); err != nil {
				return err
			}
		}
		f := server.Flag{Flag: engine.Flag{Key: "checkout", Type: engine.TypeBoolean}, Revision: 1, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateFlag(f); err != nil {
			return err
		}
		return tx.PutConfig(server.FlagConfig{FlagKey: "checkout", Environment: "production",
			Config: engine.Config{OffVariant: "off", Default: engine.Serve{Variant: "on"}, Guarded: true}, Revision: 1, UpdatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func signal(env, flag, variant, event string, minute time.Time, n int64, sum float64) server.SignalCount {
	return server.SignalCount{Environment: env, FlagKey: flag, Variant: variant, Event: event, Minute: minute, Count: n, Sum: sum}
}

func testSignalsRoundTrip(t *testing.T, db SignalStore) {
	ctx := context.Background()
	m0 := time.Date(2026, 3, 1, 10, 15, 0, 0, time.UTC)
	m1 := m0.Add(time.Minute)
	prune := m0.Add(-server.SignalRetention)
	if err := db.AddSignals(ctx, []server.SignalCount{
		signal("production", "checkout", "on", "error", m0, 3, 0),
		signal("production", "checkout", "on", "latency", m0, 2, 250.5),
		signal("production", "checkout", "off", server.Exposure, m0, 90, 0),
		signal("production", "checkout", "on", server.Exposure, m0, 10, 0),
		signal("production", "checkout", "off", "error", m1, 1, 0),
		signal("production", "checkout", "maybe", "error", m0, 1, 0),                                       // unknown variant
		signal("production", "ghost", "on", "error", m0, 1, 0),                                             // unknown flag
		signal("staging", "checkout", "on", "error", m0, 1, 0),                                             // not configured there
		signal("nowhere", "checkout", "on", "error", m0, 1, 0),                                             // unknown environment
		signal("production", "checkout", "on", "error", m0.Add(-server.SignalRetention-time.Minute), 1, 0), // pruned at once
	}, prune); err != nil {
		t.Fatal(err)
	}
	// A second flush adds up.
	if err := db.AddSignals(ctx, []server.SignalCount{
		signal("production", "checkout", "on", "error", m0, 2, 0),
		signal("production", "checkout", "on", "latency", m0, 1, 49.5),
	}, prune); err != nil {
		t.Fatal(err)
	}
	got, err := db.ListSignals(ctx, "production", "checkout", prune)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"10:15 off  90 0",
		"10:15 on  10 0",
		"10:15 on error 5 0",
		"10:15 on latency 3 300",
		"10:16 off error 1 0",
	}
	if g := signalRows(got); fmt.Sprint(g) != fmt.Sprint(want) {
		t.Errorf("ListSignals =\n%q\nwant\n%q", g, want)
	}
	got, err = db.ListSignals(ctx, "production", "checkout", m1.Add(30*time.Second)) // within minute m1
	if err != nil {
		t.Fatal(err)
	}
	if g := signalRows(got); fmt.Sprint(g) != fmt.Sprint(want[4:]) {
		t.Errorf("ListSignals since m1 = %q", g)
	}
	for _, q := range [][2]string{{"staging", "checkout"}, {"production", "ghost"}} {
		if got, err := db.ListSignals(ctx, q[0], q[1], prune); err != nil || len(got) != 0 {
			t.Errorf("ListSignals(%s, %s) = %v, %v; want nothing", q[0], q[1], got, err)
		}
	}
}

func signalRows(cs []server.SignalCount) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		if c.Environment == "" || c.FlagKey == "" || c.Minute.Location() != time.UTC {
			return []string{fmt.Sprintf("bad row %+v", c)}
		}
		out[i] = fmt.Sprintf("%s %s %s %d %g", c.Minute.Format("15:04"), c.Variant, c.Event, c.Count, c.Sum)
	}
	return out
}

func testSignalsPrune(t *testing.T, db SignalStore) {
	ctx := context.Background()
	old := time.Date(2026, 3, 1, 10, 15, 0, 0, time.UTC)
	recent := old.Add(server.SignalRetention)
	if err := db.AddSignals(ctx, []server.SignalCount{signal("production", "checkout", "on", "error", old, 1, 0)}, old.Add(-server.SignalRetention)); err != nil {
		t.Fatal(err)
	}
	if err := db.AddSignals(ctx, []server.SignalCount{signal("production", "checkout", "on", "error", recent, 1, 0)}, recent.Add(-server.SignalRetention+time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := db.ListSignals(ctx, "production", "checkout", old.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if g := signalRows(got); len(g) != 1 || g[0] != recent.Format("15:04")+" on error 1 0" {
		t.Errorf("after pruning: %q", g)
	}
}

// testSignalsSumSquares: the sum of the squares of the values (mean guards'
// variance) is stored, added up across flushes like the sum, and read back;
// counts without it (older SDKs) keep 0.
func testSignalsSumSquares(t *testing.T, db SignalStore) {
	ctx := context.Background()
	m0 := time.Date(2026, 3, 1, 10, 15, 0, 0, time.UTC)
	prune := m0.Add(-server.SignalRetention)
	latency := func(variant string, n int64, sum, squares float64) server.SignalCount {
		c := signal("production", "checkout", variant, "latency", m0, n, sum)
		c.SumSquares = squares
		return c
	}
	// 0.1 s, 0.2 s and 0.3 s for on; 0.1 s twice for off.
	if err := db.AddSignals(ctx, []server.SignalCount{latency("on", 2, 0.3, 0.05), latency("off", 2, 0.2, 0)}, prune); err != nil {
		t.Fatal(err)
	}
	if err := db.AddSignals(ctx, []server.SignalCount{latency("on", 1, 0.3, 0.09)}, prune); err != nil {
		t.Fatal(err)
	}
	got, err := db.ListSignals(ctx, "production", "checkout", prune)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, c := range got {
		rows = append(rows, fmt.Sprintf("%s %d %.6g %.6g mean %.6g sd %.6g", c.Variant, c.Count, c.Sum, c.SumSquares, c.Mean(), c.StdDev()))
	}
	want := []string{
		"off 2 0.2 0 mean 0.1 sd 0", // no squares sent: no standard deviation
		"on 3 0.6 0.14 mean 0.2 sd 0.1",
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("ListSignals =\n%q\nwant\n%q", rows, want)
	}
}
