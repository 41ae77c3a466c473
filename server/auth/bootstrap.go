package auth

import (
	"context"
	"fmt"
	"io"

	"github.com/flagpole/flagpole/server"
)

// BootstrapUser and BootstrapToken name what Bootstrap creates.
const (
	BootstrapUser  = "admin"
	BootstrapToken = "admin"
	// MinAdminTokenLen is the shortest FLAGPOLE_ADMIN_TOKEN accepted.
	MinAdminTokenLen = 32
)

// Bootstrap gives a fresh database its first credentials: with no user yet
// it creates the admin user, and with no token yet the admin token, in one
// audited transaction. password and token come from FLAGPOLE_ADMIN_PASSWORD
// and FLAGPOLE_ADMIN_TOKEN; empty ones are generated and printed to out,
// the only time they are shown. Given ones are never printed.
func (a *Authenticator) Bootstrap(ctx context.Context, password, token string, out io.Writer) error {
	if password != "" {
		if err := validPassword("FLAGPOLE_ADMIN_PASSWORD", password); err != nil {
			return err
		}
	}
	if token != "" && len(token) < MinAdminTokenLen {
		return server.Invalid("FLAGPOLE_ADMIN_TOKEN", "must have at least %d characters, has %d", MinAdminTokenLen, len(token))
	}
	genPassword, genToken := password == "", token == ""
	if genPassword {
		password = randomString(20)
	}
	if genToken {
		token = NewTokenSecret(ScopeAdmin)
	}
	hash := HashPassword(password, a.params)
	var madeUser, madeToken bool
	err := a.store.UpdateAuth(ctx, func(tx Tx) error {
		var err error
		if madeUser, err = a.bootstrapUser(tx, hash); err != nil {
			return err
		}
		madeToken, err = a.bootstrapToken(tx, token)
		return err
	})
	if err != nil {
		return fmt.Errorf("auth: bootstrap: %w", err)
	}
	a.printBootstrap(out, madeUser, madeToken, genPassword, genToken, password, token)
	return nil
}

func (a *Authenticator) bootstrapUser(tx Tx, hash string) (bool, error) {
	users, err := tx.ListUsers()
	if err != nil || len(users) > 0 {
		return false, err
	}
	now := a.now().UTC()
	u := User{Username: BootstrapUser, Role: RoleAdmin, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := tx.CreateUser(u); err != nil {
		return false, err
	}
	return true, audit(tx, server.System, "", now, "user.create", "user", u.Username, nil, userDoc(u))
}

func (a *Authenticator) bootstrapToken(tx Tx, secret string) (bool, error) {
	tokens, err := tx.ListTokens()
	if err != nil || len(tokens) > 0 {
		return false, err
	}
	_, err = a.insertToken(tx, NewToken{Name: BootstrapToken, Scope: ScopeAdmin}, secret, server.System, "")
	return err == nil, err
}

func (a *Authenticator) printBootstrap(out io.Writer, madeUser, madeToken, genPassword, genToken bool, password, token string) {
	if madeUser {
		a.log.Info("auth: created the admin user", "user", BootstrapUser, "generated_password", genPassword)
		if genPassword {
			fmt.Fprintf(out, "flagpole: created user %q with password: %s\n", BootstrapUser, password)
		}
	}
	if madeToken {
		a.log.Info("auth: created the admin token", "token", BootstrapToken, "generated", genToken)
		if genToken {
			fmt.Fprintf(out, "flagpole: created admin token %q: %s\n", BootstrapToken, token)
		}
	}
	if (madeUser && genPassword) || (madeToken && genToken) {
		fmt.Fprintln(out, "flagpole: these secrets are shown only once; store them now.")
	}
}
