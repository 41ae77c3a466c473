package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
)

// The benchmarks below are the same data and the same transactions on
// every store, so the stores compare directly. A store's own benchmark of
// the same name calls one with a function that opens a new, empty store,
// closed when b ends.

// benchDB opens a store with the production environment and n boolean
// flags, each configured there with a rule and a split.
func benchDB(b *testing.B, open func(b *testing.B) server.Store, n int) server.Store {
	db := open(b)
	now := time.Now()
	err := db.Update(b.Context(), func(tx server.Tx) error {
		if err := tx.CreateEnvironment(server.Environment{Name: "production", CreatedAt: now}); err != nil {
			return err
		}
		for i := range n {
			key := fmt.Sprintf("flag-%04d", i)
			f := server.Flag{
				Flag: engine.Flag{Key: key, Name: key, Tags: []string{"bench"}, Type: engine.TypeBoolean,
					Variants: []engine.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}},
				Revision: 1, CreatedAt: now, UpdatedAt: now,
			}
			if err := tx.CreateFlag(f); err != nil {
				return err
			}
			if err := tx.PutConfig(benchConfig(key, now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return db
}

func benchConfig(key string, now time.Time) server.FlagConfig {
	return server.FlagConfig{
		FlagKey: key, Environment: "production", Revision: 1, UpdatedAt: now,
		Config: engine.Config{
			Enabled: true, OffVariant: "off",
			Rules: []engine.Rule{{
				Conditions: []engine.Condition{{Attribute: "email", Operator: engine.OpEndsWith, Values: []string{"@example.com"}}},
				Serve:      engine.Serve{Variant: "on"},
			}},
			Default: engine.Serve{Split: &engine.Split{Weights: []engine.Weight{{Variant: "on", Weight: 10}, {Variant: "off", Weight: 90}}}},
		},
	}
}

// setEnabled is a typical write: read the configuration, write it back
// changed, bump the environment's revision, append the audit entry.
func setEnabled(key string) func(server.Tx) error {
	return func(tx server.Tx) error {
		c, err := tx.GetConfig("production", key)
		if err != nil {
			return err
		}
		before, _ := json.Marshal(c.Config)
		c.Enabled = !c.Enabled
		c.Revision++
		c.UpdatedAt = time.Now()
		if err := tx.PutConfig(c); err != nil {
			return err
		}
		if _, err := tx.BumpRevision("production"); err != nil {
			return err
		}
		after, _ := json.Marshal(c.Config)
		_, err = tx.AppendAudit(server.AuditEntry{
			Time: c.UpdatedAt, Actor: server.Actor{Kind: "token", Name: "ci", Source: "cli"},
			Action: "config.set_enabled", Resource: "config", Key: key, Environment: "production",
			Before: before, After: after,
		})
		return err
	}
}

// BenchmarkWriteTransaction measures one write transaction (setEnabled)
// at a time.
func BenchmarkWriteTransaction(b *testing.B, open func(b *testing.B) server.Store) {
	db := benchDB(b, open, 10)
	fn := setEnabled("flag-0003")
	for b.Loop() {
		if err := db.Update(b.Context(), fn); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteTransactionParallel measures write throughput when many
// goroutines write at once (they queue on the store's writer).
func BenchmarkWriteTransactionParallel(b *testing.B, open func(b *testing.B) server.Store) {
	db := benchDB(b, open, 10)
	b.RunParallel(func(pb *testing.PB) {
		fn := setEnabled("flag-0003")
		for pb.Next() {
			if err := db.Update(b.Context(), fn); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkListConfigs1000 measures reading the 1000 configurations of an
// environment in one read transaction.
func BenchmarkListConfigs1000(b *testing.B, open func(b *testing.B) server.Store) {
	db := benchDB(b, open, 1000)
	for b.Loop() {
		err := db.View(b.Context(), func(tx server.Tx) error {
			configs, err := tx.ListConfigs("production")
			if err == nil && len(configs) != 1000 {
				err = fmt.Errorf("%d configs, want 1000", len(configs))
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListFlags1000 measures listing 1000 flags by tag in one read
// transaction.
func BenchmarkListFlags1000(b *testing.B, open func(b *testing.B) server.Store) {
	db := benchDB(b, open, 1000)
	for b.Loop() {
		err := db.View(b.Context(), func(tx server.Tx) error {
			flags, err := tx.ListFlags(server.FlagFilter{Tag: "bench"})
			if err == nil && len(flags) != 1000 {
				err = fmt.Errorf("%d flags, want 1000", len(flags))
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
