package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
)

func testCascadeDeleteEnvironment(t *testing.T, s server.Store) {
	seed(t, s, []string{"development", "production"}, []string{"a", "b"})
	update(t, s, func(tx server.Tx) error {
		for _, c := range []server.FlagConfig{
			config("development", "a", true), config("development", "b", true),
			config("production", "a", true), config("production", "b", false),
		} {
			if err := tx.PutConfig(c); err != nil {
				return err
			}
		}
		return tx.DeleteEnvironment("production")
	})
	update(t, s, func(tx server.Tx) error { return tx.CreateEnvironment(env("production", 9)) })
	view(t, s, func(tx server.Tx) error {
		if list, err := tx.ListConfigs("production"); err != nil || len(list) != 0 {
			t.Errorf("recreated environment has %d configurations (err %v), want none", len(list), err)
		}
		if list, err := tx.ListConfigs("development"); err != nil || len(list) != 2 {
			t.Errorf("other environment has %d configurations (err %v), want 2", len(list), err)
		}
		if list, err := tx.ListFlags(server.FlagFilter{}); err != nil || len(list) != 2 {
			t.Errorf("%d flags left (err %v), want 2", len(list), err)
		}
		return nil
	})
}

func testCascadeDeleteFlag(t *testing.T, s server.Store) {
	seed(t, s, []string{"development", "production"}, []string{"a", "b"})
	update(t, s, func(tx server.Tx) error {
		for _, c := range []server.FlagConfig{
			config("development", "a", true), config("development", "b", true), config("production", "a", true),
		} {
			if err := tx.PutConfig(c); err != nil {
				return err
			}
		}
		if err := tx.CreateSegment(server.Segment{Segment: engine.Segment{Key: "a"}, Revision: 1}); err != nil {
			return err
		}
		return tx.DeleteFlag("a")
	})
	view(t, s, func(tx server.Tx) error {
		for _, e := range []string{"development", "production"} {
			_, err := tx.GetConfig(e, "a")
			wantError(t, "GetConfig of a deleted flag in "+e, err, server.ENOTFOUND, `"a"`)
		}
		list, err := tx.ListConfigs("development")
		if err != nil || len(list) != 1 || list[0].FlagKey != "b" {
			t.Errorf("ListConfigs(development) = %+v (err %v), want only b", list, err)
		}
		if _, err := tx.GetSegment("a"); err != nil {
			t.Errorf("segment with the deleted flag's key: %v", err)
		}
		return nil
	})
	update(t, s, func(tx server.Tx) error { return tx.CreateFlag(boolFlag("a")) })
	view(t, s, func(tx server.Tx) error {
		_, err := tx.GetConfig("development", "a")
		wantError(t, "GetConfig of a recreated flag", err, server.ENOTFOUND, `"a"`)
		return nil
	})
}

var errBoom = errors.New("boom")

// writeEverything does one write of every kind, on top of seed's
// "development" environment.
func writeEverything(tx server.Tx) error {
	steps := []func() error{
		func() error { return tx.CreateEnvironment(env("qa", 5)) },
		func() error { return tx.CreateFlag(boolFlag("new")) },
		func() error { return tx.PutConfig(config("development", "new", true)) },
		func() error { return tx.PutConfig(config("development", "old", false)) },
		func() error {
			return tx.UpdateEnvironment(server.Environment{Name: "development", Description: "changed"})
		},
		func() error { _, err := tx.BumpRevision("development"); return err },
		func() error {
			return tx.CreateSegment(server.Segment{Segment: engine.Segment{Key: "seg"}, Revision: 1})
		},
		func() error { return tx.DeleteFlag("doomed") },
		func() error { _, err := tx.AppendAudit(entry(0, "flag.create", "flag", "new", "")); return err },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// wantUntouched checks that nothing writeEverything does is visible.
func wantUntouched(t *testing.T, s server.Store) {
	t.Helper()
	view(t, s, func(tx server.Tx) error {
		_, err := tx.GetEnvironment("qa")
		wantError(t, "created environment", err, server.ENOTFOUND)
		_, err = tx.GetFlag("new")
		wantError(t, "created flag", err, server.ENOTFOUND)
		_, err = tx.GetConfig("development", "old")
		wantError(t, "put config", err, server.ENOTFOUND)
		_, err = tx.GetSegment("seg")
		wantError(t, "created segment", err, server.ENOTFOUND)
		if _, err := tx.GetFlag("doomed"); err != nil {
			t.Errorf("deleted flag: %v", err)
		}
		dev, err := tx.GetEnvironment("development")
		if err != nil {
			return err
		}
		if dev.Revision != 0 || dev.Description != env("development", 0).Description {
			t.Errorf("development = %+v, want revision 0 and the original description", dev)
		}
		audit, err := tx.ListAudit(server.AuditFilter{})
		if len(audit) != 0 {
			t.Errorf("%d audit entries, want none", len(audit))
		}
		return err
	})
}

func testRollbackOnError(t *testing.T, s server.Store) {
	seed(t, s, []string{"development"}, []string{"old", "doomed"})
	err := s.Update(t.Context(), func(tx server.Tx) error {
		if err := writeEverything(tx); err != nil {
			t.Errorf("writes before the failure: %v", err)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Errorf("Update returned %v, want fn's error", err)
	}
	wantUntouched(t, s)
}

// testRollbackOnStoreError fails a transaction with the store's own error
// after several writes, as the service does when a key is taken.
func testRollbackOnStoreError(t *testing.T, s server.Store) {
	seed(t, s, []string{"development"}, []string{"old", "doomed"})
	err := s.Update(t.Context(), func(tx server.Tx) error {
		if err := writeEverything(tx); err != nil {
			t.Errorf("writes before the failure: %v", err)
		}
		return tx.CreateFlag(boolFlag("old"))
	})
	wantError(t, "Update", err, server.EEXISTS, `"old"`)
	wantUntouched(t, s)
}

func testRollbackOnPanic(t *testing.T, s server.Store) {
	seed(t, s, []string{"development"}, []string{"old", "doomed"})
	func() {
		defer func() {
			if r := recover(); r != errBoom {
				t.Errorf("recovered %v, want the panic of fn", r)
			}
		}()
		_ = s.Update(t.Context(), func(tx server.Tx) error {
			if err := writeEverything(tx); err != nil {
				t.Errorf("writes before the panic: %v", err)
			}
			panic(errBoom)
		})
	}()
	wantUntouched(t, s)
	// The store still works after the panic.
	update(t, s, func(tx server.Tx) error { return tx.CreateFlag(boolFlag("after-panic")) })
}

func testViewIsReadOnly(t *testing.T, s server.Store) {
	seed(t, s, []string{"development"}, nil)
	err := s.View(t.Context(), func(tx server.Tx) error { return tx.CreateFlag(boolFlag("sneaky")) })
	if err == nil {
		t.Errorf("CreateFlag in a View succeeded, want an error")
	}
	err = s.View(t.Context(), func(tx server.Tx) error {
		_, err := tx.BumpRevision("development")
		return err
	})
	if err == nil {
		t.Errorf("BumpRevision in a View succeeded, want an error")
	}
	view(t, s, func(tx server.Tx) error {
		_, err := tx.GetFlag("sneaky")
		wantError(t, "flag created in a View", err, server.ENOTFOUND)
		dev, err := tx.GetEnvironment("development")
		if err == nil && dev.Revision != 0 {
			t.Errorf("revision bumped in a View: %d", dev.Revision)
		}
		return err
	})
}

// testViewDoesNotSeeUncommitted holds an Update open after it wrote and
// reads from a View meanwhile.
func testViewDoesNotSeeUncommitted(t *testing.T, s server.Store) {
	seed(t, s, []string{"development"}, nil)
	written, release := make(chan struct{}), make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce() // also when a check below fails the test
	done := make(chan error, 1)
	go func() {
		done <- s.Update(t.Context(), func(tx server.Tx) error {
			if err := tx.CreateFlag(boolFlag("pending")); err != nil {
				return err
			}
			if _, err := tx.BumpRevision("development"); err != nil {
				return err
			}
			close(written)
			<-release
			return nil
		})
	}()
	select {
	case <-written:
	case err := <-done:
		t.Fatalf("Update ended before the check: %v", err)
	}
	view(t, s, func(tx server.Tx) error {
		_, err := tx.GetFlag("pending")
		wantError(t, "uncommitted flag", err, server.ENOTFOUND)
		dev, err := tx.GetEnvironment("development")
		if err == nil && dev.Revision != 0 {
			t.Errorf("uncommitted revision visible: %d", dev.Revision)
		}
		return err
	})
	releaseOnce()
	if err := <-done; err != nil {
		t.Fatalf("Update: %v", err)
	}
	view(t, s, func(tx server.Tx) error {
		_, err := tx.GetFlag("pending")
		return err
	})
}

func testCanceledContext(t *testing.T, s server.Store) {
	called := false
	fn := func(tx server.Tx) error { called = true; return nil }
	for name, run := range map[string]func(context.Context, func(server.Tx) error) error{"Update": s.Update, "View": s.View} {
		called = false
		err := run(ctxCanceled(t), fn)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context = %v, want context.Canceled", name, err)
		}
		if called {
			t.Errorf("%s with a canceled context called fn", name)
		}
	}
}

// testConcurrentUpdates runs read-modify-write Updates from several
// goroutines: every one must commit and none may be lost, so an Update
// must behave as if it ran alone.
func testConcurrentUpdates(t *testing.T, s server.Store) {
	seed(t, s, []string{"development"}, []string{"counter"})
	const workers, rounds = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, (workers+1)*rounds)
	for range workers {
		wg.Go(func() {
			for range rounds {
				errs <- s.Update(t.Context(), incrementAll)
			}
		})
	}
	// Readers run alongside and always see a consistent state.
	wg.Go(func() {
		for range rounds {
			errs <- s.View(t.Context(), func(tx server.Tx) error {
				f, err := tx.GetFlag("counter")
				if err != nil {
					return err
				}
				dev, err := tx.GetEnvironment("development")
				if err == nil && dev.Revision != f.Revision-1 {
					t.Errorf("View saw revision %d with flag revision %d", dev.Revision, f.Revision)
				}
				return err
			})
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Update: %v", err)
		}
	}
	view(t, s, func(tx server.Tx) error {
		f, err := tx.GetFlag("counter")
		if err != nil {
			return err
		}
		dev, err := tx.GetEnvironment("development")
		if err != nil {
			return err
		}
		audit, err := tx.ListAudit(server.AuditFilter{Limit: 1000})
		if f.Revision != 1+workers*rounds || dev.Revision != workers*rounds || len(audit) != workers*rounds {
			t.Errorf("after %d updates: flag revision %d, environment revision %d, %d audit entries; want %d, %d, %d",
				workers*rounds, f.Revision, dev.Revision, len(audit), 1+workers*rounds, workers*rounds, workers*rounds)
		}
		return err
	})
}

// incrementAll is a typical service write: read, check, write, bump, audit.
func incrementAll(tx server.Tx) error {
	f, err := tx.GetFlag("counter")
	if err != nil {
		return err
	}
	f.Revision++
	if err := tx.UpdateFlag(f); err != nil {
		return err
	}
	if _, err := tx.BumpRevision("development"); err != nil {
		return err
	}
	_, err = tx.AppendAudit(entry(0, "flag.update", "flag", "counter", ""))
	return err
}
