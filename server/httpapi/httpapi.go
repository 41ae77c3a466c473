// Package httpapi is the JSON transport of the Flagpole API. It holds no
// logic of its own: each route decodes the request (path, query, body in the
// protobuf JSON mapping) into the gRPC method's request message and calls the
// same service implementation the gRPC server runs, in process, through the
// generated method handler and the same unary interceptors (authentication,
// metrics). Domain errors become HTTP statuses in one table.
//
// The routes come from the google.api.http annotations of the flagpole.v1
// protos (see routes.go); protoc-gen-openapiv2 generates the OpenAPI
// document, served at /api/v1/openapi.json, from the same annotations and
// the proto comments.
package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/flagpole/flagpole/proto/gen/openapi"
	"github.com/flagpole/flagpole/server"
)

// DefaultMaxBodyBytes limits request bodies unless WithMaxBodyBytes says otherwise.
const DefaultMaxBodyBytes = 1 << 20

// Server routes HTTP requests to registered gRPC service implementations.
// It implements grpc.ServiceRegistrar, so the generated RegisterXServer
// functions register an implementation with it just as with a grpc.Server.
type Server struct {
	maxBody      int64
	logger       *slog.Logger
	interceptors []grpc.UnaryServerInterceptor
	services     map[string]registered
}

type registered struct {
	desc *grpc.ServiceDesc
	impl any
}

var _ grpc.ServiceRegistrar = (*Server)(nil)

// Option configures a Server.
type Option func(*Server)

// WithInterceptors runs the interceptors, in order, around every call, as
// grpc.ChainUnaryInterceptor does on the gRPC server.
func WithInterceptors(ics ...grpc.UnaryServerInterceptor) Option {
	return func(s *Server) { s.interceptors = append(s.interceptors, ics...) }
}

// WithMaxBodyBytes limits request bodies; larger ones get 413.
func WithMaxBodyBytes(n int64) Option { return func(s *Server) { s.maxBody = n } }

// WithLogger sets where internal errors are logged.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.logger = l } }

// New returns a Server without services.
func New(opts ...Option) *Server {
	s := &Server{maxBody: DefaultMaxBodyBytes, logger: slog.Default(), services: make(map[string]registered)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// RegisterService registers a service implementation (grpc.ServiceRegistrar).
func (s *Server) RegisterService(desc *grpc.ServiceDesc, impl any) {
	s.services[desc.ServiceName] = registered{desc, impl}
}

// Wrap decorates a route's handler; rpc is the gRPC full method name the
// route maps to, so that one permission table and one set of metrics serve
// both transports.
type Wrap func(rpc string, next http.Handler) http.Handler

// Register mounts every route and GET /api/v1/openapi.json on mux. wrap may
// be nil.
func (s *Server) Register(mux *http.ServeMux, wrap Wrap) {
	if wrap == nil {
		wrap = func(_ string, next http.Handler) http.Handler { return next }
	}
	for _, rt := range Routes {
		mux.Handle(rt.Pattern(), wrap(rt.RPC, s.handler(rt)))
	}
	mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openapi.JSON)
	})
}

func (s *Server) handler(rt Route) http.Handler {
	service, method, _ := strings.Cut(strings.TrimPrefix(rt.RPC, "/"), "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var md *grpc.MethodDesc
		reg, ok := s.services[service]
		if ok {
			for i := range reg.desc.Methods {
				if reg.desc.Methods[i].MethodName == method {
					md = &reg.desc.Methods[i]
				}
			}
		}
		if md == nil {
			s.writeError(w, server.Errorf(server.ENOTIMPLEMENTED, "%s is not served here", rt.RPC))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Code: "request_too_large", Message: "request body is larger than the limit"})
			return
		}
		if err != nil {
			s.writeError(w, server.Errorf(server.EINVALID, "reading body: %v", err))
			return
		}
		dec := func(v any) error { return decode(rt, r, body, v.(proto.Message)) }
		resp, err := md.Handler(reg.impl, incoming(r), dec, s.interceptor())
		if err != nil {
			s.writeError(w, err)
			return
		}
		out, err := marshal.Marshal(resp.(proto.Message))
		if err != nil {
			s.writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
	})
}

var marshal = protojson.MarshalOptions{EmitDefaultValues: true}

// incoming carries the HTTP headers as incoming gRPC metadata, so that
// interceptors read credentials (authorization, x-api-key) the same way
// on both transports.
func incoming(r *http.Request) context.Context {
	md := metadata.MD{}
	for k, vs := range r.Header {
		md[strings.ToLower(k)] = vs
	}
	return metadata.NewIncomingContext(r.Context(), md)
}

// interceptor chains the configured interceptors into one.
func (s *Server) interceptor() grpc.UnaryServerInterceptor {
	ics := s.interceptors
	if len(ics) == 0 {
		return nil
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		h := handler
		for i := len(ics) - 1; i >= 0; i-- {
			ic, next := ics[i], h
			h = func(ctx context.Context, req any) (any, error) { return ic(ctx, req, info, next) }
		}
		return h(ctx, req)
	}
}
