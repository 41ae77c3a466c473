package daemon

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/auth"
	"github.com/flagpole/flagpole/server/httpapi"
	"github.com/flagpole/flagpole/server/syncapi"
)

// sessions is authentication on the HTTP port, over s.Auth.
func (s *Server) sessions() *httpapi.Sessions {
	return &httpapi.Sessions{Auth: s.Auth, SecureCookies: s.tls != nil, TrustedProxies: s.cfg.TrustedProxies}
}

// startAuth creates the authenticator and gives an empty database its first
// credentials (printed once to Config.Out unless given in Config).
func (s *Server) startAuth(ctx context.Context) error {
	s.Auth = auth.New(s.store, auth.WithLogger(s.log), auth.WithClock(s.authNow()),
		// A revoked token's sync streams end at once (s.sync exists before
		// any call is served).
		auth.WithRevokeHook(func(name string) { s.sync.CloseCredential(name) }))
	if err := s.Auth.Bootstrap(ctx, s.cfg.AdminPassword, s.cfg.AdminToken, s.cfg.Out); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// streamCredential names the token a sync stream was opened with, so that
// revoking the token ends the stream.
func streamCredential(ctx context.Context) string {
	if p, ok := auth.FromContext(ctx); ok && p.Kind == server.KindToken {
		return p.Name
	}
	return ""
}

// streamExpiry is when the credential a sync stream was opened with
// expires (zero for never): the stream ends then.
func streamExpiry(ctx context.Context) time.Time {
	if p, ok := auth.FromContext(ctx); ok {
		return p.ExpiresAt
	}
	return time.Time{}
}

// authNow is the clock credentials expire by.
func (s *Server) authNow() func() time.Time {
	if s.cfg.AuthNow != nil {
		return s.cfg.AuthNow
	}
	return time.Now
}

// streamEnvironment is the environment a sync stream serves: its sdk
// token's, else the one its metadata names.
func streamEnvironment(ctx context.Context) (string, error) {
	if env, ok := auth.StreamEnvironment(ctx); ok {
		return env, nil
	}
	return syncapi.MetadataEnvironment(ctx)
}

// loadTLS reads the certificate and key of --tls-cert and --tls-key, which
// go together; without both the server speaks plaintext.
func loadTLS(cert, key string) (*tls.Config, error) {
	switch {
	case cert == "" && key == "":
		return nil, nil
	case cert == "":
		return nil, fmt.Errorf("serve: --tls-cert: required with --tls-key")
	case key == "":
		return nil, fmt.Errorf("serve: --tls-key: required with --tls-cert")
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("serve: --tls-cert/--tls-key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// publicHTTP admits, without a credential, the health endpoints and the
// admin UI's static files (its sign-in page); httpapi.Sessions.Middleware
// also admits the sign-in endpoint. The API, OFREP and /metrics need a credential.
func publicHTTP(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.Path
	return !strings.HasPrefix(p, "/api/") && !strings.HasPrefix(p, "/ofrep/") && p != "/metrics"
}

// Method is one RPC the gRPC server serves.
type Method struct {
	FullName string // e.g. /flagpole.v1.FlagService/SetEnabled
	Stream   bool
}

// Methods lists every RPC registered on the gRPC server, sorted, for tests
// that check each against the permission table.
func (s *Server) Methods() []Method {
	var ms []Method
	for svc, info := range s.grpc.GetServiceInfo() {
		for _, m := range info.Methods {
			ms = append(ms, Method{FullName: "/" + svc + "/" + m.Name, Stream: m.IsClientStream || m.IsServerStream})
		}
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].FullName < ms[j].FullName })
	return ms
}
