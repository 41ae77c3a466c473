// Package service is Flagpole's one service layer: every transport (gRPC,
// HTTP JSON) calls it, so validation, optimistic concurrency, revisions,
// audit and change publication happen in one place. Each change runs in one
// Store transaction that also bumps the revisions of the environments it
// affects and appends its audit entry; the change is published only after
// the transaction commits.
package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/flagpole/flagpole/server"
)

// Publisher receives every committed change, one server.Change per affected
// environment, after the commit. Publish must not block.
type Publisher interface {
	Publish(server.Change)
}

// Forgetter is an optional capability of a Publisher: Forget is called
// after the commit of an environment's deletion, so that the publisher
// drops what it keeps for the environment (the sync hub ends its streams,
// which resync, and forgets its revisions). A recreated environment of the
// same name continues the deleted one's revisions, but whatever a
// publisher kept of the old one must not be served as the new one.
type Forgetter interface {
	Forget(env string)
}

// Option configures a Service.
type Option func(*Service)

// WithPublisher adds a publisher of committed changes; call it several times
// to add several.
func WithPublisher(p Publisher) Option {
	return func(s *Service) { s.publishers = append(s.publishers, p) }
}

// WithClock sets the clock that stamps changes and audit entries (default
// time.Now in UTC).
func WithClock(now func() time.Time) Option {
	return func(s *Service) { s.now = now }
}

// Service implements Flagpole's operations on a Store. It is safe for
// concurrent use.
type Service struct {
	store      Store
	publishers []Publisher
	// commits serializes commit and publication, so that publishers see
	// each environment's changes in revision order. SQLite has one writer
	// anyway, so this costs no concurrency.
	commits   sync.Mutex
	now       func() time.Time
	snapshots snapshotCache
}

// New returns a Service over store.
func New(store Store, opts ...Option) *Service {
	s := &Service{store: store, now: func() time.Time { return time.Now().UTC() }}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// op is one change in progress: its transaction, who makes it, and the
// environments whose revision it bumped, in order.
type op struct {
	tx         Tx
	actor      server.Actor
	comment    string // the change's comment (server.CommentFromContext)
	now        time.Time
	order      []string
	changes    map[string]*server.Change
	invalidate []string // environments whose cached snapshot goes without a Change
	deleted    []string // environments deleted
	// deferred, when not nil, collects the flags whose definitions changed
	// without the check that their configurations still have every variant
	// they name: ApplyChanges checks them once the whole set is made.
	deferred map[string]bool
	// commented holds the environments whose comment requirement this
	// change passed.
	commented map[string]bool
}

// update runs fn in one store transaction and, after the commit, drops the
// stale snapshots and publishes one Change per environment fn touched.
func (s *Service) update(ctx context.Context, fn func(o *op) error) error {
	s.commits.Lock()
	defer s.commits.Unlock()
	var done *op
	err := s.store.Update(ctx, func(tx Tx) error {
		o := &op{tx: tx, actor: server.ActorFromContext(ctx), comment: server.CommentFromContext(ctx), now: s.now(), changes: map[string]*server.Change{}}
		if err := fn(o); err != nil {
			return err
		}
		if r, ok := tx.(ChangeRecorder); ok {
			for _, env := range o.order {
				if err := r.RecordChange(*o.changes[env]); err != nil {
					return err
				}
			}
		}
		done = o
		return nil
	})
	if err != nil {
		return wrap(err)
	}
	for _, env := range done.invalidate {
		s.snapshots.invalidate(env)
	}
	for _, env := range done.deleted {
		for _, p := range s.publishers {
			if f, ok := p.(Forgetter); ok {
				f.Forget(env)
			}
		}
	}
	for _, env := range done.order {
		s.snapshots.apply(*done.changes[env])
		for _, p := range s.publishers {
			p.Publish(*done.changes[env])
		}
	}
	return nil
}

// view runs fn in one read-only transaction.
func (s *Service) view(ctx context.Context, fn func(tx Tx) error) error {
	return wrap(s.store.View(ctx, fn))
}

// wrap leaves caller errors as they are and prefixes unexpected ones.
func wrap(err error) error {
	var e *server.Error
	if err == nil || errors.As(err, &e) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("service: %w", err)
}

// touch bumps env's revision once per change and returns its Change.
func (o *op) touch(env string) (*server.Change, error) {
	if c, ok := o.changes[env]; ok {
		return c, nil
	}
	rev, err := o.tx.BumpRevision(env)
	if err != nil {
		return nil, err
	}
	c := &server.Change{Environment: env, Revision: rev, Time: o.now}
	o.changes[env] = c
	o.order = append(o.order, env)
	return c, nil
}

// touchAll bumps every environment and calls fn with each one's Change.
func (o *op) touchAll(fn func(env string, c *server.Change) error) error {
	envs, err := o.tx.ListEnvironments()
	if err != nil {
		return err
	}
	for _, e := range envs {
		c, err := o.touch(e.Name)
		if err != nil {
			return err
		}
		if err := fn(e.Name, c); err != nil {
			return err
		}
	}
	return nil
}
