package service_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/service"
	"github.com/flagpole/flagpole/server/sqlite"
)

// recorder is a Publisher that keeps every change.
type recorder struct {
	mu      sync.Mutex
	changes []server.Change
}

func (r *recorder) Publish(c server.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
}

// take returns and forgets the changes published so far.
func (r *recorder) take() []server.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.changes
	r.changes = nil
	return c
}

type fixture struct {
	t   testing.TB
	ctx context.Context
	db  *sqlite.DB
	svc *service.Service
	pub *recorder
}

// newFixture opens a real SQLite file in t.TempDir with the default
// environments created.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "flagpole.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	pub := &recorder{}
	svc := service.New(db, service.WithPublisher(pub))
	if err := svc.EnsureDefaults(ctx); err != nil {
		t.Fatal(err)
	}
	pub.take()
	return &fixture{t: t, ctx: ctx, db: db, svc: svc, pub: pub}
}

// revisions returns every environment's revision by name.
func (f *fixture) revisions() map[string]int64 {
	f.t.Helper()
	envs, err := f.svc.ListEnvironments(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	m := map[string]int64{}
	for _, e := range envs {
		m[e.Name] = e.Revision
	}
	return m
}

// audit returns every audit entry, newest first.
func (f *fixture) audit() []server.AuditEntry {
	f.t.Helper()
	entries, _, err := f.svc.ListAudit(f.ctx, server.AuditFilter{Limit: service.MaxAuditPageSize}, "")
	if err != nil {
		f.t.Fatal(err)
	}
	return entries
}

// unchanged runs fn, which must fail, and checks that it wrote nothing: no
// audit entry, no revision bumped, nothing published.
func (f *fixture) unchanged(fn func() error) error {
	f.t.Helper()
	revs, n := f.revisions(), len(f.audit())
	f.pub.take()
	err := fn()
	if err == nil {
		f.t.Fatal("call succeeded, want an error")
	}
	if got := len(f.audit()); got != n {
		f.t.Errorf("audit entries: %d before, %d after a failed call", n, got)
	}
	if got := f.revisions(); !equalRevs(got, revs) {
		f.t.Errorf("revisions moved on a failed call: %v → %v", revs, got)
	}
	if c := f.pub.take(); len(c) != 0 {
		f.t.Errorf("a failed call published %d changes", len(c))
	}
	return err
}

// noop runs fn, which must succeed without writing anything.
func (f *fixture) noop(fn func() error) {
	f.t.Helper()
	revs, n := f.revisions(), len(f.audit())
	f.pub.take()
	if err := fn(); err != nil {
		f.t.Fatal(err)
	}
	if got := len(f.audit()); got != n {
		f.t.Errorf("a no-op change wrote %d audit entries", got-n)
	}
	if got := f.revisions(); !equalRevs(got, revs) {
		f.t.Errorf("a no-op change moved revisions: %v → %v", revs, got)
	}
	if c := f.pub.take(); len(c) != 0 {
		f.t.Errorf("a no-op change published %d changes", len(c))
	}
}

func equalRevs(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// wantCode checks err's *server.Error code and, for EINVALID, its field.
func wantCode(t *testing.T, err error, code, field string) *server.Error {
	t.Helper()
	var e *server.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want a *server.Error %s", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("code = %s (%v), want %s", e.Code, e, code)
	}
	if field != "" && e.Field != field {
		t.Fatalf("field = %q (%v), want %q", e.Field, e, field)
	}
	return e
}

func boolFlag(key string) engine.Flag {
	return engine.Flag{Key: key, Name: key, Type: engine.TypeBoolean}
}

func stringFlag(key string, variants ...string) engine.Flag {
	f := engine.Flag{Key: key, Type: engine.TypeString}
	for _, v := range variants {
		f.Variants = append(f.Variants, engine.Variant{Key: v, Value: v + "-value"})
	}
	return f
}

func (f *fixture) createFlag(def engine.Flag) server.Flag {
	f.t.Helper()
	fl, _, err := f.svc.CreateFlag(f.ctx, def)
	if err != nil {
		f.t.Fatal(err)
	}
	f.pub.take()
	return fl
}
