// Package signals keeps the signals of guarded flags that guarded releases
// judge: tracked events that SDKs attribute to the variant each context is
// served (count and sum of values per flag, variant and event), and the
// flag's exposures per variant, minute by minute. SDKs send SignalReports on
// their sync stream; the Aggregator sums them in memory and flushes them to
// a server.SignalStore, which keeps server.SignalRetention of them.
//
// Counts are placed at the minute the server receives them, as usage counts
// are: the server's clock is the one guards judge by, and a report covers
// the last few seconds only.
package signals

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/flagpole/flagpole/server"
)

// Limits on what the server keeps of reports, so that a misbehaving client
// cannot grow its memory or the database.
const (
	maxKeyLen = 128
	// MaxCountsPerReport is how many counts (events and exposures) of one
	// report are kept; the rest are dropped.
	MaxCountsPerReport = 2_000
	maxCountsPerFlush  = 100_000
)

// Aggregator sums signal counts in memory until Flush writes them to the
// Store. It is safe for concurrent use.
type Aggregator struct {
	store  server.SignalStore
	now    func() time.Time
	logger *slog.Logger

	observe func(time.Duration, error)

	mu      sync.Mutex
	pending map[key]*server.SignalCount
	dropped int64
}

type key struct {
	env, flag, variant, event string
	minute                    int64
}

// Option configures an Aggregator.
type Option func(*Aggregator)

// WithClock replaces time.Now (tests inject a clock).
func WithClock(now func() time.Time) Option { return func(a *Aggregator) { a.now = now } }

// WithLogger sets where flush errors are logged.
func WithLogger(l *slog.Logger) Option { return func(a *Aggregator) { a.logger = l } }

// WithFlushObserver is told how long each flush to the store took (the
// store-latency metric).
func WithFlushObserver(f func(time.Duration, error)) Option {
	return func(a *Aggregator) { a.observe = f }
}

// NewAggregator returns an Aggregator that flushes to store.
func NewAggregator(store server.SignalStore, opts ...Option) *Aggregator {
	a := &Aggregator{store: store, now: time.Now, logger: slog.Default(), pending: make(map[key]*server.SignalCount)}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Reported is one count of an SDK's signal report: exposures of a flag's
// variant, or tracked events (Event, with the sum of their values) of the
// contexts served the variant.
type Reported struct {
	FlagKey, Variant, Event string
	Count                   int64
	Sum, SumSquares         float64
}

// Report adds an SDK's signal report from the environment's sync stream,
// its exposures and its events, at the current minute. Beyond MaxCountsPerReport counts, and counts with
// empty or overlong names, are dropped.
func (a *Aggregator) Report(environment string, exposures, events []Reported) {
	minute := a.now().UTC().Truncate(time.Minute)
	a.mu.Lock()
	defer a.mu.Unlock()
	kept := 0
	for _, c := range exposures {
		if kept < MaxCountsPerReport && a.add(server.SignalCount{Environment: environment, FlagKey: c.FlagKey, Variant: c.Variant, Event: server.Exposure, Minute: minute, Count: c.Count}) {
			kept++
			continue
		}
		a.dropped++
	}
	for _, c := range events {
		if c.Event != "" && kept < MaxCountsPerReport &&
			a.add(server.SignalCount{Environment: environment, FlagKey: c.FlagKey, Variant: c.Variant, Event: c.Event, Minute: minute, Count: c.Count, Sum: c.Sum, SumSquares: c.SumSquares}) {
			kept++
			continue
		}
		a.dropped++
	}
}

// Dropped returns how many counts were dropped since start.
func (a *Aggregator) Dropped() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.dropped
}

// add adds c; a.mu is held.
func (a *Aggregator) add(c server.SignalCount) bool {
	if c.Count < 0 || (c.Count == 0 && c.Sum == 0 && c.SumSquares == 0) || c.FlagKey == "" || c.Variant == "" ||
		len(c.Environment) > maxKeyLen || len(c.FlagKey) > maxKeyLen || len(c.Variant) > maxKeyLen || len(c.Event) > maxKeyLen {
		return false
	}
	k := key{c.Environment, c.FlagKey, c.Variant, c.Event, c.Minute.Unix()}
	p := a.pending[k]
	if p == nil {
		if len(a.pending) >= maxCountsPerFlush {
			return false
		}
		p = &server.SignalCount{Environment: c.Environment, FlagKey: c.FlagKey, Variant: c.Variant, Event: c.Event, Minute: c.Minute}
		a.pending[k] = p
	}
	p.Count += c.Count
	p.Sum += c.Sum
	p.SumSquares += c.SumSquares
	return true
}

// Flush writes what was reported since the last flush and prunes counts
// older than Retention. On error the counts are put back, to be written by
// the next flush.
func (a *Aggregator) Flush(ctx context.Context) error {
	a.mu.Lock()
	pending := a.pending
	a.pending = make(map[key]*server.SignalCount, len(pending))
	a.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	counts := make([]server.SignalCount, 0, len(pending))
	for _, c := range pending {
		counts = append(counts, *c)
	}
	start := time.Now()
	err := a.store.AddSignals(ctx, counts, a.now().UTC().Add(-server.SignalRetention).Truncate(time.Minute))
	if a.observe != nil {
		a.observe(time.Since(start), err)
	}
	if err != nil {
		a.mu.Lock()
		for _, c := range counts {
			if !a.add(c) {
				a.dropped++
			}
		}
		a.mu.Unlock()
		return fmt.Errorf("signals: flush: %w", err)
	}
	return nil
}

// Run flushes every interval until ctx is done, then once more with a
// short deadline so that nothing reported before shutdown is lost.
func (a *Aggregator) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := a.Flush(ctx); err != nil {
				a.logger.Error("signals flush failed", "err", err)
			}
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := a.Flush(final); err != nil {
				a.logger.Error("signals flush at shutdown failed", "err", err)
			}
			return
		}
	}
}
