// Package usage keeps flag usage insights: per flag and environment, when it
// was last evaluated, by which services, and which variants it served hour by
// hour over the last day. SDKs count evaluations locally and report the counts
// on their sync stream; remote evaluations (OFREP) are recorded directly. The
// Aggregator sums reports in memory and flushes them to a server.UsageStore
// periodically, so an evaluation never waits for the database.
//
// From that record the package decides which flags are stale: not evaluated
// for a while, or serving one single variant to everyone for a while. Those
// are the flags that are safe to delete.
package usage

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/flagpole/flagpole/server"
)

// Limits on what one report may carry; anything beyond is dropped so that a
// misbehaving client cannot grow the server's memory or the database.
const (
	maxKeyLen         = 128
	maxCountsPerFlush = 100_000
	// MaxCountsPerReport bounds the counts taken from one SDK report: an
	// environment's flags times their variants, for any sane environment.
	MaxCountsPerReport = 10_000
	// MaxServicesPerSource bounds the service names one credential may
	// report usage under per hour; further names count as OtherService.
	// The service name is the client's to choose, and every name is a row
	// per flag and variant and hour.
	MaxServicesPerSource = 100
	// OtherService is the service usage beyond MaxServicesPerSource is
	// counted under.
	OtherService = "_other"
)

// Aggregator sums usage in memory until Flush writes it to the Store. It is
// safe for concurrent use.
type Aggregator struct {
	store  server.UsageStore
	now    func() time.Time
	logger *slog.Logger

	observe func(time.Duration, error)

	mu      sync.Mutex
	pending map[countKey]*server.UsageCount
	dropped int64
	// services are the service names each source (credential) reported
	// under in the hour sourcesHour.
	services    map[string]map[string]struct{}
	sourcesHour int64
}

type countKey struct {
	env, flag, service, variant string
	hour                        int64
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
func NewAggregator(store server.UsageStore, opts ...Option) *Aggregator {
	a := &Aggregator{store: store, now: time.Now, logger: slog.Default(), pending: make(map[countKey]*server.UsageCount),
		services: make(map[string]map[string]struct{})}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Record adds count evaluations of flag that served variant to service,
// now.
func (a *Aggregator) Record(environment, service, flag, variant string, count int64) {
	a.add(environment, service, flag, variant, count, a.now())
}

// Reported is one count of an SDK's usage report: how often a flag served
// a variant.
type Reported struct {
	FlagKey, Variant string
	Count            int64
}

// Report adds an SDK's usage report from a sync stream, sent by source
// (the credential's name) under service. Only counts of flags and variants
// that known accepts are taken (nil accepts all), at most
// MaxCountsPerReport of them, and a source's service names beyond
// MaxServicesPerSource in an hour count as OtherService: a client cannot
// invent rows. The evaluations are placed at the time the server receives
// the report: the report covers the last few seconds, and the server's
// clock is the one staleness is judged by (SDK hosts' clocks may be off).
// It returns how many counts were taken.
func (a *Aggregator) Report(source, environment, service string, counts []Reported, known func(flag, variant string) bool) int {
	now := a.now()
	if len(counts) > MaxCountsPerReport {
		counts = counts[:MaxCountsPerReport]
	}
	taken := make([]Reported, 0, len(counts))
	for _, c := range counts {
		if known == nil || known(c.FlagKey, c.Variant) {
			taken = append(taken, c)
		}
	}
	if len(taken) == 0 {
		return 0
	}
	service = a.serviceOf(source, service, now)
	for _, c := range taken {
		a.add(environment, service, c.FlagKey, c.Variant, c.Count, now)
	}
	return len(taken)
}

// serviceOf is the service name source's report under service counts as.
func (a *Aggregator) serviceOf(source, service string, now time.Time) string {
	hour := now.UTC().Truncate(time.Hour).Unix()
	a.mu.Lock()
	defer a.mu.Unlock()
	if hour != a.sourcesHour {
		clear(a.services)
		a.sourcesHour = hour
	}
	names := a.services[source]
	if names == nil {
		names = make(map[string]struct{})
		a.services[source] = names
	}
	if _, ok := names[service]; ok {
		return service
	}
	if len(names) >= MaxServicesPerSource {
		return OtherService
	}
	names[service] = struct{}{}
	return service
}

func (a *Aggregator) add(env, service, flag, variant string, n int64, at time.Time) {
	if n <= 0 || flag == "" || len(flag) > maxKeyLen || len(variant) > maxKeyLen || len(env) > maxKeyLen {
		return
	}
	if len(service) > maxKeyLen {
		service = service[:maxKeyLen]
	}
	at = at.UTC()
	hour := at.Truncate(time.Hour)
	k := countKey{env, flag, service, variant, hour.Unix()}
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.pending[k]
	if c == nil {
		if len(a.pending) >= maxCountsPerFlush {
			a.dropped++
			return
		}
		c = &server.UsageCount{Environment: env, FlagKey: flag, Service: service, Variant: variant, Hour: hour, First: at, Last: at}
		a.pending[k] = c
	}
	c.Count += n
	if at.Before(c.First) {
		c.First = at
	}
	if at.After(c.Last) {
		c.Last = at
	}
}

// Flush writes what was recorded since the last flush. On error the counts
// are put back, to be written by the next flush.
func (a *Aggregator) Flush(ctx context.Context) error {
	a.mu.Lock()
	pending := a.pending
	a.pending = make(map[countKey]*server.UsageCount, len(pending))
	a.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	counts := make([]server.UsageCount, 0, len(pending))
	for _, c := range pending {
		counts = append(counts, *c)
	}
	start := time.Now()
	err := a.store.AddUsage(ctx, counts, a.now().Add(-server.UsageRetention).Truncate(time.Hour))
	if a.observe != nil {
		a.observe(time.Since(start), err)
	}
	if err != nil {
		a.restore(counts)
		return fmt.Errorf("usage: flush: %w", err)
	}
	return nil
}

func (a *Aggregator) restore(counts []server.UsageCount) {
	for _, c := range counts {
		a.add(c.Environment, c.Service, c.FlagKey, c.Variant, c.Count, c.Last)
	}
}

// Run flushes every interval until ctx is done, then flushes once more with
// a short deadline so that nothing recorded before shutdown is lost.
func (a *Aggregator) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := a.Flush(ctx); err != nil {
				a.logger.Error("usage flush failed", "err", err)
			}
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := a.Flush(final); err != nil {
				a.logger.Error("usage flush at shutdown failed", "err", err)
			}
			return
		}
	}
}
