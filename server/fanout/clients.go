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
	lastSeen atomic.Int64 // unix nanoseconds
	reg      *Registry    // set by Add: told of every acknowledgement
}

// Ack records that the instance applied rev.
func (c *Client) Ack(rev int64, now time.Time) {
	for {
		old := c.applied.Load()
		if rev <= old {
			break
		}
		if c.applied.CompareAndSwap(old, rev) {
			if c.reg != nil {
				c.reg.changed(c.Environment)
			}
			break
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
	LastSeen        time.Time
}

// Registry knows which SDK instances are connected to which environment.
// The zero value is ready to use.
type Registry struct {
	mu   sync.RWMutex
	envs map[string]map[*Client]struct{}

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
	r.mu.Unlock()
	r.changed(c.Environment)
}

// Remove unregisters c.
func (r *Registry) Remove(c *Client) {
	r.mu.Lock()
	delete(r.envs[c.Environment], c)
	r.mu.Unlock()
	r.changed(c.Environment)
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
		out = append(out, ClientInfo{
			InstanceID:      c.InstanceID,
			ServiceName:     c.ServiceName,
			SDKName:         c.SDKName,
			SDKVersion:      c.SDKVersion,
			Environment:     c.Environment,
			PeerAddress:     c.PeerAddress,
			ConnectedAt:     c.ConnectedAt,
			AppliedRevision: c.applied.Load(),
			LastSeen:        time.Unix(0, c.lastSeen.Load()),
		})
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b ClientInfo) int {
		return cmp.Or(cmp.Compare(a.ServiceName, b.ServiceName), cmp.Compare(a.InstanceID, b.InstanceID),
			a.ConnectedAt.Compare(b.ConnectedAt))
	})
	return out
}
