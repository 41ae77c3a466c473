// Package usage marks errors of the flagpole command line that are the
// caller's mistake in calling it (a bad flag value, a wrong argument), so
// that main exits with status 2 for them instead of 1.
package usage

import (
	"errors"
	"fmt"
)

// Error is a usage error.
type Error struct{ Err error }

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns a usage error with a formatted message.
func Errorf(format string, args ...any) error {
	return &Error{Err: fmt.Errorf(format, args...)}
}

// Wrap marks err as a usage error (nil stays nil).
func Wrap(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Err: err}
}

// Is reports whether err is a usage error.
func Is(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
