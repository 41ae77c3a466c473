package grpcapi_test

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
	"github.com/flagpole/flagpole/server/auth"
	"github.com/flagpole/flagpole/server/grpcapi"
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
	a := auth.New(failingStore{}, auth.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer fp_ci_x"))
	_, err := grpcapi.UnaryAuth(a)(ctx, &v1.ListFlagsRequest{}, &grpc.UnaryServerInfo{FullMethod: v1.FlagService_ListFlags_FullMethodName},
		func(context.Context, any) (any, error) { t.Fatal("handler called"); return nil, nil })
	if st, _ := status.FromError(err); st.Code() != codes.Internal || st.Message() != "internal error" {
		t.Fatalf("store failure: %v, want Internal \"internal error\"", err)
	}
	if !strings.Contains(logs.String(), "disk I/O error") {
		t.Fatalf("the detail is not in the log:\n%s", logs.String())
	}
}

// TestEveryRegisteredMethodHasRule fails when an RPC is added to one of
// the services RegisterAuth registers without a rule. (The serve tests do the same for
// every service the server registers.)
func TestEveryRegisteredMethodHasRule(t *testing.T) {
	a := auth.New(failingStore{})
	s := grpc.NewServer()
	grpcapi.RegisterAuth(s, a)
	for svc, info := range s.GetServiceInfo() {
		for _, m := range info.Methods {
			if _, ok := server.Permissions["/"+svc+"/"+m.Name]; !ok {
				t.Errorf("/%s/%s has no rule in auth.Rules", svc, m.Name)
			}
		}
	}
}
