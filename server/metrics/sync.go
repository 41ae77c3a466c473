package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flagpole/flagpole/server"
)

// The sync stream calls these hooks (see SyncObserver in server/syncapi):
// StreamOpened when a hello arrives, Published when it sends a revision
// (snapshot or change), Acked for every acknowledgement and StreamClosed when
// the stream ends. From them Metrics derives the connected streams, each
// client's revision lag and the commit-to-ack propagation time.

// keepCommits bounds how many recent commit times are kept per environment
// to match acknowledgements against.
const keepCommits = 256

type syncState struct {
	mu      sync.Mutex
	clients map[clientKey]int64          // connected instance → revision it applied
	envs    map[string]*environmentState // by environment
}

// clientKey names a connected instance; the map holds the strings the
// stream already has, so a connected stream costs one map slot here.
type clientKey struct{ env, instance string }

type environmentState struct {
	current int64
	commits map[int64]time.Time // revision → commit time, at most keepCommits
	order   []int64
}

func (s *syncState) init() {
	s.clients = make(map[clientKey]int64)
	s.envs = make(map[string]*environmentState)
}

func (s *syncState) env(name string) *environmentState {
	e := s.envs[name]
	if e == nil {
		e = &environmentState{commits: make(map[int64]time.Time)}
		s.envs[name] = e
	}
	return e
}

// StreamOpened records a connected stream of instance in environment that
// already has revision (0 for none).
func (m *Metrics) StreamOpened(environment, instance string, revision int64) {
	if m == nil {
		return
	}
	m.streams.WithLabelValues(environment).Inc()
	m.sync.mu.Lock()
	defer m.sync.mu.Unlock()
	m.sync.clients[clientKey{environment, instance}] = revision
	m.sync.env(environment)
}

// StreamClosed records that the stream of instance ended.
func (m *Metrics) StreamClosed(environment, instance string) {
	if m == nil {
		return
	}
	m.streams.WithLabelValues(environment).Dec()
	m.sync.mu.Lock()
	defer m.sync.mu.Unlock()
	delete(m.sync.clients, clientKey{environment, instance})
}

// Published records that environment is now at revision, committed at
// commit (zero when unknown, e.g. for a snapshot of an old revision).
func (m *Metrics) Published(environment string, revision int64, commit time.Time) {
	if m == nil {
		return
	}
	m.sync.mu.Lock()
	defer m.sync.mu.Unlock()
	e := m.sync.env(environment)
	if revision > e.current {
		e.current = revision
	}
	if commit.IsZero() {
		return
	}
	if _, ok := e.commits[revision]; ok {
		return
	}
	e.commits[revision] = commit
	e.order = append(e.order, revision)
	if len(e.order) > keepCommits {
		delete(e.commits, e.order[0])
		e.order = e.order[1:]
	}
}

// Acked records that instance applied revision, and observes the time since
// that revision's commit when it is known.
func (m *Metrics) Acked(environment, instance string, revision int64) {
	if m == nil {
		return
	}
	now := time.Now()
	m.sync.mu.Lock()
	defer m.sync.mu.Unlock()
	e := m.sync.env(environment)
	if revision > e.current {
		e.current = revision
	}
	k := clientKey{environment, instance}
	if applied, ok := m.sync.clients[k]; ok {
		if revision <= applied {
			return
		}
		m.sync.clients[k] = revision
	}
	if at, ok := e.commits[revision]; ok {
		m.propagation.WithLabelValues(environment).Observe(now.Sub(at).Seconds())
	}
}

// lagCollector reports, per environment, the largest number of revisions a
// connected client is behind and how many clients are behind at all.
type lagCollector struct{ s *syncState }

var (
	lagDesc = prometheus.NewDesc("flagpole_sync_revision_lag",
		"Largest number of revisions a connected SDK instance is behind its environment's current revision.",
		[]string{"environment"}, nil)
	behindDesc = prometheus.NewDesc("flagpole_sync_clients_behind",
		"Connected SDK instances that have not acknowledged their environment's current revision.",
		[]string{"environment"}, nil)
)

func (c lagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- lagDesc
	ch <- behindDesc
}

func (c lagCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.mu.Lock()
	lag := make(map[string]int64, len(c.s.envs))
	behind := make(map[string]int, len(c.s.envs))
	for cl, applied := range c.s.clients {
		d := c.s.envs[cl.env].current - applied
		if d > lag[cl.env] {
			lag[cl.env] = d
		}
		if d > 0 {
			behind[cl.env]++
		}
	}
	envs := make([]string, 0, len(c.s.envs))
	for name := range c.s.envs {
		envs = append(envs, name)
	}
	c.s.mu.Unlock()
	for _, env := range envs {
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(lag[env]), env)
		ch <- prometheus.MustNewConstMetric(behindDesc, prometheus.GaugeValue, float64(behind[env]), env)
	}
}

// Publish records a committed change's revision and commit time; Metrics is
// a service.Publisher so that propagation is measured from the commit.
func (m *Metrics) Publish(c server.Change) { m.Published(c.Environment, c.Revision, c.Time) }
