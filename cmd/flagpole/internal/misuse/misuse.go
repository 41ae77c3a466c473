// Package misuse marks errors of the flagpole command line that are the
// caller's mistake in calling it (a bad flag value, a wrong argument), so
// that main exits with status 2 for them instead of 1.
package misuse

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/pflag"
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

// FlagError is a usage error for a flag value that did not parse, in plain
// words that name the flag and what its value is not:
// `--percent: "abc" is not a whole number`. Other errors are wrapped as
// they are.
func FlagError(err error) error {
	var invalid *pflag.InvalidValueError
	if !errors.As(err, &invalid) {
		return Wrap(err)
	}
	name, value := "--"+invalid.GetFlag().Name, invalid.GetValue()
	var reason string
	switch typ := invalid.GetFlag().Value.Type(); typ {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		reason = "is not a whole number"
		if errors.Is(err, strconv.ErrRange) {
			reason = "is out of range"
		}
	case "float32", "float64":
		reason = "is not a number"
	case "bool":
		reason = "is not a boolean (true or false)"
	case "duration":
		reason = "is not a duration (a number with a unit: ms, s, m or h, e.g. 30s, 5m, 24h)"
	default:
		return &Error{Err: fmt.Errorf("%s: %q is not a valid %s: %w", name, value, typ, errors.Unwrap(err))}
	}
	return &Error{Err: fmt.Errorf("%s: %q %s", name, value, reason)}
}
