package cli_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
)

// adminConn is a gRPC connection to the server as the admin, for set-ups
// the CLI has no command for.
func (s *server) adminConn(t *testing.T) (*grpc.ClientConn, context.Context) {
	t.Helper()
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+adminToken)
}

// TestEvalContextRules (issue 12): `eval --context` refuses a numeric
// targeting key as OFREP does, and with -o json says on stderr which
// attribute a split lacks while stdout keeps its four fields.
func TestEvalContextRules(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok(t, "flag", "create", "by-org", "--type", "boolean")
	conn, ctx := s.adminConn(t)
	if _, err := flagpolev1.NewFlagServiceClient(conn).ReplaceFlagConfig(ctx, &flagpolev1.ReplaceFlagConfigRequest{Config: &syncpb.FlagConfig{
		FlagKey: "by-org", Environment: "staging", Enabled: true, OffVariant: "off",
		DefaultServe: &syncpb.Serve{Kind: &syncpb.Serve_Split{Split: &syncpb.Split{BucketBy: "org.id", Weights: []*syncpb.Weight{{Variant: "on", Weight: 1}}}}},
	}}); err != nil {
		t.Fatal(err)
	}

	r := s.expectCode(t, 2, "eval", "by-org", "--env", "staging", "--context", `{"targetingKey":42}`)
	if !strings.Contains(r.stderr, "context.targetingKey must be a string") {
		t.Errorf("numeric targeting key: %s", r)
	}

	r = s.run(t, "eval", "by-org", "--env", "staging", "--targeting-key", "u1", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"errorCode": "TARGETING_KEY_MISSING"`) || !strings.Contains(r.stderr, `attribute "org.id"`) {
		t.Errorf("split without its attribute: %s", r)
	}
	// A nested object gives the dotted attribute.
	ev := s.eval(t, "by-org", "staging", "--context", `{"org":{"id":"acme"}}`)
	if ev["variant"] != "on" || ev["reason"] != "SPLIT" {
		t.Errorf("split on a nested attribute = %v", ev)
	}
}
