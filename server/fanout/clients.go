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
}

// Ack records that the instance applied rev.
func (c *Client) Ack(rev int64, now time.Time) {
	for {
		old := c.applied.Load()
		if rev <= old || c.applied.CompareAndSwap(old, rev) {
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
}

// Add registers c under its environment.
func (r *Registry) Add(c *Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.envs == nil {
		r.envs = make(map[string]map[*Client]struct{})
	}
	m := r.envs[c.Environment]
	if m == nil {
		m = make(map[*Client]struct{})
		r.envs[c.Environment] = m
	}
	m[c] = struct{}{}
}

// Remove unregisters c.
func (r *Registry) Remove(c *Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.envs[c.Environment], c)
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
