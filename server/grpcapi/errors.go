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
)

// codeOf is the one table from service error codes to gRPC codes. Codes
// missing here (EINTERNAL) and errors that are not *server.Error reach the
// caller as Internal "internal error"; the detail goes to the log only.
var codeOf = map[string]codes.Code{
	server.EINVALID:        codes.InvalidArgument,
	server.ENOTFOUND:       codes.NotFound,
	server.EEXISTS:         codes.AlreadyExists,
	server.ECONFLICT:       codes.Aborted,
	server.EUNAUTHORIZED:   codes.Unauthenticated,
	server.EFORBIDDEN:      codes.PermissionDenied,
	server.EUNAVAILABLE:    codes.Unavailable,
	server.ENOTIMPLEMENTED: codes.Unimplemented,
}

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
		if code, ok := codeOf[e.Code]; ok {
			return &statusError{st: withField(status.New(code, e.Error()), e), cause: err}
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &statusError{st: status.New(codes.Canceled, "canceled"), cause: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &statusError{st: status.New(codes.DeadlineExceeded, "deadline exceeded"), cause: err}
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

// statusError is a gRPC status error that keeps the error it was made from.
type statusError struct {
	st    *status.Status
	cause error
}

func (e *statusError) Error() string              { return e.st.Err().Error() }
func (e *statusError) GRPCStatus() *status.Status { return e.st }
func (e *statusError) Unwrap() error              { return e.cause }
