// Package fanout delivers committed changes to every sync stream of an
// environment. Writers publish after commit and never wait for readers: each
// change is encoded once per environment, appended to a short log that lets
// a reconnecting client resume, and offered to every subscriber's bounded
// queue. A subscriber whose queue is full is dropped and told to resync, so a
// slow or stuck stream costs neither the writers nor the other streams
// anything, and the server never buffers without bound.
package fanout

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flagpole/flagpole/server"
)

// Event is one published change of an environment, encoded once and shared
// read-only by every subscriber.
//
// An event keeps only the encoded change, never the decoded one next to
// it: the hub's log holds recent events of every environment, and a large
// flag definition kept twice doubled what the log cost.
type Event struct {
	Revision int64
	// Created is the change's Created (see server.Change): the change
	// creates the environment.
	Created bool
	// Payload is the change in the wire encoding (see Encoder).
	Payload []byte
	// Published is when the hub received the change from the writer.
	Published time.Time
}

// Encoder turns a change into the bytes sent to every subscriber.
type Encoder func(server.Change) ([]byte, error)

// Defaults.
const (
	DefaultLogSize = 256
	// DefaultLogBytes bounds the payload bytes an environment's log
	// retains: 256 changes of a large definition (the engine allows a
	// variant value of up to 1 MiB) would otherwise keep hundreds of MiB
	// alive. A client further behind than the log gets a snapshot.
	DefaultLogBytes   = 16 << 20
	DefaultQueueSize  = 64
	DefaultReorderFor = 200 * time.Millisecond
)

// Option configures a Hub.
type Option func(*Hub)

// WithLogSize sets how many recent changes per environment are kept for
// resuming clients.
func WithLogSize(n int) Option { return func(h *Hub) { h.logSize = max(n, 1) } }

// WithLogBytes bounds the payload bytes of the changes kept per
// environment for resuming clients; the oldest are dropped first. A change
// larger than the bound is delivered but not kept.
func WithLogBytes(n int64) Option { return func(h *Hub) { h.logBytes = max(n, 1) } }

// WithQueueSize sets the per-subscriber queue length; a subscriber that falls
// further behind is dropped to a resync.
func WithQueueSize(n int) Option { return func(h *Hub) { h.queueSize = max(n, 1) } }

// WithReorderWindow sets how long a change that arrives ahead of a missing
// revision is held back waiting for it before subscribers are resynced.
func WithReorderWindow(d time.Duration) Option {
	return func(h *Hub) { h.reorderNanos.Store(int64(d)) }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(h *Hub) { h.log = l } }

// Hub keeps one topic per environment. It implements the service's
// Publisher. The zero value is not usable; call New.
type Hub struct {
	encode       Encoder
	logSize      int
	logBytes     int64
	queueSize    int
	reorderNanos atomic.Int64
	log          *slog.Logger

	mu     sync.Mutex
	topics map[string]*topic
	// generations counts the Forget calls per environment, so that state
	// derived from a forgotten topic (a cached snapshot) can tell that it
	// belongs to an environment that no longer exists.
	generations map[string]uint64
}

// New returns a hub that encodes changes with encode.
func New(encode Encoder, opts ...Option) *Hub {
	h := &Hub{
		encode:    encode,
		logSize:   DefaultLogSize,
		logBytes:  DefaultLogBytes,
		queueSize: DefaultQueueSize,
		log:       slog.Default(),
		topics:    make(map[string]*topic),

		generations: make(map[string]uint64),
	}
	h.reorderNanos.Store(int64(DefaultReorderFor))
	for _, o := range opts {
		o(h)
	}
	return h
}

func (h *Hub) reorderWindow() time.Duration { return time.Duration(h.reorderNanos.Load()) }

func (h *Hub) topic(env string) *topic {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.topics[env]
	if t == nil {
		t = &topic{hub: h, env: env, subs: make(map[*Subscription]struct{}), pending: make(map[int64]*Event)}
		h.topics[env] = t
	}
	return t
}

// Publish encodes a committed change once and offers it to every subscriber
// of its environment. It never blocks on subscribers. Changes may arrive out
// of revision order (concurrent writers publish after their own commits);
// they are delivered in order.
func (h *Hub) Publish(c server.Change) {
	published := time.Now()
	payload, err := h.encode(c)
	if err != nil {
		// Subscribers cannot be given this change: resync them instead.
		h.log.Error("fanout: encode change", "environment", c.Environment, "revision", c.Revision, "err", err)
		h.topic(c.Environment).resync(c.Revision)
		return
	}
	h.topic(c.Environment).publish(&Event{Revision: c.Revision, Created: c.Created, Payload: payload, Published: published})
}

// Subscribe starts a subscription to env for a client at revision have
// (0 for none). It returns the logged events after have when the log can
// bring the client up to date without a snapshot (ok is true); otherwise the
// caller must send a snapshot and skip queued events at or below it.
func (h *Hub) Subscribe(env string, have int64) (sub *Subscription, backlog []*Event, ok bool) {
	return h.topic(env).subscribe(have, nil)
}

// SubscribeNotify is Subscribe with a callback instead of a waiting
// reader: notify is called, with the hub's lock held, after every event
// queued to the subscription and when it is dropped, so it must only note
// that there is work (e.g. start a writer if none runs) and never block or
// call back into the hub.
func (h *Hub) SubscribeNotify(env string, have int64, notify func()) (sub *Subscription, backlog []*Event, ok bool) {
	return h.topic(env).subscribe(have, notify)
}

// Revision returns the last revision delivered for env, 0 if none is known.
func (h *Hub) Revision(env string) int64 {
	h.mu.Lock()
	t := h.topics[env]
	h.mu.Unlock()
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// LogBytes returns the payload bytes env's log retains and how many
// changes it holds.
func (h *Hub) LogBytes(env string) (bytes int64, changes int) {
	h.mu.Lock()
	t := h.topics[env]
	h.mu.Unlock()
	if t == nil {
		return 0, 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.logBytes, len(t.log)
}

// Forget drops env's topic after the environment was deleted: every
// subscriber is dropped (its stream resyncs from a snapshot, which for a
// deleted environment fails with NOT_FOUND), and the topic's log, pending
// changes and last revision are forgotten, so a recreated environment of
// the same name starts from what the store says, never from what the old
// one had. Call it after the deletion commits.
func (h *Hub) Forget(env string) {
	h.mu.Lock()
	t := h.topics[env]
	delete(h.topics, env)
	h.generations[env]++
	h.mu.Unlock()
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	clear(t.pending)
	t.log = nil
	t.logBytes = 0
	t.dropAll()
}

// Generation returns how many times env was forgotten (see Forget). A
// snapshot read while the generation was g is stale once it is not g.
func (h *Hub) Generation(env string) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.generations[env]
}

// Close stops the hub's reorder timers. Publishing after Close still works
// but no longer waits for missing revisions.
func (h *Hub) Close() {
	h.reorderNanos.Store(0)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range h.topics {
		t.mu.Lock()
		if t.timer != nil {
			t.timer.Stop()
			t.timer = nil
		}
		t.mu.Unlock()
	}
}

// Has reports whether env has a topic: a subscription or a published
// change created it.
func (h *Hub) Has(env string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.topics[env] != nil
}

// Subscribers returns how many subscriptions env has.
func (h *Hub) Subscribers(env string) int {
	h.mu.Lock()
	t := h.topics[env]
	h.mu.Unlock()
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.subs)
}

// Subscription is one stream's place in a topic.
//
// A subscription made by Subscribe queues events in a channel of the
// queue size (Events). One made by SubscribeNotify has no channel: its
// events wait in a slice that grows only while they are pending and is
// read with Next, so an idle stream holds no queue at all.
type Subscription struct {
	t       *topic
	queue   chan *Event   // Subscribe only
	dropped chan struct{} // Subscribe only; closed when dropped
	gone    atomic.Bool   // dropped (every subscription)
	notify  func()        // SubscribeNotify only

	mu      sync.Mutex
	pending []*Event // SubscribeNotify only
}

// offer queues e; false when the queue is full. t.mu held.
func (s *Subscription) offer(e *Event, limit int) bool {
	if s.notify == nil {
		select {
		case s.queue <- e:
			return true
		default:
			return false
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) >= limit {
		return false
	}
	s.pending = append(s.pending, e)
	return true
}

// Next returns the next queued event without waiting, or nil.
func (s *Subscription) Next() *Event {
	if s.notify == nil {
		select {
		case e := <-s.queue:
			return e
		default:
			return nil
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) == 0 {
		return nil
	}
	e := s.pending[0]
	s.pending[0] = nil
	s.pending = s.pending[1:]
	if len(s.pending) == 0 {
		s.pending = nil // an idle subscription keeps no queue
	}
	return e
}

// Pending reports whether events are queued.
func (s *Subscription) Pending() bool {
	if s.notify == nil {
		return len(s.queue) > 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) > 0
}

// IsDropped reports whether the subscription was dropped (for one made by
// Subscribe: whether Dropped is closed).
func (s *Subscription) IsDropped() bool { return s.gone.Load() }

// Events delivers the subscription's events in revision order. It is nil
// for a subscription made by SubscribeNotify (read those with Next).
func (s *Subscription) Events() <-chan *Event { return s.queue }

// Dropped is closed when the subscription fell behind (its queue was full)
// or missed a change: the subscriber must resync from a snapshot and
// subscribe again. No more events arrive after it is closed. It is nil for
// a subscription made by SubscribeNotify, whose callback is told instead
// (and IsDropped reports it): an idle stream keeps no channel.
func (s *Subscription) Dropped() <-chan struct{} { return s.dropped }

// Close ends the subscription. It is safe to call more than once.
func (s *Subscription) Close() {
	s.t.mu.Lock()
	defer s.t.mu.Unlock()
	delete(s.t.subs, s)
}

type topic struct {
	hub *Hub
	env string

	mu   sync.Mutex
	last int64    // last delivered revision, 0 if unknown
	log  []*Event // recent contiguous events, oldest first
	// logBytes is the sum of the log's payload sizes, at most the hub's
	// logBytes.
	logBytes int64
	subs     map[*Subscription]struct{}
	pending  map[int64]*Event // arrived ahead of a missing revision
	timer    *time.Timer      // flushes pending after the reorder window
}

func (t *topic) subscribe(have int64, notify func()) (*Subscription, []*Event, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &Subscription{t: t, notify: notify}
	if notify == nil {
		s.queue = make(chan *Event, t.hub.queueSize)
		s.dropped = make(chan struct{})
	}
	t.subs[s] = struct{}{}
	if have <= 0 || t.last == 0 || have > t.last {
		return s, nil, false
	}
	if have == t.last {
		return s, nil, true
	}
	if len(t.log) == 0 || t.log[0].Revision > have+1 {
		return s, nil, false
	}
	i := int(have + 1 - t.log[0].Revision)
	for _, e := range t.log[i:] {
		if e.Created {
			// The environment was (re)created after the client's revision:
			// what it holds belongs to the old one, so it starts over.
			return s, nil, false
		}
	}
	return s, append([]*Event(nil), t.log[i:]...), true
}

func (t *topic) publish(e *Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.last == 0 || e.Revision == t.last+1:
		t.deliver(e)
		t.drainPending()
	case e.Revision <= t.last:
		if t.logged(e.Revision) {
			return // a duplicate
		}
		// A change older than what subscribers already have arrived late:
		// they cannot apply it in order any more.
		t.hub.log.Warn("fanout: late change, resyncing subscribers", "environment", t.env, "revision", e.Revision, "last", t.last)
		t.dropAll()
	default:
		t.pending[e.Revision] = e
		if t.hub.reorderWindow() <= 0 {
			t.flushPendingLocked()
			return
		}
		if t.timer == nil {
			t.timer = time.AfterFunc(t.hub.reorderWindow(), t.flushPending)
		}
	}
}

func (t *topic) logged(rev int64) bool {
	return len(t.log) > 0 && rev >= t.log[0].Revision && rev <= t.log[len(t.log)-1].Revision
}

// deliver appends e to the log and offers it to every subscriber. t.mu held.
func (t *topic) deliver(e *Event) {
	if t.last != 0 && e.Revision != t.last+1 {
		t.clearLog() // the log must stay contiguous
	}
	t.last = e.Revision
	t.appendLog(e)
	for s := range t.subs {
		if !s.offer(e, t.hub.queueSize) {
			t.drop(s)
			continue
		}
		if s.notify != nil {
			s.notify()
		}
	}
}

// appendLog keeps e in the log, dropping the oldest events while the log
// holds more than the hub's count or bytes. An event larger than the byte
// bound on its own empties the log: a client behind it needs a snapshot.
// t.mu held.
func (t *topic) appendLog(e *Event) {
	size := int64(len(e.Payload))
	if size > t.hub.logBytes {
		t.clearLog()
		return
	}
	drop := 0
	for drop < len(t.log) && (len(t.log)-drop >= t.hub.logSize || t.logBytes+size > t.hub.logBytes) {
		t.logBytes -= int64(len(t.log[drop].Payload))
		drop++
	}
	if drop > 0 {
		n := copy(t.log, t.log[drop:])
		clear(t.log[n:]) // let the dropped payloads be collected
		t.log = t.log[:n]
	}
	t.log = append(t.log, e)
	t.logBytes += size
}

// clearLog empties the log. t.mu held.
func (t *topic) clearLog() {
	clear(t.log)
	t.log = t.log[:0]
	t.logBytes = 0
}

func (t *topic) drainPending() {
	for {
		e, ok := t.pending[t.last+1]
		if !ok {
			break
		}
		delete(t.pending, e.Revision)
		t.deliver(e)
	}
	if len(t.pending) == 0 && t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
}

// flushPending gives up waiting for a missing revision: subscribers are
// resynced and the held changes delivered in order.
func (t *topic) flushPending() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.flushPendingLocked()
}

func (t *topic) flushPendingLocked() {
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	if len(t.pending) == 0 {
		return
	}
	t.hub.log.Warn("fanout: revision missing, resyncing subscribers", "environment", t.env, "missing", t.last+1)
	t.dropAll()
	for len(t.pending) > 0 {
		next := int64(0)
		for r := range t.pending {
			if next == 0 || r < next {
				next = r
			}
		}
		e := t.pending[next]
		delete(t.pending, next)
		t.deliver(e)
	}
}

func (t *topic) resync(rev int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropAll()
	t.clearLog()
	if rev > t.last {
		t.last = rev
	}
}

func (t *topic) dropAll() {
	for s := range t.subs {
		t.drop(s)
	}
}

// drop removes s and tells it to resync. t.mu held.
func (t *topic) drop(s *Subscription) {
	delete(t.subs, s)
	s.gone.Store(true)
	if s.dropped != nil {
		close(s.dropped)
	}
	if s.notify != nil {
		s.notify()
	}
}
