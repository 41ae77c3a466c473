package syncapi

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	pb "github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/fanout"
)

// Sync serves one SDK instance: hello, then a snapshot or the changes since
// the instance's revision, then every change as it is published, and a
// heartbeat whenever the stream is otherwise quiet.
//
// Each stream has one goroutine of its own while idle: this handler, which
// reads the client's messages (hello, acknowledgements, usage and tracking
// reports). gRPC ends a server stream only when its handler returns, so
// every other reason to end one (shutdown, a revoked credential, a send
// that does not complete, no hello in time) cancels the stream's context,
// which the tap handle installed by ServerOptions made cancellable: the
// blocked Recv (and any blocked send) returns and the handler returns the
// reason. Messages are written by a writer goroutine that runs only while
// there is something to send: the hub's notification starts it, it drains
// the subscription's queue and exits.
func (s *Server) Sync(stream grpc.BidiStreamingServer[pb.SyncRequest, pb.SyncResponse]) error {
	ctx := stream.Context()
	cancel, _ := ctx.Value(cancelKey{}).(context.CancelFunc)
	if cancel == nil {
		return status.Error(codes.Internal, "syncapi: the gRPC server was not built with syncapi.ServerOptions")
	}
	defer cancel()
	env, err := s.resolve(ctx)
	if err != nil {
		return toStatus(err)
	}
	st := &syncStream{s: s, grpc: stream, env: env, cancel: cancel}
	if p, ok := peer.FromContext(ctx); ok {
		st.conn = s.connOf(p.Addr)
	}
	if s.expiry != nil {
		if exp := s.expiry(ctx); !exp.IsZero() {
			st.expires = exp.UnixNano()
		}
	}
	credential := ""
	if s.credential != nil {
		credential = s.credential(ctx)
	}
	s.addStream(credential, st)
	defer s.removeStream(credential, st)
	select {
	case <-s.closing:
		return errClosing // Close ran before the stream was added
	default:
	}

	helloTimer := time.AfterFunc(s.helloTimeout, func() {
		st.finish(status.Error(codes.DeadlineExceeded, "hello: not received in time"))
	})
	req, err := stream.Recv()
	helloTimer.Stop()
	if err != nil {
		return st.endError(err)
	}
	hello := req.GetHello() // nil when the first message is not a hello
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
	s.clients.Add(client)
	defer s.clients.Remove(client)
	if s.observer != nil {
		s.observer.StreamOpened(env, client.InstanceID, hello.GetRevision())
		defer s.observer.StreamClosed(env, client.InstanceID)
	}

	have := hello.GetRevision()
	if e := hello.GetEnvironment(); e != "" && e != env {
		have = 0 // a revision of another environment: start from a snapshot
	}
	s.log.Debug("syncapi: stream opened", "environment", env, "instance", client.InstanceID,
		"service", client.ServiceName, "revision", have)
	st.start(ctx, have)
	defer st.stop()
	return st.endError(s.receive(ctx, stream, env, client))
}

// cancelKey is the context key of the cancel function of a Sync stream's
// context (see tapCancel).
type cancelKey struct{}

// tapCancel makes every Sync stream's context cancellable by its handler.
// It runs when the stream's headers arrive, before the handler; the context
// it returns is the one Recv and Send wait on.
func tapCancel(ctx context.Context, info *tap.Info) (context.Context, error) {
	if info.FullMethodName != pb.SyncService_Sync_FullMethodName {
		return ctx, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	return context.WithValue(ctx, cancelKey{}, cancel), nil
}

// syncStream is the sending side of one stream.
type syncStream struct {
	s      *Server
	grpc   grpc.ServerStream
	env    string
	ctx    context.Context
	cancel context.CancelFunc // ends the stream: Recv and Send return

	endErr error // set by finish: the handler returns it

	mu       sync.Mutex
	ended    bool
	busy     bool // a writer goroutine runs
	beat     bool // a heartbeat is due
	sub      *fanout.Subscription
	have     int64 // revision the client holds
	snapshot bool  // the next subscription must start with a snapshot
	// The server's clock (see Server.clock) reads these: lastSend is when
	// the last send completed or the stream started, sendBy is zero or when
	// the send in progress must have completed (unix nanoseconds).
	lastSend int64
	sendBy   int64
	// conn is the stream's connection when the server is served on
	// Listener, and sentMark how many bytes it had taken when sendBy was
	// last set: a send whose connection keeps taking bytes is extended.
	conn     *progressConn
	sentMark int64
	// expires is zero or when the stream's credential expires, by the
	// server's credential clock (unix nanoseconds); set before the stream
	// is added to the server.
	expires int64
}

// start subscribes and sends what the client lacks, on a writer goroutine.
func (st *syncStream) start(ctx context.Context, have int64) {
	st.ctx = ctx
	st.mu.Lock()
	defer st.mu.Unlock()
	st.have = have
	st.lastSend = time.Now().UnixNano()
	st.busy = true
	go st.write()
}

// stop ends the stream's subscription; a running writer exits at its next
// step (its blocked send fails once gRPC ends the stream).
func (st *syncStream) stop() {
	st.mu.Lock()
	st.ended = true
	sub := st.sub
	st.sub = nil
	st.mu.Unlock()
	if sub != nil {
		sub.Close()
	}
}

// finish makes the handler return err (the first error wins): it cancels
// the stream's context, so its blocked Recv and any blocked send return.
// gRPC then ends the stream with CANCELLED (Recv writes that status as soon
// as the context is done, before the handler can return its own), so the
// real status travels in the trailers of syncpb.EndTrailer, which the SDK
// turns back into the status (syncpb.EndStatus).
func (st *syncStream) finish(err error) {
	st.mu.Lock()
	first := st.endErr == nil
	if first {
		st.endErr = err
		st.ended = true
	}
	st.mu.Unlock()
	if first {
		st.grpc.SetTrailer(pb.EndTrailer(err))
	}
	st.cancel()
}

// endError is the status the handler returns once receiving stopped with
// err: the reason the stream was ended, if it was, or the client's.
func (st *syncStream) endError(err error) error {
	st.mu.Lock()
	end := st.endErr
	st.mu.Unlock()
	switch {
	case end != nil:
		return end
	case err == nil || errors.Is(err, io.EOF):
		return nil
	}
	return toStatus(err)
}

// notify is the hub's callback: there is an event or the subscription was
// dropped. It has a writer started unless one runs. Called with the hub's
// lock held: it must not block, and it leaves starting the writer's
// goroutine to the server's starter.
func (st *syncStream) notify() {
	st.mu.Lock()
	if st.busy || st.ended {
		st.mu.Unlock()
		return
	}
	st.busy = true
	st.mu.Unlock()
	st.s.startWriter(st)
}

// tick is the server clock's look at the stream at now (unix ns): it ends
// the stream when its credential expired by credNow (unix ns, the
// credential clock) or a send is overdue, and starts a heartbeat when
// nothing was sent for the heartbeat interval.
func (st *syncStream) tick(now, credNow int64) {
	st.mu.Lock()
	if st.ended {
		st.mu.Unlock()
		return
	}
	if st.expires != 0 && credNow >= st.expires {
		st.mu.Unlock()
		st.finish(status.Error(codes.Unauthenticated, "credential expired"))
		return
	}
	if st.lastSend == 0 { // not started yet
		st.mu.Unlock()
		return
	}
	if st.sendBy != 0 {
		overdue := now >= st.sendBy
		if overdue && st.conn != nil {
			if w := st.conn.written.Load(); w-st.sentMark >= minProgress {
				// Slow, but moving: give it another timeout.
				st.sentMark, st.sendBy = w, now+int64(st.s.sendTimeout)
				overdue = false
			}
		}
		st.mu.Unlock()
		if overdue {
			st.finish(status.Errorf(codes.DeadlineExceeded, "send: the client did not take a message within %s", st.s.sendTimeout))
		}
		return
	}
	defer st.mu.Unlock()
	if st.busy || now-st.lastSend < int64(st.s.heartbeat) {
		return
	}
	st.beat = true
	st.busy = true
	go st.write()
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
		if e.Revision != st.have+1 || e.Created {
			// A gap: something was never delivered; or the environment was
			// created anew after what the client holds. Start over from a
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
		return st.send(heartbeat(st.have))
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
	sent := false
	if force || !ok {
		snap, err := st.s.snapshotFor(st.ctx, st.env)
		if err != nil {
			return toStatus(err)
		}
		if err := st.send(snap.payload); err != nil {
			return err
		}
		st.have = snap.revision
		sent = true
	}
	for _, e := range backlog {
		if e.Revision <= st.have {
			continue
		}
		if err := st.send(encoded(e.Payload)); err != nil {
			return err
		}
		st.have = e.Revision
		sent = true
	}
	if !sent {
		// The client already has the latest revision: confirm it now rather
		// than at the next heartbeat, so that a client starting from its
		// cache knows it is up to date (and acknowledges the revision).
		return st.send(heartbeat(st.have))
	}
	return nil
}

// heartbeat is a heartbeat carrying revision.
func heartbeat(revision int64) *pb.SyncResponse {
	return &pb.SyncResponse{Message: &pb.SyncResponse_Heartbeat{Heartbeat: &pb.Heartbeat{Revision: revision}}}
}

// send writes one message; a send that does not complete within the send
// timeout (a client that stopped reading) ends the stream.
func (st *syncStream) send(m any) error {
	st.mu.Lock()
	st.sendBy = time.Now().Add(st.s.sendTimeout).UnixNano()
	if st.conn != nil {
		st.sentMark = st.conn.written.Load()
	}
	st.mu.Unlock()
	err := st.grpc.SendMsg(m)
	st.mu.Lock()
	st.sendBy = 0
	st.lastSend = time.Now().UnixNano()
	st.mu.Unlock()
	return err
}

// receive reads the client's messages after the hello: acks, usage and
// tracking reports, until the stream ends.
func (s *Server) receive(ctx context.Context, stream grpc.BidiStreamingServer[pb.SyncRequest, pb.SyncResponse],
	env string, c *fanout.Client) error {
	for {
		req, err := stream.Recv()
		if err != nil {
			return err
		}
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
		case *pb.SyncRequest_Signals:
			c.Seen(time.Now())
			s.signalReps.Add(1)
			if s.signals != nil {
				s.signals(ctx, env, infoOf(c), m.Signals)
			} else {
				s.log.Debug("syncapi: signal report", "environment", env, "instance", c.InstanceID, "counts", len(m.Signals.GetCounts()))
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
