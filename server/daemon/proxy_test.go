package daemon_test

import (
	"net"
	"sync"
	"testing"
	"time"
)

// faultProxy is a local TCP proxy in front of a server for fault tests: it
// can freeze (stop forwarding in both directions while keeping every socket
// open, as a peer gone without a FIN looks) and throttle what the server
// sends to a number of bytes per second. It is closed with the test.
type faultProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	frozen  bool
	thaw    chan struct{} // closed when frozen ends
	rate    int           // server-to-client bytes per second, 0 for no limit
	conns   map[net.Conn]struct{}
	closed  bool
	copying sync.WaitGroup
}

func startProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, conns: make(map[net.Conn]struct{}), thaw: make(chan struct{})}
	close(p.thaw)
	p.copying.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *faultProxy) Addr() string { return p.ln.Addr().String() }

// Freeze stops forwarding on every connection, old and new.
func (p *faultProxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.frozen {
		p.frozen, p.thaw = true, make(chan struct{})
	}
}

// Throttle limits what the server sends to bytes per second (0: no limit).
func (p *faultProxy) Throttle(bytesPerSecond int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate = bytesPerSecond
}

func (p *faultProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *faultProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.copying.Go(func() {
			s, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				return
			}
			if !p.track(s) {
				return
			}
			// A small receive buffer, so that a throttled link holds back
			// the server's sends instead of the kernel absorbing them.
			s.(*net.TCPConn).SetReadBuffer(256 << 10)
			var both sync.WaitGroup
			both.Go(func() { p.pipe(s, c, false); s.Close() })
			both.Go(func() { p.pipe(c, s, true); c.Close() })
			both.Wait()
		})
	}
}

// pipe copies src to dst, waiting while frozen and pacing the server's
// bytes (fromServer) to the rate.
func (p *faultProxy) pipe(dst, src net.Conn, fromServer bool) {
	buf := make([]byte, 32<<10)
	for {
		p.mu.Lock()
		rate := p.rate
		p.mu.Unlock()
		chunk := buf
		if fromServer && rate > 0 {
			chunk = buf[:max(min(len(buf), rate/10), 1)]
		}
		n, err := src.Read(chunk)
		if n > 0 {
			p.mu.Lock()
			thaw := p.thaw
			p.mu.Unlock()
			<-thaw
			if _, werr := dst.Write(chunk[:n]); werr != nil {
				return
			}
			if fromServer && rate > 0 {
				time.Sleep(time.Duration(n) * time.Second / time.Duration(rate))
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *faultProxy) close() {
	p.mu.Lock()
	p.closed = true
	if p.frozen {
		p.frozen = false
		close(p.thaw)
	}
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.copying.Wait()
}
