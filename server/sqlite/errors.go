package sqlite

import (
	"errors"
	"fmt"

	"github.com/mattn/go-sqlite3"

	"github.com/flagpole/flagpole/server"
)

// notFound is the error for a missing row, naming what is missing.
func notFound(what, key string) error {
	return server.Errorf(server.ENOTFOUND, "%s %q not found", what, key)
}

// exists is the error for an insert of a key that is taken.
func exists(what, key string) error {
	return server.Errorf(server.EEXISTS, "%s %q already exists", what, key)
}

// isConstraint reports whether err is the SQLite constraint violation code.
func isConstraint(err error, code sqlite3.ErrNoExtended) bool {
	var e sqlite3.Error
	return errors.As(err, &e) && e.ExtendedCode == code
}

// isUnique reports whether err violates a primary key or unique constraint.
func isUnique(err error) bool {
	return isConstraint(err, sqlite3.ErrConstraintPrimaryKey) || isConstraint(err, sqlite3.ErrConstraintUnique)
}

// wrap gives an unexpected error the package prefix and what was being done.
func wrap(op string, err error) error {
	return fmt.Errorf("sqlite: %s: %w", op, err)
}
