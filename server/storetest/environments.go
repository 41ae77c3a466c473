package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/service"
)

func testEnvironments(t *testing.T, s service.Store) {
	prod := env("production", 2)
	prod.Protected = true
	prod.RequireComment = true
	prod.Revision = 7
	created := []server.Environment{env("staging", 1), prod, env("development", 0)}
	update(t, s, func(tx service.Tx) error {
		for _, e := range created {
			if err := tx.CreateEnvironment(e); err != nil {
				return err
			}
		}
		return nil
	})

	view(t, s, func(tx service.Tx) error {
		got, err := tx.GetEnvironment("production")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(prod, got, cmpOpts); diff != "" {
			t.Errorf("GetEnvironment (-want +got):\n%s", diff)
		}
		wantUTC(t, "GetEnvironment", got.CreatedAt)
		list, err := tx.ListEnvironments()
		if err != nil {
			return err
		}
		want := []server.Environment{created[2], created[0], created[1]} // oldest first
		if diff := cmp.Diff(want, list, cmpOpts); diff != "" {
			t.Errorf("ListEnvironments (-want +got):\n%s", diff)
		}
		_, err = tx.GetEnvironment("qa")
		wantError(t, "GetEnvironment(qa)", err, server.ENOTFOUND, `"qa"`, "not found")
		return nil
	})

	err := s.Update(t.Context(), func(tx service.Tx) error { return tx.CreateEnvironment(env("staging", 9)) })
	wantError(t, "CreateEnvironment(staging) again", err, server.EEXISTS, `"staging"`)

	// UpdateEnvironment stores description, protected and require_comment,
	// nothing else.
	changed := prod
	changed.Description = "live traffic"
	changed.Protected = false
	changed.RequireComment = false
	changed.Revision = 99
	changed.CreatedAt = at(50)
	update(t, s, func(tx service.Tx) error { return tx.UpdateEnvironment(changed) })
	view(t, s, func(tx service.Tx) error {
		got, err := tx.GetEnvironment("production")
		want := prod
		want.Description, want.Protected, want.RequireComment = "live traffic", false, false
		if diff := cmp.Diff(want, got, cmpOpts); err == nil && diff != "" {
			t.Errorf("after UpdateEnvironment (-want +got):\n%s", diff)
		}
		return err
	})
	err = s.Update(t.Context(), func(tx service.Tx) error { return tx.UpdateEnvironment(env("qa", 0)) })
	wantError(t, "UpdateEnvironment(qa)", err, server.ENOTFOUND, `"qa"`)

	update(t, s, func(tx service.Tx) error { return tx.DeleteEnvironment("staging") })
	view(t, s, func(tx service.Tx) error {
		_, err := tx.GetEnvironment("staging")
		wantError(t, "GetEnvironment after delete", err, server.ENOTFOUND, `"staging"`)
		list, err := tx.ListEnvironments()
		if len(list) != 2 {
			t.Errorf("ListEnvironments after delete: %d environments, want 2", len(list))
		}
		return err
	})
	err = s.Update(t.Context(), func(tx service.Tx) error { return tx.DeleteEnvironment("staging") })
	wantError(t, "DeleteEnvironment(staging) again", err, server.ENOTFOUND, `"staging"`)
}

// testEnvironmentsSameTime creates environments with one timestamp, as a
// bootstrap does: they list in the order they were created, not by name.
func testEnvironmentsSameTime(t *testing.T, s service.Store) {
	names := []string{"development", "staging", "production", "alpha"}
	seedAt := func(names []string, minute int) {
		update(t, s, func(tx service.Tx) error {
			for _, name := range names {
				if err := tx.CreateEnvironment(env(name, minute)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	seedAt(names[:3], 0)
	seedAt(names[3:], 0)
	view(t, s, func(tx service.Tx) error {
		list, err := tx.ListEnvironments()
		var got []string
		for _, e := range list {
			got = append(got, e.Name)
		}
		if diff := cmp.Diff(names, got); err == nil && diff != "" {
			t.Errorf("ListEnvironments (-want +got):\n%s", diff)
		}
		return err
	})
}

func testBumpRevision(t *testing.T, s service.Store) {
	seed(t, s, []string{"development", "production"}, nil)
	for want := int64(1); want <= 3; want++ {
		update(t, s, func(tx service.Tx) error {
			got, err := tx.BumpRevision("development")
			if err == nil && got != want {
				t.Errorf("BumpRevision = %d, want %d", got, want)
			}
			return err
		})
	}
	// Two bumps in one transaction count twice.
	update(t, s, func(tx service.Tx) error {
		if _, err := tx.BumpRevision("production"); err != nil {
			return err
		}
		got, err := tx.BumpRevision("production")
		if err == nil && got != 2 {
			t.Errorf("second BumpRevision in one Update = %d, want 2", got)
		}
		return err
	})
	view(t, s, func(tx service.Tx) error {
		for name, want := range map[string]int64{"development": 3, "production": 2} {
			e, err := tx.GetEnvironment(name)
			if err != nil {
				return err
			}
			if e.Revision != want {
				t.Errorf("%s revision = %d, want %d", name, e.Revision, want)
			}
		}
		return nil
	})
	err := s.Update(t.Context(), func(tx service.Tx) error {
		_, err := tx.BumpRevision("qa")
		return err
	})
	wantError(t, "BumpRevision(qa)", err, server.ENOTFOUND, `"qa"`)
}

// testRecreatedEnvironmentContinuesRevisions: an environment deleted and
// created again under the same name starts at the deleted one's last
// revision (or the revision it is created with, when that is higher), so
// its revisions never go backwards for a client that held the old one.
// Another name is not affected, and deleting again keeps the highest.
func testRecreatedEnvironmentContinuesRevisions(t *testing.T, s service.Store) {
	seed(t, s, []string{"staging", "qa"}, nil)
	bump := func(name string, n int) (rev int64) {
		t.Helper()
		update(t, s, func(tx service.Tx) (err error) {
			for range n {
				if rev, err = tx.BumpRevision(name); err != nil {
					return err
				}
			}
			return nil
		})
		return rev
	}
	revision := func(name string) (rev int64) {
		t.Helper()
		view(t, s, func(tx service.Tx) error {
			e, err := tx.GetEnvironment(name)
			rev = e.Revision
			return err
		})
		return rev
	}
	if got := bump("staging", 12); got != 12 {
		t.Fatalf("staging revision after 12 bumps = %d", got)
	}
	update(t, s, func(tx service.Tx) error { return tx.DeleteEnvironment("staging") })
	update(t, s, func(tx service.Tx) error { return tx.CreateEnvironment(env("staging", 5)) })
	if got := revision("staging"); got != 12 {
		t.Errorf("recreated staging starts at revision %d, want 12 (the deleted one's last)", got)
	}
	if got := bump("staging", 1); got != 13 {
		t.Errorf("first bump of the recreated staging = %d, want 13", got)
	}
	if got := revision("qa"); got != 0 {
		t.Errorf("qa revision = %d, want 0 (untouched)", got)
	}

	// Deleted in the same transaction that bumps it, then recreated with a
	// higher revision than it had: the higher one wins, and the next
	// recreation continues from there.
	update(t, s, func(tx service.Tx) error {
		if _, err := tx.BumpRevision("staging"); err != nil {
			return err
		}
		return tx.DeleteEnvironment("staging")
	})
	update(t, s, func(tx service.Tx) error {
		e := env("staging", 6)
		e.Revision = 40
		return tx.CreateEnvironment(e)
	})
	if got := revision("staging"); got != 40 {
		t.Errorf("staging created at revision 40 after being deleted at 14 starts at %d, want 40", got)
	}
	update(t, s, func(tx service.Tx) error { return tx.DeleteEnvironment("staging") })
	update(t, s, func(tx service.Tx) error { return tx.CreateEnvironment(env("staging", 7)) })
	if got := revision("staging"); got != 40 {
		t.Errorf("staging recreated after being deleted at 40 starts at %d, want 40", got)
	}

	// A deletion that rolls back leaves nothing behind.
	err := s.Update(t.Context(), func(tx service.Tx) error {
		if err := tx.DeleteEnvironment("qa"); err != nil {
			return err
		}
		return server.Errorf(server.EINVALID, "rolled back")
	})
	wantError(t, "rolled back delete", err, server.EINVALID)
	update(t, s, func(tx service.Tx) error { return tx.DeleteEnvironment("qa") })
	update(t, s, func(tx service.Tx) error { return tx.CreateEnvironment(env("qa", 8)) })
	if got := revision("qa"); got != 0 {
		t.Errorf("recreated qa starts at %d, want 0", got)
	}
}
