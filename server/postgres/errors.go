package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/flagpole/flagpole/server"
)

// PostgreSQL error codes (SQLSTATE) the store acts on.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// notFound is the error for a missing row, naming what is missing.
func notFound(what, key string) error {
	return server.Errorf(server.ENOTFOUND, "%s %q not found", what, key)
}

// exists is the error for an insert of a key that is taken.
func exists(what, key string) error {
	return server.Errorf(server.EEXISTS, "%s %q already exists", what, key)
}

// pgCode is the SQLSTATE of err, "" when it is not a PostgreSQL error.
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// constraint is the constraint err violated, "" if none.
func constraint(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.ConstraintName
	}
	return ""
}

// retryable reports whether a transaction failed only because it collided
// with concurrent ones, so that running it again can succeed.
func retryable(err error) bool {
	code := pgCode(err)
	return code == codeSerializationFailure || code == codeDeadlockDetected
}

// wrap gives an unexpected error the package prefix and what was being done.
func wrap(op string, err error) error {
	return fmt.Errorf("postgres: %s: %w", op, err)
}
