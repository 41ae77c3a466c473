package grpcapi_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/grpcapi"
)

// TestCommentInterceptor: the handler sees the decoded comment; a bad or
// repeated header is refused before the handler runs, naming the field.
func TestCommentInterceptor(t *testing.T) {
	ic := grpcapi.CommentInterceptor(slog.New(slog.NewTextHandler(io.Discard, nil)))
	info := &grpc.UnaryServerInfo{FullMethod: "/flagpole.v1.FlagService/SetEnabled"}
	call := func(values ...string) (string, bool, error) {
		md := metadata.MD{}
		for _, v := range values {
			md.Append(server.CommentHeader, v)
		}
		ctx := metadata.NewIncomingContext(context.Background(), md)
		var seen string
		ran := false
		_, err := ic(ctx, nil, info, func(ctx context.Context, _ any) (any, error) {
			seen, ran = server.CommentFromContext(ctx), true
			return nil, nil
		})
		return seen, ran, err
	}
	if got, ran, err := call(); err != nil || !ran || got != "" {
		t.Errorf("no header: %q, ran %v, %v", got, ran, err)
	}
	if got, ran, err := call("INC-7%3A%20100%25%20on"); err != nil || !ran || got != "INC-7: 100% on" {
		t.Errorf("one header: %q, ran %v, %v", got, ran, err)
	}
	for _, bad := range [][]string{{"a", "b"}, {"50%"}, {strings.Repeat("x", server.MaxCommentLength+1)}} {
		_, ran, err := call(bad...)
		if st := status.Convert(err); ran || st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "comment: ") {
			t.Errorf("header %.20q: ran %v, %v; want InvalidArgument on comment before the handler", bad, ran, err)
		}
	}
}

// TestCommentInterceptorCostsNothingWithoutComment: every call, evaluations
// included, passes the interceptor, so a call without a comment must not
// copy the call's metadata (it once cost 7 allocations per evaluation).
func TestCommentInterceptorCostsNothingWithoutComment(t *testing.T) {
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(
		"authorization", "Bearer secret", "user-agent", "grpc-go/1.85.0", "x-flagpole-source", "cli", "content-type", "application/grpc"))
	intercept := grpcapi.CommentInterceptor(slog.New(slog.DiscardHandler))
	info := &grpc.UnaryServerInfo{FullMethod: "/flagpole.v1.EvaluationService/Evaluate"}
	handler := func(context.Context, any) (any, error) { return nil, nil }
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := intercept(ctx, nil, info, handler); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a call without a comment costs %v allocations in the interceptor, want 0", allocs)
	}
}
