package syncapi

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/flagpole/flagpole/sdk/engine"
	pb "github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/fanout"
)

// fakeSource is an in-memory environment that publishes its changes to a
// hub after "committing" them, as the service does.
type fakeSource struct {
	hub *fanout.Hub

	mu    sync.Mutex
	rev   int64
	flags map[string]engine.FlagState
	loads int
}

func (f *fakeSource) EnvironmentState(ctx context.Context, env string) (server.Environment, []engine.FlagState, []engine.Segment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads++
	if env != "production" {
		return server.Environment{}, nil, nil, server.Errorf(server.ENOTFOUND, "environment %q not found", env)
	}
	var flags []engine.FlagState
	for _, fs := range f.flags {
		flags = append(flags, fs)
	}
	return server.Environment{Name: env, Revision: f.rev}, flags, nil, nil
}

// set commits a flag with the given description and publishes the change.
func (f *fakeSource) set(key, description string) int64 {
	f.mu.Lock()
	f.rev++
	fs := engine.FlagState{
		Flag:   engine.Flag{Key: key, Type: engine.TypeBoolean, Description: description, Variants: []engine.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}},
		Config: engine.Config{Enabled: true, OffVariant: "off", Default: engine.Serve{Variant: "on"}},
	}
	f.flags[key] = fs
	c := server.Change{Environment: "production", Revision: f.rev, Flags: []engine.FlagState{fs}, Time: time.Now()}
	f.mu.Unlock()
	f.hub.Publish(c)
	return c.Revision
}

type testServer struct {
	src  *fakeSource
	hub  *fanout.Hub
	sync *Server
	addr string
}

func startServer(t *testing.T, opts ...Option) *testServer {
	t.Helper()
	hub := NewHub()
	t.Cleanup(hub.Close)
	src := &fakeSource{hub: hub, flags: map[string]engine.FlagState{}}
	srv := New(src, hub, opts...)
	g := grpc.NewServer(ServerOptions()...)
	srv.Register(g)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = g.Serve(lis) }()
	t.Cleanup(func() { g.Stop(); <-done })
	return &testServer{src: src, hub: hub, sync: srv, addr: lis.Addr().String()}
}

func dial(t *testing.T, addr string) pb.SyncServiceClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pb.NewSyncServiceClient(cc)
}

func open(t *testing.T, c pb.SyncServiceClient, env, instance string, have int64) pb.SyncService_SyncClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ctx = metadata.AppendToOutgoingContext(ctx, EnvironmentHeader, env)
	st, err := c.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hello := &pb.Hello{SdkName: "test", SdkVersion: "0", ServiceName: "svc", InstanceId: instance, Revision: have}
	if err := st.Send(&pb.SyncRequest{Message: &pb.SyncRequest_Hello{Hello: hello}}); err != nil {
		t.Fatal(err)
	}
	return st
}

func recv(t *testing.T, st pb.SyncService_SyncClient) *pb.SyncResponse {
	t.Helper()
	m, err := st.Recv()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSnapshotThenChanges(t *testing.T) {
	ts := startServer(t)
	ts.src.set("checkout", "")
	st := open(t, dial(t, ts.addr), "production", "i-1", 0)
	snap := recv(t, st).GetSnapshot()
	if snap.GetRevision() != 1 || len(snap.GetFlags()) != 1 || snap.GetFlags()[0].GetFlag().GetKey() != "checkout" {
		t.Fatalf("snapshot = %v", snap)
	}
	rev := ts.src.set("search", "new")
	ch := recv(t, st).GetChange()
	if ch.GetRevision() != rev || ch.GetFlags()[0].GetFlag().GetKey() != "search" || ch.GetFlags()[0].GetFlag().GetDescription() != "new" {
		t.Fatalf("change = %v", ch)
	}
}

func TestResumeGetsOnlyChangesSince(t *testing.T) {
	ts := startServer(t)
	for i := range 3 {
		ts.src.set(fmt.Sprintf("f%d", i), "")
	}
	st := open(t, dial(t, ts.addr), "production", "i-1", 1)
	for want := int64(2); want <= 3; want++ {
		m := recv(t, st)
		if m.GetChange().GetRevision() != want {
			t.Fatalf("want change %d, got %v", want, m)
		}
	}
	// A revision the log cannot serve gets a snapshot.
	st = open(t, dial(t, ts.addr), "production", "i-2", 99)
	if m := recv(t, st); m.GetSnapshot().GetRevision() != 3 {
		t.Fatalf("want snapshot at 3, got %v", m)
	}
}

func TestAcksReachListClients(t *testing.T) {
	ts := startServer(t)
	ts.src.set("checkout", "")
	c := dial(t, ts.addr)
	st := open(t, c, "production", "i-1", 0)
	recv(t, st)
	if err := st.Send(&pb.SyncRequest{Message: &pb.SyncRequest_Ack{Ack: &pb.Ack{Revision: 1}}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := c.ListClients(context.Background(), &pb.ListClientsRequest{Environment: "production"})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetClients()) == 1 && resp.GetClients()[0].GetAppliedRevision() == 1 {
			cl := resp.GetClients()[0]
			if cl.GetInstanceId() != "i-1" || cl.GetServiceName() != "svc" || cl.GetPeerAddress() == "" || resp.GetRevision() != 1 {
				t.Fatalf("client = %v", resp)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ack not recorded: %v", resp)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := c.ListClients(context.Background(), &pb.ListClientsRequest{})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "environment") {
		t.Fatalf("missing environment: %v", err)
	}
}

func TestBadStreams(t *testing.T) {
	ts := startServer(t, WithHelloTimeout(200*time.Millisecond))
	c := dial(t, ts.addr)
	tests := []struct {
		name string
		env  string
		msg  *pb.SyncRequest
		code codes.Code
		text string
	}{
		{"no environment", "", &pb.SyncRequest{Message: &pb.SyncRequest_Hello{Hello: &pb.Hello{InstanceId: "x"}}}, codes.InvalidArgument, EnvironmentHeader},
		{"unknown environment", "nope", &pb.SyncRequest{Message: &pb.SyncRequest_Hello{Hello: &pb.Hello{InstanceId: "x"}}}, codes.NotFound, "nope"},
		{"ack before hello", "production", &pb.SyncRequest{Message: &pb.SyncRequest_Ack{Ack: &pb.Ack{}}}, codes.InvalidArgument, "hello"},
		{"no instance id", "production", &pb.SyncRequest{Message: &pb.SyncRequest_Hello{Hello: &pb.Hello{}}}, codes.InvalidArgument, "hello.instance_id"},
		{"no hello at all", "production", nil, codes.DeadlineExceeded, "hello"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.env != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, EnvironmentHeader, tt.env)
			}
			st, err := c.Sync(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tt.msg != nil {
				_ = st.Send(tt.msg)
			}
			_, err = st.Recv()
			err = pb.EndStatus(err, st.Trailer())
			if status.Code(err) != tt.code || !strings.Contains(err.Error(), tt.text) {
				t.Fatalf("got %v, want %v mentioning %q", err, tt.code, tt.text)
			}
		})
	}
	if ts.hub.Has("nope") {
		t.Fatal("a stream for an unknown environment created a hub topic for it")
	}
}

func TestHeartbeat(t *testing.T) {
	ts := startServer(t, WithHeartbeat(20*time.Millisecond))
	st := open(t, dial(t, ts.addr), "production", "i-1", 0)
	recv(t, st)
	if hb := recv(t, st).GetHeartbeat(); hb == nil {
		t.Fatal("no heartbeat")
	}
}

// A client that already has the current revision is told so at once: a
// heartbeat carrying its revision, not silence until the first heartbeat
// interval passes (an SDK starting from an up-to-date cache waits for it to
// become ready). A change after it still arrives.
func TestUpToDateClientIsConfirmed(t *testing.T) {
	ts := startServer(t) // default heartbeat: far later than the test waits
	ts.src.set("checkout", "")
	rev := ts.src.set("search", "")
	st := open(t, dial(t, ts.addr), "production", "i-1", rev)
	got := make(chan *pb.SyncResponse, 1)
	go func() {
		m, err := st.Recv()
		if err != nil {
			m = nil
		}
		got <- m
	}()
	select {
	case m := <-got:
		if hb := m.GetHeartbeat(); hb == nil || hb.GetRevision() != rev {
			t.Fatalf("first message = %v; want a heartbeat at revision %d", m, rev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing sent to a client at the current revision")
	}
	next := ts.src.set("checkout", "again")
	if ch := recv(t, st).GetChange(); ch.GetRevision() != next {
		t.Fatalf("want change %d, got %v", next, ch)
	}
}

// A client whose revision is of another environment (a cache file shared
// between environments) gets a snapshot even when the revision number is
// current here.
func TestHelloOfAnotherEnvironmentGetsSnapshot(t *testing.T) {
	ts := startServer(t)
	rev := ts.src.set("checkout", "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	ctx = metadata.AppendToOutgoingContext(ctx, EnvironmentHeader, "production")
	st, err := dial(t, ts.addr).Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hello := &pb.Hello{SdkName: "test", SdkVersion: "0", ServiceName: "svc", InstanceId: "i-1", Revision: rev, Environment: "staging"}
	if err := st.Send(&pb.SyncRequest{Message: &pb.SyncRequest_Hello{Hello: hello}}); err != nil {
		t.Fatal(err)
	}
	if snap := recv(t, st).GetSnapshot(); snap.GetEnvironment() != "production" || snap.GetRevision() != rev {
		t.Fatalf("want a snapshot of production at %d, got %v", rev, snap)
	}
}

// A stream whose client never reads must not delay the others: the server
// keeps publishing, drops the stuck subscriber to a resync once its queue is
// full, and every other stream receives every change.
func TestStuckSubscriberDoesNotDelayOthers(t *testing.T) {
	ts := startServer(t, WithSendTimeout(time.Second))
	ts.src.set("big", "")
	stuck := open(t, dial(t, ts.addr), "production", "stuck", 0) // never read after this
	_ = stuck
	const others = 5
	var streams []pb.SyncService_SyncClient
	for i := range others {
		st := open(t, dial(t, ts.addr), "production", fmt.Sprintf("ok-%d", i), 0)
		recv(t, st) // snapshot
		streams = append(streams, st)
	}
	// Changes of 64 KiB each fill the stuck stream's flow-control window
	// after a few sends; the hub's queue (64) overflows after that.
	big := strings.Repeat("x", 64<<10)
	const changes = 200
	got := make(chan int, others)
	for _, st := range streams {
		go func() {
			n := 0
			for n < changes {
				m, err := st.Recv()
				if err != nil {
					break
				}
				if m.GetChange() != nil {
					n++
				}
			}
			got <- n
		}()
	}
	for i := range changes {
		ts.src.set("big", fmt.Sprintf("%d%s", i, big))
	}
	for range others {
		select {
		case n := <-got:
			if n != changes {
				t.Fatalf("a healthy stream got %d of %d changes", n, changes)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("healthy streams were delayed by the stuck one")
		}
	}
	// The stuck stream's send blocked on flow control; after the send
	// timeout the server ends the stream instead of waiting forever. Wait
	// for the server to end it before reading: a client that started
	// reading earlier would unblock the send, and the stream would go on.
	deadline := time.Now().Add(20 * time.Second)
	for connected(ts.sync.Clients("production"), "stuck") {
		if time.Now().After(deadline) {
			t.Fatal("the stuck stream was never ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := ts.hub.Subscribers("production"); n != others {
		t.Fatalf("subscribers = %d, want the %d healthy ones (stuck one dropped)", n, others)
	}
	ended := make(chan error, 1)
	go func() {
		for {
			if _, err := stuck.Recv(); err != nil {
				ended <- pb.EndStatus(err, stuck.Trailer())
				return
			}
		}
	}()
	select {
	case err := <-ended:
		if status.Code(err) != codes.DeadlineExceeded || !strings.Contains(err.Error(), "send") {
			t.Fatalf("stuck stream ended with %v, want DeadlineExceeded naming the send", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the stuck stream ended on the server, but its client never saw the end")
	}
}

// connected reports whether the instance is among the clients.
func connected(clients []fanout.ClientInfo, instance string) bool {
	for _, c := range clients {
		if c.InstanceID == instance {
			return true
		}
	}
	return false
}

func TestCloseCredentialEndsItsStreams(t *testing.T) {
	ts := startServer(t, WithCredential(func(ctx context.Context) string {
		md, _ := metadata.FromIncomingContext(ctx)
		if v := md.Get("x-test-credential"); len(v) > 0 {
			return v[0]
		}
		return ""
	}))
	c := dial(t, ts.addr)
	openAs := func(cred, instance string) pb.SyncService_SyncClient {
		ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(context.Background(), EnvironmentHeader, "production", "x-test-credential", cred))
		t.Cleanup(cancel)
		st, err := c.Sync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Send(&pb.SyncRequest{Message: &pb.SyncRequest_Hello{Hello: &pb.Hello{InstanceId: instance}}}); err != nil {
			t.Fatal(err)
		}
		recv(t, st) // snapshot
		return st
	}
	a1, a2, b := openAs("a", "a-1"), openAs("a", "a-2"), openAs("b", "b-1")
	if n := ts.sync.CloseCredential("a"); n != 2 {
		t.Fatalf("closed %d streams, want 2", n)
	}
	for _, st := range []pb.SyncService_SyncClient{a1, a2} {
		if _, err := st.Recv(); status.Code(pb.EndStatus(err, st.Trailer())) != codes.Unauthenticated {
			t.Fatalf("stream of the closed credential: %v, want Unauthenticated", err)
		}
	}
	rev := ts.src.set("f", "still here")
	if m := recv(t, b); m.GetChange().GetRevision() != rev {
		t.Fatalf("other credential's stream got %v, want change %d", m, rev)
	}
}

func TestCloseEndsStreams(t *testing.T) {
	ts := startServer(t)
	st := open(t, dial(t, ts.addr), "production", "i-1", 0)
	recv(t, st)
	ts.sync.Close()
	if _, err := st.Recv(); status.Code(pb.EndStatus(err, st.Trailer())) != codes.Unavailable {
		t.Fatalf("after Close: %v", err)
	}
	// The server may end the new stream before its hello is sent (the Send
	// then fails with EOF); the status tells why.
	st, err := dial(t, ts.addr).Sync(metadata.AppendToOutgoingContext(context.Background(), EnvironmentHeader, "production"))
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Send(&pb.SyncRequest{Message: &pb.SyncRequest_Hello{Hello: &pb.Hello{InstanceId: "i-2"}}})
	if _, err := st.Recv(); status.Code(pb.EndStatus(err, st.Trailer())) != codes.Unavailable {
		t.Fatalf("new stream after Close: %v", err)
	}
}

// A hub that delivered a newer revision than the store holds (a deleted
// environment's topic, a store restored from a backup) once made
// snapshotFor read the store again and again, recursing until the stack
// overflowed. It must give up after a few reads with UNAVAILABLE, and a
// stream opened meanwhile must end with that status instead of hanging.
func TestSnapshotForHubAheadOfStoreGivesUp(t *testing.T) {
	ts := startServer(t)
	ts.src.set("checkout", "")
	ts.hub.Publish(server.Change{Environment: "production", Revision: 12, Time: time.Now()})
	for deadline := time.Now().Add(5 * time.Second); ts.hub.Revision("production") != 12; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("hub revision %d, want 12", ts.hub.Revision("production"))
		}
	}
	ts.src.mu.Lock()
	ts.src.loads = 0
	ts.src.mu.Unlock()

	done := make(chan error, 1)
	go func() {
		_, err := ts.sync.snapshotFor(context.Background(), "production")
		done <- err
	}()
	select {
	case err := <-done:
		if status.Code(toStatus(err)) != codes.Unavailable {
			t.Fatalf("snapshotFor with the hub ahead of the store = %v, want UNAVAILABLE", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("snapshotFor with the hub ahead of the store did not return within 5s")
	}
	ts.src.mu.Lock()
	loads := ts.src.loads
	ts.src.mu.Unlock()
	if loads > 5 {
		t.Errorf("snapshotFor read the store %d times, want a few", loads)
	}

	st := open(t, dial(t, ts.addr), "production", "i-1", 0)
	_, err := st.Recv()
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("stream with the hub ahead of the store ended with %v, want UNAVAILABLE", err)
	}
}
