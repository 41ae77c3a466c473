package auth

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/flagpole/flagpole/server/grpcapi"
)

// UnaryInterceptor authenticates the caller of every unary call from its
// "authorization: Bearer <token>" (or "x-api-key") metadata, unless the
// HTTP Middleware already put a principal into the context, checks the permission table and
// puts the principal and the audit actor into the handler's context.
func (a *Authenticator) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		msg, _ := req.(proto.Message)
		ctx, err := a.admit(ctx, info.FullMethod, msg)
		if err != nil {
			return nil, grpcapi.ToStatus(ctx, a.log, err)
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor does for streams what UnaryInterceptor does for unary
// calls. A stream of an sdk token is bound to the token's environment
// (another named in its x-flagpole-environment metadata is refused), which
// StreamEnvironment returns to the handler.
func (a *Authenticator) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := a.admit(ss.Context(), info.FullMethod, nil)
		if err != nil {
			return grpcapi.ToStatus(ctx, a.log, err)
		}
		return handler(srv, &stream{ServerStream: ss, ctx: ctx})
	}
}

// StreamEnvironment returns the environment the sdk token of ctx's caller
// is bound to; ok is false for any other caller. Sync streams resolve their
// environment with it rather than from rewritten metadata, which would keep
// a copy of every header for the life of each stream.
func StreamEnvironment(ctx context.Context) (env string, ok bool) {
	if p, ok := FromContext(ctx); ok && p.Kind == KindToken && p.Scope == ScopeSDK {
		return p.sdkEnvironment(), true
	}
	return "", false
}

type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

// admit authenticates (unless a principal is already in ctx or the method
// is public) and authorizes one call.
func (a *Authenticator) admit(ctx context.Context, method string, req proto.Message) (context.Context, error) {
	if rule, ok := Rules[method]; ok && rule.Access == Public {
		return ctx, nil
	}
	if _, ok := FromContext(ctx); !ok {
		md, _ := metadata.FromIncomingContext(ctx)
		secret := bearer(first(md, "authorization"))
		if secret == "" {
			secret = strings.TrimSpace(first(md, strings.ToLower(APIKeyHeader)))
		}
		id, err := a.authenticateToken(ctx, secret)
		if err != nil {
			return ctx, err
		}
		ctx = withIdentity(ctx, id, normalizeSource(first(md, SourceHeader), SourceAPI, false))
	}
	return ctx, a.Authorize(ctx, method, req)
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// bearer returns the credential of an "authorization: Bearer x" value.
func bearer(h string) string {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(cred)
}
