// Package server is the domain of the Flagpole server, in the middle of
// everything else: the records the store keeps beyond the engine's
// definitions (environments, flags, audit entries, changes, release plans,
// tokens, users, sessions, usage and signal counts), the contracts that
// adapters implement (Store and Tx, AuthStore, UsageStore, SignalStore,
// Publisher) and the one error type whose codes each transport maps to its
// own statuses in a single table. It imports nothing of the project but the
// evaluation engine (sdk/engine); deps_test.go keeps it so.
//
// Around it: application services (service, auth, usage, signals, release,
// webhook), adapters named after their technology (sqlite, postgres,
// grpcapi, httpapi, ofrep, syncapi, metrics), which never import one
// another, and daemon, which wires them into the `flagpole serve` program.
package server

import (
	"errors"
	"fmt"
)

// Error codes. Transports map them to gRPC codes and HTTP statuses.
const (
	EINVALID        = "invalid"         // bad input: InvalidArgument / 400
	ENOTFOUND       = "not_found"       // NotFound / 404
	EEXISTS         = "exists"          // AlreadyExists / 409
	ECONFLICT       = "conflict"        // stale revision: Aborted / 409
	EUNAUTHORIZED   = "unauthorized"    // Unauthenticated / 401
	EFORBIDDEN      = "forbidden"       // PermissionDenied / 403
	EUNAVAILABLE    = "unavailable"     // Unavailable / 503
	ENOTIMPLEMENTED = "not_implemented" // a call not served here: Unimplemented / 501
	EINTERNAL       = "internal"        // Internal / 500, detail only in the log
)

// Error is an error meant for the caller: a code, the offending field (for
// EINVALID) and a message safe to show.
type Error struct {
	Code    string
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error naming the field and the reason.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err's *Error, or EINTERNAL for any other
// error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the caller-safe message of err: the *Error's text, or
// "internal error" for anything unexpected.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return "internal error"
}
