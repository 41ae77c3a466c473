package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flagpole/flagpole/server/webhook"
)

// UpdateWebhooks runs fn in one read-write transaction, like Update.
func (db *DB) UpdateWebhooks(ctx context.Context, fn func(webhook.Tx) error) error {
	return db.update(ctx, func(t *tx) error { return fn(t) })
}

// ViewWebhooks runs fn in a read-only transaction, like View.
func (db *DB) ViewWebhooks(ctx context.Context, fn func(webhook.Tx) error) error {
	return db.view(ctx, func(t *tx) error { return fn(t) })
}

const webhookColumns = "id, url, events, environments, slack, secret, created_by, created_at"

func scanWebhook(s pgx.Row) (webhook.Subscription, error) {
	var w webhook.Subscription
	err := s.Scan(&w.ID, &w.URL, &w.Events, &w.Environments, &w.Slack, &w.Secret, &w.CreatedBy, &w.CreatedAt)
	w.CreatedAt = utc(w.CreatedAt)
	if len(w.Environments) == 0 {
		w.Environments = nil
	}
	return w, err
}

// CreateWebhook stores a subscription.
func (t *tx) CreateWebhook(w webhook.Subscription) error {
	return t.insert("create webhook", "webhook", w.ID,
		"INSERT INTO webhooks ("+webhookColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
		w.ID, w.URL, append([]string{}, w.Events...), append([]string{}, w.Environments...), w.Slack, w.Secret, w.CreatedBy, w.CreatedAt)
}

// GetWebhook returns a subscription.
func (t *tx) GetWebhook(id string) (webhook.Subscription, error) {
	w, err := scanWebhook(t.tx.QueryRow(t.ctx, "SELECT "+webhookColumns+" FROM webhooks WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return w, notFound("webhook", id)
	}
	return w, wrapErr("get webhook", err)
}

// ListWebhooks returns every subscription, oldest first.
func (t *tx) ListWebhooks() ([]webhook.Subscription, error) {
	rows, err := t.tx.Query(t.ctx, "SELECT "+webhookColumns+" FROM webhooks ORDER BY created_at, id")
	if err != nil {
		return nil, wrap("list webhooks", err)
	}
	defer rows.Close()
	var ws []webhook.Subscription
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, wrap("list webhooks", err)
		}
		ws = append(ws, w)
	}
	return ws, wrapErr("list webhooks", rows.Err())
}

// DeleteWebhook removes a subscription; its deliveries go by cascade.
func (t *tx) DeleteWebhook(id string) error {
	return t.execOne("delete webhook", "webhook", id, "DELETE FROM webhooks WHERE id = $1", id)
}

const deliveryColumns = "id, webhook_id, kind, body, state, attempts, next_at, last_status, last_error, created_at, updated_at"

func scanDelivery(s pgx.Row) (webhook.Delivery, error) {
	var d webhook.Delivery
	err := s.Scan(&d.ID, &d.WebhookID, &d.Kind, &d.Body, &d.State, &d.Attempts, &d.NextAt, &d.LastStatus, &d.LastError, &d.CreatedAt, &d.UpdatedAt)
	d.NextAt, d.CreatedAt, d.UpdatedAt = utc(d.NextAt), utc(d.CreatedAt), utc(d.UpdatedAt)
	return d, err
}

// EnqueueDelivery stores a delivery.
func (t *tx) EnqueueDelivery(d webhook.Delivery) error {
	return t.insert("enqueue delivery", "delivery", d.ID,
		"INSERT INTO webhook_deliveries ("+deliveryColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
		d.ID, d.WebhookID, d.Kind, d.Body, d.State, d.Attempts, d.NextAt, d.LastStatus, d.LastError, d.CreatedAt, d.UpdatedAt)
}

func (t *tx) queryDeliveries(op, query string, args ...any) ([]webhook.Delivery, error) {
	rows, err := t.tx.Query(t.ctx, query, args...)
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
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, cond+" = $"+strconv.Itoa(len(args)))
	}
	if f.WebhookID != "" {
		add("webhook_id", f.WebhookID)
	}
	if f.State != "" {
		add("state", f.State)
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	args = append(args, limit)
	return t.queryDeliveries("list deliveries",
		"SELECT "+deliveryColumns+" FROM webhook_deliveries"+where+" ORDER BY seq DESC LIMIT $"+strconv.Itoa(len(args)), args...)
}

// ClaimDeliveries leases due deliveries. FOR UPDATE SKIP LOCKED lets
// replicas claiming at once each take different rows instead of queueing.
func (t *tx) ClaimDeliveries(owner string, now, until time.Time, limit int) ([]webhook.Delivery, error) {
	ds, err := t.queryDeliveries("claim deliveries", `UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2
		WHERE seq IN (SELECT seq FROM webhook_deliveries
			WHERE state = 'pending' AND next_at <= $3 AND (lease_until IS NULL OR lease_until < $3)
			ORDER BY next_at, seq LIMIT $4 FOR UPDATE SKIP LOCKED)
		RETURNING `+deliveryColumns, owner, until, now, limit)
	webhook.SortDue(ds)
	return ds, err
}

// FinishDelivery stores an attempt's outcome if owner still holds the lease.
func (t *tx) FinishDelivery(owner string, d webhook.Delivery) (bool, error) {
	n, err := t.exec(`UPDATE webhook_deliveries SET state = $1, attempts = $2, next_at = $3, last_status = $4, last_error = $5,
		updated_at = $6, lease_owner = '', lease_until = NULL WHERE id = $7 AND lease_owner = $8 AND state = 'pending'`,
		d.State, d.Attempts, d.NextAt, d.LastStatus, d.LastError, d.UpdatedAt, d.ID, owner)
	if err != nil {
		return false, wrap("finish delivery", err)
	}
	return n == 1, nil
}

// PruneDeliveries removes finished deliveries last updated before before.
func (t *tx) PruneDeliveries(before time.Time) (int, error) {
	n, err := t.exec("DELETE FROM webhook_deliveries WHERE state <> 'pending' AND updated_at < $1", before)
	if err != nil {
		return 0, wrap("prune deliveries", err)
	}
	return int(n), nil
}

// CountDeliveries counts the deliveries in state.
func (t *tx) CountDeliveries(state string) (int, error) {
	var n int
	err := t.tx.QueryRow(t.ctx, "SELECT count(*) FROM webhook_deliveries WHERE state = $1", state).Scan(&n)
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
