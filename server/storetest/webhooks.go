package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/webhook"
)

// WebhookStore is a store that also keeps webhook subscriptions and their
// outbox, and whose service transactions enqueue into that outbox.
type WebhookStore interface {
	webhook.Store
}

// RunWebhooks runs the contract suite of webhook.Store. open must return a
// new, empty store for each call.
func RunWebhooks(t *testing.T, open func(t *testing.T) WebhookStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s WebhookStore)
	}{
		{"Subscriptions", testWebhookSubscriptions},
		{"OutboxEnqueueAndList", testOutboxEnqueue},
		{"OutboxRollback", testOutboxRollback},
		{"OutboxClaimLease", testOutboxClaimLease},
		{"OutboxConcurrentClaims", testOutboxConcurrentClaims},
		{"OutboxCascade", testOutboxCascade},
		{"OutboxPrune", testOutboxPrune},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

func whUpdate(t *testing.T, s WebhookStore, fn func(tx webhook.Tx) error) {
	t.Helper()
	if err := s.UpdateWebhooks(context.Background(), fn); err != nil {
		t.Fatalf("UpdateWebhooks: %v", err)
	}
}

func sub(id string, events ...string) webhook.Subscription {
	return webhook.Subscription{ID: id, URL: "http://127.0.0.1:1/" + id, Events: events, Secret: "s-" + id,
		CreatedBy: "ada", CreatedAt: t0.UTC()}
}

func pending(id, wh string, at time.Time) webhook.Delivery {
	return webhook.Delivery{ID: id, WebhookID: wh, Kind: webhook.KindFlag, Body: []byte(`{"id":"` + id + `"}`),
		State: webhook.StatePending, NextAt: at.UTC(), CreatedAt: at.UTC(), UpdatedAt: at.UTC()}
}

func testWebhookSubscriptions(t *testing.T, s WebhookStore) {
	a := sub("wh_a", webhook.KindFlag, webhook.KindConfig)
	a.Environments, a.Slack = []string{"production"}, true
	b := sub("wh_b", webhook.KindToken)
	whUpdate(t, s, func(tx webhook.Tx) error {
		if err := tx.CreateWebhook(a); err != nil {
			return err
		}
		return tx.CreateWebhook(b)
	})
	err := s.UpdateWebhooks(context.Background(), func(tx webhook.Tx) error { return tx.CreateWebhook(a) })
	if server.ErrorCode(err) != server.EEXISTS {
		t.Errorf("CreateWebhook of a taken id = %v, want EEXISTS", err)
	}
	_ = s.ViewWebhooks(context.Background(), func(tx webhook.Tx) error {
		got, err := tx.GetWebhook("wh_a")
		if err != nil || !cmp.Equal(got, a, cmpOpts) {
			t.Errorf("GetWebhook = %+v, %v; want %+v", got, err, a)
		}
		if _, err := tx.GetWebhook("nope"); server.ErrorCode(err) != server.ENOTFOUND {
			t.Errorf("GetWebhook(nope) = %v, want ENOTFOUND", err)
		}
		all, err := tx.ListWebhooks()
		if err != nil || len(all) != 2 || all[0].ID != "wh_a" || all[1].ID != "wh_b" {
			t.Errorf("ListWebhooks = %+v, %v", all, err)
		}
		return nil
	})
	whUpdate(t, s, func(tx webhook.Tx) error { return tx.DeleteWebhook("wh_b") })
	err = s.UpdateWebhooks(context.Background(), func(tx webhook.Tx) error { return tx.DeleteWebhook("wh_b") })
	if server.ErrorCode(err) != server.ENOTFOUND {
		t.Errorf("DeleteWebhook twice = %v, want ENOTFOUND", err)
	}
}

func testOutboxEnqueue(t *testing.T, s WebhookStore) {
	whUpdate(t, s, func(tx webhook.Tx) error {
		for _, w := range []webhook.Subscription{sub("wh_a", webhook.KindFlag), sub("wh_b", webhook.KindConfig)} {
			if err := tx.CreateWebhook(w); err != nil {
				return err
			}
		}
		// An audited change enqueues one delivery per matching subscription.
		e := server.AuditEntry{Time: t0, Actor: server.System, Action: "flag.create", Resource: "flag", Key: "f"}
		var err error
		if e.ID, err = tx.AppendAudit(e); err != nil {
			return err
		}
		return webhook.Enqueue(tx, e)
	})
	var ds []webhook.Delivery
	_ = s.ViewWebhooks(context.Background(), func(tx webhook.Tx) (err error) {
		ds, err = tx.ListDeliveries(webhook.DeliveryFilter{})
		return err
	})
	if len(ds) != 1 || ds[0].WebhookID != "wh_a" || ds[0].State != webhook.StatePending || ds[0].Kind != webhook.KindFlag {
		t.Fatalf("deliveries after one flag change = %+v, want one pending to wh_a", ds)
	}
	whUpdate(t, s, func(tx webhook.Tx) error { return tx.EnqueueDelivery(pending("dlv_2", "wh_b", at(1))) })
	_ = s.ViewWebhooks(context.Background(), func(tx webhook.Tx) error {
		all, err := tx.ListDeliveries(webhook.DeliveryFilter{})
		if err != nil || len(all) != 2 || all[0].ID != "dlv_2" {
			t.Errorf("ListDeliveries = %+v, %v; want newest first", all, err)
		}
		want := pending("dlv_2", "wh_b", at(1))
		if !cmp.Equal(all[0], want, cmpOpts) {
			t.Errorf("delivery read back: %s", cmp.Diff(want, all[0], cmpOpts))
		}
		only, err := tx.ListDeliveries(webhook.DeliveryFilter{WebhookID: "wh_a"})
		if err != nil || len(only) != 1 || only[0].WebhookID != "wh_a" {
			t.Errorf("ListDeliveries(wh_a) = %+v, %v", only, err)
		}
		failed, err := tx.ListDeliveries(webhook.DeliveryFilter{State: webhook.StateFailed})
		if err != nil || len(failed) != 0 {
			t.Errorf("ListDeliveries(failed) = %+v, %v", failed, err)
		}
		one, err := tx.ListDeliveries(webhook.DeliveryFilter{Limit: 1})
		if err != nil || len(one) != 1 {
			t.Errorf("ListDeliveries(limit 1) = %d, %v", len(one), err)
		}
		return nil
	})
	err := s.UpdateWebhooks(context.Background(), func(tx webhook.Tx) error { return tx.EnqueueDelivery(pending("dlv_2", "wh_b", at(1))) })
	if server.ErrorCode(err) != server.EEXISTS {
		t.Errorf("EnqueueDelivery of a taken id = %v, want EEXISTS", err)
	}
}

func testOutboxRollback(t *testing.T, s WebhookStore) {
	whUpdate(t, s, func(tx webhook.Tx) error { return tx.CreateWebhook(sub("wh_a", webhook.KindFlag)) })
	boom := server.Errorf(server.EINVALID, "boom")
	err := s.UpdateWebhooks(context.Background(), func(tx webhook.Tx) error {
		if err := tx.EnqueueDelivery(pending("dlv_1", "wh_a", at(0))); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Update = %v, want boom", err)
	}
	_ = s.ViewWebhooks(context.Background(), func(tx webhook.Tx) error {
		if ds, err := tx.ListDeliveries(webhook.DeliveryFilter{}); err != nil || len(ds) != 0 {
			t.Errorf("after a rolled back change: deliveries %+v, %v; want none", ds, err)
		}
		return nil
	})
}

func claim(t *testing.T, s WebhookStore, owner string, now time.Time, limit int) []webhook.Delivery {
	t.Helper()
	var ds []webhook.Delivery
	whUpdate(t, s, func(tx webhook.Tx) (err error) {
		ds, err = tx.ClaimDeliveries(owner, now, now.Add(10*time.Minute), limit)
		return err
	})
	return ds
}

func ids(ds []webhook.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func testOutboxClaimLease(t *testing.T, s WebhookStore) {
	whUpdate(t, s, func(tx webhook.Tx) error {
		if err := tx.CreateWebhook(sub("wh_a", webhook.KindFlag)); err != nil {
			return err
		}
		for i, id := range []string{"d1", "d2", "d3"} {
			if err := tx.EnqueueDelivery(pending(id, "wh_a", at(i))); err != nil {
				return err
			}
		}
		return nil
	})
	if got := ids(claim(t, s, "r1", at(1), 10)); !cmp.Equal(got, []string{"d1", "d2"}) {
		t.Errorf("claim at minute 1 = %v, want the two due, oldest first", got)
	}
	if got := ids(claim(t, s, "r2", at(5), 10)); !cmp.Equal(got, []string{"d3"}) {
		t.Errorf("claim by another while leased = %v, want only d3", got)
	}
	// r1's lease ends (it died, say): r2 claims after it.
	if got := ids(claim(t, s, "r2", at(12), 1)); !cmp.Equal(got, []string{"d1"}) {
		t.Errorf("claim after the lease ended, limit 1 = %v, want d1", got)
	}
	d1 := pending("d1", "wh_a", at(0))
	d1.State, d1.Attempts, d1.LastStatus, d1.UpdatedAt = webhook.StateDelivered, 1, 200, at(4).UTC()
	var ok1, ok2 bool
	whUpdate(t, s, func(tx webhook.Tx) (err error) {
		if ok1, err = tx.FinishDelivery("r1", d1); err != nil { // r1 lost its lease
			return err
		}
		ok2, err = tx.FinishDelivery("r2", d1)
		return err
	})
	if ok1 || !ok2 {
		t.Errorf("FinishDelivery by the former and the current holder = %v, %v; want false, true", ok1, ok2)
	}
	d2 := pending("d2", "wh_a", at(1))
	d2.Attempts, d2.LastStatus, d2.LastError, d2.NextAt, d2.UpdatedAt = 1, 500, "receiver answered 500", at(30).UTC(), at(2).UTC()
	whUpdate(t, s, func(tx webhook.Tx) error { _, err := tx.FinishDelivery("r1", d2); return err })
	if got := ids(claim(t, s, "r3", at(14), 10)); len(got) != 0 {
		t.Errorf("claim before a retry is due = %v, want none (d2 due at minute 30; d3 leased until 15)", got)
	}
	if got := ids(claim(t, s, "r3", at(31), 10)); !cmp.Equal(got, []string{"d3", "d2"}) {
		t.Errorf("claim at minute 31 = %v, want d3 and the retry d2", got)
	}
	_ = s.ViewWebhooks(context.Background(), func(tx webhook.Tx) error {
		ds, _ := tx.ListDeliveries(webhook.DeliveryFilter{State: webhook.StateDelivered})
		if len(ds) != 1 || ds[0].ID != "d1" || ds[0].Attempts != 1 || ds[0].LastStatus != 200 {
			t.Errorf("delivered = %+v", ds)
		}
		n, err := tx.CountDeliveries(webhook.StatePending)
		if err != nil || n != 2 {
			t.Errorf("CountDeliveries(pending) = %d, %v; want 2", n, err)
		}
		return nil
	})
}

// testOutboxConcurrentClaims claims from several goroutines at once, as
// replicas do: every delivery is claimed exactly once.
func testOutboxConcurrentClaims(t *testing.T, s WebhookStore) {
	const n = 40
	whUpdate(t, s, func(tx webhook.Tx) error {
		if err := tx.CreateWebhook(sub("wh_a", webhook.KindFlag)); err != nil {
			return err
		}
		for i := range n {
			if err := tx.EnqueueDelivery(pending("d"+string(rune('A'+i)), "wh_a", at(0))); err != nil {
				return err
			}
		}
		return nil
	})
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				var ds []webhook.Delivery
				err := s.UpdateWebhooks(context.Background(), func(tx webhook.Tx) (err error) {
					ds, err = tx.ClaimDeliveries("r"+string(rune('0'+w)), at(1), at(10), 3)
					return err
				})
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				mu.Lock()
				for _, d := range ds {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("claimed %d distinct deliveries, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("delivery %s claimed %d times", id, c)
		}
	}
}

func testOutboxCascade(t *testing.T, s WebhookStore) {
	whUpdate(t, s, func(tx webhook.Tx) error {
		if err := tx.CreateWebhook(sub("wh_a", webhook.KindFlag)); err != nil {
			return err
		}
		return tx.EnqueueDelivery(pending("d1", "wh_a", at(0)))
	})
	whUpdate(t, s, func(tx webhook.Tx) error { return tx.DeleteWebhook("wh_a") })
	_ = s.ViewWebhooks(context.Background(), func(tx webhook.Tx) error {
		if ds, err := tx.ListDeliveries(webhook.DeliveryFilter{}); err != nil || len(ds) != 0 {
			t.Errorf("deliveries of a deleted webhook = %+v, %v; want none", ds, err)
		}
		return nil
	})
}

func testOutboxPrune(t *testing.T, s WebhookStore) {
	whUpdate(t, s, func(tx webhook.Tx) error {
		if err := tx.CreateWebhook(sub("wh_a", webhook.KindFlag)); err != nil {
			return err
		}
		for i, id := range []string{"old-done", "old-failed", "old-pending", "new-done"} {
			d := pending(id, "wh_a", at(i))
			if err := tx.EnqueueDelivery(d); err != nil {
				return err
			}
		}
		return nil
	})
	claim(t, s, "r", at(10), 10)
	for i, id := range []string{"old-done", "old-failed", "new-done"} {
		d := pending(id, "wh_a", at(i))
		d.State, d.Attempts, d.UpdatedAt = webhook.StateDelivered, 1, at(5).UTC()
		if id == "old-failed" {
			d.State = webhook.StateFailed
		}
		if id == "new-done" {
			d.UpdatedAt = at(60).UTC()
		}
		whUpdate(t, s, func(tx webhook.Tx) error {
			ok, err := tx.FinishDelivery("r", d)
			if err == nil && !ok {
				t.Errorf("FinishDelivery(%s) did not hold the lease", id)
			}
			return err
		})
	}
	var n int
	whUpdate(t, s, func(tx webhook.Tx) (err error) {
		n, err = tx.PruneDeliveries(at(30))
		return err
	})
	var left []string
	_ = s.ViewWebhooks(context.Background(), func(tx webhook.Tx) error {
		ds, err := tx.ListDeliveries(webhook.DeliveryFilter{})
		left = ids(ds)
		return err
	})
	if n != 2 || !cmp.Equal(left, []string{"new-done", "old-pending"}) {
		t.Errorf("PruneDeliveries removed %d, left %v; want 2 removed, new-done and old-pending left", n, left)
	}
}
