package syncapi

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"google.golang.org/grpc/mem"
)

// minProgress is how many bytes a connection must take within a send
// timeout for a send in progress to count as moving: a client on a slow
// link gets a large snapshot however long it takes, one that stopped
// reading (or reads a byte now and then) is still ended.
const minProgress = 1 << 10

// Listener wraps ln so that the server sees how many bytes each accepted
// connection has taken: a send that outlasts the send timeout while its
// connection keeps taking bytes is not ended (see WithSendTimeout). It
// also keeps at most maxConns connections open (0 for no limit): further
// ones wait to be accepted. Serve the gRPC server on the returned listener.
// Without it, a send must complete within the send timeout.
//
// The connections it returns read as gRPC reads a bare TCP connection
// (waiting for data without holding a read buffer, see ReadOnReady), so
// an idle stream costs no more than without the wrapper.
func (s *Server) Listener(ln net.Listener, maxConns int) net.Listener {
	l := &progressListener{Listener: ln, s: s}
	if maxConns > 0 {
		l.sem = make(chan struct{}, maxConns)
	}
	return l
}

type progressListener struct {
	net.Listener
	s   *Server
	sem chan struct{} // a token per open connection; nil for no limit
}

func (l *progressListener) Accept() (net.Conn, error) {
	if l.sem != nil {
		l.sem <- struct{}{}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		if l.sem != nil {
			<-l.sem
		}
		return nil, err
	}
	pc := &progressConn{Conn: c, s: l.s, key: c.RemoteAddr().String(), sem: l.sem, raw: rawConn(c)}
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
	sem     chan struct{}
	raw     syscall.RawConn // nil when reads cannot wait for readiness
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
		if c.sem != nil {
			<-c.sem
		}
	})
	return c.Conn.Close()
}

// ReadOnReady is how gRPC's transport reads a connection that offers it:
// it waits until data arrives and only then takes a buffer from pool, so
// an idle connection holds none (gRPC does the same for a bare
// *net.TCPConn, which this wrapper would otherwise hide). It returns the
// buffer, how many bytes were read into it, and io.EOF when the peer
// closed the connection.
func (c *progressConn) ReadOnReady(bufSize int, pool mem.BufferPool) (*[]byte, int, error) {
	if c.raw == nil {
		buf := pool.Get(bufSize)
		n, err := c.Conn.Read(*buf)
		if err != nil {
			pool.Put(buf)
			return nil, 0, err
		}
		return buf, n, nil
	}
	var (
		buf     *[]byte
		n       int
		readErr error
	)
	err := c.raw.Read(func(fd uintptr) bool {
		buf = pool.Get(bufSize)
		n, readErr = sysRead(fd, *buf)
		if readErr != nil {
			pool.Put(buf)
			buf = nil
		}
		return !wouldBlock(readErr)
	})
	switch {
	case err != nil:
		if buf != nil {
			pool.Put(buf)
		}
		return nil, 0, err
	case readErr != nil:
		return nil, 0, readErr
	case n <= 0:
		pool.Put(buf)
		return nil, 0, io.EOF
	}
	return buf, n, nil
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
