package sdk_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/grpc"

	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/sdk/enginepb"
	pb "github.com/flagpole/flagpole/sdk/syncpb"
)

// exampleServer stands in for a Flagpole server in the examples: it
// streams one flag, "new-checkout", on for everyone in "production".
type exampleServer struct {
	pb.UnimplementedSyncServiceServer
}

func (exampleServer) Sync(stream grpc.BidiStreamingServer[pb.SyncRequest, pb.SyncResponse]) error {
	if _, err := stream.Recv(); err != nil { // the hello
		return err
	}
	f := engine.Flag{Key: "new-checkout", Type: engine.TypeBoolean}
	if err := engine.ValidateFlag(&f); err != nil {
		return err
	}
	fs, err := enginepb.FlagState("production", engine.FlagState{Flag: f,
		Config: engine.Config{Enabled: true, OffVariant: "off", Default: engine.Serve{Variant: "on"}}})
	if err != nil {
		return err
	}
	snap := &pb.Snapshot{Environment: "production", Revision: 1, Flags: []*pb.FlagState{fs}}
	if err := stream.Send(&pb.SyncResponse{Message: &pb.SyncResponse_Snapshot{Snapshot: snap}}); err != nil {
		return err
	}
	for {
		if _, err := stream.Recv(); err != nil {
			return nil
		}
	}
}

func startExampleServer() (addr string, stop func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	gs := grpc.NewServer()
	pb.RegisterSyncServiceServer(gs, exampleServer{})
	go gs.Serve(lis)
	return lis.Addr().String(), gs.Stop
}

// Register the provider with OpenFeature and evaluate a flag in-process.
func Example() {
	addr, stop := startExampleServer() // your Flagpole server's gRPC address
	defer stop()

	provider, err := sdk.NewProvider(addr,
		sdk.WithToken("an-sdk-token"),
		sdk.WithEnvironment("production"),
		sdk.WithServiceName("checkout"))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := openfeature.SetNamedProviderWithContextAndWait(ctx, "example", provider); err != nil {
		log.Fatal(err)
	}
	defer provider.Shutdown()

	client := openfeature.NewClient("example")
	details, err := client.BooleanValueDetails(ctx, "new-checkout", false, openfeature.NewEvaluationContext("user-42", nil))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(details.Value, details.Variant, details.Reason, details.FlagMetadata["flagSetId"])
	// Output: true on STATIC production
}

// React to flags changing on the server.
func ExampleProvider_EventChannel() {
	addr, stop := startExampleServer()
	defer stop()
	provider, err := sdk.NewProvider(addr, sdk.WithEnvironment("production"))
	if err != nil {
		log.Fatal(err)
	}
	if err := openfeature.SetNamedProviderAndWait("events", provider); err != nil {
		log.Fatal(err)
	}
	defer provider.Shutdown()
	onChange := func(d openfeature.EventDetails) { log.Printf("flags changed: %v", d.FlagChanges) }
	openfeature.NewClient("events").AddHandler(openfeature.ProviderConfigChange, &onChange)
	fmt.Println(openfeature.NewClient("events").State())
	// Output: READY
}
