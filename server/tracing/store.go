package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/service"
)

// Store wraps s so that every transaction made on behalf of a traced call
// gets a span, "store.update" or "store.view", a child of the call's span,
// with db.system.name = system ("sqlite", "postgresql"). Transactions of
// background work (release plans, webhook deliveries, usage flushes) have
// no span in their context and get none, so they do not start a trace of
// their own every few seconds. It returns s itself when tracing is off.
func (t *Tracing) Store(s service.Store, system string) service.Store {
	if t == nil {
		return s
	}
	return tracedStore{Store: s, tracer: t.Tracer(), system: attribute.String("db.system.name", system)}
}

type tracedStore struct {
	service.Store
	tracer trace.Tracer
	system attribute.KeyValue
}

func (s tracedStore) Update(ctx context.Context, fn func(service.Tx) error) error {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return s.Store.Update(ctx, fn)
	}
	ctx, span := s.tracer.Start(ctx, "store.update", trace.WithAttributes(s.system))
	defer span.End()
	return s.end(span, s.Store.Update(ctx, fn))
}

func (s tracedStore) View(ctx context.Context, fn func(service.Tx) error) error {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return s.Store.View(ctx, fn)
	}
	ctx, span := s.tracer.Start(ctx, "store.view", trace.WithAttributes(s.system))
	defer span.End()
	return s.end(span, s.Store.View(ctx, fn))
}

// end records how the transaction ended: error.type is the error's code
// (not_found, conflict, invalid, ...: the transaction rolled back), and
// the span's status is an error only for unexpected errors (internal).
func (s tracedStore) end(span trace.Span, err error) error {
	if err == nil {
		return nil
	}
	code := server.ErrorCode(err)
	span.SetAttributes(attribute.String("error.type", code))
	if code == server.EINTERNAL || code == server.EUNAVAILABLE {
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}
