// Package storetest is the contract suite of server.Store: one set of tests
// that every store (SQLite and PostgreSQL) runs, so the service
// can rely on the same behaviour from each. A store's own test calls Run
// with a function that opens a fresh, empty, migrated store; RunAuth and
// RunUsage do the same for the auth.Store and usage.Store each store also
// implements, and the Benchmark functions run the same workloads on each,
// so their numbers compare directly.
//
// Beyond the Tx method contracts it checks that an Update is atomic (an
// error or panic leaves no trace), isolated (a View never sees uncommitted
// writes) and serializable (concurrent read-modify-write Updates lose
// nothing). Run compares times at microsecond precision, the finest
// PostgreSQL keeps (RunAuth at the precision the store names); stored JSON
// is compared by meaning, not bytes.
package storetest

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
)

// Run runs the contract suite. open must return a new, empty store (no
// environments, flags, segments or audit entries) for each call and close
// it when t ends.
func Run(t *testing.T, open func(t *testing.T) server.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s server.Store)
	}{
		{"Environments", testEnvironments},
		{"EnvironmentsSameTime", testEnvironmentsSameTime},
		{"BumpRevision", testBumpRevision},
		{"RecreatedEnvironmentContinuesRevisions", testRecreatedEnvironmentContinuesRevisions},
		{"Flags", testFlags},
		{"FlagValueTypes", testFlagValueTypes},
		{"ListFlagsFilter", testListFlagsFilter},
		{"Configs", testConfigs},
		{"ConfigsMissingParent", testConfigsMissingParent},
		{"Segments", testSegments},
		{"Audit", testAudit},
		{"AuditFilter", testAuditFilter},
		{"AuditLimitAndPaging", testAuditLimitAndPaging},
		{"CascadeDeleteEnvironment", testCascadeDeleteEnvironment},
		{"CascadeDeleteFlag", testCascadeDeleteFlag},
		{"RollbackOnError", testRollbackOnError},
		{"RollbackOnStoreError", testRollbackOnStoreError},
		{"RollbackOnPanic", testRollbackOnPanic},
		{"ViewIsReadOnly", testViewIsReadOnly},
		{"ViewDoesNotSeeUncommitted", testViewDoesNotSeeUncommitted},
		{"CanceledContext", testCanceledContext},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"Plans", testPlans},
		{"PlansOneActive", testPlansOneActive},
		{"PlansLease", testPlansLease},
		{"PlansMissingParentAndCascade", testPlansMissingParentAndCascade},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// t0 is a fixture time in a zone other than UTC, at microsecond precision;
// stores must return it as the same instant in UTC.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.FixedZone("UTC+2", 2*3600))

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

// cmpOpts treat nil and empty slices and maps alike (JSON drops empties).
var cmpOpts = cmp.Options{cmpopts.EquateEmpty()}

func update(t *testing.T, s server.Store, fn func(server.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s server.Store, fn func(server.Tx) error) {
	t.Helper()
	if err := s.View(t.Context(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// wantError checks that err is a *server.Error with code whose message
// contains every one of mention.
func wantError(t *testing.T, what string, err error, code string, mention ...string) {
	t.Helper()
	if got := server.ErrorCode(err); got != code {
		t.Errorf("%s: error %v has code %q, want %q", what, err, got, code)
		return
	}
	for _, m := range mention {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("%s: error %q does not mention %q", what, err, m)
		}
	}
}

func wantUTC(t *testing.T, what string, times ...time.Time) {
	t.Helper()
	for _, tm := range times {
		if tm.Location() != time.UTC {
			t.Errorf("%s: time %v is in %v, want UTC", what, tm, tm.Location())
		}
	}
}

// jsonEqual reports whether two documents mean the same; two absent
// documents are equal.
func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func env(name string, minute int) server.Environment {
	return server.Environment{Name: name, Description: "the " + name + " environment", CreatedAt: at(minute)}
}

func boolFlag(key string, tags ...string) server.Flag {
	return server.Flag{
		Flag: engine.Flag{
			Key:  key,
			Name: "Flag " + key,
			Tags: tags,
			Type: engine.TypeBoolean,
			Variants: []engine.Variant{
				{Key: "on", Value: true},
				{Key: "off", Value: false},
			},
		},
		Revision:  1,
		CreatedAt: at(0),
		UpdatedAt: at(0),
	}
}

func config(envName, flagKey string, enabled bool) server.FlagConfig {
	return server.FlagConfig{
		Environment: envName,
		FlagKey:     flagKey,
		Config: engine.Config{
			Enabled:    enabled,
			OffVariant: "off",
			Default:    engine.Serve{Variant: "on"},
		},
		Revision:  1,
		UpdatedAt: at(1),
	}
}

// seed creates environments and boolean flags in one Update.
func seed(t *testing.T, s server.Store, envs []string, flags []string) {
	t.Helper()
	update(t, s, func(tx server.Tx) error {
		for i, name := range envs {
			if err := tx.CreateEnvironment(env(name, i)); err != nil {
				return err
			}
		}
		for _, key := range flags {
			if err := tx.CreateFlag(boolFlag(key)); err != nil {
				return err
			}
		}
		return nil
	})
}

func ctxCanceled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}
