// Package grpcstatus turns domain errors into gRPC statuses: the one table
// from domain error codes to gRPC codes, shared by the gRPC adapters
// (grpcapi for the unary services, syncapi for the sync stream), which may
// not import each other.
package grpcstatus

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flagpole/flagpole/server"
)

// codeOf is the table. Codes missing here (EINTERNAL) are internal errors.
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

// Code is the gRPC code of a domain error code, and whether it has one.
func Code(domain string) (codes.Code, bool) {
	c, ok := codeOf[domain]
	return c, ok
}

// WithCause returns st as an error that keeps cause: errors.As finds the
// *server.Error in it, so the HTTP adapter, which runs the gRPC handlers in
// process, maps the domain error with its own table.
func WithCause(st *status.Status, cause error) error {
	return &statusError{st: st, cause: cause}
}

type statusError struct {
	st    *status.Status
	cause error
}

func (e *statusError) Error() string              { return e.st.Err().Error() }
func (e *statusError) GRPCStatus() *status.Status { return e.st }
func (e *statusError) Unwrap() error              { return e.cause }
