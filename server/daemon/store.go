package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/fanout"
	"github.com/flagpole/flagpole/server/postgres"
	"github.com/flagpole/flagpole/server/service"
	"github.com/flagpole/flagpole/server/sqlite"
)

// openStore opens the database the --db flag names: a postgres:// or
// postgresql:// URL is PostgreSQL, anything else a SQLite file.
func openStore(ctx context.Context, dsn string, log *slog.Logger) (Store, error) {
	if postgres.IsDSN(dsn) {
		return postgres.Open(ctx, dsn, postgres.WithLogger(log))
	}
	return sqlite.Open(ctx, dsn)
}

// displayDB is the --db value fit for a log: a URL without its password.
func displayDB(dsn string) string {
	if !postgres.IsDSN(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparsable)"
	}
	return u.Redacted()
}

// replicaWatcher is a store that several server replicas share and that
// reports the changes the other replicas commit (server/postgres).
type replicaWatcher interface {
	Watch(postgres.Handler) error
}

// watchReplicas makes changes committed through other replicas reach this
// one's evaluation cache and sync streams, when the store is shared.
func (s *Server) watchReplicas() error {
	w, ok := s.store.(replicaWatcher)
	if !ok {
		return nil
	}
	if err := w.Watch(replicaChanges{svc: s.Service, hub: s.hub}); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// replicaChanges hands another replica's changes to this one's service
// (whose cached snapshots go stale) and sync hub (whose streams want them).
type replicaChanges struct {
	svc *service.Service
	hub *fanout.Hub
}

func (r replicaChanges) Invalidate(env string)   { r.svc.Invalidate(env) }
func (r replicaChanges) Publish(c server.Change) { r.hub.Publish(c) }

// Forget ends the streams of an environment another replica deleted; they
// resync (and end with NOT_FOUND until the environment exists again).
func (r replicaChanges) Forget(env string) { r.hub.Forget(env) }
