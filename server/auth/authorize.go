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
	rule, ok := Rules[method]
	if !ok {
		return server.Errorf(server.EFORBIDDEN, "%s has no access rule", method)
	}
	if rule.Access == Public {
		return nil
	}
	p, ok := FromContext(ctx)
	if !ok {
		return errNoCredential
	}
	if rule.CheckOnly != nil && req != nil && rule.CheckOnly(req) {
		// A dry run reveals only what reading does.
		return a.allow(ctx, p, Read, "", req)
	}
	if rule.Envs != nil {
		if req == nil { // nothing to say which environments: admins only
			return a.allow(ctx, p, Administer, "", nil)
		}
		envs, define := rule.Envs(req)
		if define || len(envs) == 0 {
			if err := a.allow(ctx, p, Define, "", req); err != nil {
				return err
			}
		}
		for _, env := range envs {
			if err := a.allow(ctx, p, rule.Access, env, req); err != nil {
				return err
			}
		}
		return nil
	}
	env := ""
	if rule.Env != nil {
		env = rule.Env(ctx, req)
	}
	if rule.Access == Evaluate && p.Kind == KindToken && p.Scope == ScopeSDK && env == "" {
		// The token names the environment: a sync stream or evaluation
		// that names none gets the token's own.
		env = p.sdkEnvironment()
		if req != nil {
			fillEnvironment(req, env)
		}
	}
	err := a.allow(ctx, p, rule.Access, env, req)
	if err != nil && server.ErrorCode(err) == server.EFORBIDDEN && strings.HasSuffix(server.ErrorMessage(err), " "+denied) {
		// A bare refusal: say what was called and who may call it.
		return forbidden(p, "may not call %s: %s", shortMethod(method), whoMay[rule.Access])
	}
	return err
}

// denied marks allow's refusals that only name the access level; Authorize
// turns them into a whole sentence.
const denied = "(denied)"

// whoMay says, per access level, what it guards and who has it.
var whoMay = map[Access]string{
	Read:       "reading needs a user, a ci token or an admin token (sdk tokens only stream and evaluate)",
	Evaluate:   "evaluating needs a user, a ci or admin token, or an sdk token of the environment",
	Configure:  "flag configurations are changed by ci tokens of the environment, editors (unprotected environments) and admins",
	Define:     "flag definitions and segments are shared by every environment: editors and admins only",
	Administer: "environments, tokens and users are managed by admins only",
	Self:       "a user may change their own password; others' are changed by admins only",
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
func (a *Authenticator) allow(ctx context.Context, p Principal, access Access, env string, req proto.Message) error {
	sdk := p.Kind == KindToken && p.Scope == ScopeSDK
	switch {
	case access == Authenticated:
		return nil
	case access == Evaluate && sdk:
		if p.HasEnvironment(env) {
			return nil
		}
		return forbidden(p, "is bound to environment %q, not %q", p.sdkEnvironment(), env)
	case sdk:
		return forbidden(p, "may only stream and evaluate flags")
	case p.IsAdmin() || access == Read || access == Evaluate:
		return nil
	case access == Self && p.Kind == KindUser && p.Name == selfUser(req):
		return nil
	case access == Define && p.Role == RoleEditor:
		return nil
	case access == Configure && p.Scope == ScopeCI:
		if p.HasEnvironment(env) {
			return nil
		}
		return forbidden(p, "may not change environment %q", env)
	case access == Configure && p.Role == RoleEditor:
		return a.unprotected(ctx, p, env)
	}
	return forbidden(p, "may not %s %s", access, denied)
}

// unprotected refuses changes to a protected environment. An unknown
// environment is let through, for the service to report as not found.
func (a *Authenticator) unprotected(ctx context.Context, p Principal, env string) error {
	var e server.Environment
	err := a.store.ViewAuth(ctx, func(tx Tx) error {
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
	if p.Kind == KindUser {
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
		return "", errNoCredential
	}
	env := requested
	if p.Kind == KindToken && p.Scope == ScopeSDK && env == "" {
		env = p.sdkEnvironment()
	}
	if env == "" {
		return "", server.Invalid("environment", "required: only sdk tokens imply one")
	}
	return env, a.allow(ctx, p, Evaluate, env, nil)
}
