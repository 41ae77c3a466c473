package daemon_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk"
	pb "github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/daemon"
)

// closedWithin reads from c until the server closes it and returns how long
// that took, failing after limit.
func closedWithin(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(limit))
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection still open after %s", limit)
			}
			return time.Since(start)
		}
	}
}

// Issue 11 F8: idle connections to the HTTP port are closed: one that
// never sends a request after the header timeout, a keep-alive one after
// the idle timeout; before, both stayed open for ever.
func TestIdleHTTPConnectionsClosed(t *testing.T) {
	cfg := config(filepath.Join(t.TempDir(), "flagpole.db"))
	cfg.HTTPReadHeaderTimeout, cfg.HTTPReadTimeout, cfg.HTTPIdleTimeout = 200*time.Millisecond, time.Second, 200*time.Millisecond
	srv := daemon.New(cfg)
	start(t, srv)
	addr := srv.HTTPAddr().String()

	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	t.Logf("silent connection closed after %s", closedWithin(t, silent, 5*time.Second))

	partial, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer partial.Close()
	fmt.Fprint(partial, "GET /healthz HTTP/1.1\r\nHost: x\r\n") // headers never finished
	t.Logf("connection with unfinished headers closed after %s", closedWithin(t, partial, 5*time.Second))

	kept, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	fmt.Fprint(kept, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(kept), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %s", resp.Status)
	}
	t.Logf("idle keep-alive connection closed after %s", closedWithin(t, kept, 5*time.Second))
}

// Issue 11 F8: the gRPC port closes a connection that never completes its
// handshake, and its keepalive drops a peer that stops answering (a
// half-open SDK behind a frozen link): the instance leaves the connected
// clients list within the keepalive time plus timeout instead of staying
// a ghost until a send times out.
func TestGRPCKeepaliveDropsSilentPeers(t *testing.T) {
	ctx := context.Background()
	cfg := config(filepath.Join(t.TempDir(), "flagpole.db"))
	cfg.GRPCConnectionTimeout = 200 * time.Millisecond
	cfg.GRPCKeepaliveTime, cfg.GRPCKeepaliveTimeout = time.Second, 300*time.Millisecond // gRPC's least time is 1 s
	srv := daemon.New(cfg)
	conn := start(t, srv)

	raw, err := net.Dial("tcp", srv.GRPCAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	t.Logf("connection without a handshake closed after %s", closedWithin(t, raw, 5*time.Second))

	proxy := startProxy(t, srv.GRPCAddr().String())
	p, err := sdk.NewProvider(proxy.Addr(), sdk.WithToken(testAdminToken), sdk.WithEnvironment("production"),
		sdk.WithServiceName("ghost"), sdk.WithIdleTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Shutdown)
	if err := p.InitWithContext(ctx, openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	sync := pb.NewSyncServiceClient(conn)
	connected := func() int {
		resp, err := sync.ListClients(ctx, &pb.ListClientsRequest{Environment: "production"})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.GetClients())
	}
	waitFor(t, "the SDK to connect", func() bool { return connected() == 1 })
	proxy.Freeze()
	frozen := time.Now()
	for connected() != 0 {
		if time.Since(frozen) > 10*time.Second {
			t.Fatal("the frozen SDK is still listed 10 s later")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("half-open SDK dropped %s after its link froze", time.Since(frozen).Round(time.Millisecond))
}
