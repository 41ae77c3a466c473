package grpcapi

import (
	"context"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/flagpole/flagpole/server"
)

// CommentInterceptor reads the comment of a change from the call's
// server.CommentHeader metadata (the HTTP transport carries headers as
// metadata, so the JSON API reads the same header) and puts it in the
// context, where the service stores it in the change's audit entries. A
// comment that is not percent-encoded UTF-8, too long, or holds control
// characters is refused as InvalidArgument naming the field "comment",
// before the call runs; so is a call that sends the header twice.
func CommentInterceptor(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		// ValueFromIncomingContext looks the one key up; FromIncomingContext
		// would copy all of the call's metadata on every call.
		values := metadata.ValueFromIncomingContext(ctx, server.CommentHeader)
		switch len(values) {
		case 0:
			return handler(ctx, req)
		case 1:
		default:
			return nil, ToStatus(ctx, log, server.Invalid("comment", "the %s header is given %d times; send one", server.CommentHeader, len(values)))
		}
		c, err := server.ParseComment(values[0])
		if err != nil {
			return nil, ToStatus(ctx, log, err)
		}
		return handler(server.NewContextWithComment(ctx, c), req)
	}
}
