package sdk

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/grpc"

	pb "github.com/flagpole/flagpole/sdk/syncpb"
)

// confirmServer answers a hello as a server does for a client that is
// already at the latest revision: a heartbeat carrying that revision, and
// nothing else. It passes on the hello and every acknowledgement.
type confirmServer struct {
	pb.UnimplementedSyncServiceServer
	hellos chan *pb.Hello
	acks   chan int64
}

func (s *confirmServer) Sync(stream grpc.BidiStreamingServer[pb.SyncRequest, pb.SyncResponse]) error {
	req, err := stream.Recv()
	if err != nil {
		return err
	}
	s.hellos <- req.GetHello()
	hb := &pb.Heartbeat{Revision: req.GetHello().GetRevision()}
	if err := stream.Send(&pb.SyncResponse{Message: &pb.SyncResponse_Heartbeat{Heartbeat: hb}}); err != nil {
		return err
	}
	for {
		req, err := stream.Recv()
		if err != nil {
			return nil
		}
		if a := req.GetAck(); a != nil {
			select {
			case s.acks <- a.GetRevision():
			default:
			}
		}
	}
}

func startConfirmServer(t *testing.T) (*confirmServer, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &confirmServer{hellos: make(chan *pb.Hello, 4), acks: make(chan int64, 16)}
	gs := grpc.NewServer()
	pb.RegisterSyncServiceServer(gs, s)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	return s, lis.Addr().String()
}

// A provider started from a cache file at the server's latest revision
// becomes ready when the server confirms that revision with a heartbeat (no
// snapshot or change follows), and acknowledges it, so that the server
// lists the instance as having applied it. The hello names the cached
// revision's environment, and the SDK's name and version.
func TestReadyWhenServerConfirmsCachedRevision(t *testing.T) {
	file := filepath.Join(t.TempDir(), "flags.cache")
	if err := offlineProvider(t, WithCacheFile(file)).saveCache(); err != nil {
		t.Fatal(err)
	}
	srv, addr := startConfirmServer(t)
	p, err := NewProvider(addr, WithCacheFile(file), WithAckDelay(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.InitWithContext(ctx, openfeature.EvaluationContext{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.ready:
	default:
		t.Fatal("initialised from the cache without the server's confirmation")
	}
	if h := <-srv.hellos; h.GetRevision() != 7 || h.GetEnvironment() != "production" || h.GetSdkName() != Name || h.GetSdkVersion() != Version {
		t.Fatalf("hello = %v; want revision 7 of production from %s %s", h, Name, Version)
	}
	select {
	case rev := <-srv.acks:
		if rev != 7 {
			t.Fatalf("acknowledged %d; want 7", rev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the confirmed revision was not acknowledged")
	}
}

// A heartbeat before any flags (no cache) does not make the provider ready.
func TestHeartbeatWithoutFlagsIsNotReady(t *testing.T) {
	_, addr := startConfirmServer(t)
	p, err := NewProvider(addr, WithInitTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Shutdown)
	if err := p.InitWithContext(context.Background(), openfeature.EvaluationContext{}); err == nil {
		t.Fatal("ready without any flags")
	}
}

// WithCacheDir names one file per server and environment (or, when the
// token decides the environment, per token); WithCacheFile wins over it.
func TestCacheDirKeyedByServerAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	file := func(addr string, opts ...Option) string {
		t.Helper()
		p, err := NewProvider(addr, append([]Option{WithCacheDir(dir)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Shutdown)
		if filepath.Dir(p.CacheFile()) != dir {
			t.Fatalf("cache file %q not in %q", p.CacheFile(), dir)
		}
		return p.CacheFile()
	}
	prod := file("flags.example.com:9090", WithEnvironment("production"))
	if again := file("flags.example.com:9090", WithEnvironment("production"), WithToken("t")); again != prod {
		t.Errorf("same server and environment: %q and %q", prod, again)
	}
	distinct := map[string]string{"production": prod}
	for name, f := range map[string]string{
		"staging":        file("flags.example.com:9090", WithEnvironment("staging")),
		"other server":   file("flags.example.com:9091", WithEnvironment("production")),
		"merged address": file("flags.example.com_9090", WithEnvironment("production")),
		"token a":        file("flags.example.com:9090", WithToken("sdk-token-a")),
		"token b":        file("flags.example.com:9090", WithToken("sdk-token-b")),
	} {
		for other, g := range distinct {
			if f == g {
				t.Errorf("%s and %s share the cache file %q", name, other, f)
			}
		}
		distinct[name] = f
	}
	if f := file("flags.example.com:9090", WithToken("sdk-token-a")); strings.Contains(f, "sdk-token-a") {
		t.Errorf("the token is in the file name %q", f)
	}
	explicit := filepath.Join(dir, "mine.flags")
	if f := file("flags.example.com:9090", WithCacheFile(explicit)); f != explicit {
		t.Errorf("WithCacheFile: %q", f)
	}
}
