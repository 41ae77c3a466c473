package fanout

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/flagpole/flagpole/server"
)

func encodeRevision(c server.Change) ([]byte, error) { return fmt.Appendf(nil, "%d", c.Revision), nil }

func change(rev int64) server.Change { return server.Change{Environment: "production", Revision: rev} }

func revisions(t *testing.T, sub *Subscription, n int) []int64 {
	t.Helper()
	var out []int64
	for len(out) < n {
		select {
		case e := <-sub.Events():
			out = append(out, e.Revision)
		case <-time.After(5 * time.Second):
			t.Fatalf("got %v, want %d events", out, n)
		}
	}
	return out
}

func TestPublishEncodesOnceAndDeliversInOrder(t *testing.T) {
	encodes := 0
	h := New(func(c server.Change) ([]byte, error) { encodes++; return encodeRevision(c) })
	t.Cleanup(h.Close)
	a, _, _ := h.Subscribe("production", 0)
	b, _, _ := h.Subscribe("production", 0)
	other, _, _ := h.Subscribe("staging", 0)
	for r := int64(1); r <= 3; r++ {
		h.Publish(change(r))
	}
	ea, eb := revisions(t, a, 3), revisions(t, b, 3)
	if fmt.Sprint(ea) != "[1 2 3]" || fmt.Sprint(eb) != "[1 2 3]" {
		t.Fatalf("a=%v b=%v", ea, eb)
	}
	if encodes != 3 {
		t.Fatalf("encoded %d times for 3 changes and 2 subscribers, want 3", encodes)
	}
	if len(other.Events()) != 0 {
		t.Fatal("staging subscriber got a production change")
	}
}

func TestOutOfOrderChangesAreReordered(t *testing.T) {
	h := New(encodeRevision, WithReorderWindow(time.Minute))
	t.Cleanup(h.Close)
	h.Publish(change(1))
	sub, _, _ := h.Subscribe("production", 1)
	h.Publish(change(3))
	h.Publish(change(2))
	if got := fmt.Sprint(revisions(t, sub, 2)); got != "[2 3]" {
		t.Fatalf("got %s, want [2 3]", got)
	}
}

func TestMissingRevisionResyncsAfterWindow(t *testing.T) {
	h := New(encodeRevision, WithReorderWindow(10*time.Millisecond))
	t.Cleanup(h.Close)
	h.Publish(change(1))
	sub, _, _ := h.Subscribe("production", 1)
	h.Publish(change(3)) // 2 never comes
	select {
	case <-sub.Dropped():
	case <-time.After(5 * time.Second):
		t.Fatal("subscriber not resynced after a missing revision")
	}
	if _, _, ok := h.Subscribe("production", 1); ok {
		t.Fatal("log claims to bring revision 1 up to date across the gap")
	}
	if _, _, ok := h.Subscribe("production", 3); !ok {
		t.Fatal("a client at the latest revision needs no snapshot")
	}
}

func TestFullQueueDropsOnlyThatSubscriber(t *testing.T) {
	h := New(encodeRevision, WithQueueSize(2))
	t.Cleanup(h.Close)
	slow, _, _ := h.Subscribe("production", 0)
	fast, _, _ := h.Subscribe("production", 0)
	for r := int64(1); r <= 10; r++ {
		h.Publish(change(r))
		<-fast.Events()
	}
	select {
	case <-slow.Dropped():
	default:
		t.Fatal("slow subscriber not dropped")
	}
	select {
	case <-fast.Dropped():
		t.Fatal("fast subscriber dropped")
	default:
	}
	if n := h.Subscribers("production"); n != 1 {
		t.Fatalf("subscribers = %d, want 1", n)
	}
}

func TestResumeFromLog(t *testing.T) {
	h := New(encodeRevision, WithLogSize(3))
	t.Cleanup(h.Close)
	for r := int64(1); r <= 5; r++ {
		h.Publish(change(r))
	}
	tests := []struct {
		have int64
		ok   bool
		want string
	}{
		{have: 0, ok: false},
		{have: 1, ok: false}, // 2 fell out of the log
		{have: 2, ok: true, want: "[3 4 5]"},
		{have: 4, ok: true, want: "[5]"},
		{have: 5, ok: true, want: "[]"},
		{have: 9, ok: false}, // ahead of the server: another history
	}
	for _, tt := range tests {
		sub, backlog, ok := h.Subscribe("production", tt.have)
		sub.Close()
		if ok != tt.ok {
			t.Errorf("have %d: ok = %v, want %v", tt.have, ok, tt.ok)
			continue
		}
		var revs []int64
		for _, e := range backlog {
			revs = append(revs, e.Revision)
		}
		if ok && fmt.Sprint(revs) != tt.want {
			t.Errorf("have %d: backlog %v, want %s", tt.have, revs, tt.want)
		}
	}
}

func TestLateChangeResyncs(t *testing.T) {
	h := New(encodeRevision)
	t.Cleanup(h.Close)
	h.Publish(change(6)) // first seen: baseline
	sub, _, _ := h.Subscribe("production", 6)
	h.Publish(change(5)) // committed before 6 but published after it
	select {
	case <-sub.Dropped():
	default:
		t.Fatal("late change did not resync subscribers")
	}
	h.Publish(change(6)) // a duplicate is ignored
}

func TestRegistry(t *testing.T) {
	var r Registry
	now := time.Now()
	a := &Client{InstanceID: "b", ServiceName: "checkout", Environment: "production", ConnectedAt: now}
	b := &Client{InstanceID: "a", ServiceName: "checkout", Environment: "production", ConnectedAt: now}
	c := &Client{InstanceID: "c", ServiceName: "search", Environment: "staging", ConnectedAt: now}
	r.Add(a)
	r.Add(b)
	r.Add(c)
	a.Ack(7, now.Add(time.Second))
	a.Ack(5, now.Add(2*time.Second)) // an older ack never moves the revision back
	got := r.List("production")
	if len(got) != 2 || got[0].InstanceID != "a" || got[1].InstanceID != "b" {
		t.Fatalf("list = %+v", got)
	}
	if got[1].AppliedRevision != 7 || !got[1].LastSeen.Equal(now.Add(2*time.Second)) {
		t.Fatalf("b = %+v", got[1])
	}
	r.Remove(a)
	if n := len(r.List("production")); n != 1 {
		t.Fatalf("after remove: %d clients", n)
	}
}

func TestNotifySubscriptionQueuesUntilFull(t *testing.T) {
	h := New(encodeRevision, WithQueueSize(2))
	t.Cleanup(h.Close)
	var slowCalls, fastCalls int // notify runs with the hub's lock held, on Publish's goroutine
	slow, _, _ := h.SubscribeNotify("production", 0, func() { slowCalls++ })
	fast, _, _ := h.SubscribeNotify("production", 0, func() { fastCalls++ })
	if slow.Events() != nil || slow.Pending() || slow.Next() != nil {
		t.Fatal("a new notify subscription has something queued")
	}
	for r := int64(1); r <= 3; r++ {
		h.Publish(change(r))
		if !fast.Pending() {
			t.Fatalf("revision %d: nothing pending", r)
		}
		if e := fast.Next(); e == nil || e.Revision != r {
			t.Fatalf("revision %d: Next = %v", r, e)
		}
		if fast.Pending() || fast.pending != nil {
			t.Fatalf("revision %d: the drained queue is kept: %v", r, fast.pending)
		}
	}
	if fastCalls != 3 {
		t.Fatalf("fast notified %d times, want 3", fastCalls)
	}
	// The slow one held revisions 1 and 2 (the queue size); 3 dropped it.
	if !slow.IsDropped() || slowCalls != 3 {
		t.Fatalf("slow: dropped=%v notified=%d, want dropped after 2 queued and 3 calls", slow.IsDropped(), slowCalls)
	}
	var got []int64
	for e := slow.Next(); e != nil; e = slow.Next() {
		got = append(got, e.Revision)
	}
	if fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("slow queued %v, want [1 2]", got)
	}
	if fast.IsDropped() || h.Subscribers("production") != 1 {
		t.Fatalf("fast dropped=%v subscribers=%d", fast.IsDropped(), h.Subscribers("production"))
	}
}

// Forget (an environment was deleted) drops the topic's subscribers and
// forgets its revision and log, so a recreated environment of the same name
// starts from what is published next; another environment is untouched.
func TestForgetDropsSubscribersAndRevision(t *testing.T) {
	h := New(encodeRevision)
	t.Cleanup(h.Close)
	for r := int64(1); r <= 12; r++ {
		h.Publish(change(r))
	}
	sub, _, ok := h.Subscribe("production", 12)
	other, _, _ := h.Subscribe("staging", 0)
	if !ok || h.Revision("production") != 12 {
		t.Fatalf("before Forget: ok %v, revision %d", ok, h.Revision("production"))
	}
	gen := h.Generation("production")
	h.Forget("production")
	select {
	case <-sub.Dropped():
	default:
		t.Fatal("a subscriber of the forgotten environment was not dropped")
	}
	if other.IsDropped() {
		t.Error("a subscriber of another environment was dropped")
	}
	if h.Revision("production") != 0 || h.Has("production") || h.Generation("production") != gen+1 {
		t.Errorf("after Forget: revision %d, has %v, generation %d (was %d)", h.Revision("production"), h.Has("production"),
			h.Generation("production"), gen)
	}
	h.Publish(server.Change{Environment: "production", Revision: 13, Created: true})
	if h.Revision("production") != 13 {
		t.Errorf("recreated environment's revision = %d, want 13", h.Revision("production"))
	}
}

// A client whose revision predates the change that (re)created the
// environment is told to take a snapshot instead of resuming from the log:
// what it holds belongs to the deleted environment.
func TestSubscribeBeforeCreationNeedsSnapshot(t *testing.T) {
	h := New(encodeRevision)
	t.Cleanup(h.Close)
	h.Publish(change(12))
	h.Publish(server.Change{Environment: "production", Revision: 13, Created: true})
	h.Publish(change(14))
	if _, backlog, ok := h.Subscribe("production", 12); ok {
		t.Errorf("a client at 12 resumed with %d logged changes across the creation at 13, want a snapshot", len(backlog))
	}
	if _, backlog, ok := h.Subscribe("production", 13); !ok || len(backlog) != 1 || backlog[0].Revision != 14 {
		t.Errorf("a client at 13 resumed: ok %v, %d changes; want the change at 14", ok, len(backlog))
	}
}

// The log keeps at most the byte bound: the oldest changes go first, a
// change larger than the bound empties it, and a client behind what the
// log keeps is told to take a snapshot.
func TestLogBoundedInBytes(t *testing.T) {
	payload := func(c server.Change) ([]byte, error) { return make([]byte, int(c.Revision%10)*100+100), nil }
	h := New(payload, WithLogBytes(1000))
	t.Cleanup(h.Close)
	for r := int64(1); r <= 50; r++ {
		h.Publish(change(r))
		if b, _ := h.LogBytes("production"); b > 1000 {
			t.Fatalf("after revision %d the log keeps %d bytes, bound 1000", r, b)
		}
	}
	b, n := h.LogBytes("production")
	if n == 0 || b == 0 {
		t.Fatal("log empty")
	}
	if _, _, ok := h.Subscribe("production", int64(50-n-1)); ok {
		t.Fatalf("revision %d resumes from a log of %d changes", 50-n-1, n)
	}
	_, backlog, ok := h.Subscribe("production", int64(50-n))
	if !ok || len(backlog) != n {
		t.Fatalf("revision %d: ok=%v backlog=%d, want the %d logged changes", 50-n, ok, len(backlog), n)
	}

	big := New(func(server.Change) ([]byte, error) { return make([]byte, 2000), nil }, WithLogBytes(1000))
	t.Cleanup(big.Close)
	big.Publish(change(1))
	big.Publish(change(2))
	if b, n := big.LogBytes("production"); b != 0 || n != 0 {
		t.Fatalf("log keeps %d changes of %d bytes over its bound", n, b)
	}
	if _, _, ok := big.Subscribe("production", 1); ok {
		t.Fatal("revision 1 resumes although the change to 2 was not kept")
	}
	if _, _, ok := big.Subscribe("production", 2); !ok {
		t.Fatal("a client at the latest revision needs no snapshot")
	}
}

// Pending's counts, and PendingClients's list, agree with the full list at
// every step of connecting, acknowledging (in and out of order, also
// concurrently) and leaving.
func TestPendingMatchesList(t *testing.T) {
	var r Registry
	now := time.Now()
	rng := rand.New(rand.NewPCG(1, 2))
	var live []*Client
	check := func(step string) {
		t.Helper()
		for _, env := range []string{"production", "staging", "none"} {
			list := r.List(env)
			for rev := int64(0); rev <= 12; rev++ {
				var want []ClientInfo
				for _, c := range list {
					if c.AppliedRevision < rev {
						want = append(want, c)
					}
				}
				pending, connected := r.Pending(env, rev)
				if pending != len(want) || connected != len(list) {
					t.Fatalf("%s: Pending(%s, %d) = %d of %d; the list says %d of %d", step, env, rev, pending, connected, len(want), len(list))
				}
				got := r.PendingClients(env, rev, 5)
				if len(got) != min(5, len(want)) {
					t.Fatalf("%s: PendingClients(%s, %d) = %d clients; want %d", step, env, rev, len(got), min(5, len(want)))
				}
				for i := range got {
					if got[i].InstanceID != want[i].InstanceID || got[i].AppliedRevision != want[i].AppliedRevision {
						t.Fatalf("%s: PendingClients(%s, %d)[%d] = %+v; want %+v", step, env, rev, i, got[i], want[i])
					}
				}
			}
		}
	}
	check("empty")
	for i := range 300 {
		switch op := rng.IntN(10); {
		case op < 4 || len(live) == 0:
			env := "production"
			if rng.IntN(3) == 0 {
				env = "staging"
			}
			c := &Client{InstanceID: fmt.Sprintf("i%03d", i), ServiceName: fmt.Sprintf("s%d", rng.IntN(3)), Environment: env, ConnectedAt: now}
			if rng.IntN(4) == 0 {
				c.Ack(int64(rng.IntN(5)), now) // acknowledged before it was added
			}
			r.Add(c)
			live = append(live, c)
		case op < 8:
			live[rng.IntN(len(live))].Ack(int64(rng.IntN(12)), now)
		default:
			k := rng.IntN(len(live))
			r.Remove(live[k])
			live = append(live[:k], live[k+1:]...)
		}
		check(fmt.Sprintf("step %d", i))
	}
	var wg sync.WaitGroup
	for _, c := range live {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rev := int64(1); rev <= 12; rev++ {
				c.Ack(rev, now)
			}
		}()
	}
	wg.Wait()
	check("after concurrent acknowledgements")
	if pending, connected := r.Pending("production", 12); pending != 0 || connected == 0 {
		t.Fatalf("after everyone acknowledged 12: %d of %d pending", pending, connected)
	}
}

// AckedAt is when the acknowledgement that moved the applied revision
// arrived: a repeated or older one leaves it.
func TestAckedAt(t *testing.T) {
	var r Registry
	now := time.Now()
	c := &Client{InstanceID: "a", Environment: "production", ConnectedAt: now}
	r.Add(c)
	if got := r.List("production")[0].AckedAt; !got.IsZero() {
		t.Fatalf("AckedAt before any acknowledgement = %v", got)
	}
	c.Ack(3, now.Add(time.Second))
	c.Ack(3, now.Add(2*time.Second))
	c.Ack(2, now.Add(3*time.Second))
	if got := r.List("production")[0]; got.AppliedRevision != 3 || !got.AckedAt.Equal(now.Add(time.Second)) {
		t.Fatalf("got %+v; want revision 3 acknowledged at %v", got, now.Add(time.Second))
	}
}
