// Package ratelimit limits how often something may happen per key, with
// token buckets whose number is bounded.
package ratelimit

import (
	"slices"
	"sync"
	"time"
)

// Limiter is a set of token buckets by key (a username or a client IP):
// each holds up to burst tokens and regains one every interval.
type Limiter struct {
	burst    float64
	interval time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxBuckets bounds memory: past it, buckets that have refilled are
// dropped, and if that is not enough, the tenth least recently used. A key
// whose bucket is evicted early starts full again: the other limits (the
// client address's) still hold while a flood of new keys goes on.
const maxBuckets = 10000

// New returns a Limiter of buckets that hold burst tokens and regain one
// every interval.
func New(burst int, interval time.Duration) *Limiter {
	return &Limiter{burst: float64(burst), interval: interval, buckets: map[string]*bucket{}}
}

// Take spends one token of key's bucket at now. When the bucket is empty it
// reports false and how long until a token is back.
func (l *Limiter) Take(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
			if len(l.buckets) >= maxBuckets {
				l.evictOldest(maxBuckets / 10)
			}
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.refill(now, l.burst, l.interval)
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) * float64(l.interval))
	}
	b.tokens--
	return true, 0
}

// Reset forgets key's attempts.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	delete(l.buckets, key)
	l.mu.Unlock()
}

func (b *bucket) refill(now time.Time, burst float64, interval time.Duration) {
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = min(burst, b.tokens+float64(elapsed)/float64(interval))
		b.at = now
	}
}

// prune drops the buckets that are full again: they hold no memory of
// recent attempts.
func (l *Limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		b.refill(now, l.burst, l.interval)
		if b.tokens >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// evictOldest drops the n buckets used least recently. It sorts, but runs
// at most once per n new keys, so a flood of keys costs O(log n) each.
func (l *Limiter) evictOldest(n int) {
	type entry struct {
		key string
		at  time.Time
	}
	all := make([]entry, 0, len(l.buckets))
	for k, b := range l.buckets {
		all = append(all, entry{k, b.at})
	}
	slices.SortFunc(all, func(a, b entry) int { return a.at.Compare(b.at) })
	for _, e := range all[:min(n, len(all))] {
		delete(l.buckets, e.key)
	}
}

// Size is the number of buckets held.
func (l *Limiter) Size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
