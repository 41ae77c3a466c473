package auth

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"time"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/webhook"
)

var (
	tokenName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	userName  = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)
)

// NewToken is what CreateToken needs to make a token.
type NewToken struct {
	Name         string
	Scope        string
	Environments []string
	ExpiresAt    time.Time // zero: never
}

// CreateToken makes a token and returns it with its secret, which exists
// nowhere else afterwards. The creation is audited (without the secret).
func (a *Authenticator) CreateToken(ctx context.Context, nt NewToken) (Token, string, error) {
	if err := a.validToken(nt); err != nil {
		return Token{}, "", err
	}
	secret := NewTokenSecret(nt.Scope)
	var t Token
	err := a.store.UpdateAuth(ctx, func(tx Tx) error {
		var err error
		t, err = a.insertToken(tx, nt, secret, server.ActorFromContext(ctx), server.CommentFromContext(ctx))
		return err
	})
	if err != nil {
		return Token{}, "", err
	}
	a.log.Info("auth: token created", "token", t.Name, "scope", t.Scope, "by", t.CreatedBy)
	return t, secret, nil
}

func (a *Authenticator) validToken(nt NewToken) error {
	if !tokenName.MatchString(nt.Name) {
		return server.Invalid("name", "%q does not match %s", nt.Name, tokenName)
	}
	switch nt.Scope {
	case ScopeSDK:
		if len(nt.Environments) != 1 {
			return server.Invalid("environments", "an sdk token needs exactly one environment, got %d", len(nt.Environments))
		}
	case ScopeCI:
	case ScopeAdmin:
		if len(nt.Environments) > 0 {
			return server.Invalid("environments", "an admin token has every environment; list none")
		}
	default:
		return server.Invalid("scope", "%q is not one of sdk, ci, admin", nt.Scope)
	}
	if !nt.ExpiresAt.IsZero() && !nt.ExpiresAt.After(a.now()) {
		return server.Invalid("expire_time", "%s is not in the future", nt.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// insertToken checks the environments exist and stores and audits the token.
func (a *Authenticator) insertToken(tx Tx, nt NewToken, secret string, actor server.Actor, comment string) (Token, error) {
	envs := slices.Clone(nt.Environments)
	slices.Sort(envs)
	envs = slices.Compact(envs)
	for i, env := range envs {
		if _, err := tx.GetEnvironment(env); server.ErrorCode(err) == server.ENOTFOUND {
			return Token{}, server.Invalid("environments", "environment %q (item %d) does not exist", env, i)
		} else if err != nil {
			return Token{}, err
		}
	}
	t := Token{Name: nt.Name, Scope: nt.Scope, Environments: envs, Hash: HashSecret(secret), Hint: hint(secret),
		CreatedBy: actor.Name, CreatedAt: a.now().UTC(), ExpiresAt: nt.ExpiresAt}
	if err := tx.CreateToken(t); err != nil {
		return Token{}, err
	}
	return t, audit(tx, actor, comment, a.now(), "token.create", "token", t.Name, nil, tokenDoc(t))
}

// ListTokens returns the tokens, revoked ones only if asked.
func (a *Authenticator) ListTokens(ctx context.Context, includeRevoked bool) ([]Token, error) {
	var ts []Token
	err := a.store.ViewAuth(ctx, func(tx Tx) error {
		all, err := tx.ListTokens()
		for _, t := range all {
			if includeRevoked || t.RevokedAt.IsZero() {
				ts = append(ts, t)
			}
		}
		return err
	})
	return ts, err
}

// RevokeToken makes a token unusable from now on; revoking twice is a no-op.
func (a *Authenticator) RevokeToken(ctx context.Context, name string) (Token, error) {
	var t Token
	revoked := false
	err := a.store.UpdateAuth(ctx, func(tx Tx) error {
		revoked = false
		var err error
		if t, err = tx.GetToken(name); err != nil || !t.RevokedAt.IsZero() {
			return err
		}
		before := tokenDoc(t)
		t.RevokedAt = a.now().UTC()
		if err := tx.UpdateToken(t); err != nil {
			return err
		}
		revoked = true
		return audit(tx, server.ActorFromContext(ctx), server.CommentFromContext(ctx), a.now(), "token.revoke", "token", name, before, tokenDoc(t))
	})
	if err == nil {
		a.tokens.invalidate(t.Hash)
	}
	if err == nil && revoked {
		a.log.Info("auth: token revoked", "token", name)
		for _, f := range a.onRevoke {
			f(name)
		}
	}
	return t, err
}

// DeleteToken removes a revoked token so that its name can be reused; the
// audit log keeps its history. A token that still works is refused
// (EINVALID on name): revoke it first, so deleting never cuts a service off.
func (a *Authenticator) DeleteToken(ctx context.Context, name string) error {
	return a.store.UpdateAuth(ctx, func(tx Tx) error {
		t, err := tx.GetToken(name)
		if err != nil {
			return err
		}
		if t.RevokedAt.IsZero() {
			return server.Invalid("name", "token %q is not revoked: revoke it first (flagpole token revoke %s), then delete it", name, name)
		}
		if err := tx.DeleteToken(name); err != nil {
			return err
		}
		return audit(tx, server.ActorFromContext(ctx), server.CommentFromContext(ctx), a.now(), "token.delete", "token", name, tokenDoc(t), nil)
	})
}

// CreateUser adds a user with a password and role.
func (a *Authenticator) CreateUser(ctx context.Context, username, password, role string) (User, error) {
	if err := validUser(username, password, role); err != nil {
		return User{}, err
	}
	now := a.now().UTC()
	u := User{Username: username, Role: role, PasswordHash: HashPassword(password, a.params), CreatedAt: now, UpdatedAt: now}
	err := a.store.UpdateAuth(ctx, func(tx Tx) error {
		if err := tx.CreateUser(u); err != nil {
			return err
		}
		return audit(tx, server.ActorFromContext(ctx), server.CommentFromContext(ctx), now, "user.create", "user", username, nil, userDoc(u))
	})
	return u, err
}

func validUser(username, password, role string) error {
	if !userName.MatchString(username) {
		return server.Invalid("username", "%q does not match %s", username, userName)
	}
	if err := validPassword("password", password); err != nil {
		return err
	}
	return validRole(role)
}

func validPassword(field, password string) error {
	if n := len([]rune(password)); n < MinPasswordLen || len(password) > MaxPasswordLen {
		return server.Invalid(field, "must have %d to %d characters, has %d", MinPasswordLen, MaxPasswordLen, n)
	}
	return nil
}

func validRole(role string) error {
	switch role {
	case RoleViewer, RoleEditor, RoleAdmin:
		return nil
	}
	return server.Invalid("role", "%q is not one of viewer, editor, admin", role)
}

// ListUsers returns every user.
func (a *Authenticator) ListUsers(ctx context.Context) ([]User, error) {
	var us []User
	err := a.store.ViewAuth(ctx, func(tx Tx) error {
		var err error
		us, err = tx.ListUsers()
		return err
	})
	return us, err
}

// DeleteUser removes a user and their sessions; never the last admin.
func (a *Authenticator) DeleteUser(ctx context.Context, username string) error {
	return a.store.UpdateAuth(ctx, func(tx Tx) error {
		u, err := tx.GetUser(username)
		if err != nil {
			return err
		}
		if err := keepAnAdmin(tx, u, ""); err != nil {
			return err
		}
		if err := tx.DeleteUser(username); err != nil {
			return err
		}
		return audit(tx, server.ActorFromContext(ctx), server.CommentFromContext(ctx), a.now(), "user.delete", "user", username, userDoc(u), nil)
	})
}

// SetRole changes a user's role; the last admin keeps theirs.
func (a *Authenticator) SetRole(ctx context.Context, username, role string) (User, error) {
	if err := validRole(role); err != nil {
		return User{}, err
	}
	var u User
	err := a.store.UpdateAuth(ctx, func(tx Tx) error {
		var err error
		if u, err = tx.GetUser(username); err != nil || u.Role == role {
			return err
		}
		if err := keepAnAdmin(tx, u, role); err != nil {
			return err
		}
		before := userDoc(u)
		u.Role, u.UpdatedAt = role, a.now().UTC()
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		return audit(tx, server.ActorFromContext(ctx), server.CommentFromContext(ctx), a.now(), "user.set_role", "user", username, before, userDoc(u))
	})
	return u, err
}

// keepAnAdmin refuses to delete (newRole "") or demote the last admin.
func keepAnAdmin(tx Tx, u User, newRole string) error {
	if u.Role != RoleAdmin || newRole == RoleAdmin {
		return nil
	}
	users, err := tx.ListUsers()
	if err != nil {
		return err
	}
	for _, o := range users {
		if o.Role == RoleAdmin && o.Username != u.Username {
			return nil
		}
	}
	return server.Errorf(server.EINVALID, "user %q is the last admin", u.Username)
}

// SetPassword replaces a user's password and ends the user's sessions but
// the caller's own. Callers changing their own password must give the
// current one.
func (a *Authenticator) SetPassword(ctx context.Context, username, password, current string) error {
	if err := validPassword("password", password); err != nil {
		return err
	}
	p, _ := FromContext(ctx)
	self := p.Kind == KindUser && p.Name == username
	hash := HashPassword(password, a.params)
	return a.store.UpdateAuth(ctx, func(tx Tx) error {
		u, err := tx.GetUser(username)
		if err != nil {
			return err
		}
		if self {
			if ok, _ := VerifyPassword(current, u.PasswordHash); !ok {
				return server.Invalid("current_password", "does not match")
			}
		}
		u.PasswordHash, u.UpdatedAt = hash, a.now().UTC()
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		var keep []byte
		if self {
			keep = p.session
		}
		if err := tx.DeleteUserSessions(username, keep); err != nil {
			return err
		}
		doc := map[string]string{"username": username}
		return audit(tx, server.ActorFromContext(ctx), server.CommentFromContext(ctx), a.now(), "user.set_password", "user", username, doc, doc)
	})
}

// audit appends an entry with the change's comment; docs are marshalled to
// JSON (nil stays null).
func audit(tx Tx, actor server.Actor, comment string, now time.Time, action, resource, key string, before, after any) error {
	e := server.AuditEntry{Time: now.UTC(), Actor: actor, Action: action, Resource: resource, Key: key, Comment: comment}
	var err error
	if e.Before, err = marshalDoc(before); err != nil {
		return err
	}
	if e.After, err = marshalDoc(after); err != nil {
		return err
	}
	if e.ID, err = tx.AppendAudit(e); err != nil {
		return err
	}
	if ob, ok := tx.(webhook.Outbox); ok {
		return webhook.Enqueue(ob, e) // token and user changes notify webhooks too
	}
	return nil
}

func marshalDoc(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}

// tokenDoc is what the audit trail records of a token: never the hash.
func tokenDoc(t Token) any {
	doc := map[string]any{"name": t.Name, "scope": t.Scope, "environments": t.Environments,
		"hint": t.Hint, "createdBy": t.CreatedBy}
	if !t.ExpiresAt.IsZero() {
		doc["expireTime"] = t.ExpiresAt.UTC()
	}
	if !t.RevokedAt.IsZero() {
		doc["revokeTime"] = t.RevokedAt.UTC()
	}
	return doc
}

// userDoc is what the audit trail records of a user: never the hash.
func userDoc(u User) any {
	return map[string]string{"username": u.Username, "role": u.Role}
}
