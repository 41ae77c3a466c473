package postgres

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/postgres/pgtest"
	"github.com/flagpole/flagpole/server/service"
)

// recorder is a Handler and a service.Publisher that keeps what it is given.
type recorder struct {
	mu          sync.Mutex
	changes     []server.Change
	invalidated []string
	notify      chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1000)} }

func (r *recorder) Invalidate(env string) {
	r.mu.Lock()
	r.invalidated = append(r.invalidated, env)
	r.mu.Unlock()
	r.notify <- struct{}{}
}

func (r *recorder) Publish(c server.Change) {
	r.mu.Lock()
	r.changes = append(r.changes, c)
	r.mu.Unlock()
	r.notify <- struct{}{}
}

func (r *recorder) snapshot() ([]server.Change, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.changes), slices.Clone(r.invalidated)
}

// waitChanges waits until r holds n changes and returns them.
func (r *recorder) waitChanges(t *testing.T, n int) []server.Change {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if cs, _ := r.snapshot(); len(cs) >= n {
			return cs
		}
		select {
		case <-r.notify:
		case <-deadline:
			cs, _ := r.snapshot()
			t.Fatalf("%d changes arrived within 10s, want %d: %+v", len(cs), n, cs)
		}
	}
}

func watch(t *testing.T, db *DB) *recorder {
	t.Helper()
	r := newRecorder()
	if err := db.Watch(r); err != nil {
		t.Fatalf("Watch: %v", err)
	}
	return r
}

// changeCmp compares changes per environment: the order among
// environments is not part of the contract, the order within one is
// checked by inOrder.
var changeCmp = cmp.Options{cmpopts.EquateEmpty(), cmpopts.EquateApproxTime(time.Microsecond),
	cmpopts.SortSlices(func(a, b server.Change) bool {
		return a.Environment < b.Environment || a.Environment == b.Environment && a.Revision < b.Revision
	})}

// inOrder checks that each environment's changes come in revision order.
func inOrder(t *testing.T, changes []server.Change) {
	t.Helper()
	last := map[string]int64{}
	for _, c := range changes {
		if c.Revision <= last[c.Environment] {
			t.Errorf("%s: revision %d after %d", c.Environment, c.Revision, last[c.Environment])
		}
		last[c.Environment] = c.Revision
	}
}

// TestWatchDeliversOtherReplicasChanges: a change committed through
// replica A's service reaches replica B's handler exactly as A published it
// locally; A's handler hears nothing of its own changes; a Flagpole schema
// next door hears nothing at all.
func TestWatchDeliversOtherReplicasChanges(t *testing.T) {
	dsn := pgtest.Schema(t)
	a, b := mustOpen(t, dsn), mustOpen(t, dsn)
	neighbour := mustOpen(t, pgtest.Schema(t))
	atA, atB, atNeighbour := watch(t, a), watch(t, b), watch(t, neighbour)
	local := newRecorder()
	svc := service.New(a, service.WithPublisher(local))
	ctx := context.Background()

	if err := svc.EnsureDefaults(ctx); err != nil {
		t.Fatal(err)
	}
	flag := engine.Flag{Key: "checkout", Type: engine.TypeInteger,
		Variants: []engine.Variant{{Key: "small", Value: int64(1)}, {Key: "huge", Value: int64(engine.MaxSafeInteger)}}}
	if _, _, err := svc.CreateFlag(ctx, flag); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetEnabled(ctx, "production", "checkout", true, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateSegment(ctx, engine.Segment{Key: "staff", Match: engine.MatchAll,
		Conditions: []engine.Condition{{Attribute: "email", Operator: engine.OpEndsWith, Values: []string{"@flagpole.dev"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteFlag(ctx, "checkout", 0, true); err != nil {
		t.Fatal(err)
	}
	want, _ := local.snapshot()
	got := atB.waitChanges(t, len(want))
	if diff := cmp.Diff(want, got, changeCmp); diff != "" {
		t.Errorf("changes at replica B (-published at A +received at B):\n%s", diff)
	}
	inOrder(t, got)
	_, invalidated := atB.snapshot()
	for _, env := range []string{"development", "staging", "production"} {
		if !slices.Contains(invalidated, env) {
			t.Errorf("replica B never invalidated %s (got %v)", env, invalidated)
		}
	}

	// Deleting an environment moves no revision but must still reach B.
	if err := svc.DeleteEnvironment(ctx, "staging"); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		_, inv := atB.snapshot()
		if n := count(inv, "staging"); n >= 2 {
			break
		}
		select {
		case <-atB.notify:
		case <-deadline:
			t.Fatalf("deleting staging did not invalidate it at B: %v", inv)
		}
	}

	// Give stray deliveries a moment to show up before checking for none.
	time.Sleep(200 * time.Millisecond)
	if cs, inv := atA.snapshot(); len(cs) != 0 || len(inv) != 0 {
		t.Errorf("replica A was handed its own changes: %d changes, invalidated %v", len(cs), inv)
	}
	if cs, inv := atNeighbour.snapshot(); len(cs) != 0 || len(inv) != 0 {
		t.Errorf("another schema's replica was handed these changes: %d changes, invalidated %v", len(cs), inv)
	}
}

func count(list []string, s string) int {
	n := 0
	for _, e := range list {
		if e == s {
			n++
		}
	}
	return n
}

// TestWatchCatchesUpAfterReconnect: when B's listening connection is cut,
// changes committed meanwhile reach B from the change log once it is back.
func TestWatchCatchesUpAfterReconnect(t *testing.T) {
	dsn := pgtest.Schema(t)
	a, b := mustOpen(t, dsn), mustOpen(t, dsn)
	atB := watch(t, b)
	local := newRecorder()
	svc := service.New(a, service.WithPublisher(local))
	ctx := context.Background()
	if err := svc.EnsureDefaults(ctx); err != nil {
		t.Fatal(err)
	}
	atB.waitChanges(t, 3)

	var cut int
	err := a.pool.QueryRow(ctx, "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
		listenerName(b.replica)).Scan(&cut)
	if err != nil || cut != 1 {
		t.Fatalf("terminated %d listening connections (%v), want 1", cut, err)
	}
	if _, _, err := svc.CreateFlag(ctx, engine.Flag{Key: "late", Type: engine.TypeBoolean}); err != nil {
		t.Fatal(err)
	}
	want, _ := local.snapshot()
	got := atB.waitChanges(t, len(want))
	if diff := cmp.Diff(want, got, changeCmp); diff != "" {
		t.Errorf("changes at replica B (-published at A +received at B):\n%s", diff)
	}
	inOrder(t, got)
}

func TestWatchOnceAndClose(t *testing.T) {
	db, err := Open(t.Context(), pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Watch(newRecorder()); err != nil {
		t.Fatal(err)
	}
	if err := db.Watch(newRecorder()); err == nil {
		t.Error("second Watch succeeded")
	}
	done := make(chan error, 1)
	go func() { done <- db.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop Watch within 10s")
	}
	if err := db.Watch(newRecorder()); err == nil {
		t.Error("Watch after Close succeeded")
	}
}

// TestWatchCatchesUpEveryEnvironmentAfterReconnect: B's watcher started
// after the environments were created, so it never saw a notification for
// production; when its listening connection is cut (pg_terminate_backend)
// and a change to production, a new environment and a deleted one are
// committed through A meanwhile, B's handler still gets every Change once
// it is back, and is told of the deletion (issue 11, F2).
func TestWatchCatchesUpEveryEnvironmentAfterReconnect(t *testing.T) {
	dsn := pgtest.Schema(t)
	a, b := mustOpen(t, dsn), mustOpen(t, dsn)
	svc := service.New(a)
	ctx := context.Background()
	if err := svc.EnsureDefaults(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.CreateFlag(ctx, engine.Flag{Key: "kill-switch", Type: engine.TypeBoolean}); err != nil {
		t.Fatal(err)
	}
	atB := &forgetRecorder{recorder: newRecorder()}
	if err := b.Watch(atB); err != nil {
		t.Fatal(err)
	}

	var cut int
	err := a.pool.QueryRow(ctx, "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
		listenerName(b.replica)).Scan(&cut)
	if err != nil || cut != 1 {
		t.Fatalf("terminated %d listening connections (%v), want 1", cut, err)
	}
	local := newRecorder()
	svc = service.New(a, service.WithPublisher(local))
	if _, err := svc.SetEnabled(ctx, "production", "kill-switch", true, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateEnvironment(ctx, server.Environment{Name: "qa"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetEnabled(ctx, "qa", "kill-switch", true, 0); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteEnvironment(ctx, "development"); err != nil {
		t.Fatal(err)
	}
	want, _ := local.snapshot()
	got := atB.waitChanges(t, len(want))
	if diff := cmp.Diff(want, got, changeCmp); diff != "" {
		t.Errorf("changes at replica B after the reconnect (-published at A +received at B):\n%s", diff)
	}
	inOrder(t, got)
	deadline := time.After(10 * time.Second)
	for !slices.Contains(atB.forgotten(), "development") {
		select {
		case <-atB.notify:
		case <-deadline:
			t.Fatalf("replica B was not told that development was deleted: forgot %v", atB.forgotten())
		}
	}
}

// forgetRecorder is a recorder that is also told of deleted environments.
type forgetRecorder struct {
	*recorder
	forgot []string
}

func (r *forgetRecorder) Forget(env string) {
	r.mu.Lock()
	r.forgot = append(r.forgot, env)
	r.mu.Unlock()
	r.notify <- struct{}{}
}

func (r *forgetRecorder) forgotten() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.forgot)
}
