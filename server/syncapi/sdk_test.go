package syncapi

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk"
)

// newProvider connects an SDK provider to ts and waits until it is ready.
func newProvider(t *testing.T, addr string, opts ...sdk.Option) *sdk.Provider {
	t.Helper()
	opts = append([]sdk.Option{sdk.WithEnvironment("production"), sdk.WithInitTimeout(5 * time.Second),
		sdk.WithReconnectBackoff(20*time.Millisecond, 200*time.Millisecond)}, opts...)
	p, err := sdk.NewProvider(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Shutdown)
	return p
}

func nextEvent(t *testing.T, p *sdk.Provider, want openfeature.EventType) openfeature.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-p.EventChannel():
			if ev.EventType == want {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event", want)
		}
	}
}

func TestProviderFollowsStream(t *testing.T) {
	ts := startServer(t)
	ts.src.set("checkout", "")
	p := newProvider(t, ts.addr)
	if err := p.InitWithContext(context.Background(), openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	r := p.BooleanEvaluation(context.Background(), "checkout", false, openfeature.FlattenedContext{"targetingKey": "u1"})
	if !r.Value || r.Variant != "on" || r.Error() != nil || r.FlagMetadata["flagSetId"] != "production" {
		t.Fatalf("checkout = %+v", r)
	}
	ts.src.set("search", "")
	ev := nextEvent(t, p, openfeature.ProviderConfigChange)
	if !slices.Equal(ev.FlagChanges, []string{"search"}) {
		t.Fatalf("changed = %v", ev.FlagChanges)
	}
	if got := p.Revision(); got != 2 {
		t.Fatalf("revision = %d", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		cs := ts.sync.Clients("production")
		if len(cs) == 1 && cs[0].AppliedRevision == 2 && cs[0].SDKName == sdk.Name {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("clients = %+v", cs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
