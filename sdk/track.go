package sdk

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
)

// tracker buffers tracking events for the stream. Track never blocks: when
// the buffer is full (the server unreachable for long), new events are
// dropped and counted.
type tracker struct {
	max, batch int
	full       chan struct{} // signalled when a batch is ready

	mu      sync.Mutex
	events  []*pb.TrackEvent
	dropped int64
}

func newTracker(max, batch int) *tracker {
	return &tracker{max: max, batch: batch, full: make(chan struct{}, 1)}
}

func (t *tracker) add(e *pb.TrackEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.events) >= t.max {
		t.dropped++
		return
	}
	t.events = append(t.events, e)
	if len(t.events) >= t.batch {
		select {
		case t.full <- struct{}{}:
		default:
		}
	}
}

// take removes up to one batch.
func (t *tracker) take() []*pb.TrackEvent {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := min(len(t.events), t.batch)
	out := t.events[:n:n]
	t.events = t.events[n:]
	return out
}

// putBack returns a batch that could not be sent to the front.
func (t *tracker) putBack(events []*pb.TrackEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	keep := max(0, min(len(events), t.max-len(t.events)))
	t.dropped += int64(len(events) - keep)
	t.events = append(events[:keep:keep], t.events...)
}

// Track records an OpenFeature tracking event; it is sent to the server in
// the next batch.
func (p *Provider) Track(_ context.Context, name string, evalCtx openfeature.EvaluationContext, details openfeature.TrackingEventDetails) {
	e := &pb.TrackEvent{Name: name, TargetingKey: evalCtx.TargetingKey(), Time: timestamppb.Now()}
	if attrs := evalCtx.Attributes(); len(attrs) > 0 {
		e.Context = structOf(attrs)
	}
	if attrs := details.Attributes(); len(attrs) > 0 {
		e.Details = structOf(attrs)
	}
	if v := details.Value(); v != 0 {
		e.Value = &v
	}
	p.track.add(e)
}

// structOf converts attributes, leaving out values protobuf cannot hold.
func structOf(attrs map[string]any) *structpb.Struct {
	s := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(attrs))}
	for k, v := range attrs {
		if t, ok := v.(time.Time); ok {
			v = t.Format(time.RFC3339Nano)
		}
		if pv, err := structpb.NewValue(v); err == nil {
			s.Fields[k] = pv
		}
	}
	return s
}

// flushTracking sends batches every interval, or as soon as one is full.
func (p *Provider) flushTracking(ctx context.Context) {
	tick := time.NewTicker(p.o.trackInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-p.track.full:
		case <-ctx.Done():
			return
		}
		_ = p.sendTracking()
	}
}

// sendTracking sends every buffered event, batch by batch.
func (p *Provider) sendTracking() error {
	for {
		batch := p.track.take()
		if len(batch) == 0 {
			return nil
		}
		if err := p.send(&pb.SyncRequest{Message: &pb.SyncRequest_Track{Track: &pb.TrackReport{Events: batch}}}); err != nil {
			p.track.putBack(batch)
			return err
		}
	}
}

// reportUsage sends the evaluation counts every interval.
func (p *Provider) reportUsage(ctx context.Context) {
	tick := time.NewTicker(p.o.usageInterval)
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
		if err := p.sendUsage(last); err == nil {
			last = time.Now()
		}
	}
}

// sendUsage sends the counts since start as one report.
func (p *Provider) sendUsage(start time.Time) error {
	counts := p.usage.take()
	if len(counts) == 0 {
		return nil
	}
	r := &pb.UsageReport{StartTime: timestamppb.New(start), EndTime: timestamppb.Now()}
	for _, c := range counts {
		r.Counts = append(r.Counts, &pb.UsageCount{FlagKey: c.flag, Variant: c.variant, Count: c.count})
	}
	if err := p.send(&pb.SyncRequest{Message: &pb.SyncRequest_Usage{Usage: r}}); err != nil {
		p.usage.giveBack(counts)
		return err
	}
	return nil
}

// flush sends what is pending before shutdown, waiting for a stream until
// ctx ends.
func (p *Provider) flush(ctx context.Context) error {
	for {
		err := errors.Join(p.sendTracking(), p.sendUsage(time.Now()))
		if err == nil || !errors.Is(err, errNotConnected) {
			return err
		}
		select {
		case <-ctx.Done():
			return nil // the server is away; nothing more can be done
		case <-p.fatal:
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}
