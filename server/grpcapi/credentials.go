package grpcapi

import "context"

// TokenCredentials sends a token as "authorization: Bearer <token>" on every
// gRPC call (grpc.WithPerRPCCredentials). Insecure allows it over a
// connection without TLS, as on 127.0.0.1 in tests.
type TokenCredentials struct {
	Token    string
	Insecure bool
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (c TokenCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + c.Token}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (c TokenCredentials) RequireTransportSecurity() bool { return !c.Insecure }
