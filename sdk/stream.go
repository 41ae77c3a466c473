package sdk

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/sdk/enginepb"
	pb "github.com/flagpole/flagpole/sdk/syncpb"
)

// errNotConnected is returned by send while there is no stream.
var errNotConnected = errors.New("sdk: not connected")

// run keeps a stream open until ctx ends or the credentials are refused.
func (p *Provider) run(ctx context.Context) {
	var grace *time.Timer
	defer func() {
		if grace != nil {
			grace.Stop()
		}
	}()
	attempt := 0
	for {
		applied, err := p.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if isFatal(err) {
			p.setFatal(err)
			return
		}
		p.o.logger.Warn("sdk: stream ended, reconnecting", "address", p.addr, "err", err)
		if applied {
			attempt = 0
		}
		if p.disconnected() && p.o.errorGrace >= 0 {
			if grace != nil {
				grace.Stop()
			}
			grace = time.AfterFunc(p.o.errorGrace, p.graceOver)
		}
		select {
		case <-time.After(backoffDelay(attempt, p.o.backoffMin, p.o.backoffMax)):
		case <-ctx.Done():
			return
		}
		attempt++
		// This loop's delay is the only backoff: gRPC's own, between its
		// connection attempts, would otherwise come on top of it (a stream
		// opened while the channel waits out its backoff fails at once),
		// and SDKs would find a server back from an outage seconds late.
		p.conn.ResetConnectBackoff()
	}
}

// backoffDelay doubles from first up to largest and picks a delay at
// random between half of that and all of it, so that instances that lost
// the server together do not reconnect in lockstep.
func backoffDelay(attempt int, first, largest time.Duration) time.Duration {
	d := first
	for range min(attempt, 32) {
		d *= 2
		if d >= largest {
			d = largest
			break
		}
	}
	return time.Duration(float64(d) * (0.5 + 0.5*rand.Float64()))
}

// isFatal reports whether err means that retrying cannot help.
func isFatal(err error) bool {
	switch status.Code(err) {
	case codes.Unauthenticated, codes.PermissionDenied:
		return true
	}
	return false
}

func (p *Provider) setFatal(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fatalErr = fmt.Errorf("sdk: credentials refused by %s: %s", p.addr, status.Convert(err).Message())
	close(p.fatal)
	if p.initDone {
		p.emit(openfeature.ProviderError, p.fatalErr.Error(), nil, openfeature.ProviderFatalCode)
	}
	p.o.logger.Error("sdk: giving up", "err", p.fatalErr)
}

// disconnected records a lost or failed stream. It reports STALE to
// OpenFeature when it last heard READY, and whether the grace period towards
// ERROR should start.
func (p *Provider) disconnected() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.failedOnce:
	default:
		close(p.failedOnce)
	}
	if !p.initDone || p.announced != announcedReady {
		return false
	}
	p.announced = announcedStale
	p.emit(openfeature.ProviderStale, "stream to "+p.addr+" lost; serving the last flags", nil, "")
	return true
}

// graceOver reports ERROR when the provider is still stale.
func (p *Provider) graceOver() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.announced != announcedStale {
		return
	}
	p.announced = announcedError
	p.emit(openfeature.ProviderError, "no stream to "+p.addr+" for "+p.o.errorGrace.String()+"; serving the last flags", nil, openfeature.GeneralCode)
}

// session runs one stream. applied reports whether anything was applied.
func (p *Provider) session(ctx context.Context) (applied bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var md []string
	if p.o.token != "" {
		md = append(md, "authorization", "Bearer "+p.o.token)
	}
	if p.o.environment != "" {
		md = append(md, "x-flagpole-environment", p.o.environment)
	}
	if len(md) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, md...)
	}
	stream, err := p.sync.Sync(ctx)
	if err != nil {
		return false, err
	}
	hello := &pb.Hello{SdkName: Name, SdkVersion: Version, ServiceName: p.o.serviceName, InstanceId: p.o.instanceID, Revision: p.revision, Environment: p.env}
	if err := stream.Send(&pb.SyncRequest{Message: &pb.SyncRequest_Hello{Hello: hello}}); err != nil {
		_, err = stream.Recv() // the status says why
		return false, err
	}
	p.sendMu.Lock()
	p.stream = stream
	p.sendMu.Unlock()
	defer func() {
		p.sendMu.Lock()
		p.stream = nil
		p.sendMu.Unlock()
	}()

	// The stream is dead when no message arrived for the idle timeout and
	// the connection took in less than minProgress bytes meanwhile: a large
	// message crossing a slow link keeps it alive, pings and their answers
	// (a few dozen bytes) do not.
	var mark atomic.Int64
	mark.Store(p.received.Load())
	var idle *time.Timer
	idle = time.AfterFunc(time.Hour, func() {
		if now := p.received.Load(); now-mark.Swap(now) >= minProgress {
			idle.Reset(p.o.idleTimeout)
			return
		}
		cancel(errIdle)
	})
	// Armed after idle is set, so the callback sees it.
	idle.Reset(p.o.idleTimeout)
	defer idle.Stop()
	// A lone applied revision is acknowledged at once; more within the ack
	// delay after it are coalesced (see acker).
	ack := newAcker(p.o.ackDelay, p.sendAck)
	defer ack.close()
	for {
		m, err := stream.Recv()
		if err != nil {
			err = pb.EndStatus(err, stream.Trailer())
			if errors.Is(context.Cause(ctx), errIdle) {
				err = fmt.Errorf("sdk: no message for %s: %w", p.o.idleTimeout, err)
			}
			return applied, err
		}
		mark.Store(p.received.Load())
		idle.Reset(p.o.idleTimeout)
		var changed []string
		first := p.state.Load() == nil
		update := true
		switch msg := m.GetMessage().(type) {
		case *pb.SyncResponse_Snapshot:
			changed, err = p.applySnapshot(msg.Snapshot)
		case *pb.SyncResponse_Change:
			changed, err = p.applyChange(msg.Change)
		case *pb.SyncResponse_Heartbeat:
			// Acknowledged again below, so the server sees the instance
			// alive. A heartbeat at the revision this instance said it has
			// (from its cache) is the server's word that nothing is newer:
			// as good as an update.
			update = !first && p.revision > 0 && msg.Heartbeat.GetRevision() == p.revision
		default:
			continue
		}
		if err != nil {
			return applied, err
		}
		if !applied && update {
			applied = true
			p.connected()
		}
		if !first && len(changed) > 0 {
			p.emit(openfeature.ProviderConfigChange, "revision "+strconv.FormatInt(p.revision, 10), changed, "")
		}
		ack.applied(p.revision)
	}
}

// minProgress is how many bytes an idle timeout's worth of a stream must
// receive, without a whole message, to count as alive: 4 KiB (about 90
// bytes a second at the default 45 s) is far above keepalive traffic and far
// below any link a service runs on.
const minProgress = 4 << 10

// errIdle ends a stream on which the server went silent.
var errIdle = errors.New("sdk: stream idle")

// send writes one message on the live stream.
func (p *Provider) send(m *pb.SyncRequest) error {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	return p.sendLocked(m)
}

func (p *Provider) sendLocked(m *pb.SyncRequest) error {
	if p.stream == nil {
		return errNotConnected
	}
	return p.stream.Send(m)
}

// sendAck acknowledges revision on the live stream. The message is the
// provider's one acknowledgement, reused under sendMu (Send has encoded it
// when it returns), since every applied change is acknowledged.
func (p *Provider) sendAck(revision int64) error {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	p.ack.Ack.Revision = revision
	return p.sendLocked(p.ackMsg)
}

// connected records that a stream delivered its first update: the first
// one completes initialisation (OpenFeature then says READY itself); later
// ones report the recovery.
func (p *Provider) connected() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.ready:
	default:
		close(p.ready)
	}
	if p.initDone && p.announced != announcedReady {
		p.announced = announcedReady
		p.emit(openfeature.ProviderReady, "stream to "+p.addr+" established", nil, "")
	}
}

// applySnapshot replaces every flag and segment.
func (p *Provider) applySnapshot(s *pb.Snapshot) ([]string, error) {
	flags := make(map[string]*entry, len(s.GetFlags()))
	for _, f := range s.GetFlags() {
		e, err := newEntry(f)
		if err != nil {
			return nil, err
		}
		flags[f.GetFlag().GetKey()] = e
	}
	segments := make(map[string]*pb.Segment, len(s.GetSegments()))
	for _, sg := range s.GetSegments() {
		segments[sg.GetKey()] = sg
	}
	var changed []string
	for key, e := range flags {
		if old, ok := p.flags[key]; !ok || !proto.Equal(old.wire, e.wire) {
			changed = append(changed, key)
		}
	}
	for key := range p.flags {
		if _, ok := flags[key]; !ok {
			changed = append(changed, key)
		}
	}
	var segChanged []string
	for key, sg := range segments {
		if old, ok := p.segments[key]; !ok || !proto.Equal(old, sg) {
			segChanged = append(segChanged, key)
		}
	}
	for key := range p.segments {
		if _, ok := segments[key]; !ok {
			segChanged = append(segChanged, key)
		}
	}
	p.env, p.revision, p.flags, p.segments = s.GetEnvironment(), s.GetRevision(), flags, segments
	changed = append(changed, p.usingSegments(segChanged)...)
	return p.applied(changed)
}

// applyChange applies one committed change. A change of flags only is
// compiled incrementally: the changed flags are compiled and every other
// flag of the current snapshot is reused; a change of segments recompiles
// everything (flags refer to segments).
func (p *Provider) applyChange(c *pb.Change) ([]string, error) {
	if c.GetRevision() <= p.revision {
		return nil, nil // already have it
	}
	var changed []string
	// The definitions are copied when compiled; their slice is reused.
	defs := p.defs[:0]
	defer func() { clear(defs); p.defs = defs[:0] }()
	for _, f := range c.GetFlags() {
		e, err := newEntry(f)
		if err != nil {
			return nil, err
		}
		key := f.GetFlag().GetKey()
		if old, ok := p.flags[key]; ok && proto.Equal(old.wire, e.wire) {
			continue // resent as it was: nothing to compile, nothing changed
		}
		p.flags[key] = e
		defs = append(defs, e.def)
		changed = append(changed, key)
	}
	for _, key := range c.GetDeletedFlags() {
		delete(p.flags, key)
		changed = append(changed, key)
	}
	var segChanged []string
	for _, sg := range c.GetSegments() {
		p.segments[sg.GetKey()] = sg
		segChanged = append(segChanged, sg.GetKey())
	}
	for _, key := range c.GetDeletedSegments() {
		delete(p.segments, key)
		segChanged = append(segChanged, key)
	}
	p.revision = c.GetRevision()
	if len(segChanged) > 0 || p.state.Load() == nil || p.env != c.GetEnvironment() {
		changed = append(changed, p.usingSegments(segChanged)...)
		return p.applied(changed)
	}
	if err := p.swapFlags(defs, c.GetDeletedFlags(), changed); err != nil {
		p.revision = 0 // ask for a fresh snapshot on the next stream
		return nil, err
	}
	return p.finishApply(changed)
}

// applied compiles and swaps in the new flags, saves the cache and returns
// the changed keys, sorted.
func (p *Provider) applied(changed []string) ([]string, error) {
	if err := p.swap(); err != nil {
		p.revision = 0 // ask for a fresh snapshot on the next stream
		return nil, err
	}
	return p.finishApply(changed)
}

// finishApply saves the cache and returns the changed keys, sorted.
func (p *Provider) finishApply(changed []string) ([]string, error) {
	if p.o.cacheFile != "" {
		if err := p.saveCache(); err != nil {
			p.o.logger.Warn("sdk: cache not written", "file", p.o.cacheFile, "err", err)
		}
	}
	if len(changed) > 1 {
		slices.Sort(changed)
		changed = slices.Compact(changed)
	}
	return changed, nil
}

// usingSegments returns the flags whose rules refer to one of segments.
func (p *Provider) usingSegments(segments []string) []string {
	if len(segments) == 0 {
		return nil
	}
	var out []string
	for key, e := range p.flags {
	rules:
		for _, r := range e.def.Config.Rules {
			for _, c := range r.Conditions {
				if c.Operator != engine.OpInSegment && c.Operator != engine.OpNotInSegment {
					continue
				}
				for _, v := range c.Values {
					if slices.Contains(segments, v) {
						out = append(out, key)
						break rules
					}
				}
			}
		}
	}
	return out
}

func newEntry(f *pb.FlagState) (*entry, error) {
	def, err := enginepb.ToFlagState(f)
	if err != nil {
		return nil, fmt.Errorf("sdk: %w", err)
	}
	return &entry{wire: f, def: def}, nil
}

func segmentOf(s *pb.Segment) engine.Segment { return enginepb.ToSegment(s) }
