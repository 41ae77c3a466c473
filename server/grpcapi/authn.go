package grpcapi

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/auth"
)

// UnaryAuth returns the interceptor that authenticates the caller of
// every unary call from its "authorization: Bearer <token>" (or
// "x-api-key") metadata, unless the HTTP middleware already put a principal
// into the context, checks the permission table and puts the principal and
// the audit actor into the handler's context.
func UnaryAuth(a *auth.Authenticator) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		msg, _ := req.(proto.Message)
		ctx, err := admit(ctx, a, info.FullMethod, msg)
		if err != nil {
			return nil, ToStatus(ctx, a.Logger(), err)
		}
		return handler(ctx, req)
	}
}

// StreamAuth returns the interceptor that does for streams what UnaryAuth
// does for unary calls. A stream of an sdk token is bound to the token's
// environment (another named in its x-flagpole-environment metadata is
// refused), which auth.StreamEnvironment returns to the handler.
func StreamAuth(a *auth.Authenticator) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := admit(ss.Context(), a, info.FullMethod, nil)
		if err != nil {
			return ToStatus(ctx, a.Logger(), err)
		}
		return handler(srv, &stream{ServerStream: ss, ctx: ctx})
	}
}

type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

// admit authenticates (unless a principal is already in ctx or the method
// is public) and authorizes one call.
func admit(ctx context.Context, a *auth.Authenticator, method string, req proto.Message) (context.Context, error) {
	perm, ok := server.Permissions[method]
	if ok && perm.Access == server.AccessPublic {
		return ctx, nil
	}
	if _, ok := auth.FromContext(ctx); !ok {
		secret := auth.Bearer(first(ctx, "authorization"))
		if secret == "" {
			secret = strings.TrimSpace(first(ctx, strings.ToLower(auth.APIKeyHeader)))
		}
		id, err := a.TokenIdentity(ctx, secret)
		if err != nil {
			return ctx, err
		}
		ctx = auth.WithIdentity(ctx, id, auth.NormalizeSource(first(ctx, auth.SourceHeader), server.SourceAPI, false))
	}
	authz := ctx // the handler's context does not keep the stream's environment
	if perm.Env == server.EnvStream {
		authz = auth.WithStreamEnvironment(ctx, first(ctx, auth.EnvironmentHeader))
	}
	return ctx, a.Authorize(authz, method, req)
}

// first is the call's first value of the metadata key (lower case). It looks
// the one key up: metadata.FromIncomingContext would copy all of the call's
// metadata, on every call.
func first(ctx context.Context, key string) string {
	if v := metadata.ValueFromIncomingContext(ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}
