package webhook

import (
	"context"
	"slices"
	"time"

	"github.com/flagpole/flagpole/server"
)

// Store keeps subscriptions and the outbox. server/sqlite and
// server/postgres implement it; server/storetest checks both.
type Store interface {
	UpdateWebhooks(ctx context.Context, fn func(Tx) error) error
	ViewWebhooks(ctx context.Context, fn func(Tx) error) error
}

// Outbox is the part of a transaction that enqueues deliveries. The
// service's and auth's transactions implement it, so an audited change
// enqueues its deliveries before it commits.
type Outbox interface {
	// ListWebhooks returns every subscription, oldest first.
	ListWebhooks() ([]Subscription, error)
	// EnqueueDelivery stores a pending delivery.
	EnqueueDelivery(d Delivery) error
}

// Tx is one transaction of a Store. Missing rows are ENOTFOUND.
type Tx interface {
	Outbox
	CreateWebhook(s Subscription) error
	GetWebhook(id string) (Subscription, error)
	// DeleteWebhook removes the subscription and its deliveries.
	DeleteWebhook(id string) error
	// ListDeliveries returns matching deliveries, newest first.
	ListDeliveries(f DeliveryFilter) ([]Delivery, error)
	// ClaimDeliveries leases up to limit pending deliveries due at now and
	// not leased by anyone else (or whose lease ended) to owner until
	// until, and returns them oldest first. Several replicas claiming at
	// once never get the same delivery while its lease holds.
	ClaimDeliveries(owner string, now, until time.Time, limit int) ([]Delivery, error)
	// FinishDelivery stores the outcome of an attempt made by owner (State,
	// Attempts, NextAt, LastStatus, LastError, UpdatedAt) and ends the
	// lease. It changes nothing and returns false if owner no longer holds
	// the lease.
	FinishDelivery(owner string, d Delivery) (bool, error)
	// PruneDeliveries removes delivered and failed deliveries last updated
	// before before and returns how many it removed; pending ones stay.
	PruneDeliveries(before time.Time) (int, error)
	// CountDeliveries returns the number of deliveries in state.
	CountDeliveries(state string) (int, error)
	AppendAudit(e server.AuditEntry) (int64, error)
}

// SortDue orders claimed deliveries oldest due first, as ClaimDeliveries
// returns them (an UPDATE ... RETURNING has no order of its own).
func SortDue(ds []Delivery) {
	slices.SortStableFunc(ds, func(a, b Delivery) int {
		if c := a.NextAt.Compare(b.NextAt); c != 0 {
			return c
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	})
}
