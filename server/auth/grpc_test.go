package auth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	v1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server"
)

// failingStore fails every read as a broken database would.
type failingStore struct{ server.AuthStore }

func (failingStore) ViewAuth(context.Context, func(server.AuthTx) error) error {
	return errors.New("sqlite: disk I/O error")
}

// TestInterceptorStoreFailure: a store failure while authenticating reaches
// the caller as Internal "internal error", with the detail in the log only.
func TestInterceptorStoreFailure(t *testing.T) {
	var logs bytes.Buffer
	a := New(failingStore{newMemStore()}, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer fp_ci_x"))
	_, err := a.UnaryInterceptor()(ctx, &v1.ListFlagsRequest{}, &grpc.UnaryServerInfo{FullMethod: v1.FlagService_ListFlags_FullMethodName},
		func(context.Context, any) (any, error) { t.Fatal("handler called"); return nil, nil })
	if st, _ := status.FromError(err); st.Code() != codes.Internal || st.Message() != "internal error" {
		t.Fatalf("store failure: %v, want Internal \"internal error\"", err)
	}
	if !strings.Contains(logs.String(), "disk I/O error") {
		t.Fatalf("the detail is not in the log:\n%s", logs.String())
	}
}
