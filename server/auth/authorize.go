package auth

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/flagpole/flagpole/server"
)

// Authorize checks that the principal in ctx may call method (a gRPC full
// method name or an HTTP-only key of Rules) with req, the decoded request
// (nil when there is none). It returns nil or a *server.Error: EUNAUTHORIZED
// without a principal, EFORBIDDEN when the principal may not.
//
// For an sdk token, a stream or a request to evaluate without an
// environment gets the token's environment.
func (a *Authenticator) Authorize(ctx context.Context, method string, req proto.Message) error {
	perm, ok := server.Permissions[method]
	if !ok {
		return server.Errorf(server.EFORBIDDEN, "%s has no access rule", method)
	}
	if perm.Access == server.AccessPublic {
		return nil
	}
	p, ok := FromContext(ctx)
	if !ok {
		return ErrNoCredential
	}
	if perm.CheckOnly != "" && req != nil && boolField(req.ProtoReflect(), perm.CheckOnly) {
		// A dry run reveals only what reading does.
		return a.allow(ctx, p, server.AccessRead, "", req)
	}
	if perm.Changes {
		if req == nil { // nothing to say which environments: admins only
			return a.allow(ctx, p, server.AccessAdminister, "", nil)
		}
		envs, define := changedEnvironments(req)
		if define || len(envs) == 0 {
			if err := a.allow(ctx, p, server.AccessDefine, "", req); err != nil {
				return err
			}
		}
		for _, env := range envs {
			if err := a.allow(ctx, p, perm.Access, env, req); err != nil {
				return err
			}
		}
		return nil
	}
	env := requestEnvironment(ctx, perm.Env, req)
	if perm.Access == server.AccessEvaluate && p.Kind == server.KindToken && p.Scope == server.ScopeSDK && env == "" {
		// The token names the environment: a sync stream or evaluation
		// that names none gets the token's own.
		env = p.sdkEnvironment()
		if req != nil {
			fillEnvironment(req, env)
		}
	}
	err := a.allow(ctx, p, perm.Access, env, req)
	if err != nil && server.ErrorCode(err) == server.EFORBIDDEN && strings.HasSuffix(server.ErrorMessage(err), " "+denied) {
		// A bare refusal: say what was called and who may call it.
		return forbidden(p, "may not call %s: %s", shortMethod(method), whoMay[perm.Access])
	}
	return err
}

type streamEnvKey struct{}

// WithStreamEnvironment returns ctx carrying the environment a stream's
// metadata names, which Authorize reads for a permission whose Env is
// server.EnvStream.
func WithStreamEnvironment(ctx context.Context, env string) context.Context {
	return context.WithValue(ctx, streamEnvKey{}, env)
}

// requestEnvironment is the environment a call names where its permission
// says: the string field at path in req, or the stream's.
func requestEnvironment(ctx context.Context, path string, req proto.Message) string {
	switch {
	case path == "":
		return ""
	case path == server.EnvStream:
		env, _ := ctx.Value(streamEnvKey{}).(string)
		return env
	case req == nil:
		return ""
	}
	return stringField(req.ProtoReflect(), path)
}

// stringField is the string field of m at a dotted path of field names, or
// "" when there is none (or a message on the way is unset).
func stringField(m protoreflect.Message, path string) string {
	for {
		name, rest, more := strings.Cut(path, ".")
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil || fd.IsList() || fd.IsMap() {
			return ""
		}
		if !more {
			if fd.Kind() != protoreflect.StringKind {
				return ""
			}
			return m.Get(fd).String()
		}
		if fd.Message() == nil || !m.Has(fd) {
			return ""
		}
		m, path = m.Get(fd).Message(), rest
	}
}

// boolField is the top-level boolean field name of m (false when there is
// none).
func boolField(m protoreflect.Message, name string) bool {
	fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
	return fd != nil && fd.Kind() == protoreflect.BoolKind && !fd.IsList() && m.Get(fd).Bool()
}

// changedEnvironments lists the environments whose configuration a change
// set replaces (its "changes" that are a "replace_config"), and says
// whether it changes what all environments share too (any other change).
func changedEnvironments(req proto.Message) (envs []string, define bool) {
	m := req.ProtoReflect()
	fd := m.Descriptor().Fields().ByName("changes")
	if fd == nil || !fd.IsList() || fd.Message() == nil {
		return nil, true
	}
	changes := m.Get(fd).List()
	seen := map[string]bool{}
	for i := range changes.Len() {
		c := changes.Get(i).Message()
		rc := c.Descriptor().Fields().ByName("replace_config")
		if rc == nil || rc.Message() == nil || !c.Has(rc) {
			define = true
			continue
		}
		if env := stringField(c.Get(rc).Message(), "environment"); !seen[env] {
			seen[env] = true
			envs = append(envs, env)
		}
	}
	return envs, define
}

// denied marks allow's refusals that only name the access level; Authorize
// turns them into a whole sentence.
const denied = "(denied)"

// whoMay says, per access level, what it guards and who has it.
var whoMay = map[server.Access]string{
	server.AccessRead:       "reading needs a user, a ci token or an admin token (sdk tokens only stream and evaluate)",
	server.AccessEvaluate:   "evaluating needs a user, a ci or admin token, or an sdk token of the environment",
	server.AccessConfigure:  "flag configurations are changed by ci tokens of the environment, editors (unprotected environments) and admins",
	server.AccessDefine:     "flag definitions and segments are shared by every environment: editors and admins only",
	server.AccessAdminister: "environments, tokens and users are managed by admins only",
	server.AccessSelf:       "a user may change their own password; others' are changed by admins only",
}

// shortMethod turns /flagpole.v1.FlagService/CreateFlag into
// FlagService.CreateFlag; HTTP-only keys are returned as they are.
func shortMethod(m string) string {
	svc, name, ok := strings.Cut(strings.TrimPrefix(m, "/"), "/")
	if !ok {
		return m
	}
	if i := strings.LastIndexByte(svc, '.'); i >= 0 {
		svc = svc[i+1:]
	}
	return svc + "." + name
}

// allow applies one access level to a principal.
func (a *Authenticator) allow(ctx context.Context, p Principal, access server.Access, env string, req proto.Message) error {
	sdk := p.Kind == server.KindToken && p.Scope == server.ScopeSDK
	switch {
	case access == server.AccessAuthenticated:
		return nil
	case access == server.AccessEvaluate && sdk:
		if p.HasEnvironment(env) {
			return nil
		}
		return forbidden(p, "is bound to environment %q, not %q", p.sdkEnvironment(), env)
	case sdk:
		return forbidden(p, "may only stream and evaluate flags")
	case p.IsAdmin() || access == server.AccessRead || access == server.AccessEvaluate:
		return nil
	case access == server.AccessSelf && p.Kind == server.KindUser && req != nil && p.Name == stringField(req.ProtoReflect(), "username"):
		return nil
	case access == server.AccessDefine && p.Role == server.RoleEditor:
		return nil
	case access == server.AccessConfigure && p.Scope == server.ScopeCI:
		if p.HasEnvironment(env) {
			return nil
		}
		return forbidden(p, "may not change environment %q", env)
	case access == server.AccessConfigure && p.Role == server.RoleEditor:
		return a.unprotected(ctx, p, env)
	}
	return forbidden(p, "may not %s %s", access, denied)
}

// unprotected refuses changes to a protected environment. An unknown
// environment is let through, for the service to report as not found.
func (a *Authenticator) unprotected(ctx context.Context, p Principal, env string) error {
	var e server.Environment
	err := a.store.ViewAuth(ctx, func(tx server.AuthTx) error {
		var err error
		e, err = tx.GetEnvironment(env)
		return err
	})
	switch {
	case server.ErrorCode(err) == server.ENOTFOUND:
		return nil
	case err != nil:
		return fmt.Errorf("auth: environment %q: %w", env, err)
	case e.Protected:
		return forbidden(p, "may not change protected environment %q: admins only", env)
	}
	return nil
}

func forbidden(p Principal, format string, args ...any) error {
	var who string
	if p.Kind == server.KindUser {
		who = fmt.Sprintf("%s %q (%s)", p.Kind, p.Name, p.Role)
	} else {
		who = fmt.Sprintf("%s token %q", p.Scope, p.Name)
	}
	return server.Errorf(server.EFORBIDDEN, "%s %s", who, fmt.Sprintf(format, args...))
}

// fillEnvironment sets an empty top-level "environment" string field of req.
func fillEnvironment(req proto.Message, env string) {
	m := req.ProtoReflect()
	fd := m.Descriptor().Fields().ByName("environment")
	if fd == nil || fd.Kind() != protoreflect.StringKind || fd.IsList() {
		return
	}
	if m.Get(fd).String() == "" {
		m.Set(fd, protoreflect.ValueOfString(env))
	}
}

// EvaluationEnvironment resolves where a remote evaluation (OFREP) of the
// principal in ctx runs: an sdk token's own environment (requested, when
// given, must match), or for other callers the requested one, which they
// must then name. It returns an EUNAUTHORIZED, EFORBIDDEN or EINVALID error
// otherwise.
func (a *Authenticator) EvaluationEnvironment(ctx context.Context, requested string) (string, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return "", ErrNoCredential
	}
	env := requested
	if p.Kind == server.KindToken && p.Scope == server.ScopeSDK && env == "" {
		env = p.sdkEnvironment()
	}
	if env == "" {
		return "", server.Invalid("environment", "required: only sdk tokens imply one")
	}
	return env, a.allow(ctx, p, server.AccessEvaluate, env, nil)
}
