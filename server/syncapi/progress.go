package syncapi

import (
	"net"
	"sync"
	"sync/atomic"
)

// minProgress is how many bytes a connection must take within a send
// timeout for a send in progress to count as moving: a client on a slow
// link gets a large snapshot however long it takes, one that stopped
// reading (or reads a byte now and then) is still ended.
const minProgress = 1 << 10

// Listener wraps ln so that the server sees how many bytes each accepted
// connection has taken: a send that outlasts the send timeout while its
// connection keeps taking bytes is not ended (see WithSendTimeout). Serve
// the gRPC server on the returned listener. Without it, a send must
// complete within the send timeout.
func (s *Server) Listener(ln net.Listener) net.Listener {
	return &progressListener{Listener: ln, s: s}
}

type progressListener struct {
	net.Listener
	s *Server
}

func (l *progressListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	pc := &progressConn{Conn: c, s: l.s, key: c.RemoteAddr().String()}
	l.s.connsMu.Lock()
	if l.s.conns == nil {
		l.s.conns = make(map[string]*progressConn)
	}
	l.s.conns[pc.key] = pc
	l.s.connsMu.Unlock()
	return pc, nil
}

// progressConn counts the bytes written to a connection.
type progressConn struct {
	net.Conn
	s       *Server
	key     string
	written atomic.Int64
	once    sync.Once
}

func (c *progressConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.written.Add(int64(n))
	return n, err
}

func (c *progressConn) Close() error {
	c.once.Do(func() {
		c.s.connsMu.Lock()
		if c.s.conns[c.key] == c {
			delete(c.s.conns, c.key)
		}
		c.s.connsMu.Unlock()
	})
	return c.Conn.Close()
}

// connOf returns the accepted connection of a peer address, nil if the
// server was not served on Listener.
func (s *Server) connOf(addr net.Addr) *progressConn {
	if addr == nil {
		return nil
	}
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	return s.conns[addr.String()]
}
