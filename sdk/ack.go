package sdk

import (
	"sync"
	"time"
)

// acker decides when the provider acknowledges what it applied. A
// revision applied after a quiet spell is acknowledged at once (the
// leading edge: a kill switch is confirmed as soon as it is applied);
// revisions applied within delay of that acknowledgement are coalesced
// into one acknowledgement of the latest when the window ends, which then
// opens the next window. A burst of changes so costs an instance and the
// server one acknowledgement per window, not one per change, and a lone
// change waits for none.
type acker struct {
	send  func(rev int64) error
	delay time.Duration

	mu     sync.Mutex
	latest int64 // the latest applied revision
	owed   bool  // applied within the window, not yet acknowledged
	window bool  // the timer runs: acknowledgements now wait for it
	closed bool
	timer  *time.Timer
}

// newAcker acknowledges through send; delay ≤ 0 acknowledges every
// applied revision at once.
func newAcker(delay time.Duration, send func(rev int64) error) *acker {
	return &acker{send: send, delay: delay}
}

// applied records that rev was applied (or confirmed again) and
// acknowledges it now or at the end of the current window. Sends happen
// under the acker's lock, so acknowledgements leave in revision order.
// Best effort: a failed send surfaces as a failed Recv on the stream.
func (a *acker) applied(rev int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.latest = rev
	if a.delay <= 0 {
		_ = a.send(rev)
		return
	}
	if a.window {
		a.owed = true
		return
	}
	a.window = true
	if a.timer == nil {
		a.timer = time.AfterFunc(a.delay, a.fire)
	} else {
		a.timer.Reset(a.delay)
	}
	_ = a.send(rev)
}

// fire ends a window: it acknowledges the latest revision if one was
// applied during the window (and opens another), or closes the window.
func (a *acker) fire() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || !a.window {
		return
	}
	if !a.owed {
		a.window = false
		return
	}
	a.owed = false
	a.timer.Reset(a.delay)
	_ = a.send(a.latest)
}

// close stops the acker: nothing is sent after it returns.
func (a *acker) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	if a.timer != nil {
		a.timer.Stop()
	}
}
