package syncapi

import (
	"context"
	"errors"
	"io"
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

	// The receiver owns Recv for the stream's whole life; it ends when the
	// client goes away or when this handler returns and gRPC ends the stream.
	hellos := make(chan *pb.Hello, 1)
	var client *fanout.Client
	registered := make(chan struct{})
	recvErr := make(chan error, 1)
	go func() {
		recvErr <- s.receive(ctx, stream, env, hellos, registered, &client)
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
	}
	if err := validateHello(hello); err != nil {
		return toStatus(err)
	}
	now := time.Now()
	client = &fanout.Client{
		InstanceID:  hello.GetInstanceId(),
		ServiceName: hello.GetServiceName(),
		SDKName:     hello.GetSdkName(),
		SDKVersion:  hello.GetSdkVersion(),
		Environment: env,
		PeerAddress: peerAddress(ctx),
		ConnectedAt: now,
	}
	client.Seen(now)
	close(registered)
	s.clients.Add(client)
	defer s.clients.Remove(client)
	if s.observer != nil {
		s.observer.StreamOpened(env, client.InstanceID, hello.GetRevision())
		defer s.observer.StreamClosed(env, client.InstanceID)
	}

	err = s.serve(ctx, stream, env, hello.GetRevision())
	if ctx.Err() != nil {
		return s.endError(ctx, recvErr)
	}
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

// serve sends the stream's messages until ctx ends or a send fails. have is
// the revision the client holds.
func (s *Server) serve(ctx context.Context, stream grpc.ServerStream, env string, have int64) error {
	heartbeat := time.NewTicker(s.heartbeat)
	defer heartbeat.Stop()
	forceSnapshot := false
	for {
		sub, backlog, ok := s.hub.Subscribe(env, have)
		if forceSnapshot {
			ok, forceSnapshot = false, false
		}
		if !ok {
			snap, err := s.snapshotFor(ctx, env)
			if err != nil {
				sub.Close()
				return toStatus(err)
			}
			if err := stream.SendMsg(snap.payload); err != nil {
				sub.Close()
				return err
			}
			have = snap.revision
		}
		for _, e := range backlog {
			if e.Revision <= have {
				continue
			}
			if err := stream.SendMsg(encoded(e.Payload)); err != nil {
				sub.Close()
				return err
			}
			have = e.Revision
		}
		var err error
		have, forceSnapshot, err = s.follow(ctx, stream, sub, have, heartbeat)
		sub.Close()
		if err != nil {
			return err
		}
	}
}

// follow sends a subscription's events until it is dropped (the caller
// subscribes again) or the stream ends. It reports whether the client missed
// a change and needs a snapshot.
func (s *Server) follow(ctx context.Context, stream grpc.ServerStream, sub *fanout.Subscription,
	have int64, heartbeat *time.Ticker) (int64, bool, error) {
	for {
		select {
		case e := <-sub.Events():
			if e.Revision <= have {
				continue
			}
			if e.Revision != have+1 {
				return have, true, nil // a gap: something was never delivered
			}
			if err := stream.SendMsg(encoded(e.Payload)); err != nil {
				return have, false, err
			}
			have = e.Revision
			heartbeat.Reset(s.heartbeat)
		case <-sub.Dropped():
			return have, false, nil
		case <-heartbeat.C:
			hb := &pb.SyncResponse{Message: &pb.SyncResponse_Heartbeat{Heartbeat: &pb.Heartbeat{Revision: have}}}
			if err := stream.SendMsg(hb); err != nil {
				return have, false, err
			}
		case <-ctx.Done():
			return have, false, ctx.Err()
		case <-s.closing:
			return have, false, errClosing
		}
	}
}
