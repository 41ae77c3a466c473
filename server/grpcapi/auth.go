package grpcapi

import (
	"context"

	"google.golang.org/grpc"

	v1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/auth"
)

// RegisterAuth registers TokenService, UserService and AuthService over a
// on s.
func RegisterAuth(s grpc.ServiceRegistrar, a *auth.Authenticator) {
	v1.RegisterTokenServiceServer(s, tokenServer{a: a})
	v1.RegisterUserServiceServer(s, userServer{a: a})
	v1.RegisterAuthServiceServer(s, authServer{a: a})
}

// rpcError maps err to a gRPC status through the API's one table of codes,
// logging what the caller cannot see.
func rpcError(ctx context.Context, a *auth.Authenticator, err error) error {
	return ToStatus(ctx, a.Logger(), err)
}

type tokenServer struct {
	v1.UnimplementedTokenServiceServer
	a *auth.Authenticator
}

func (s tokenServer) CreateToken(ctx context.Context, req *v1.CreateTokenRequest) (*v1.CreateTokenResponse, error) {
	nt := auth.NewToken{Name: req.GetName(), Scope: req.GetScope(), Environments: req.GetEnvironments()}
	if req.ExpireTime != nil {
		if err := req.ExpireTime.CheckValid(); err != nil {
			return nil, rpcError(ctx, s.a, server.Invalid("expire_time", "%v", err))
		}
		nt.ExpiresAt = req.ExpireTime.AsTime()
	}
	t, secret, err := s.a.CreateToken(ctx, nt)
	if err != nil {
		return nil, rpcError(ctx, s.a, err)
	}
	return &v1.CreateTokenResponse{Token: tokenProto(t), Secret: secret}, nil
}

func (s tokenServer) ListTokens(ctx context.Context, req *v1.ListTokensRequest) (*v1.ListTokensResponse, error) {
	ts, err := s.a.ListTokens(ctx, req.GetIncludeRevoked())
	if err != nil {
		return nil, rpcError(ctx, s.a, err)
	}
	resp := &v1.ListTokensResponse{}
	for _, t := range ts {
		resp.Tokens = append(resp.Tokens, tokenProto(t))
	}
	return resp, nil
}

func (s tokenServer) RevokeToken(ctx context.Context, req *v1.RevokeTokenRequest) (*v1.RevokeTokenResponse, error) {
	t, err := s.a.RevokeToken(ctx, req.GetName())
	if err != nil {
		return nil, rpcError(ctx, s.a, err)
	}
	return &v1.RevokeTokenResponse{Token: tokenProto(t)}, nil
}

func (s tokenServer) DeleteToken(ctx context.Context, req *v1.DeleteTokenRequest) (*v1.DeleteTokenResponse, error) {
	if err := s.a.DeleteToken(ctx, req.GetName()); err != nil {
		return nil, rpcError(ctx, s.a, err)
	}
	return &v1.DeleteTokenResponse{}, nil
}

type userServer struct {
	v1.UnimplementedUserServiceServer
	a *auth.Authenticator
}

func (s userServer) CreateUser(ctx context.Context, req *v1.CreateUserRequest) (*v1.CreateUserResponse, error) {
	u, err := s.a.CreateUser(ctx, req.GetUsername(), req.GetPassword(), req.GetRole())
	if err != nil {
		return nil, rpcError(ctx, s.a, err)
	}
	return &v1.CreateUserResponse{User: userProto(u)}, nil
}

func (s userServer) ListUsers(ctx context.Context, _ *v1.ListUsersRequest) (*v1.ListUsersResponse, error) {
	us, err := s.a.ListUsers(ctx)
	if err != nil {
		return nil, rpcError(ctx, s.a, err)
	}
	resp := &v1.ListUsersResponse{}
	for _, u := range us {
		resp.Users = append(resp.Users, userProto(u))
	}
	return resp, nil
}

func (s userServer) DeleteUser(ctx context.Context, req *v1.DeleteUserRequest) (*v1.DeleteUserResponse, error) {
	if err := s.a.DeleteUser(ctx, req.GetUsername()); err != nil {
		return nil, rpcError(ctx, s.a, err)
	}
	return &v1.DeleteUserResponse{}, nil
}

func (s userServer) SetPassword(ctx context.Context, req *v1.SetPasswordRequest) (*v1.SetPasswordResponse, error) {
	if err := s.a.SetPassword(ctx, req.GetUsername(), req.GetPassword(), req.GetCurrentPassword()); err != nil {
		return nil, rpcError(ctx, s.a, err)
	}
	return &v1.SetPasswordResponse{}, nil
}

func (s userServer) SetRole(ctx context.Context, req *v1.SetRoleRequest) (*v1.SetRoleResponse, error) {
	u, err := s.a.SetRole(ctx, req.GetUsername(), req.GetRole())
	if err != nil {
		return nil, rpcError(ctx, s.a, err)
	}
	return &v1.SetRoleResponse{User: userProto(u)}, nil
}

type authServer struct {
	v1.UnimplementedAuthServiceServer
	a *auth.Authenticator
}

func (s authServer) WhoAmI(ctx context.Context, _ *v1.WhoAmIRequest) (*v1.WhoAmIResponse, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return nil, rpcError(ctx, s.a, auth.ErrNoCredential)
	}
	return &v1.WhoAmIResponse{Kind: p.Kind, Name: p.Name, Role: p.Role, Scope: p.Scope,
		Environments: p.Environments, ExpireTime: timestamp(p.ExpiresAt)}, nil
}

func tokenProto(t server.Token) *v1.Token {
	return &v1.Token{Name: t.Name, Scope: t.Scope, Environments: t.Environments, Hint: t.Hint,
		CreatedBy: t.CreatedBy, CreateTime: timestamp(t.CreatedAt), ExpireTime: timestamp(t.ExpiresAt),
		LastUsedTime: timestamp(t.LastUsedAt), RevokeTime: timestamp(t.RevokedAt)}
}

func userProto(u server.User) *v1.User {
	return &v1.User{Username: u.Username, Role: u.Role, CreateTime: timestamp(u.CreatedAt), UpdateTime: timestamp(u.UpdatedAt)}
}
