package daemon

import (
	"cmp"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/flagpole/flagpole/server/fanout"
	"github.com/flagpole/flagpole/server/grpcapi"
	"github.com/flagpole/flagpole/server/service"
	"github.com/flagpole/flagpole/server/syncapi"
)

// serviceOptions configures the service layer; publishers of committed
// changes (the sync hub) are added here.
func (s *Server) serviceOptions() []service.Option {
	s.hub = syncapi.NewHub(fanout.WithLogger(s.log))
	return []service.Option{service.WithPublisher(s.hub)}
}

// MaxGRPCRequestBytes bounds a gRPC request message. It is above gRPC's
// default of 4 MiB because one ApplyChanges call carries a whole
// declarative file, which may hold several definitions near their size
// limits.
const MaxGRPCRequestBytes = 32 << 20

// newGRPCServer builds the gRPC server: interceptors, every flagpole.v1
// service, health (SERVING for the server and each service) and reflection.
// Add further services (sync) and interceptors (auth) here.
func (s *Server) newGRPCServer() (*grpc.Server, *health.Server) {
	unary, stream := s.observeInterceptors()
	opts := append(syncapi.ServerOptions(),
		grpc.ChainUnaryInterceptor(append(append([]grpc.UnaryServerInterceptor{grpcapi.UnaryLogger(s.log)}, unary...), grpcapi.UnaryAuth(s.Auth), grpcapi.CommentInterceptor(s.log))...),
		grpc.ChainStreamInterceptor(append(append([]grpc.StreamServerInterceptor{grpcapi.StreamLogger(s.log)}, stream...), grpcapi.StreamAuth(s.Auth))...),
		grpc.MaxRecvMsgSize(MaxGRPCRequestBytes),
	)
	opts = append(opts, s.tracing.GRPCServerOptions()...)
	opts = append(opts,
		grpc.ConnectionTimeout(s.cfg.GRPCConnectionTimeout),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time: s.cfg.GRPCKeepaliveTime, Timeout: s.cfg.GRPCKeepaliveTimeout, MaxConnectionIdle: s.cfg.GRPCMaxConnIdle,
		}),
		// The SDK pings every 20 s (sdk.KeepaliveTime); a client pinging
		// more often than every 10 s is told to stop (GOAWAY).
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: min(10*time.Second, s.cfg.GRPCKeepaliveTime), PermitWithoutStream: true}),
	)
	if s.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.tls)))
	}
	gs := grpc.NewServer(opts...)
	reg := syncapi.MalformedIsInvalidArgument(gs)
	s.registerAPI(reg)
	s.registerWebhooks(reg)
	grpcapi.RegisterAuth(reg, s.Auth)
	s.sync = syncapi.New(s.Service, s.hub, append(s.observeSyncOptions(), syncapi.WithLogger(s.log), syncapi.WithCredential(streamCredential), syncapi.WithExpiry(streamExpiry), syncapi.WithClock(s.authNow()), syncapi.WithSendTimeout(cmp.Or(s.cfg.SyncSendTimeout, syncapi.DefaultSendTimeout)), syncapi.WithEnvironmentResolver(streamEnvironment))...)
	s.sync.Register(reg)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(reg, hs)
	reflection.Register(gs)
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for name := range gs.GetServiceInfo() {
		hs.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	return gs, hs
}
