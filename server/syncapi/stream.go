package syncapi

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server/fanout"
)

// Sync serves one SDK instance: hello, then a snapshot or the changes since
// the instance's revision, then every change as it is published, and a
// heartbeat whenever the stream is otherwise quiet.
//
// Each stream has two goroutines of its own while idle: this handler, which
// only waits for the stream to end (gRPC ends a server stream when its
// handler returns, so the handler must stay free to return: on shutdown, on
// a revoked credential, on a send that does not complete), and the
// receiver of acknowledgements. Messages are written by a writer goroutine
// that runs only while there is something to send: the hub's notification
// starts it, it drains the subscription's queue and exits.
func (s *Server) Sync(stream grpc.BidiStreamingServer[pb.SyncRequest, pb.SyncResponse]) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	select {
	case <-s.closing:
		return errClosing
	default:
	}
	env, err := s.resolve(ctx)
	if err != nil {
		return toStatus(err)
	}
	st := &syncStream{s: s, grpc: stream, env: env, end: make(chan struct{})}
	credential := ""
	if s.credential != nil {
		credential = s.credential(ctx)
	}
	s.addStream(credential, st)
	defer s.removeStream(credential, st)

	// The receiver owns Recv for the stream's whole life; it ends when the
	// client goes away or when this handler returns and gRPC ends the stream.
	hellos := make(chan *pb.Hello, 1)
	registered := make(chan struct{})
	recvErr := make(chan error, 1)
	go func() {
		recvErr <- s.receive(ctx, stream, env, hellos, registered, &st.client)
		cancel()
	}()

	var hello *pb.Hello
	timer := time.NewTimer(s.helloTimeout)
	select {
	case hello = <-hellos:
		timer.Stop()
	case <-timer.C:
		return status.Error(codes.DeadlineExceeded, "hello: not received in time")
	case <-ctx.Done():
		return s.endError(ctx, recvErr)
	case <-st.end:
		return st.endErr
	}
	if err := validateHello(hello); err != nil {
		return toStatus(err)
	}
	// Refuse environments that do not exist before the hub gets a topic for
	// the name (the snapshot is cached and reused by the first send).
	if _, err := s.snapshotFor(ctx, env); err != nil {
		return toStatus(err)
	}
	now := time.Now()
	client := &fanout.Client{
		InstanceID:  hello.GetInstanceId(),
		ServiceName: hello.GetServiceName(),
		SDKName:     hello.GetSdkName(),
		SDKVersion:  hello.GetSdkVersion(),
		Environment: env,
		PeerAddress: peerAddress(ctx),
		ConnectedAt: now,
	}
	client.Seen(now)
	st.client = client
	close(registered)
	s.clients.Add(client)
	defer s.clients.Remove(client)
	if s.observer != nil {
		s.observer.StreamOpened(env, client.InstanceID, hello.GetRevision())
		defer s.observer.StreamClosed(env, client.InstanceID)
	}

	st.start(ctx, hello.GetRevision())
	defer st.stop()
	select {
	case <-ctx.Done():
		return s.endError(ctx, recvErr)
	case <-s.closing:
		return errClosing
	case <-st.end:
		if ctx.Err() != nil {
			return s.endError(ctx, recvErr)
		}
		return st.endErr
	}
}

// syncStream is the sending side of one stream.
type syncStream struct {
	s      *Server
	grpc   grpc.ServerStream
	env    string
	ctx    context.Context
	client *fanout.Client // set before the receiver reads it (registered)

	end    chan struct{} // closed by finish: the handler returns endErr
	endErr error

	mu        sync.Mutex
	ended     bool
	busy      bool // a writer goroutine runs
	beat      bool // a heartbeat is due
	sub       *fanout.Subscription
	have      int64 // revision the client holds
	snapshot  bool  // the next subscription must start with a snapshot
	heartbeat *time.Timer
	deadline  *time.Timer // armed while a send is in progress
}

// start subscribes and sends what the client lacks, on a writer goroutine.
func (st *syncStream) start(ctx context.Context, have int64) {
	st.ctx = ctx
	st.mu.Lock()
	defer st.mu.Unlock()
	st.have = have
	st.heartbeat = time.AfterFunc(st.s.heartbeat, st.beatDue)
	st.deadline = time.AfterFunc(time.Hour, func() {
		st.finish(status.Errorf(codes.DeadlineExceeded, "send: the client did not take a message within %s", st.s.sendTimeout))
	})
	st.deadline.Stop()
	st.busy = true
	go st.write()
}

// stop ends the stream's timers and subscription; a running writer exits
// at its next step (its blocked send fails once gRPC ends the stream).
func (st *syncStream) stop() {
	st.mu.Lock()
	st.ended = true
	sub := st.sub
	st.sub = nil
	st.heartbeat.Stop()
	st.deadline.Stop()
	st.mu.Unlock()
	if sub != nil {
		sub.Close()
	}
}

// finish makes the handler return err (the first error wins).
func (st *syncStream) finish(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.endErr != nil {
		return
	}
	st.endErr = err
	st.ended = true
	close(st.end)
}

// notify is the hub's callback: there is an event or the subscription was
// dropped. It starts a writer unless one runs. Called with the hub's lock
// held: it must not block.
func (st *syncStream) notify() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.busy || st.ended {
		return
	}
	st.busy = true
	go st.write()
}

func (st *syncStream) beatDue() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ended {
		return
	}
	st.beat = true
	if !st.busy {
		st.busy = true
		go st.write()
	}
}

// write sends until there is nothing left to send, then exits.
func (st *syncStream) write() {
	for {
		st.mu.Lock()
		if st.ended {
			st.busy = false
			st.mu.Unlock()
			return
		}
		sub, beat := st.sub, st.beat
		st.beat = false
		if sub != nil && !beat && !sub.Pending() && !sub.IsDropped() {
			st.busy = false
			st.mu.Unlock()
			return
		}
		st.mu.Unlock()
		if err := st.step(sub, beat); err != nil {
			st.finish(err)
			st.mu.Lock()
			st.busy = false
			st.mu.Unlock()
			return
		}
	}
}

// step does one round of work: (re)subscribe with a snapshot or backlog,
// send the queued events, or a heartbeat.
func (st *syncStream) step(sub *fanout.Subscription, beat bool) error {
	if sub == nil || sub.IsDropped() {
		return st.subscribe(sub)
	}
	sent := false
	for e := sub.Next(); e != nil; e = sub.Next() {
		if e.Revision <= st.have {
			continue
		}
		if e.Revision != st.have+1 {
			// A gap: something was never delivered. Start over from a
			// snapshot.
			st.mu.Lock()
			st.snapshot = true
			st.mu.Unlock()
			return st.subscribe(sub)
		}
		if err := st.send(encoded(e.Payload)); err != nil {
			return err
		}
		st.have = e.Revision
		sent = true
	}
	if beat && !sent {
		hb := &pb.SyncResponse{Message: &pb.SyncResponse_Heartbeat{Heartbeat: &pb.Heartbeat{Revision: st.have}}}
		return st.send(hb)
	}
	return nil
}

// subscribe replaces old (nil on the first call) with a new subscription
// and sends the client what it lacks: the logged changes since its
// revision, or a snapshot.
func (st *syncStream) subscribe(old *fanout.Subscription) error {
	if old != nil {
		old.Close()
	}
	st.mu.Lock()
	if st.ended {
		st.mu.Unlock()
		return nil
	}
	force := st.snapshot
	st.snapshot = false
	st.mu.Unlock()
	sub, backlog, ok := st.s.hub.SubscribeNotify(st.env, st.have, st.notify)
	st.mu.Lock()
	if st.ended {
		st.mu.Unlock()
		sub.Close()
		return nil
	}
	st.sub = sub
	st.mu.Unlock()
	if force || !ok {
		snap, err := st.s.snapshotFor(st.ctx, st.env)
		if err != nil {
			return toStatus(err)
		}
		if err := st.send(snap.payload); err != nil {
			return err
		}
		st.have = snap.revision
	}
	for _, e := range backlog {
		if e.Revision <= st.have {
			continue
		}
		if err := st.send(encoded(e.Payload)); err != nil {
			return err
		}
		st.have = e.Revision
	}
	return nil
}

// send writes one message; a send that does not complete within the send
// timeout (a client that stopped reading) ends the stream.
func (st *syncStream) send(m any) error {
	st.deadline.Reset(st.s.sendTimeout)
	err := st.grpc.SendMsg(m)
	st.deadline.Stop()
	st.heartbeat.Reset(st.s.heartbeat)
	return err
}

// endError is the status to end with once the stream's context is done.
func (s *Server) endError(ctx context.Context, recvErr <-chan error) error {
	select {
	case err := <-recvErr:
		if err != nil && !errors.Is(err, io.EOF) {
			return toStatus(err)
		}
		return nil
	default:
		return toStatus(ctx.Err())
	}
}

// receive reads the client's messages: the hello, then acks, usage and
// tracking reports.
func (s *Server) receive(ctx context.Context, stream grpc.BidiStreamingServer[pb.SyncRequest, pb.SyncResponse],
	env string, hellos chan<- *pb.Hello, registered <-chan struct{}, client **fanout.Client) error {
	first := true
	for {
		req, err := stream.Recv()
		if err != nil {
			return err
		}
		if first {
			first = false
			hellos <- req.GetHello() // nil when the first message is not a hello
			select {
			case <-registered:
			case <-ctx.Done():
				return nil
			}
			continue
		}
		c := *client
		switch m := req.GetMessage().(type) {
		case *pb.SyncRequest_Ack:
			c.Ack(m.Ack.GetRevision(), time.Now())
			if s.observer != nil {
				s.observer.Acked(env, c.InstanceID, m.Ack.GetRevision())
			}
		case *pb.SyncRequest_Usage:
			c.Seen(time.Now())
			s.usageReports.Add(1)
			if s.usage != nil {
				s.usage(ctx, env, infoOf(c), m.Usage)
			} else {
				s.log.Debug("syncapi: usage report", "environment", env, "instance", c.InstanceID, "counts", len(m.Usage.GetCounts()))
			}
		case *pb.SyncRequest_Track:
			c.Seen(time.Now())
			s.trackEvents.Add(int64(len(m.Track.GetEvents())))
			if s.track != nil {
				s.track(ctx, env, infoOf(c), m.Track)
			} else {
				s.log.Debug("syncapi: track report", "environment", env, "instance", c.InstanceID, "events", len(m.Track.GetEvents()))
			}
		case *pb.SyncRequest_Hello:
			return status.Error(codes.InvalidArgument, "hello: sent twice")
		}
	}
}

func infoOf(c *fanout.Client) fanout.ClientInfo {
	return fanout.ClientInfo{
		InstanceID: c.InstanceID, ServiceName: c.ServiceName, SDKName: c.SDKName,
		SDKVersion: c.SDKVersion, Environment: c.Environment, PeerAddress: c.PeerAddress,
		ConnectedAt: c.ConnectedAt,
	}
}
