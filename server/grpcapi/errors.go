package grpcapi

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/grpcstatus"
)

// ToStatus converts a service error into a gRPC status error. EINVALID
// carries a google.rpc.BadRequest naming the field and the reason. The
// status error keeps err as its cause (errors.As finds the *server.Error),
// so that the HTTP adapter, which runs these handlers in process, maps the
// domain error with its own table.
func ToStatus(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	var e *server.Error
	if errors.As(err, &e) {
		if code, ok := grpcstatus.Code(e.Code); ok {
			return grpcstatus.WithCause(withField(status.New(code, e.Error()), e), err)
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return grpcstatus.WithCause(status.New(codes.Canceled, "canceled"), err)
	case errors.Is(err, context.DeadlineExceeded):
		return grpcstatus.WithCause(status.New(codes.DeadlineExceeded, "deadline exceeded"), err)
	}
	method, _ := grpc.Method(ctx)
	log.ErrorContext(ctx, "internal error", "method", method, "err", err)
	return status.Error(codes.Internal, "internal error")
}

func withField(st *status.Status, e *server.Error) *status.Status {
	if e.Code != server.EINVALID || e.Field == "" {
		return st
	}
	detailed, err := st.WithDetails(&errdetails.BadRequest{
		FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: e.Field, Description: e.Message}},
	})
	if err != nil {
		return st
	}
	return detailed
}
