package daemon

import (
	"context"
	"fmt"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/postgres"
	"github.com/flagpole/flagpole/server/tracing"
)

// startTracing sets up OpenTelemetry tracing from the OTEL_* environment
// variables: off (nil) unless an OTLP endpoint is set.
func (s *Server) startTracing(ctx context.Context) error {
	t, err := tracing.FromEnv(ctx, "flagpole")
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	s.tracing = t
	if t.Enabled() {
		log := s.log
		tracing.ReportErrors(func(err error) { log.Warn("tracing", "err", err) })
		s.log.Info("tracing: exporting spans over OTLP")
	}
	return nil
}

// stopTracing exports the last spans; call it after everything that makes
// spans has stopped.
func (s *Server) stopTracing(ctx context.Context) {
	if err := s.tracing.ShutdownWithin(ctx); err != nil {
		s.log.Warn("tracing: last spans not exported", "err", err)
	}
}

// tracedStore gives the transactions of traced calls a span.
func (s *Server) tracedStore(st server.Store) server.Store {
	system := "sqlite"
	if postgres.IsDSN(s.cfg.DBPath) {
		system = "postgresql"
	}
	return s.tracing.Store(st, system)
}
