package syncapi

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/sdk/enginepb"
	pb "github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/fanout"
)

func benchChange(rev int64) server.Change {
	fs := engine.FlagState{
		Flag: engine.Flag{Key: "checkout.new-flow", Type: engine.TypeBoolean, Description: "the new checkout",
			Variants: []engine.Variant{{Key: "on", Value: true}, {Key: "off", Value: false}}},
		Config: engine.Config{Enabled: true, OffVariant: "off", Rules: []engine.Rule{{
			Conditions: []engine.Condition{{Attribute: "country", Operator: engine.OpIn, Values: []string{"de", "fr", "nl"}}},
			Serve:      engine.Serve{Split: &engine.Split{Weights: []engine.Weight{{Variant: "on", Weight: 10}, {Variant: "off", Weight: 90}}}},
		}}, Default: engine.Serve{Variant: "off"}},
	}
	return server.Change{Environment: "production", Revision: rev, Flags: []engine.FlagState{fs}, Time: time.Now()}
}

// BenchmarkPublish measures the server's cost of one committed change with
// n subscribed streams: encode once, log, offer to every queue (the
// subscribers' queues are drained outside the timer's concern, in the same
// loop, which is what the stream senders do).
func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{1, 1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			hub := NewHub()
			defer hub.Close()
			subs := make([]*fanout.Subscription, n)
			for i := range subs {
				subs[i], _, _ = hub.Subscribe("production", 0)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				hub.Publish(benchChange(int64(i + 1)))
				b.StopTimer()
				for _, s := range subs {
					<-s.Events()
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkEncodePerSubscriber is what Publish would cost if every stream
// marshalled the change itself: the baseline the shared encoding avoids.
func BenchmarkEncodePerSubscriber(b *testing.B) {
	for _, n := range []int{1, 1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			c := benchChange(1)
			b.ReportAllocs()
			for b.Loop() {
				for range n {
					fs, _ := enginepb.FlagState(c.Environment, c.Flags[0])
					m := &pb.SyncResponse{Message: &pb.SyncResponse_Change{Change: &pb.Change{Environment: c.Environment, Revision: c.Revision, Flags: []*pb.FlagState{fs}}}}
					if _, err := proto.Marshal(m); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
