package sdk

import (
	"bytes"
	"context"
	"net"
	"sync/atomic"

	"golang.org/x/net/http2"
	"google.golang.org/grpc/credentials"
)

// The server's HPACK encoder adds the response headers of a stream
// (content-type) to a dynamic table that lives as long as the connection,
// so that later streams can refer to them. An SDK instance keeps one
// long-lived stream on its connection, so the table is never referred to
// and only costs the server about 600 bytes per connected instance (a fifth
// of all it keeps per stream beyond gRPC's goroutine stacks). HTTP/2 lets
// the receiver of headers bound that table with SETTINGS_HEADER_TABLE_SIZE;
// grpc-go's client has no option for it, so the SDK's transport credentials
// wrap the connection and send the setting, as a SETTINGS frame of its
// own, right after the client connection preface (any number of SETTINGS
// frames may follow it; the server acknowledges each).

// headerTableCreds are transport credentials (insecure or TLS) whose
// connections announce a header table size of 0 to the server, and count
// the bytes they receive in received (when not nil): the stream's idle
// watchdog takes bytes arriving as a sign of life, so a message larger than
// a slow link carries in the idle timeout is not cut.
type headerTableCreds struct {
	credentials.TransportCredentials
	received *atomic.Int64
}

func (c headerTableCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	if err != nil {
		return nil, nil, err
	}
	return &headerTableConn{Conn: conn, received: c.received}, info, nil
}

func (c headerTableCreds) Clone() credentials.TransportCredentials {
	return headerTableCreds{c.TransportCredentials.Clone(), c.received}
}

// noHeaderTable is a SETTINGS frame setting SETTINGS_HEADER_TABLE_SIZE to 0.
var noHeaderTable = func() []byte {
	var b bytes.Buffer
	if err := http2.NewFramer(&b, nil).WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0}); err != nil {
		panic(err) // writing to a bytes.Buffer does not fail
	}
	return b.Bytes()
}()

// headerTableConn inserts noHeaderTable after the client preface, which
// gRPC writes first, on its own.
type headerTableConn struct {
	net.Conn
	done     atomic.Bool   // the first write went out
	received *atomic.Int64 // bytes read, when not nil
}

func (c *headerTableConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && c.received != nil {
		c.received.Add(int64(n))
	}
	return n, err
}

func (c *headerTableConn) Write(b []byte) (int, error) {
	if c.done.Load() || !c.done.CompareAndSwap(false, true) || !bytes.HasPrefix(b, []byte(http2.ClientPreface)) {
		return c.Conn.Write(b)
	}
	n := len(http2.ClientPreface)
	out := make([]byte, 0, len(b)+len(noHeaderTable))
	out = append(append(append(out, b[:n]...), noHeaderTable...), b[n:]...)
	written, err := c.Conn.Write(out)
	// Report what was written of the caller's bytes.
	switch {
	case written >= n+len(noHeaderTable):
		written -= len(noHeaderTable)
	case written > n:
		written = n
	}
	return written, err
}
