package webhook

import (
	"context"
	"encoding/json"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/flagpole/flagpole/server"
)

// Manager manages subscriptions and reads the outbox; the transports call
// it (admins only, by server/auth's rules).
type Manager struct {
	store Store
	guard Guard
	now   func() time.Time
}

// NewManager returns a Manager of store; g is the Dispatcher's guard, used
// by Test and to refuse a literal refused address at creation.
func NewManager(store Store, g Guard) *Manager {
	return &Manager{store: store, guard: g, now: func() time.Time { return time.Now().UTC() }}
}

// NewSubscription is what Create needs.
type NewSubscription struct {
	URL          string
	Events       []string
	Environments []string
	Slack        bool
}

// Create stores a subscription with a fresh secret and returns it; the
// secret is shown only now (List blanks it).
func (m *Manager) Create(ctx context.Context, ns NewSubscription) (Subscription, error) {
	if err := m.valid(ns); err != nil {
		return Subscription{}, err
	}
	actor := server.ActorFromContext(ctx)
	events := slices.Clone(ns.Events)
	slices.Sort(events)
	envs := slices.Clone(ns.Environments)
	slices.Sort(envs)
	s := Subscription{
		ID: newID("wh_"), URL: ns.URL, Events: slices.Compact(events), Environments: slices.Compact(envs),
		Slack: ns.Slack, Secret: NewSecret(), CreatedBy: actor.Name, CreatedAt: m.now(),
	}
	err := m.store.UpdateWebhooks(ctx, func(tx Tx) error {
		for _, env := range s.Environments {
			if err := envExists(tx, env); err != nil {
				return err
			}
		}
		if err := tx.CreateWebhook(s); err != nil {
			return err
		}
		return m.audit(tx, actor, server.CommentFromContext(ctx), "webhook.create", s.ID, nil, redacted(s))
	})
	if err != nil {
		return Subscription{}, err
	}
	return s, nil
}

// envExists refuses an unknown environment when the Tx can read them.
func envExists(tx Tx, env string) error {
	g, ok := tx.(interface {
		GetEnvironment(string) (server.Environment, error)
	})
	if !ok {
		return nil
	}
	if _, err := g.GetEnvironment(env); server.ErrorCode(err) == server.ENOTFOUND {
		return server.Invalid("environments", "environment %q does not exist", env)
	} else if err != nil {
		return err
	}
	return nil
}

func (m *Manager) valid(ns NewSubscription) error {
	u, err := url.Parse(ns.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return server.Invalid("url", "%q is not an absolute http or https URL", ns.URL)
	}
	if u.User != nil {
		return server.Invalid("url", "must not carry credentials; the signature authenticates deliveries")
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil {
		if err := m.guard.Check(ip); err != nil {
			return server.Invalid("url", "%v", err)
		}
	}
	if len(ns.Events) == 0 {
		return server.Invalid("events", "name at least one of %s", kindList())
	}
	for i, k := range ns.Events {
		if !validKind(k) {
			return server.Invalid("events", "%q (item %d) is not one of %s", k, i, kindList())
		}
	}
	return nil
}

// redacted is a subscription's audit document: no secret.
func redacted(s Subscription) map[string]any {
	return map[string]any{"id": s.ID, "url": s.URL, "events": s.Events, "environments": s.Environments, "slack": s.Slack}
}

func (m *Manager) audit(tx Tx, actor server.Actor, comment, action, key string, before, after any) error {
	e := server.AuditEntry{Time: m.now(), Actor: actor, Action: action, Resource: "webhook", Key: key, Comment: comment}
	var err error
	if before != nil {
		if e.Before, err = json.Marshal(before); err != nil {
			return err
		}
	}
	if after != nil {
		if e.After, err = json.Marshal(after); err != nil {
			return err
		}
	}
	if e.ID, err = tx.AppendAudit(e); err != nil {
		return err
	}
	return Enqueue(tx, e)
}

// List returns every subscription, secrets blanked.
func (m *Manager) List(ctx context.Context) ([]Subscription, error) {
	var subs []Subscription
	err := m.store.ViewWebhooks(ctx, func(tx Tx) (err error) {
		subs, err = tx.ListWebhooks()
		return err
	})
	for i := range subs {
		subs[i].Secret = ""
	}
	return subs, err
}

// Delete removes a subscription and its deliveries.
func (m *Manager) Delete(ctx context.Context, id string) error {
	return m.store.UpdateWebhooks(ctx, func(tx Tx) error {
		s, err := tx.GetWebhook(id)
		if err != nil {
			return err
		}
		if err := tx.DeleteWebhook(id); err != nil {
			return err
		}
		return m.audit(tx, server.ActorFromContext(ctx), server.CommentFromContext(ctx), "webhook.delete", id, redacted(s), nil)
	})
}

// TestResult is the outcome of Test.
type TestResult struct {
	Status   int
	Error    string
	Duration time.Duration
}

// Test sends a "webhook.test" event to the subscription at once, through
// the same guard and signing as deliveries, and reports what happened. It
// is not stored in the outbox.
func (m *Manager) Test(ctx context.Context, id string, timeout time.Duration) (TestResult, error) {
	var s Subscription
	err := m.store.ViewWebhooks(ctx, func(tx Tx) (err error) {
		s, err = tx.GetWebhook(id)
		return err
	})
	if err != nil {
		return TestResult{}, err
	}
	actor := server.ActorFromContext(ctx)
	e := server.AuditEntry{Time: m.now(), Actor: actor, Action: KindTest, Resource: "webhook", Key: id, Comment: server.CommentFromContext(ctx)}
	did := newID("dlv_")
	b, err := body(s, did, KindTest, e)
	if err != nil {
		return TestResult{}, err
	}
	start := time.Now()
	status, err := Send(ctx, NewClient(m.guard, timeout), s, did, KindTest, b)
	r := TestResult{Status: status, Duration: time.Since(start)}
	if err != nil {
		r.Error = err.Error()
	}
	return r, nil
}

// Deliveries returns matching deliveries, newest first.
func (m *Manager) Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error) {
	if f.Limit < 0 {
		return nil, server.Invalid("page_size", "must not be negative, got %d", f.Limit)
	}
	if f.Limit == 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	if f.State != "" && f.State != StatePending && f.State != StateDelivered && f.State != StateFailed {
		return nil, server.Invalid("state", "%q is not one of pending, delivered, failed", f.State)
	}
	var ds []Delivery
	err := m.store.ViewWebhooks(ctx, func(tx Tx) (err error) {
		ds, err = tx.ListDeliveries(f)
		return err
	})
	return ds, err
}
