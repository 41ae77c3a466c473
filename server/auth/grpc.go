package auth

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/flagpole/flagpole/server"
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
			return nil, grpcStatus(err)
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor does for streams what UnaryInterceptor does for unary
// calls. A stream of an sdk token is bound to the token's environment: its
// x-flagpole-environment metadata is set to it (and another is refused).
func (a *Authenticator) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := a.admit(ss.Context(), info.FullMethod, nil)
		if err != nil {
			return grpcStatus(err)
		}
		if p, ok := FromContext(ctx); ok && p.Kind == KindToken && p.Scope == ScopeSDK {
			md, _ := metadata.FromIncomingContext(ctx)
			md = md.Copy()
			md.Set(EnvironmentHeader, p.sdkEnvironment())
			ctx = metadata.NewIncomingContext(ctx, md)
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
		p, err := a.AuthenticateToken(ctx, secret)
		if err != nil {
			return ctx, err
		}
		ctx = withPrincipal(ctx, p, normalizeSource(first(md, SourceHeader), SourceAPI))
	}
	return ctx, a.Authorize(ctx, method, req)
}

// withPrincipal returns ctx carrying p and its audit actor.
func withPrincipal(ctx context.Context, p Principal, source string) context.Context {
	ctx = NewContext(ctx, p)
	return server.NewContextWithActor(ctx, p.Actor(source))
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

// invalid is InvalidArgument with the offending field as a BadRequest
// detail, as the rest of the API reports bad input.
func invalid(err error) error {
	st := status.New(codes.InvalidArgument, server.ErrorMessage(err))
	var e *server.Error
	if errors.As(err, &e) && e.Field != "" {
		v := &errdetails.BadRequest_FieldViolation{Field: e.Field, Description: e.Message}
		if d, derr := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{v}}); derr == nil {
			st = d
		}
	}
	return st.Err()
}

// grpcStatus maps an authentication or authorization error to its status.
func grpcStatus(err error) error {
	switch server.ErrorCode(err) {
	case server.EUNAUTHORIZED:
		return status.Error(codes.Unauthenticated, server.ErrorMessage(err))
	case server.EFORBIDDEN:
		return status.Error(codes.PermissionDenied, server.ErrorMessage(err))
	case server.EINVALID:
		return invalid(err)
	case server.ENOTFOUND:
		return status.Error(codes.NotFound, server.ErrorMessage(err))
	case server.EEXISTS:
		return status.Error(codes.AlreadyExists, server.ErrorMessage(err))
	case server.ECONFLICT:
		return status.Error(codes.Aborted, server.ErrorMessage(err))
	case server.EUNAVAILABLE:
		return status.Error(codes.Unavailable, server.ErrorMessage(err))
	}
	return status.Error(codes.Internal, "internal error")
}
