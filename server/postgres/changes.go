package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flagpole/flagpole/server"
)

// Channel is the NOTIFY channel on which each committed transaction
// announces the environments it changed.
const Channel = "flagpole_changes"

// keepChanges is how many recent revisions of each environment the change
// log keeps for replicas to read.
const keepChanges = 1000

// reconnectDelay is how long Watch waits before it connects again after
// losing its listening connection.
const reconnectDelay = time.Second

// notice is the payload of one notification.
type notice struct {
	Schema      string `json:"s"`
	Replica     string `json:"r"`
	Environment string `json:"e"`
	// Revision is the environment's revision after the commit; 0 when the
	// environment was created or deleted without a revision to follow.
	Revision int64 `json:"v"`
	// Deleted is set when the transaction deleted the environment.
	Deleted bool `json:"d,omitempty"`
}

var _ server.ChangeRecorder = (*tx)(nil)

// RecordChange writes c to the change log in the transaction that makes
// it, so other replicas can read and publish it once notified.
func (t *tx) RecordChange(c server.Change) error {
	doc, err := json.Marshal(c)
	if err != nil {
		return wrap("record change", err)
	}
	_, err = t.exec(`INSERT INTO changes (environment, revision, replica, change) VALUES ($1, $2, $3, $4)
		ON CONFLICT (environment, revision) DO UPDATE SET replica = excluded.replica, change = excluded.change`,
		c.Environment, c.Revision, t.db.replica, doc)
	if err != nil {
		return wrap("record change", err)
	}
	if _, err := t.exec("DELETE FROM changes WHERE environment = $1 AND revision <= $2", c.Environment, c.Revision-keepChanges); err != nil {
		return wrap("record change", err)
	}
	return nil
}

// notify announces, within the transaction, every environment whose
// revision moved and every one created or deleted. PostgreSQL delivers the
// notifications when, and only if, the transaction commits, in commit order.
func (t *tx) notify() error {
	var payloads, payloadEnvs []string
	add := func(env string, rev int64) error {
		p, err := json.Marshal(notice{Schema: t.db.schema, Replica: t.db.replica, Environment: env, Revision: rev,
			Deleted: slices.Contains(t.deleted, env)})
		payloads = append(payloads, string(p))
		return err
	}
	envs := make([]string, 0, len(t.bumped))
	for env := range t.bumped {
		envs = append(envs, env)
	}
	slices.Sort(envs)
	for _, env := range envs {
		if err := add(env, t.bumped[env]); err != nil {
			return wrap("notify", err)
		}
	}
	for _, env := range t.invalidated {
		if _, ok := t.bumped[env]; !ok && !slices.Contains(payloadEnvs, env) {
			payloadEnvs = append(payloadEnvs, env)
			if err := add(env, 0); err != nil {
				return wrap("notify", err)
			}
		}
	}
	if len(payloads) == 0 {
		return nil
	}
	if _, err := t.exec("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", Channel, payloads); err != nil {
		return wrap("notify", err)
	}
	return nil
}

// Handler receives what other replicas commit.
type Handler interface {
	// Invalidate is called for each environment another replica changed,
	// created or deleted, before any Publish of its change.
	Invalidate(env string)
	// Publish is called with each Change another replica committed, in
	// commit order per environment.
	Publish(server.Change)
}

// A Handler that also implements server.Forgetter is told, after
// Invalidate, of every environment another replica deleted (and, after a
// reconnect, of every one it knew that is gone), so that the sync hub ends
// its streams and forgets its revisions, as the deleting replica's did.

// Watch listens for the changes other replicas commit to the database and
// hands them to h, from a goroutine that Close stops. It returns once it
// listens, so every change committed after Watch returns reaches h. When
// the listening connection breaks, Watch connects again and catches up
// from the change log. Call it at most once.
func (db *DB) Watch(h Handler) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return errors.New("postgres: watch: closed")
	}
	if db.stop != nil {
		return errors.New("postgres: watch: already watching")
	}
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := db.listen(ctx)
	if err != nil {
		cancel()
		return err
	}
	w := &watcher{db: db, h: h, last: map[string]int64{}}
	if err := w.seed(ctx); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		cancel()
		return fmt.Errorf("postgres: watch: %w", err)
	}
	db.stop = cancel
	db.watchWG.Go(func() { w.run(ctx, conn) })
	return nil
}

// listen opens a connection of its own that LISTENs on Channel.
func (db *DB) listen(ctx context.Context) (*pgx.Conn, error) {
	cfg := db.pool.Config().ConnConfig.Copy()
	// Named so an operator (or a test) can tell it in pg_stat_activity.
	cfg.RuntimeParams["application_name"] = listenerName(db.replica)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: watch: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("postgres: watch: %w", err)
	}
	return conn, nil
}

// listenerName is the application_name of a replica's listening
// connection.
func listenerName(replica string) string { return "flagpole-watch-" + replica }

type watcher struct {
	db *DB
	h  Handler
	// last is the newest revision notified per environment, by any
	// replica; it tells what to catch up on after a reconnect.
	last map[string]int64
}

func (w *watcher) run(ctx context.Context, conn *pgx.Conn) {
	for {
		err := w.follow(ctx, conn)
		conn.Close(context.WithoutCancel(ctx))
		if ctx.Err() != nil {
			return
		}
		w.db.log.Warn("postgres: lost the change notification connection, reconnecting", "err", err)
		for conn = nil; conn == nil; {
			select {
			case <-ctx.Done():
				return
			case <-time.After(reconnectDelay):
			}
			if conn, err = w.db.listen(ctx); err != nil {
				w.db.log.Warn("postgres: reconnect change notifications", "err", err)
			}
		}
		if err := w.catchUp(ctx); err != nil && ctx.Err() == nil {
			w.db.log.Error("postgres: catch up on changes", "err", err)
		}
	}
}

// follow handles notifications until the connection fails or ctx ends.
func (w *watcher) follow(ctx context.Context, conn *pgx.Conn) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var nt notice
		if err := json.Unmarshal([]byte(n.Payload), &nt); err != nil {
			w.db.log.Warn("postgres: malformed change notification", "payload", n.Payload, "err", err)
			continue
		}
		if nt.Schema != w.db.schema {
			continue // another Flagpole database in the same PostgreSQL database
		}
		if nt.Revision > w.last[nt.Environment] {
			w.last[nt.Environment] = nt.Revision
		}
		if nt.Deleted {
			// What is logged next for the name belongs to a new
			// environment: catch up on all of it after a reconnect.
			delete(w.last, nt.Environment)
		}
		if nt.Replica == w.db.replica {
			continue // published locally after the commit
		}
		w.h.Invalidate(nt.Environment)
		if nt.Deleted {
			w.forget(nt.Environment)
		}
		if nt.Revision == 0 {
			continue
		}
		c, found, err := w.db.change(ctx, nt.Environment, nt.Revision)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return err
			}
			w.db.log.Error("postgres: read change", "environment", nt.Environment, "revision", nt.Revision, "err", err)
		case found:
			w.h.Publish(c)
		default:
			// Committed without a recorded Change (not through the
			// service): streams resync when the next change shows the gap.
			w.db.log.Debug("postgres: change not in the log", "environment", nt.Environment, "revision", nt.Revision)
		}
	}
}

// forget tells the handler, if it wants to know, that env was deleted.
func (w *watcher) forget(env string) {
	if f, ok := w.h.(server.Forgetter); ok {
		f.Forget(env)
	}
}

// seed records every environment's revision when Watch starts (after
// LISTEN, so nothing committed later is missed): a reconnect then catches
// up on every environment, not only on those notified since.
func (w *watcher) seed(ctx context.Context) error {
	return w.db.view(ctx, func(t *tx) error {
		rows, err := t.tx.Query(t.ctx, "SELECT name, revision FROM environments")
		_, err = collect(rows, err, func(r pgx.Row) (struct{}, error) {
			var name string
			var rev int64
			err := r.Scan(&name, &rev)
			w.last[name] = rev
			return struct{}{}, err
		})
		return err
	})
}

// catchUp runs after a reconnect: every environment may have changed, and
// the changes logged meanwhile by other replicas are published in order:
// for an environment the watcher knew, those after the revision it last
// knew; for one it did not (created meanwhile, or deleted and created
// again), every logged one. An environment it knew that is gone was
// deleted meanwhile.
func (w *watcher) catchUp(ctx context.Context) error {
	var envs []string
	var missed []loggedChange
	err := w.db.view(ctx, func(t *tx) error {
		rows, err := t.tx.Query(t.ctx, "SELECT name FROM environments")
		if envs, err = collect(rows, err, func(r pgx.Row) (s string, err error) { return s, r.Scan(&s) }); err != nil {
			return err
		}
		for _, env := range envs {
			rows, err := t.tx.Query(t.ctx,
				"SELECT revision, replica, change FROM changes WHERE environment = $1 AND revision > $2 ORDER BY revision", env, w.last[env])
			logged, err := collect(rows, err, scanLoggedChange)
			if err != nil {
				return err
			}
			missed = append(missed, logged...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for env := range w.last {
		if !slices.Contains(envs, env) {
			delete(w.last, env)
			w.h.Invalidate(env)
			w.forget(env)
		}
	}
	for _, env := range envs {
		w.h.Invalidate(env)
	}
	for _, l := range missed {
		w.last[l.change.Environment] = max(w.last[l.change.Environment], l.change.Revision)
		if l.replica != w.db.replica {
			w.h.Publish(l.change)
		}
	}
	return nil
}

type loggedChange struct {
	replica string
	change  server.Change
}

func scanLoggedChange(r pgx.Row) (loggedChange, error) {
	var l loggedChange
	var rev int64
	var doc []byte
	if err := r.Scan(&rev, &l.replica, &doc); err != nil {
		return l, err
	}
	var err error
	l.change, err = decodeChange(doc)
	return l, err
}

// change reads the logged Change of env at rev.
func (db *DB) change(ctx context.Context, env string, rev int64) (server.Change, bool, error) {
	var doc []byte
	err := db.pool.QueryRow(ctx, "SELECT change FROM changes WHERE environment = $1 AND revision = $2", env, rev).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return server.Change{}, false, nil
	}
	if err != nil {
		return server.Change{}, false, err
	}
	c, err := decodeChange(doc)
	return c, err == nil, err
}

// decodeChange reads a logged Change, giving variant values their Go types.
func decodeChange(doc []byte) (server.Change, error) {
	var c server.Change
	if err := server.DecodeJSON(doc, &c); err != nil {
		return c, fmt.Errorf("decode change: %w", err)
	}
	for i := range c.Flags {
		server.TypeNumbers(&c.Flags[i].Flag)
	}
	c.Time = c.Time.UTC()
	return c, nil
}

// discard is the default logger: silent.
var discard = slog.New(slog.DiscardHandler)
