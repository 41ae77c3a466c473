package daemon_test

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/fanout"
	"github.com/flagpole/flagpole/server/testkit"
)

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// bigFlag is a string flag of about 240 KB (four variants of 60 KB, under
// the engine's limits), different for every n.
func bigFlag(n int) *syncpb.Flag {
	f := &syncpb.Flag{Key: "big", Type: "string"}
	for _, k := range []string{"a", "b", "c", "d"} {
		v := strings.Repeat(string(rune('a'+n%26)), 60<<10)
		f.Variants = append(f.Variants, &syncpb.Variant{Key: k, Value: structpb.NewStringValue(v)})
	}
	return f
}

// Issue 11 F5: the sync hub's resume log is bounded in bytes, not only in
// changes. Eighty updates of a 240 KB flag (about 19 MB per environment,
// published to all three) leave at most fanout.DefaultLogBytes per
// environment in the log, the live heap grows by no more than the three
// bounds, and a client whose revision the trimmed log no longer reaches
// gets a snapshot with the latest definition while one just behind
// resumes from the log.
func TestSyncLogBoundedInBytes(t *testing.T) {
	ctx := context.Background()
	srv := daemon.New(config(filepath.Join(t.TempDir(), "flagpole.db")))
	conn := start(t, srv)
	c := clientsOf(conn)
	testkit.Must(c.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: bigFlag(0)}))(t)
	first := testkit.Must(syncpb.NewSyncServiceClient(conn).ListClients(ctx, &syncpb.ListClientsRequest{Environment: "production"}))(t).GetRevision()

	before := liveHeap()
	const updates = 80
	for i := 1; i <= updates; i++ {
		testkit.Must(c.flags.UpdateFlag(ctx, &pb.UpdateFlagRequest{Flag: bigFlag(i)}))(t)
	}
	grown := int64(liveHeap()) - int64(before)
	t.Logf("live heap grew by %.1f MB over %d updates of a 240 KB flag", float64(grown)/1e6, updates)
	hub := srv.SyncHub()
	for _, env := range []string{"development", "staging", "production"} {
		bytes, n := hub.LogBytes(env)
		t.Logf("%s: log keeps %d changes, %.1f MB", env, n, float64(bytes)/1e6)
		if bytes > fanout.DefaultLogBytes || n == 0 {
			t.Errorf("%s: log keeps %d bytes in %d changes, want at most %d and some", env, bytes, n, fanout.DefaultLogBytes)
		}
	}
	// The three logs, plus slack for the store's caches and the runtime.
	if limit := int64(3*fanout.DefaultLogBytes + 16<<20); grown > limit {
		t.Errorf("live heap grew by %d bytes, want at most %d", grown, limit)
	}
	if _, _, ok := hub.Subscribe("production", first); ok {
		t.Errorf("the log still resumes revision %d, %d large changes ago", first, updates)
	}

	last := testkit.Must(syncpb.NewSyncServiceClient(conn).ListClients(ctx, &syncpb.ListClientsRequest{Environment: "production"}))(t).GetRevision()
	syncFrom := func(have int64) *syncpb.SyncResponse {
		t.Helper()
		sctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(ctx, "x-flagpole-environment", "production"))
		t.Cleanup(cancel)
		stream := testkit.Must(syncpb.NewSyncServiceClient(conn).Sync(sctx))(t)
		if err := stream.Send(&syncpb.SyncRequest{Message: &syncpb.SyncRequest_Hello{Hello: &syncpb.Hello{
			SdkName: "test", ServiceName: "behind", InstanceId: "i-1", Revision: have, Environment: "production"}}}); err != nil {
			t.Fatal(err)
		}
		return testkit.Must(stream.Recv())(t)
	}
	// Far behind: a snapshot at the latest revision with the latest value.
	snap := syncFrom(first).GetSnapshot()
	if snap == nil || snap.GetRevision() != last {
		t.Fatalf("client at revision %d got %v, want a snapshot at %d", first, snap != nil, last)
	}
	want := bigFlag(updates).GetVariants()[0].GetValue().GetStringValue()
	if got := snap.GetFlags()[0].GetFlag().GetVariants()[0].GetValue().GetStringValue(); got != want {
		t.Fatalf("snapshot serves %.8q..., want %.8q...", got, want)
	}
	// Just behind: the next change from the log, no snapshot.
	if ch := syncFrom(last - 1).GetChange(); ch == nil || ch.GetRevision() != last {
		t.Fatalf("client at revision %d got %v, want the change to %d", last-1, ch, last)
	}
}
