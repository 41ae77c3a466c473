package sdk

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
)

// A revision applied after a quiet spell is acknowledged at once, not at
// the end of the acknowledgement window: with an hour's window the server
// still hears of it while the test waits.
func TestLoneRevisionAcknowledgedWithoutDelay(t *testing.T) {
	file := filepath.Join(t.TempDir(), "flags.cache")
	if err := offlineProvider(t, WithCacheFile(file)).saveCache(); err != nil {
		t.Fatal(err)
	}
	srv, addr := startConfirmServer(t)
	p, err := NewProvider(addr, WithCacheFile(file), WithAckDelay(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.InitWithContext(ctx, openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	select {
	case rev := <-srv.acks:
		if rev != 7 {
			t.Fatalf("acknowledged %d; want 7", rev)
		}
	case <-ctx.Done():
		t.Fatal("a lone revision waited for the acknowledgement window (an hour)")
	}
}

// recorder collects what an acker sends.
type recorder struct {
	mu   sync.Mutex
	sent []int64
	ch   chan int64
}

func newRecorder() *recorder { return &recorder{ch: make(chan int64, 16)} }

func (r *recorder) send(rev int64) error {
	r.mu.Lock()
	r.sent = append(r.sent, rev)
	r.mu.Unlock()
	r.ch <- rev
	return nil
}

func (r *recorder) got() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int64(nil), r.sent...)
}

// The first revision is sent at once; those applied within the window are
// coalesced into one acknowledgement of the latest, sent when the window
// ends; a window in which nothing was applied closes, and the next revision
// is again sent at once. The window is ended by hand (fire), as the timer
// would, so nothing here depends on timing.
func TestAckerLeadingEdgeThenCoalesces(t *testing.T) {
	r := newRecorder()
	a := newAcker(time.Hour, r.send)
	defer a.close()
	a.applied(1)
	if got := <-r.ch; got != 1 {
		t.Fatalf("first acknowledgement %d; want 1 at once", got)
	}
	a.applied(2)
	a.applied(3)
	a.applied(4)
	if got := r.got(); len(got) != 1 {
		t.Fatalf("sent %v within the window; want only [1]", got)
	}
	a.fire() // the window ends: the latest is owed
	if got := <-r.ch; got != 4 {
		t.Fatalf("coalesced acknowledgement %d; want 4", got)
	}
	a.fire() // a window with nothing applied closes
	if got := r.got(); len(got) != 2 {
		t.Fatalf("sent %v; want [1 4]", got)
	}
	a.applied(5)
	if got := <-r.ch; got != 5 {
		t.Fatalf("after a quiet window acknowledged %d; want 5 at once", got)
	}
	// The same revision again (a heartbeat confirming it) is owed too: the
	// server sees the instance alive.
	a.applied(5)
	a.fire()
	if got := <-r.ch; got != 5 {
		t.Fatalf("confirmation acknowledged %d; want 5", got)
	}
}

// With no delay every applied revision is sent at once; after close nothing
// is sent, not even by a window that ends later.
func TestAckerNoDelayAndClose(t *testing.T) {
	r := newRecorder()
	a := newAcker(0, r.send)
	for rev := int64(1); rev <= 3; rev++ {
		a.applied(rev)
		if got := <-r.ch; got != rev {
			t.Fatalf("acknowledged %d; want %d", got, rev)
		}
	}
	a.close()
	a.applied(4)

	w := newRecorder()
	b := newAcker(time.Hour, w.send)
	b.applied(1)
	<-w.ch
	b.applied(2) // owed at the end of the window
	b.close()
	b.fire() // as a timer that fired just before close would
	b.applied(3)
	if got := r.got(); len(got) != 3 {
		t.Errorf("no delay: sent %v; want [1 2 3] and nothing after close", got)
	}
	if got := w.got(); len(got) != 1 {
		t.Errorf("window: sent %v; want [1] and nothing after close", got)
	}
}
