package daemon

import (
	"context"

	"google.golang.org/grpc"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/grpcapi"
	"github.com/flagpole/flagpole/server/service"
	"github.com/flagpole/flagpole/server/webhook"
)

// webhooks is the server's webhook manager and the dispatcher goroutine
// that sends the outbox; stopWebhooks ends it.
type webhooks struct {
	manager    *webhook.Manager
	dispatcher *webhook.Dispatcher
	stop       context.CancelFunc
	done       chan struct{}
}

// startWebhooks starts the dispatcher when the store keeps webhooks. It
// is woken by every committed change (it is a publisher) and otherwise
// polls, which picks up deliveries that auth changes, a restart or another
// replica left.
func (s *Server) startWebhooks() {
	ws, ok := s.store.(webhook.Store)
	if !ok {
		return
	}
	opts := s.cfg.Webhooks
	opts.Guard = webhook.Guard{Allow: s.cfg.WebhookAllow}
	opts.Log = s.log
	opts.Observer = s.observe.metrics
	if r, ok := s.store.(interface{ Replica() string }); ok && opts.Owner == "" {
		opts.Owner = r.Replica()
	}
	w := &webhooks{manager: webhook.NewManager(ws, opts.Guard), dispatcher: webhook.NewDispatcher(ws, opts), done: make(chan struct{})}
	s.observe.metrics.WatchDeliveries(func(state string) (n int, err error) {
		err = ws.ViewWebhooks(context.Background(), func(tx webhook.Tx) error {
			n, err = tx.CountDeliveries(state)
			return err
		})
		return n, err
	})
	var ctx context.Context
	ctx, w.stop = context.WithCancel(context.Background())
	go func() {
		defer close(w.done)
		w.dispatcher.Run(ctx)
	}()
	s.webhooks = w
}

// stopWebhooks stops the dispatcher and waits for its sends in flight
// (each bounded by the delivery timeout); call it before the store closes.
func (s *Server) stopWebhooks() {
	if s.webhooks != nil {
		s.webhooks.stop()
		<-s.webhooks.done
	}
}

// Publish wakes the dispatcher after a commit; it never blocks.
func (w *webhooks) Publish(server.Change) { w.dispatcher.Wake() }

// webhookServiceOptions make every commit wake the dispatcher.
func (s *Server) webhookServiceOptions() []service.Option {
	if s.webhooks == nil {
		return nil
	}
	return []service.Option{service.WithPublisher(s.webhooks)}
}

// registerWebhooks registers WebhookService on gs (the gRPC server or the
// HTTP API) when the store keeps webhooks.
func (s *Server) registerWebhooks(gs grpc.ServiceRegistrar) {
	if s.webhooks != nil {
		grpcapi.RegisterWebhooks(gs, s.webhooks.manager, s.log)
	}
}
