package syncapi

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/fanout"
)

func (f *fakeSource) GetEnvironment(ctx context.Context, name string) (server.Environment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name != "production" {
		return server.Environment{}, server.Errorf(server.ENOTFOUND, "environment %q not found", name)
	}
	return server.Environment{Name: name, Revision: f.rev}, nil
}

// TestListClientsReadsNoFlags: listing who has which revision reads the
// environment's record, not its flags (a poll once cost the whole state).
func TestListClientsReadsNoFlags(t *testing.T) {
	ts := startServer(t)
	ts.src.set("checkout", "")
	c := dial(t, ts.addr)
	ts.src.mu.Lock()
	before := ts.src.loads
	ts.src.mu.Unlock()
	res, err := c.ListClients(context.Background(), &pb.ListClientsRequest{Environment: "production"})
	if err != nil || res.GetRevision() != 1 {
		t.Fatalf("ListClients = %v, %v", res, err)
	}
	ts.src.mu.Lock()
	defer ts.src.mu.Unlock()
	if ts.src.loads != before {
		t.Errorf("ListClients loaded the environment's flags %d time(s)", ts.src.loads-before)
	}
}

func ack(t *testing.T, st pb.SyncService_SyncClient, rev int64) {
	t.Helper()
	if err := st.Send(&pb.SyncRequest{Message: &pb.SyncRequest_Ack{Ack: &pb.Ack{Revision: rev}}}); err != nil {
		t.Fatal(err)
	}
}

// TestWatchClientsEndsAtTheLastAck: the watch reports the instances still
// pending as they acknowledge, and ends with all_applied right after the
// last one does.
func TestWatchClientsEndsAtTheLastAck(t *testing.T) {
	ts := startServer(t)
	ts.src.set("checkout", "")
	c := dial(t, ts.addr)
	a, b := open(t, c, "production", "i-a", 0), open(t, c, "production", "i-b", 0)
	recv(t, a)
	recv(t, b)
	ack(t, a, 1)
	ack(t, b, 1)
	rev := ts.src.set("checkout", "changed")
	w, err := c.WatchClients(context.Background(), &pb.WatchClientsRequest{Environment: "production", Revision: rev})
	if err != nil {
		t.Fatal(err)
	}
	m, err := w.Recv()
	if err != nil || m.GetAllApplied() || m.GetPendingCount() != 2 || m.GetConnected() != 2 || len(m.GetPending()) != 2 {
		t.Fatalf("first message %v, %v: want 2 of 2 pending", m, err)
	}
	recv(t, a)
	ack(t, a, rev)
	if m, err = w.Recv(); err != nil || m.GetAllApplied() || m.GetPendingCount() != 1 || m.GetPending()[0].GetInstanceId() != "i-b" {
		t.Fatalf("after i-a's ack: %v, %v: want i-b pending", m, err)
	}
	recv(t, b)
	ack(t, b, rev)
	if m, err = w.Recv(); err != nil || !m.GetAllApplied() || m.GetPendingCount() != 0 {
		t.Fatalf("after the last ack: %v, %v: want all applied", m, err)
	}
	if _, err := w.Recv(); err != io.EOF {
		t.Fatalf("after all applied: %v, want the end of the stream", err)
	}
	nope, err := c.WatchClients(context.Background(), &pb.WatchClientsRequest{Environment: "nope"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nope.Recv(); status.Code(err) != codes.NotFound {
		t.Fatalf("watch of an unknown environment: %v, want NotFound", err)
	}
}

// TestWatchClientsNamesPendingWhenManyAre: with more instances pending
// than one message names, the counts follow every acknowledgement and the
// names, which are looked up less often, come once the count holds still:
// they are always instances still pending, the first ones in order.
func TestWatchClientsNamesPendingWhenManyAre(t *testing.T) {
	ts := startServer(t)
	rev := ts.src.set("checkout", "")
	n := maxWatchPending + 50
	clients := make([]*fanout.Client, n)
	for i := range clients {
		clients[i] = &fanout.Client{InstanceID: fmt.Sprintf("i-%03d", i), ServiceName: "checkout", Environment: "production", ConnectedAt: time.Now()}
		ts.sync.clients.Add(clients[i])
	}
	c := dial(t, ts.addr)
	w, err := c.WatchClients(context.Background(), &pb.WatchClientsRequest{Environment: "production", Revision: rev})
	if err != nil {
		t.Fatal(err)
	}
	m, err := w.Recv()
	if err != nil || m.GetPendingCount() != int32(n) || m.GetConnected() != int32(n) || len(m.GetPending()) != maxWatchPending {
		t.Fatalf("first message %d of %d pending, %d named, %v: want %d of %d, %d named", m.GetPendingCount(), m.GetConnected(), len(m.GetPending()), err, n, n, maxWatchPending)
	}
	// The first 10 in order acknowledge: the message that counts n-10 and
	// names instances names none of them, and names i-010 first.
	for _, cl := range clients[:10] {
		cl.Ack(rev, time.Now())
	}
	for {
		if m, err = w.Recv(); err != nil {
			t.Fatal(err)
		}
		if m.GetPendingCount() == int32(n-10) && len(m.GetPending()) > 0 {
			break
		}
	}
	if len(m.GetPending()) != maxWatchPending || m.GetPending()[0].GetInstanceId() != "i-010" {
		t.Fatalf("named %d, first %q: want %d from i-010", len(m.GetPending()), m.GetPending()[0].GetInstanceId(), maxWatchPending)
	}
	for _, cl := range clients[10:] {
		cl.Ack(rev, time.Now())
	}
	for !m.GetAllApplied() {
		if m, err = w.Recv(); err != nil {
			t.Fatal(err)
		}
	}
}
