package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Observer is told of every finished attempt; server/metrics implements it.
type Observer interface {
	// DeliveryAttempt records an attempt's result: "delivered", "retry" or
	// "failed" (given up).
	DeliveryAttempt(result string)
}

// Options tune a Dispatcher; zero fields take the defaults noted.
type Options struct {
	// Attempts is how many times a delivery is tried before it is marked
	// failed (default 8).
	Attempts int
	// Backoff is the wait after the first failed attempt, doubled after
	// each further one, with ±25% jitter (default 30s: 8 attempts span
	// about an hour).
	Backoff time.Duration
	// Timeout bounds one attempt, connection included (default 10s).
	Timeout time.Duration
	// Concurrency is how many deliveries are sent at once (default 4).
	Concurrency int
	// Poll is how often the outbox is read when idle (default 1s).
	Poll time.Duration
	// Guard refuses destinations (default: Blocked, no allow-list).
	Guard Guard
	// Keep is how long delivered and failed deliveries stay listed before
	// they are removed (default 7 days).
	Keep time.Duration
	// Owner names this replica in leases (default: a random id).
	Owner    string
	Observer Observer
	Log      *slog.Logger
}

func (o *Options) defaults() {
	if o.Attempts <= 0 {
		o.Attempts = 8
	}
	if o.Backoff <= 0 {
		o.Backoff = 30 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Keep <= 0 {
		o.Keep = 7 * 24 * time.Hour
	}
	if o.Owner == "" {
		o.Owner = newID("replica_")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Dispatcher sends the outbox. Run it in one goroutine; it returns when
// its context ends. Sends happen outside any change's transaction, each
// bounded by Timeout, at most Concurrency at once, so a slow or dead
// receiver delays nothing but its own deliveries.
type Dispatcher struct {
	store  Store
	opts   Options
	client *http.Client
	wake   chan struct{}
}

// NewDispatcher returns a Dispatcher of store's outbox.
func NewDispatcher(store Store, opts Options) *Dispatcher {
	opts.defaults()
	return &Dispatcher{store: store, opts: opts, client: NewClient(opts.Guard, opts.Timeout), wake: make(chan struct{}, 1)}
}

// NewClient returns an HTTP client that connects only where g allows, uses
// no proxy from the environment (which would bypass the check), follows no
// redirects and gives up after timeout.
func NewClient(g Guard, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, Control: g.Control}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy: nil, DialContext: d.DialContext, MaxIdleConnsPerHost: 2,
			IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Wake makes Run look at the outbox now rather than at its next poll; it
// never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run sends due deliveries until ctx ends, then waits for the sends in
// flight (each bounded by Timeout).
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, d.opts.Concurrency)
	t := time.NewTicker(d.opts.Poll)
	defer t.Stop()
	var pruned time.Time
	for {
		if time.Since(pruned) > time.Hour {
			d.prune(ctx)
			pruned = time.Now()
		}
		n := d.round(ctx, slots, &wg)
		if n > 0 {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wake:
		}
	}
}

// prune removes finished deliveries older than Keep, so the outbox does
// not grow without bound.
func (d *Dispatcher) prune(ctx context.Context) {
	err := d.store.UpdateWebhooks(ctx, func(tx Tx) error {
		_, err := tx.PruneDeliveries(time.Now().Add(-d.opts.Keep))
		return err
	})
	if err != nil && ctx.Err() == nil {
		d.opts.Log.Error("webhook: prune deliveries", "err", err)
	}
}

// round claims as many due deliveries as there are free slots and starts
// sending them; it returns how many it started.
func (d *Dispatcher) round(ctx context.Context, slots chan struct{}, wg *sync.WaitGroup) int {
	free := cap(slots) - len(slots)
	if free == 0 || ctx.Err() != nil {
		return 0
	}
	now := time.Now().UTC()
	var claimed []Delivery
	var subs map[string]Subscription
	err := d.store.UpdateWebhooks(ctx, func(tx Tx) (err error) {
		// The lease outlasts the attempt, so nobody else sends it meanwhile.
		claimed, err = tx.ClaimDeliveries(d.opts.Owner, now, now.Add(2*d.opts.Timeout+5*time.Second), free)
		if err != nil || len(claimed) == 0 {
			return err
		}
		all, err := tx.ListWebhooks()
		subs = map[string]Subscription{}
		for _, s := range all {
			subs[s.ID] = s
		}
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			d.opts.Log.Error("webhook: claim deliveries", "err", err)
		}
		return 0
	}
	for _, dl := range claimed {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done(); d.Wake() }() // a free slot may take the next due delivery
			d.attempt(ctx, subs[dl.WebhookID], dl)
		}()
	}
	return len(claimed)
}

// attempt sends one delivery and stores the outcome.
func (d *Dispatcher) attempt(ctx context.Context, s Subscription, dl Delivery) {
	status, err := Send(ctx, d.client, s, dl.ID, dl.Kind, dl.Body)
	dl.LastStatus = status
	dl.LastError = ""
	dl.UpdatedAt = time.Now().UTC()
	result := "delivered"
	if err != nil && ctx.Err() != nil {
		// Cut off by shutdown: not the receiver's failure. Release the
		// lease without counting the attempt; the next start sends it.
		dl.LastError, dl.NextAt = "interrupted by server shutdown", dl.UpdatedAt
		d.finish(ctx, dl)
		return
	}
	dl.Attempts++
	switch {
	case err == nil:
		dl.State = StateDelivered
	case dl.Attempts >= d.opts.Attempts:
		dl.State, dl.LastError, result = StateFailed, err.Error(), "failed"
	default:
		dl.State, dl.LastError, result = StatePending, err.Error(), "retry"
		dl.NextAt = dl.UpdatedAt.Add(d.backoff(dl.Attempts))
	}
	if d.opts.Observer != nil {
		d.opts.Observer.DeliveryAttempt(result)
	}
	d.finish(ctx, dl)
	if result != "delivered" {
		d.opts.Log.Warn("webhook: delivery attempt failed", "delivery", dl.ID, "webhook", dl.WebhookID,
			"attempt", dl.Attempts, "result", result, "err", dl.LastError)
	}
}

// finish stores an attempt's outcome, even while shutting down: the send
// happened.
func (d *Dispatcher) finish(ctx context.Context, dl Delivery) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := d.store.UpdateWebhooks(sctx, func(tx Tx) error {
		_, err := tx.FinishDelivery(d.opts.Owner, dl)
		return err
	})
	if err != nil {
		d.opts.Log.Error("webhook: store delivery outcome", "delivery", dl.ID, "err", err)
	}
}

// backoff is the wait after the n-th failed attempt: Backoff·2^(n-1), ±25%.
func (d *Dispatcher) backoff(n int) time.Duration {
	b := d.opts.Backoff << min(n-1, 20)
	return time.Duration(float64(b) * (0.75 + rand.Float64()/2))
}

// Send posts body to s once, signed now, and returns the response status;
// anything but a 2xx is an error.
func Send(ctx context.Context, c *http.Client, s Subscription, id, kind string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Flagpole-Webhook/1")
	req.Header.Set("Flagpole-Delivery", id)
	req.Header.Set("Flagpole-Event", kind)
	req.Header.Set(SignatureHeader, Sign(s.Secret, time.Now(), body))
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("webhook: receiver answered %s", strconv.Itoa(resp.StatusCode)+" "+http.StatusText(resp.StatusCode))
	}
	return resp.StatusCode, nil
}
