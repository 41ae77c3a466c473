package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
)

// fieldError turns a validation error of the engine into an EINVALID error
// whose field path starts with the request part, e.g. "flag" +
// "variants[1].value" → "flag.variants[1].value".
func fieldError(part string, err error) error {
	var fe *engine.FieldError
	if !errors.As(err, &fe) {
		return server.Invalid(part, "%s", err.Error())
	}
	field := part
	switch {
	case fe.Field == "":
	case strings.HasPrefix(fe.Field, "["):
		field += fe.Field
	default:
		field += "." + fe.Field
	}
	return server.Invalid(field, "%s", fe.Reason)
}

// checkRevision refuses a change based on a revision other than the stored
// one; sent 0 skips the check.
func checkRevision(what string, stored, sent int64) error {
	if sent != 0 && sent != stored {
		return server.Errorf(server.ECONFLICT, "%s was changed by someone else (revision %d, you sent %d)", what, stored, sent)
	}
	return nil
}

// same reports whether two definitions are equal as JSON, so that int64(1)
// and float64(1) or a nil and an empty list of an omitted field compare equal.
func same(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// notFound gives a store's ENOTFOUND error a message naming what is missing.
func notFound(err error, format string, args ...any) error {
	if server.ErrorCode(err) == server.ENOTFOUND {
		return server.Errorf(server.ENOTFOUND, format, args...)
	}
	return err
}

func getEnvironment(tx server.Tx, name string) (server.Environment, error) {
	e, err := tx.GetEnvironment(name)
	return e, notFound(err, "environment %q not found", name)
}

func getFlag(tx server.Tx, key string) (server.Flag, error) {
	f, err := tx.GetFlag(key)
	return f, notFound(err, "flag %q not found", key)
}

func getConfig(tx server.Tx, env, key string) (server.FlagConfig, error) {
	c, err := tx.GetConfig(env, key)
	return c, notFound(err, "flag %q has no configuration in environment %q", key, env)
}

func getSegment(tx server.Tx, key string) (server.Segment, error) {
	s, err := tx.GetSegment(key)
	return s, notFound(err, "segment %q not found", key)
}

// required refuses an empty request field.
func required(field, value string) error {
	if value == "" {
		return server.Invalid(field, "is required")
	}
	return nil
}
