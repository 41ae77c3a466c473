package fanout

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Client is one connected SDK instance as its stream registered it. The
// identifying fields are fixed at registration; the applied revision and the
// last-seen time move with every message the instance sends.
type Client struct {
	InstanceID  string
	ServiceName string
	SDKName     string
	SDKVersion  string
	Environment string
	PeerAddress string
	ConnectedAt time.Time

	applied  atomic.Int64
	ackedAt  atomic.Int64 // unix nanoseconds: when applied last moved
	lastSeen atomic.Int64 // unix nanoseconds
	reg      *Registry    // set by Add: told of every acknowledgement
	counted  bool         // in reg's revision counts; reg.cmu held
}

// Ack records that the instance applied rev.
func (c *Client) Ack(rev int64, now time.Time) {
	if c.reg != nil {
		if c.reg.ack(c, rev, now) {
			c.reg.changed(c.Environment)
		}
	} else {
		for {
			old := c.applied.Load()
			if rev <= old {
				break
			}
			if c.applied.CompareAndSwap(old, rev) {
				c.ackedAt.Store(now.UnixNano())
				break
			}
		}
	}
	c.Seen(now)
}

// Seen records that the instance was heard from.
func (c *Client) Seen(now time.Time) { c.lastSeen.Store(now.UnixNano()) }

// ClientInfo is a point-in-time copy of a Client.
type ClientInfo struct {
	InstanceID      string
	ServiceName     string
	SDKName         string
	SDKVersion      string
	Environment     string
	PeerAddress     string
	ConnectedAt     time.Time
	AppliedRevision int64
	// AckedAt is when the server received the acknowledgement of
	// AppliedRevision (zero before the first), on the server's clock.
	AckedAt  time.Time
	LastSeen time.Time
}

// Registry knows which SDK instances are connected to which environment.
// The zero value is ready to use.
type Registry struct {
	mu   sync.RWMutex
	envs map[string]map[*Client]struct{}

	// counts[env][rev] is how many of env's clients have applied exactly
	// rev: Pending answers from it without looking at every client. Every
	// move of a registered client's applied revision happens under cmu.
	cmu    sync.Mutex
	counts map[string]map[int64]int

	// Watchers of an environment wait on its channel, which is closed (and
	// forgotten) when an instance connects, disconnects or acknowledges a
	// revision there. Nothing is done per acknowledgement while nobody
	// watches.
	watchers atomic.Int32
	wmu      sync.Mutex
	wake     map[string]chan struct{}
}

// Add registers c under its environment.
func (r *Registry) Add(c *Client) {
	r.mu.Lock()
	if r.envs == nil {
		r.envs = make(map[string]map[*Client]struct{})
	}
	m := r.envs[c.Environment]
	if m == nil {
		m = make(map[*Client]struct{})
		r.envs[c.Environment] = m
	}
	c.reg = r
	m[c] = struct{}{}
	r.cmu.Lock()
	if !c.counted {
		r.count(c.Environment, c.applied.Load())
		c.counted = true
	}
	r.cmu.Unlock()
	r.mu.Unlock()
	r.changed(c.Environment)
}

// Remove unregisters c.
func (r *Registry) Remove(c *Client) {
	r.mu.Lock()
	delete(r.envs[c.Environment], c)
	r.cmu.Lock()
	if c.counted {
		c.counted = false
		r.uncount(c.Environment, c.applied.Load())
	}
	r.cmu.Unlock()
	r.mu.Unlock()
	r.changed(c.Environment)
}

// count adds one client at rev to env's counts. r.cmu held.
func (r *Registry) count(env string, rev int64) {
	if r.counts == nil {
		r.counts = make(map[string]map[int64]int)
	}
	n := r.counts[env]
	if n == nil {
		n = make(map[int64]int)
		r.counts[env] = n
	}
	n[rev]++
}

// uncount takes one client at rev out of env's counts. r.cmu held.
func (r *Registry) uncount(env string, rev int64) {
	n := r.counts[env]
	if n[rev]--; n[rev] <= 0 {
		delete(n, rev)
	}
	if len(n) == 0 {
		delete(r.counts, env)
	}
}

// ack moves c to rev if that is newer, and reports whether it did.
func (r *Registry) ack(c *Client, rev int64, now time.Time) bool {
	r.cmu.Lock()
	defer r.cmu.Unlock()
	old := c.applied.Load()
	if rev <= old {
		return false
	}
	c.applied.Store(rev)
	c.ackedAt.Store(now.UnixNano())
	if c.counted {
		r.uncount(c.Environment, old)
		r.count(c.Environment, rev)
	}
	return true
}

// Pending reports how many of env's clients have not acknowledged rev
// (their applied revision is older) and how many are connected. Its cost
// grows with the number of distinct revisions the clients are at, not
// with the number of clients.
func (r *Registry) Pending(env string, rev int64) (pending, connected int) {
	r.cmu.Lock()
	defer r.cmu.Unlock()
	if r.counts[env] == nil {
		return 0, 0
	}
	for at, n := range r.counts[env] {
		connected += n
		if at < rev {
			pending += n
		}
	}
	return pending, connected
}

// PendingClients returns up to limit of the clients of env that have not
// acknowledged rev, the first in List's order. It copies only those it
// returns and never sorts more than 2 × limit at once.
func (r *Registry) PendingClients(env string, rev int64, limit int) []ClientInfo {
	if limit <= 0 {
		return nil
	}
	byOrder := func(a, b *Client) int {
		return listOrder(a.ServiceName, a.InstanceID, a.ConnectedAt, b.ServiceName, b.InstanceID, b.ConnectedAt)
	}
	pending := make([]*Client, 0, 2*limit)
	r.mu.RLock()
	for c := range r.envs[env] {
		if c.applied.Load() >= rev {
			continue
		}
		if len(pending) == 2*limit {
			slices.SortFunc(pending, byOrder)
			clear(pending[limit:])
			pending = pending[:limit]
		}
		pending = append(pending, c)
	}
	r.mu.RUnlock()
	slices.SortFunc(pending, byOrder)
	out := make([]ClientInfo, 0, min(len(pending), limit))
	for _, c := range pending[:min(len(pending), limit)] {
		out = append(out, infoOf(c))
	}
	return out
}

// Watch returns a channel that is closed at the next change of env's
// clients (one connecting, leaving or acknowledging a revision), and a
// function to call when done waiting. List after Watch sees every change
// that did not close the channel.
func (r *Registry) Watch(env string) (<-chan struct{}, func()) {
	r.watchers.Add(1)
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if r.wake == nil {
		r.wake = make(map[string]chan struct{})
	}
	ch := r.wake[env]
	if ch == nil {
		ch = make(chan struct{})
		r.wake[env] = ch
	}
	return ch, func() { r.watchers.Add(-1) }
}

// changed wakes env's watchers.
func (r *Registry) changed(env string) {
	if r.watchers.Load() == 0 {
		return
	}
	r.wmu.Lock()
	if ch := r.wake[env]; ch != nil {
		close(ch)
		delete(r.wake, env)
	}
	r.wmu.Unlock()
}

// List returns the clients connected to env, ordered by service name and
// instance id.
func (r *Registry) List(env string) []ClientInfo {
	r.mu.RLock()
	out := make([]ClientInfo, 0, len(r.envs[env]))
	for c := range r.envs[env] {
		out = append(out, infoOf(c))
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b ClientInfo) int {
		return listOrder(a.ServiceName, a.InstanceID, a.ConnectedAt, b.ServiceName, b.InstanceID, b.ConnectedAt)
	})
	return out
}

func infoOf(c *Client) ClientInfo {
	i := ClientInfo{
		InstanceID:      c.InstanceID,
		ServiceName:     c.ServiceName,
		SDKName:         c.SDKName,
		SDKVersion:      c.SDKVersion,
		Environment:     c.Environment,
		PeerAddress:     c.PeerAddress,
		ConnectedAt:     c.ConnectedAt,
		AppliedRevision: c.applied.Load(),
		LastSeen:        time.Unix(0, c.lastSeen.Load()),
	}
	if at := c.ackedAt.Load(); at != 0 {
		i.AckedAt = time.Unix(0, at)
	}
	return i
}

// listOrder is List's order of two clients, a and b: by service name,
// instance id and connection time. PendingClients uses it too.
func listOrder(aService, aInstance string, aAt time.Time, bService, bInstance string, bAt time.Time) int {
	return cmp.Or(cmp.Compare(aService, bService), cmp.Compare(aInstance, bInstance), aAt.Compare(bAt))
}
