package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/service"
	"github.com/flagpole/flagpole/server/usage"
)

// UsageStore is a store that keeps both the service's records and the
// flag usage of server/usage, in one database.
type UsageStore interface {
	service.Store
	usage.Store
}

// RunUsage runs the usage.Store suite. open must return a new, empty store,
// closed when t ends.
func RunUsage(t *testing.T, open func(t *testing.T) UsageStore) {
	t.Run("RoundTrip", func(t *testing.T) { testUsageRoundTrip(t, usageDB(t, open(t))) })
}

// usageDB seeds db with the environment production and the boolean flag
// checkout configured there.
func usageDB(t *testing.T, db UsageStore) UsageStore {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	err := db.Update(ctx, func(tx service.Tx) error {
		if err := tx.CreateEnvironment(server.Environment{Name: "production", CreatedAt: now}); err != nil {
			return err
		}
		f := server.Flag{Flag: engine.Flag{Key: "checkout", Type: engine.TypeBoolean,
			Variants: []engine.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}}, Revision: 1, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateFlag(f); err != nil {
			return err
		}
		return tx.PutConfig(server.FlagConfig{FlagKey: "checkout", Environment: "production",
			Config: engine.Config{OffVariant: "off", Default: engine.Serve{Variant: "on"}}, Revision: 1, UpdatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func usageCount(svc, variant string, when time.Time, n int64) usage.Count {
	return usage.Count{Environment: "production", FlagKey: "checkout", Service: svc, Variant: variant,
		Hour: when.Truncate(time.Hour), Count: n, First: when, Last: when}
}

func testUsageRoundTrip(t *testing.T, db UsageStore) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 10, 15, 0, 0, time.UTC)
	prune := t0.Add(-usage.Retention)
	if err := db.AddUsage(ctx, []usage.Count{
		usageCount("billing", "on", t0, 5),
		usageCount("search", "on", t0.Add(time.Minute), 2),
		{Environment: "production", FlagKey: "ghost", Service: "x", Variant: "on", Hour: t0.Truncate(time.Hour), Count: 1, First: t0, Last: t0},
		{Environment: "nowhere", FlagKey: "checkout", Service: "x", Variant: "on", Hour: t0.Truncate(time.Hour), Count: 1, First: t0, Last: t0},
	}, prune); err != nil {
		t.Fatal(err)
	}
	list, err := db.ListUsage(ctx, "", prune)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("usage of unknown flags or environments was kept: %+v", list)
	}
	u := list[0]
	if !u.LastEvaluated.Equal(t0.Add(time.Minute)) || !u.FirstEvaluated.Equal(t0) || len(u.Services) != 2 ||
		u.SingleVariant != "on" || !u.SingleVariantSince.Equal(t0) {
		t.Fatalf("after first flush: %+v", u)
	}
	if len(u.Hourly) != 1 || u.Hourly[0].Count != 7 {
		t.Fatalf("hourly: %+v", u.Hourly)
	}

	// Still only "on" past the retention: the streak goes on. Then "off"
	// breaks it.
	t1 := t0.Add(usage.Retention + time.Hour)
	if err := db.AddUsage(ctx, []usage.Count{usageCount("billing", "on", t1, 1)}, t1.Add(-usage.Retention)); err != nil {
		t.Fatal(err)
	}
	list, _ = db.ListUsage(ctx, "production", t1.Add(-usage.Retention))
	u = list[0]
	if u.SingleVariant != "on" || !u.SingleVariantSince.Equal(t0) || !u.LastEvaluated.Equal(t1) {
		t.Fatalf("streak should continue: %+v", u)
	}
	if len(u.Hourly) != 1 || !u.Hourly[0].Hour.Equal(t1.Truncate(time.Hour)) {
		t.Fatalf("hourly counts older than the retention should be pruned: %+v", u.Hourly)
	}
	t2 := t1.Add(time.Hour)
	if err := db.AddUsage(ctx, []usage.Count{usageCount("billing", "off", t2, 1)}, t2.Add(-usage.Retention)); err != nil {
		t.Fatal(err)
	}
	list, _ = db.ListUsage(ctx, "production", t2.Add(-usage.Retention))
	if u = list[0]; u.SingleVariant != "off" || !u.SingleVariantSince.Equal(t2) {
		t.Fatalf("a new variant restarts the streak: %+v", u)
	}
	if err := db.AddUsage(ctx, []usage.Count{usageCount("billing", "off", t2, 1), usageCount("billing", "on", t2, 1)}, t2.Add(-usage.Retention)); err != nil {
		t.Fatal(err)
	}
	list, _ = db.ListUsage(ctx, "production", t2.Add(-usage.Retention))
	if u = list[0]; u.SingleVariant != "" {
		t.Fatalf("two variants in a flush break the streak: %+v", u)
	}

	// Usage goes with its flag.
	if err := db.Update(ctx, func(tx service.Tx) error { return tx.DeleteFlag("checkout") }); err != nil {
		t.Fatal(err)
	}
	if list, _ = db.ListUsage(ctx, "", time.Time{}); len(list) != 0 {
		t.Fatalf("usage of a deleted flag remains: %+v", list)
	}
}
