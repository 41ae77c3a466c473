package service

import (
	"context"
	"regexp"

	"github.com/flagpole/flagpole/server"
)

var environmentName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// ListEnvironments returns every environment.
func (s *Service) ListEnvironments(ctx context.Context) ([]server.Environment, error) {
	var envs []server.Environment
	err := s.view(ctx, func(tx Tx) (err error) {
		envs, err = tx.ListEnvironments()
		return err
	})
	return envs, err
}

// GetEnvironment returns one environment.
func (s *Service) GetEnvironment(ctx context.Context, name string) (server.Environment, error) {
	if err := required("name", name); err != nil {
		return server.Environment{}, err
	}
	var env server.Environment
	err := s.view(ctx, func(tx Tx) (err error) {
		env, err = getEnvironment(tx, name)
		return err
	})
	return env, err
}

// CreateEnvironment creates an environment with a disabled configuration of
// every flag; its revision is 1 afterwards, or, when an environment of the
// same name was deleted before, one above the deleted one's last revision
// (the store keeps it), so that revisions never go backwards for a client
// that held the old one.
func (s *Service) CreateEnvironment(ctx context.Context, env server.Environment) (server.Environment, error) {
	if !environmentName.MatchString(env.Name) {
		return server.Environment{}, server.Invalid("environment.name", "%q does not match %s", env.Name, environmentName)
	}
	var created server.Environment
	err := s.update(ctx, func(o *op) (err error) {
		created, err = o.createEnvironment(env)
		return err
	})
	return created, err
}

func (o *op) createEnvironment(env server.Environment) (server.Environment, error) {
	env = server.Environment{Name: env.Name, Description: env.Description, Protected: env.Protected, RequireComment: env.RequireComment, CreatedAt: o.now}
	if err := o.tx.CreateEnvironment(env); err != nil {
		if server.ErrorCode(err) == server.EEXISTS {
			return env, server.Errorf(server.EEXISTS, "environment %q already exists", env.Name)
		}
		return env, err
	}
	// A recreated environment must not be served from an old snapshot.
	o.invalidate = append(o.invalidate, env.Name)
	flags, err := o.tx.ListFlags(server.FlagFilter{IncludeArchived: true})
	if err != nil {
		return env, err
	}
	change, err := o.touch(env.Name)
	if err != nil {
		return env, err
	}
	change.Created = true
	for _, f := range flags {
		cfg := server.FlagConfig{FlagKey: f.Key, Environment: env.Name, Config: defaultConfig(f.Flag), Revision: 1, UpdatedAt: o.now}
		if err := o.tx.PutConfig(cfg); err != nil {
			return env, err
		}
		change.Flags = append(change.Flags, flagState(f, cfg))
	}
	env.Revision = change.Revision
	return env, o.audit("environment.create", "environment", env.Name, env.Name, nil, docOfEnvironment(env))
}

// UpdateEnvironment stores the description, the protected flag and the
// comment requirement of an environment. It changes nothing that is served,
// so no revision moves. Lifting the comment requirement needs a comment
// too, as does setting it.
func (s *Service) UpdateEnvironment(ctx context.Context, env server.Environment) (server.Environment, error) {
	if err := required("environment.name", env.Name); err != nil {
		return server.Environment{}, err
	}
	var updated server.Environment
	err := s.update(ctx, func(o *op) error {
		cur, err := getEnvironment(o.tx, env.Name)
		if err != nil {
			return err
		}
		updated = cur
		updated.Description, updated.Protected, updated.RequireComment = env.Description, env.Protected, env.RequireComment
		if same(docOfEnvironment(cur), docOfEnvironment(updated)) {
			return nil
		}
		if err := o.requireComment(cur); err != nil {
			return err
		}
		if err := o.tx.UpdateEnvironment(updated); err != nil {
			return err
		}
		return o.audit("environment.update", "environment", env.Name, env.Name, docOfEnvironment(cur), docOfEnvironment(updated))
	})
	return updated, err
}

// DeleteEnvironment deletes an environment and its flag configurations.
func (s *Service) DeleteEnvironment(ctx context.Context, name string) error {
	if err := required("name", name); err != nil {
		return err
	}
	return s.update(ctx, func(o *op) error {
		cur, err := getEnvironment(o.tx, name)
		if err != nil {
			return err
		}
		if cur.Protected {
			// Deleting an environment drops every flag configuration in it;
			// a protected one must be unprotected first, deliberately.
			return server.Invalid("name", "environment %q is protected: unprotect it before deleting it", name)
		}
		if err := o.requireComment(cur); err != nil {
			return err
		}
		if err := o.tx.DeleteEnvironment(name); err != nil {
			return err
		}
		o.invalidate = append(o.invalidate, name)
		o.deleted = append(o.deleted, name)
		return o.audit("environment.delete", "environment", name, name, docOfEnvironment(cur), nil)
	})
}

// EnsureDefaults creates the environments development, staging and
// production (protected) when there are none, audited as server.System.
func (s *Service) EnsureDefaults(ctx context.Context) error {
	ctx = server.NewContextWithActor(ctx, server.System)
	return s.update(ctx, func(o *op) error {
		envs, err := o.tx.ListEnvironments()
		if err != nil || len(envs) > 0 {
			return err
		}
		for _, name := range server.DefaultEnvironments {
			env := server.Environment{Name: name, Protected: name == "production"}
			if _, err := o.createEnvironment(env); err != nil {
				return err
			}
		}
		return nil
	})
}
