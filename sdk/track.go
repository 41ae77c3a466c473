package sdk

import (
	"context"
	"errors"
	"sync"
	"time"
	"unsafe"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flagpole/flagpole/sdk/engine"
	pb "github.com/flagpole/flagpole/sdk/syncpb"
)

// Track records an OpenFeature tracking event as signals: for every guarded
// flag it is counted under the variant the flag serves evalCtx, with
// details.Value() added to the sum (see signals.go). Without guarded flags
// it does nothing. It never blocks and, once the event name is known,
// allocates nothing, for a new targeting key too.
//
// Raw events (context, details' attributes) are not forwarded: doing so
// cost several allocations and a lock per call, and nothing on the server
// used them; the counts are what guards judge.
func (p *Provider) Track(_ context.Context, name string, evalCtx openfeature.EvaluationContext, details openfeature.TrackingEventDetails) {
	st := p.state.Load()
	if st == nil || len(st.guards) == 0 {
		return
	}
	value := details.Value()
	sc := trackScratches.Get().(*trackScratch)
	ctx := sc.fill(st.inputs, evalCtx)
	for i := range st.guards {
		g := &st.guards[i]
		_, v := st.snap.EvaluateAt(g.pos, "", ctx)
		if v < 0 || !g.sig.track(name, v, value) {
			p.signals.dropped.Add(1)
		}
	}
	sc.release()
}

// trackScratch is the flattened context Track evaluates guarded flags
// with: only the attributes they read, in a map reused from call to call.
type trackScratch struct {
	ctx map[string]any
	// key and boxedKey hold the targeting key without allocating: boxedKey
	// is an interface value whose box is key itself (see boxString), so
	// writing the call's key to *key puts it in ctx as a string, where
	// any(key) would allocate a new 16-byte box for every new key.
	key      *string
	boxedKey any
}

var trackScratches = sync.Pool{New: func() any { return newTrackScratch() }}

func newTrackScratch() *trackScratch {
	key := new(string)
	return &trackScratch{ctx: make(map[string]any, 8), key: key, boxedKey: boxString(key)}
}

// boxString returns an interface value of dynamic type string whose box is
// *p: later writes to *p change the string it holds.
//
// Why this is safe: *p is a heap string (new(string)), so the interface's
// type word (string) and data word (a pointer to a string header) are what
// the compiler would build, and the garbage collector scans *p as a string;
// writes to *p are ordinary typed stores. The box belongs to one scratch,
// which one Track call holds from trackScratches.Get to Put, so nothing
// else reads or writes it meanwhile; and the value in ctx is read only
// during that call: the engine returns precomputed results and a variant
// index, and signalFlag.track gets the event name, variant and value,
// never the context, so no reader sees the box after the call has moved
// on (TestTrackAttributesEachCallToItsKey checks this).
func boxString(p *string) any {
	var v any = "" // only its type word is used
	(*[2]unsafe.Pointer)(unsafe.Pointer(&v))[1] = unsafe.Pointer(p)
	return v
}

// fill sets the attributes named in inputs in the scratch context, as
// OpenFeature flattens a context (the targeting key, when set, under
// engine.TargetingKey), and deletes those evalCtx lacks. The context is
// not cleared after use: clearing a map reseeds its hash (a tenth of
// Track's time), and names other than inputs that an earlier call left
// there are never read, since the guarded flags read only their inputs.
func (sc *trackScratch) fill(inputs []string, evalCtx openfeature.EvaluationContext) map[string]any {
	for _, name := range inputs {
		if name == engine.TargetingKey {
			if key := evalCtx.TargetingKey(); key != "" {
				*sc.key = key
				sc.ctx[name] = sc.boxedKey
				continue
			}
		}
		if v := evalCtx.Attribute(name); v != nil {
			sc.ctx[name] = v
		} else {
			delete(sc.ctx, name)
		}
	}
	return sc.ctx
}

// release returns the scratch to the pool without keeping the caller's
// key alive there.
func (sc *trackScratch) release() {
	*sc.key = ""
	trackScratches.Put(sc)
}

// reportSignals sends the signal counts every interval (at most
// maxSignalInterval) while there are guarded flags or counts.
func (p *Provider) reportSignals(ctx context.Context) {
	tick := time.NewTicker(min(p.o.trackInterval, maxSignalInterval))
	defer tick.Stop()
	last := time.Now()
	for {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
		if !p.signals.active() {
			last = time.Now()
			continue
		}
		now := time.Now()
		if err := p.sendSignals(last, now); err == nil {
			last = now
		}
	}
}

// sendSignals sends the counts since start as one report; on failure they
// are kept for the next.
func (p *Provider) sendSignals(start, end time.Time) error {
	r := p.signals.take(start, end)
	if r == nil {
		return nil
	}
	if err := p.send(&pb.SyncRequest{Message: &pb.SyncRequest_Signals{Signals: r}}); err != nil {
		p.signals.giveBack(r)
		return err
	}
	return nil
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
	start := time.Now()
	for {
		err := errors.Join(p.sendSignals(start, time.Now()), p.sendUsage(time.Now()))
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
