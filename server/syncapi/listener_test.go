package syncapi

import (
	"net"
	"testing"
	"time"
)

// Issue 11 F8: the listener keeps at most maxConns connections open; the
// next is accepted once one closes.
func TestListenerLimitsConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(nil, nil)
	l := s.Listener(ln, 2)
	defer l.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, second := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("a third connection accepted at a limit of 2")
	case <-time.After(200 * time.Millisecond):
	}
	first.Close()
	first.Close() // a second Close frees nothing more
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the third connection not accepted after one closed")
	}
	second.Close()
	s.connsMu.Lock()
	n := len(s.conns)
	s.connsMu.Unlock()
	if n != 0 {
		t.Fatalf("%d connections still tracked after all closed", n)
	}
}
