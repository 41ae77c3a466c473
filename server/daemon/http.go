package daemon

import (
	"context"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"

	adminui "github.com/flagpole/flagpole/admin-ui"
	pb "github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/grpcapi"
	"github.com/flagpole/flagpole/server/ofrep"
)

// httpHandler assembles everything served on the HTTP port. Mount further
// handlers (JSON API, OFREP, metrics, UI) here.
func (s *Server) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	s.mountObserve(mux, []grpc.UnaryServerInterceptor{grpcapi.UnaryAuth(s.Auth), grpcapi.CommentInterceptor(s.log)}, func(api grpc.ServiceRegistrar) {
		pb.RegisterSyncServiceServer(api, s.sync)
		grpcapi.RegisterAuth(api, s.Auth)
	})
	// The admin UI: public static assets; its API calls authenticate.
	mux.Handle("/", adminui.Handler())
	sessions := s.sessions()
	sessions.Routes(mux)
	cop := crossOriginProtection(len(s.cfg.CORSOrigins) > 0)
	routes := s.tracing.Routes(mux)
	return s.tracing.HTTPHandler(securityHeaders(s.tls != nil, ofrep.CORS(s.cfg.CORSOrigins, cop.Handler(sessions.Middleware(publicHTTP, routes)))))
}

// securityHeaders sets the headers every answer carries: nosniff, so a
// browser never runs a JSON body or an error text as a script or page, and,
// under TLS, HSTS for a year (this host only: other services of the domain
// may not serve TLS).
func securityHeaders(tls bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if tls {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// crossOriginProtection refuses non-safe requests (POST, PUT, PATCH,
// DELETE) that a browser says come from another origin (Sec-Fetch-Site, or
// an Origin whose host is not the request's Host), before anything
// authenticates: so a page elsewhere cannot sign a browser in to an account
// of its choosing (login CSRF) nor ride a session. Requests without those
// headers, as the CLI, SDKs and curl send them, pass; so do safe methods.
// With OFREP's CORS on (serve --cors-origin), OFREP's POST evaluation
// routes are exempt: they change nothing, authenticate by token header
// (a session there still needs its CSRF header), and the CORS handler in
// front of them decides which origins may read the answers. No origin is
// trusted for anything else.
func crossOriginProtection(ofrepCORS bool) *http.CrossOriginProtection {
	p := http.NewCrossOriginProtection()
	if ofrepCORS {
		for _, pattern := range ofrep.EvaluationPatterns {
			p.AddInsecureBypassPattern(pattern)
		}
	}
	p.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		if strings.HasPrefix(r.URL.Path, ofrep.Prefix) {
			w.Write([]byte(`{"errorDetails":"cross-origin request refused: allow the page's origin with serve --cors-origin"}` + "\n"))
			return
		}
		w.Write([]byte(`{"code":"permission_denied","message":"cross-origin request refused"}` + "\n"))
	}))
	return p
}

// readyz answers 200 while the server accepts calls and its store answers,
// 503 otherwise (starting, shutting down, store unreachable).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		writeText(w, http.StatusServiceUnavailable, "not ready")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.Service.ListEnvironments(ctx); err != nil {
		s.log.Warn("readiness check failed", "err", err)
		writeText(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	writeText(w, http.StatusOK, "ready")
}

func writeText(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(text + "\n"))
}
