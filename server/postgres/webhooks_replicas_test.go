package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/postgres/pgtest"
	"github.com/flagpole/flagpole/server/webhook"
)

// TestReplicasDeliverEachWebhookOnce runs two replicas on one database,
// both dispatching, and makes changes through both: the receiver gets
// every delivery id exactly once.
func TestReplicasDeliverEachWebhookOnce(t *testing.T) {
	dsn := pgtest.Schema(t)
	_, connA := startReplica(t, dsn)
	_, connB := startReplica(t, dsn)
	var mu sync.Mutex
	ids := map[string]int{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev webhook.Event
		_ = json.Unmarshal(b, &ev)
		time.Sleep(10 * time.Millisecond) // widen the window for a double send
		mu.Lock()
		ids[ev.ID]++
		mu.Unlock()
	}))
	defer recv.Close()
	ctx := context.Background()
	if _, err := pb.NewWebhookServiceClient(connA).CreateWebhook(ctx, &pb.CreateWebhookRequest{Url: recv.URL, Events: []string{webhook.KindFlag}}); err != nil {
		t.Fatal(err)
	}
	const n = 30
	flagsA, flagsB := pb.NewFlagServiceClient(connA), pb.NewFlagServiceClient(connB)
	for i := range n {
		c := flagsA
		if i%2 == 1 {
			c = flagsB
		}
		if _, err := c.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: fmt.Sprintf("f-%d", i), Type: "boolean"}}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		got := len(ids)
		mu.Unlock()
		if got >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d deliveries arrived", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // both replicas poll at least once more
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != n {
		t.Errorf("%d distinct ids, want %d", len(ids), n)
	}
	for id, c := range ids {
		if c != 1 {
			t.Errorf("delivery %s arrived %d times", id, c)
		}
	}
}
