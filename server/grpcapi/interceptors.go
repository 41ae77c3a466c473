package grpcapi

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// UnaryLogger logs unary calls: method, code and duration, at CallLevel.
func UnaryLogger(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		logCall(ctx, log, info.FullMethod, err, start)
		return resp, err
	}
}

// StreamLogger logs streams when they end: method, code and duration, at
// CallLevel.
func StreamLogger(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		err := handler(srv, ss)
		logCall(ss.Context(), log, info.FullMethod, err, start)
		return err
	}
}

// CallLevel is the level a call to method that ended with code is logged
// at. The default level (info) shows what changed and what failed, not the
// traffic (metrics count that):
//   - the server failed (Internal, Unknown, DataLoss): error;
//   - any other failure but a caller's cancellation: warn;
//   - a successful change (any method that is not a read): info;
//   - everything else: debug. That is evaluations, sync streams, health
//     checks, reflection and reads (Get…, List…, Watch…, WhoAmI), and calls the
//     caller cancelled (an SDK that goes away ends its stream so).
//
// A method is a change unless it is known to read, so a new method is
// logged until it is listed here.
func CallLevel(method string, code codes.Code) slog.Level {
	switch code {
	case codes.OK:
	case codes.Internal, codes.Unknown, codes.DataLoss:
		return slog.LevelError
	case codes.Canceled:
		return slog.LevelDebug
	default:
		return slog.LevelWarn
	}
	if readOnly(method) {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// readOnly reports whether method (/package.Service/Method) changes
// nothing: the evaluation and sync services, health, reflection, and the
// Get…, List…, Watch… and WhoAmI calls of every other service.
func readOnly(method string) bool {
	service, name, ok := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	if !ok {
		return false
	}
	switch service {
	case "flagpole.v1.EvaluationService", "flagpole.v1.SyncService", "grpc.health.v1.Health",
		"grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection":
		return true
	}
	return strings.HasPrefix(name, "Get") || strings.HasPrefix(name, "List") || strings.HasPrefix(name, "Watch") || name == "WhoAmI"
}

func logCall(ctx context.Context, log *slog.Logger, method string, err error, start time.Time) {
	code := status.Code(err)
	level := CallLevel(method, code)
	if !log.Enabled(ctx, level) {
		return
	}
	log.LogAttrs(ctx, level, "grpc call",
		slog.String("method", method), slog.String("code", code.String()), slog.Duration("duration", time.Since(start)))
}
