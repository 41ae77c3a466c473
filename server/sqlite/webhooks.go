package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/webhook"
)

// UpdateWebhooks runs fn in one IMMEDIATE transaction, like Update.
func (db *DB) UpdateWebhooks(ctx context.Context, fn func(webhook.Tx) error) error {
	return run(ctx, db.writer, nil, func(t server.Tx) error { return fn(t.(*tx)) })
}

// ViewWebhooks runs fn in a read-only transaction, like View.
func (db *DB) ViewWebhooks(ctx context.Context, fn func(webhook.Tx) error) error {
	return run(ctx, db.reader, &sql.TxOptions{ReadOnly: true}, func(t server.Tx) error { return fn(t.(*tx)) })
}

const webhookColumns = "id, url, events, environments, slack, secret, created_by, created_at"

func scanWebhook(s scanner) (webhook.Subscription, error) {
	var w webhook.Subscription
	var events, envs, created string
	if err := s.Scan(&w.ID, &w.URL, &events, &envs, &w.Slack, &w.Secret, &w.CreatedBy, &created); err != nil {
		return w, err
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return w, err
	}
	if err := json.Unmarshal([]byte(envs), &w.Environments); err != nil {
		return w, err
	}
	var err error
	w.CreatedAt, err = parseTime(created)
	return w, err
}

func jsonList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

// CreateWebhook stores a subscription.
func (t *tx) CreateWebhook(w webhook.Subscription) error {
	_, err := t.exec("INSERT INTO webhooks ("+webhookColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		w.ID, w.URL, jsonList(w.Events), jsonList(w.Environments), w.Slack, w.Secret, w.CreatedBy, formatTime(w.CreatedAt))
	if isUnique(err) {
		return exists("webhook", w.ID)
	}
	return wrapErr("create webhook", err)
}

// GetWebhook returns a subscription.
func (t *tx) GetWebhook(id string) (webhook.Subscription, error) {
	w, err := scanWebhook(t.tx.QueryRowContext(t.ctx, "SELECT "+webhookColumns+" FROM webhooks WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return w, notFound("webhook", id)
	}
	return w, wrapErr("get webhook", err)
}

// ListWebhooks returns every subscription, oldest first.
func (t *tx) ListWebhooks() ([]webhook.Subscription, error) {
	rows, err := t.tx.QueryContext(t.ctx, "SELECT "+webhookColumns+" FROM webhooks ORDER BY created_at, rowid")
	if err != nil {
		return nil, wrapErr("list webhooks", err)
	}
	defer rows.Close()
	var ws []webhook.Subscription
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, wrapErr("list webhooks", err)
		}
		ws = append(ws, w)
	}
	return ws, wrapErr("list webhooks", rows.Err())
}

// DeleteWebhook removes a subscription; its deliveries go by cascade.
func (t *tx) DeleteWebhook(id string) error {
	return t.execOne("delete webhook", "webhook", id, "DELETE FROM webhooks WHERE id = ?", id)
}

const deliveryColumns = "id, webhook_id, kind, body, state, attempts, next_at, last_status, last_error, created_at, updated_at"

func scanDelivery(s scanner) (webhook.Delivery, error) {
	var d webhook.Delivery
	var next, created, updated string
	err := s.Scan(&d.ID, &d.WebhookID, &d.Kind, &d.Body, &d.State, &d.Attempts, &next, &d.LastStatus, &d.LastError, &created, &updated)
	if err != nil {
		return d, err
	}
	if d.NextAt, err = parseTime(next); err != nil {
		return d, err
	}
	if d.CreatedAt, err = parseTime(created); err != nil {
		return d, err
	}
	d.UpdatedAt, err = parseTime(updated)
	return d, err
}

// EnqueueDelivery stores a delivery.
func (t *tx) EnqueueDelivery(d webhook.Delivery) error {
	_, err := t.exec("INSERT INTO webhook_deliveries ("+deliveryColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		d.ID, d.WebhookID, d.Kind, d.Body, d.State, d.Attempts, formatTime(d.NextAt), d.LastStatus, d.LastError,
		formatTime(d.CreatedAt), formatTime(d.UpdatedAt))
	if isUnique(err) {
		return exists("delivery", d.ID)
	}
	return wrapErr("enqueue delivery", err)
}

func (t *tx) queryDeliveries(op, query string, args ...any) ([]webhook.Delivery, error) {
	rows, err := t.tx.QueryContext(t.ctx, query, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var ds []webhook.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, wrap(op, err)
		}
		ds = append(ds, d)
	}
	return ds, wrapErr(op, rows.Err())
}

// ListDeliveries returns matching deliveries, newest first.
func (t *tx) ListDeliveries(f webhook.DeliveryFilter) ([]webhook.Delivery, error) {
	var conds []string
	var args []any
	if f.WebhookID != "" {
		conds, args = append(conds, "webhook_id = ?"), append(args, f.WebhookID)
	}
	if f.State != "" {
		conds, args = append(conds, "state = ?"), append(args, f.State)
	}
	where := ""
	if len(conds) > 0 {
		where = "WHERE " + strings.Join(conds, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	return t.queryDeliveries("list deliveries",
		"SELECT "+deliveryColumns+" FROM webhook_deliveries "+where+" ORDER BY seq DESC LIMIT ?", append(args, limit)...)
}

// ClaimDeliveries leases due deliveries with one conditional UPDATE; the
// single writer makes it atomic.
func (t *tx) ClaimDeliveries(owner string, now, until time.Time, limit int) ([]webhook.Delivery, error) {
	n := formatTime(now)
	ds, err := t.queryDeliveries("claim deliveries", `UPDATE webhook_deliveries SET lease_owner = ?, lease_until = ?
		WHERE seq IN (SELECT seq FROM webhook_deliveries
			WHERE state = 'pending' AND next_at <= ? AND (lease_until = '' OR lease_until < ?)
			ORDER BY next_at, seq LIMIT ?)
		RETURNING `+deliveryColumns, owner, formatTime(until), n, n, limit)
	webhook.SortDue(ds)
	return ds, err
}

// FinishDelivery stores an attempt's outcome if owner still holds the lease.
func (t *tx) FinishDelivery(owner string, d webhook.Delivery) (bool, error) {
	res, err := t.exec(`UPDATE webhook_deliveries SET state = ?, attempts = ?, next_at = ?, last_status = ?, last_error = ?,
		updated_at = ?, lease_owner = '', lease_until = '' WHERE id = ? AND lease_owner = ? AND state = 'pending'`,
		d.State, d.Attempts, formatTime(d.NextAt), d.LastStatus, d.LastError, formatTime(d.UpdatedAt), d.ID, owner)
	if err != nil {
		return false, wrapErr("finish delivery", err)
	}
	n, err := res.RowsAffected()
	return n == 1, wrapErr("finish delivery", err)
}

// PruneDeliveries removes finished deliveries last updated before before.
func (t *tx) PruneDeliveries(before time.Time) (int, error) {
	res, err := t.exec("DELETE FROM webhook_deliveries WHERE state <> 'pending' AND updated_at < ?", formatTime(before))
	if err != nil {
		return 0, wrap("prune deliveries", err)
	}
	n, err := res.RowsAffected()
	return int(n), wrapErr("prune deliveries", err)
}

// CountDeliveries counts the deliveries in state.
func (t *tx) CountDeliveries(state string) (int, error) {
	var n int
	err := t.tx.QueryRowContext(t.ctx, "SELECT count(*) FROM webhook_deliveries WHERE state = ?", state).Scan(&n)
	return n, wrapErr("count deliveries", err)
}

// wrapErr is wrap that keeps nil.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return wrap(op, err)
}

var _ webhook.Tx = (*tx)(nil)
