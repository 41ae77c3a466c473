package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/service"
)

var alice = server.Actor{Kind: "user", Name: "alice", Source: "ui"}

func entry(minute int, action, resource, key, envName string) server.AuditEntry {
	return server.AuditEntry{
		Time:        at(minute),
		Actor:       alice,
		Action:      action,
		Resource:    resource,
		Key:         key,
		Environment: envName,
		After:       json.RawMessage(fmt.Sprintf(`{"minute": %d}`, minute)),
	}
}

func appendAll(t *testing.T, s service.Store, entries []server.AuditEntry) []int64 {
	t.Helper()
	var ids []int64
	update(t, s, func(tx service.Tx) error {
		ids = ids[:0]
		for _, e := range entries {
			id, err := tx.AppendAudit(e)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	return ids
}

func testAudit(t *testing.T, s service.Store) {
	e := server.AuditEntry{
		Time:        at(3),
		Actor:       server.Actor{Kind: "token", Name: "ci-deploy", Source: "cli"},
		Action:      "config.set_enabled",
		Resource:    "config",
		Key:         "checkout.new-flow",
		Environment: "production",
		Before:      json.RawMessage(`{"enabled":false,"rules":[]}`),
		After:       json.RawMessage(`{"enabled": true, "rules": [], "note": "ünïcode"}`),
		Comment:     "INC-4711: turn it on again after the fix; naïve café ✓\nsecond line",
	}
	created := entry(1, "flag.create", "flag", "checkout.new-flow", "")
	created.Actor = server.System
	deleted := entry(5, "segment.delete", "segment", "staff", "")
	deleted.Before, deleted.After = json.RawMessage(`{"key":"staff"}`), nil

	ids := appendAll(t, s, []server.AuditEntry{created, e})
	ids = append(ids, appendAll(t, s, []server.AuditEntry{deleted})...)
	if ids[0] <= 0 || !slices.IsSorted(ids) || ids[0] == ids[1] || ids[1] == ids[2] {
		t.Fatalf("AppendAudit IDs = %v, want positive and increasing", ids)
	}
	created.ID, e.ID, deleted.ID = ids[0], ids[1], ids[2]

	view(t, s, func(tx service.Tx) error {
		got, err := tx.ListAudit(server.AuditFilter{})
		if err != nil {
			return err
		}
		want := []server.AuditEntry{deleted, e, created} // newest first
		if diff := cmp.Diff(want, got, cmp.Comparer(jsonEqual)); diff != "" {
			t.Errorf("ListAudit (-want +got):\n%s", diff)
		}
		for _, g := range got {
			wantUTC(t, "ListAudit", g.Time)
		}
		if len(got) == 3 && (got[2].Before != nil || got[0].After != nil) {
			t.Errorf("absent before/after came back as %q / %q, want nil", got[2].Before, got[0].After)
		}
		return nil
	})
}

func testAuditFilter(t *testing.T, s service.Store) {
	ids := appendAll(t, s, with([]server.AuditEntry{
		entry(0, "flag.create", "flag", "a", ""),                    // 0
		entry(1, "config.set_enabled", "config", "a", "dev"),        // 1
		entry(2, "segment.create", "segment", "a", ""),              // 2
		entry(3, "flag.create", "flag", "b", ""),                    // 3
		entry(4, "config.set", "config", "b", "prod"),               // 4
		entry(5, "environment.create", "environment", "dev", "dev"), // 5
		entry(6, "release.create", "release_plan", "a", "prod"),     // 6
	}, func(e []server.AuditEntry) {
		// by actor: alice but for 3 (token alice-ci, a longer name, not
		// alice) and 4 (user bob)
		e[3].Actor = server.Actor{Kind: "token", Name: "alice-ci", Source: "cli"}
		e[4].Actor = server.Actor{Kind: "user", Name: "bob", Source: "api"}
	}))
	cases := []struct {
		filter server.AuditFilter
		want   []int // indexes into ids, newest first
	}{
		{server.AuditFilter{}, []int{6, 5, 4, 3, 2, 1, 0}},
		{server.AuditFilter{FlagKey: "a"}, []int{6, 1, 0}},
		{server.AuditFilter{FlagKey: "dev"}, nil},
		{server.AuditFilter{Resource: "config"}, []int{4, 1}},
		{server.AuditFilter{Key: "a"}, []int{6, 2, 1, 0}},
		{server.AuditFilter{Environment: "dev"}, []int{5, 1}},
		{server.AuditFilter{FlagKey: "a", Environment: "dev"}, []int{1}},
		{server.AuditFilter{Resource: "flag", Key: "b"}, []int{3}},
		{server.AuditFilter{Since: at(2)}, []int{6, 5, 4, 3, 2}},
		{server.AuditFilter{Until: at(2)}, []int{1, 0}},
		{server.AuditFilter{Since: at(2), Until: at(4)}, []int{3, 2}},
		{server.AuditFilter{Since: at(2).Add(time.Microsecond), Until: at(4).Add(time.Microsecond)}, []int{4, 3}},
		{server.AuditFilter{Environment: "prod", Since: at(5)}, []int{6}},
		{server.AuditFilter{Environment: "prod", Since: at(5), Until: at(6)}, nil},
		{server.AuditFilter{Limit: 2}, []int{6, 5}},
		{server.AuditFilter{BeforeID: ids[3]}, []int{2, 1, 0}},
		{server.AuditFilter{Key: "a", BeforeID: ids[2], Limit: 1}, []int{1}},
		{server.AuditFilter{Actor: "alice"}, []int{6, 5, 2, 1, 0}},
		{server.AuditFilter{Actor: "alice-ci"}, []int{3}},
		{server.AuditFilter{Actor: "bob", Environment: "prod"}, []int{4}},
		{server.AuditFilter{Actor: "bob", Environment: "dev"}, nil},
		{server.AuditFilter{Actor: "ali"}, nil},
	}
	view(t, s, func(tx service.Tx) error {
		for _, c := range cases {
			got, err := tx.ListAudit(c.filter)
			if err != nil {
				return err
			}
			var want []int64
			for _, i := range c.want {
				want = append(want, ids[i])
			}
			if diff := cmp.Diff(want, auditIDs(got), cmpOpts); diff != "" {
				t.Errorf("ListAudit(%+v) IDs (-want +got):\n%s", c.filter, diff)
			}
		}
		return nil
	})
}

// with returns entries after fn changed them.
func with(entries []server.AuditEntry, fn func([]server.AuditEntry)) []server.AuditEntry {
	fn(entries)
	return entries
}

func auditIDs(entries []server.AuditEntry) []int64 {
	var ids []int64
	for _, e := range entries {
		ids = append(ids, e.ID)
	}
	return ids
}

// testAuditLimitAndPaging checks the default limit of 100 and that paging
// with BeforeID walks every entry once, newest first.
func testAuditLimitAndPaging(t *testing.T, s service.Store) {
	var entries []server.AuditEntry
	for i := range 123 {
		entries = append(entries, entry(i, "flag.update", "flag", "a", ""))
	}
	ids := appendAll(t, s, entries)
	view(t, s, func(tx service.Tx) error {
		got, err := tx.ListAudit(server.AuditFilter{})
		if err != nil {
			return err
		}
		if len(got) != 100 || got[0].ID != ids[122] || got[99].ID != ids[23] {
			t.Errorf("ListAudit with no limit: %d entries from %d to %d, want 100 from %d to %d",
				len(got), got[0].ID, got[len(got)-1].ID, ids[122], ids[23])
		}
		var walked []int64
		f := server.AuditFilter{Limit: 50}
		for pages := 0; ; pages++ {
			page, err := tx.ListAudit(f)
			if err != nil {
				return err
			}
			if len(page) == 0 || pages > 10 {
				break
			}
			walked = append(walked, auditIDs(page)...)
			f.BeforeID = page[len(page)-1].ID
		}
		want := slices.Clone(ids)
		slices.Reverse(want)
		if diff := cmp.Diff(want, walked); diff != "" {
			t.Errorf("paging with BeforeID (-want +got):\n%s", diff)
		}
		return nil
	})
}
