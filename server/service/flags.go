package service

import (
	"context"
	"fmt"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
)

// FlagWithConfigs is a flag and its configuration per environment.
type FlagWithConfigs struct {
	Flag    server.Flag
	Configs []server.FlagConfig
}

// CreateFlag validates and creates a flag, with a disabled configuration in
// every environment serving its off variant.
func (s *Service) CreateFlag(ctx context.Context, f engine.Flag) (server.Flag, []server.FlagConfig, error) {
	if err := engine.ValidateFlag(&f); err != nil {
		return server.Flag{}, nil, fieldError("flag", err)
	}
	var created server.Flag
	var configs []server.FlagConfig
	err := s.update(ctx, func(o *op) (err error) {
		created, configs, err = o.createFlag(f)
		return err
	})
	if err != nil {
		return server.Flag{}, nil, err
	}
	return created, configs, nil
}

// createFlag creates validated flag f in o's transaction.
func (o *op) createFlag(f engine.Flag) (server.Flag, []server.FlagConfig, error) {
	created := server.Flag{Flag: f, Revision: 1, CreatedAt: o.now, UpdatedAt: o.now}
	if err := o.tx.CreateFlag(created); err != nil {
		if server.ErrorCode(err) == server.EEXISTS {
			return created, nil, server.Errorf(server.EEXISTS, "flag %q already exists", f.Key)
		}
		return created, nil, err
	}
	var configs []server.FlagConfig
	err := o.touchAll(func(env string, c *server.Change) error {
		cfg := server.FlagConfig{FlagKey: f.Key, Environment: env, Config: defaultConfig(f), Revision: 1, UpdatedAt: o.now}
		if err := o.tx.PutConfig(cfg); err != nil {
			return err
		}
		configs = append(configs, cfg)
		c.Flags = append(c.Flags, flagState(created, cfg))
		return nil
	})
	if err != nil {
		return created, nil, err
	}
	return created, configs, o.audit("flag.create", "flag", f.Key, "", nil, docOfFlag(created))
}

// defaultConfig is the configuration of a new flag: disabled, serving the
// off variant while disabled ("off", or the false variant, for a boolean
// flag; the first variant otherwise). A boolean flag serves its true variant
// by default, so that enabling it turns it on, as in LaunchDarkly and
// Unleash; other types serve their first variant until told otherwise.
func defaultConfig(f engine.Flag) engine.Config {
	off, serve := "", ""
	if f.Type == engine.TypeBoolean {
		off, serve = booleanVariant(f, false), booleanVariant(f, true)
	}
	if off == "" && len(f.Variants) > 0 {
		off = f.Variants[0].Key
	}
	if serve == "" {
		serve = off
	}
	return engine.Config{Enabled: false, OffVariant: off, Default: engine.Serve{Variant: serve}}
}

// booleanVariant returns the key of a boolean flag's variant for v,
// preferring the conventional "on" / "off".
func booleanVariant(f engine.Flag, v bool) string {
	conventional := map[bool]string{true: "on", false: "off"}[v]
	found := ""
	for _, variant := range f.Variants {
		if b, ok := variant.Value.(bool); ok && b == v {
			if variant.Key == conventional {
				return variant.Key
			}
			if found == "" {
				found = variant.Key
			}
		}
	}
	return found
}

func flagState(f server.Flag, c server.FlagConfig) engine.FlagState {
	return engine.FlagState{Flag: f.Flag, Config: c.Config}
}

// GetFlag returns a flag and its configuration in every environment.
func (s *Service) GetFlag(ctx context.Context, key string) (server.Flag, []server.FlagConfig, error) {
	if err := required("key", key); err != nil {
		return server.Flag{}, nil, err
	}
	var f server.Flag
	var configs []server.FlagConfig
	err := s.view(ctx, func(tx server.Tx) (err error) {
		if f, err = getFlag(tx, key); err != nil {
			return err
		}
		envs, err := tx.ListEnvironments()
		if err != nil {
			return err
		}
		for _, e := range envs {
			c, err := getConfig(tx, e.Name, key)
			if err != nil {
				return err
			}
			configs = append(configs, c)
		}
		return nil
	})
	return f, configs, err
}

// ListFlags returns the flags that match filter with their configuration in
// env, or in every environment when env is "".
func (s *Service) ListFlags(ctx context.Context, filter server.FlagFilter, env string) ([]FlagWithConfigs, error) {
	var out []FlagWithConfigs
	err := s.view(ctx, func(tx server.Tx) error {
		envs, err := listOrGetEnvironment(tx, env)
		if err != nil {
			return err
		}
		flags, err := tx.ListFlags(filter)
		if err != nil {
			return err
		}
		byKey := make(map[string][]server.FlagConfig, len(flags))
		for _, e := range envs {
			configs, err := tx.ListConfigs(e.Name)
			if err != nil {
				return err
			}
			for _, c := range configs {
				byKey[c.FlagKey] = append(byKey[c.FlagKey], c)
			}
		}
		out = make([]FlagWithConfigs, 0, len(flags))
		for _, f := range flags {
			out = append(out, FlagWithConfigs{Flag: f, Configs: byKey[f.Key]})
		}
		return nil
	})
	return out, err
}

func listOrGetEnvironment(tx server.Tx, env string) ([]server.Environment, error) {
	if env == "" {
		return tx.ListEnvironments()
	}
	e, err := getEnvironment(tx, env)
	return []server.Environment{e}, err
}

// UpdateFlag replaces a flag's definition. expected is the revision the
// update is based on (0 skips the check). The type cannot change, and a
// variant still used by a configuration cannot be removed.
func (s *Service) UpdateFlag(ctx context.Context, f engine.Flag, expected int64) (server.Flag, error) {
	if err := engine.ValidateFlag(&f); err != nil {
		return server.Flag{}, fieldError("flag", err)
	}
	var updated server.Flag
	err := s.update(ctx, func(o *op) (err error) {
		updated, err = o.updateFlag(f, expected)
		return err
	})
	return updated, err
}

// updateFlag replaces the definition of validated flag f in o's transaction.
func (o *op) updateFlag(f engine.Flag, expected int64) (server.Flag, error) {
	cur, err := getFlag(o.tx, f.Key)
	if err != nil {
		return cur, err
	}
	if err := checkRevision(fmt.Sprintf("flag %q", f.Key), cur.Revision, expected); err != nil {
		return cur, err
	}
	if cur.Type != f.Type {
		return cur, server.Invalid("flag.type", "cannot change the type of flag %q from %s to %s; create a new flag instead", f.Key, cur.Type, f.Type)
	}
	return o.changeFlag(cur, f, "flag.update")
}

// ArchiveFlag archives a flag (archived false restores it). An archived
// flag is not served: evaluating it gives FLAG_NOT_FOUND. Archiving a flag
// enabled in a protected environment needs force.
func (s *Service) ArchiveFlag(ctx context.Context, key string, archived bool, expected int64, force bool) (server.Flag, error) {
	if err := required("key", key); err != nil {
		return server.Flag{}, err
	}
	var updated server.Flag
	err := s.update(ctx, func(o *op) (err error) {
		updated, err = o.archiveFlag(key, archived, expected, force)
		return err
	})
	return updated, err
}

// archiveFlag archives or restores flag key in o's transaction.
func (o *op) archiveFlag(key string, archived bool, expected int64, force bool) (server.Flag, error) {
	action := "flag.archive"
	if !archived {
		action = "flag.unarchive"
	}
	cur, err := getFlag(o.tx, key)
	if err != nil {
		return cur, err
	}
	if err := checkRevision(fmt.Sprintf("flag %q", key), cur.Revision, expected); err != nil {
		return cur, err
	}
	// A restricted actor's archive is refused by changeFlag anyway
	// (it changes what protected environments serve), force or not.
	if archived && !force && !o.actor.Restricted {
		if err := checkNotLive(o.tx, cur, "archive"); err != nil {
			return cur, err
		}
	}
	next := cur.Flag
	next.Archived = archived
	return o.changeFlag(cur, next, action)
}

// changeFlag stores next as cur's new definition unless nothing changed,
// bumping every environment.
func (o *op) changeFlag(cur server.Flag, next engine.Flag, action string) (server.Flag, error) {
	if same(cur.Flag, next) {
		return cur, nil
	}
	updated := cur
	updated.Flag, updated.Revision, updated.UpdatedAt = next, cur.Revision+1, o.now
	configs := map[string]server.FlagConfig{}
	envs, err := o.tx.ListEnvironments()
	if err != nil {
		return cur, err
	}
	for _, e := range envs {
		c, err := getConfig(o.tx, e.Name, cur.Key)
		if err != nil {
			return cur, err
		}
		if o.deferred != nil {
			o.deferred[cur.Key] = true // checked once the whole set is made
		} else if err := checkVariantsKept(next, c); err != nil {
			return cur, err
		}
		if err := o.checkFlagChange(e, cur.Flag, next, c.Config); err != nil {
			return cur, err
		}
		configs[e.Name] = c
	}
	if err := checkPlanVariantsKept(o.tx, next); err != nil {
		return cur, err
	}
	if err := o.tx.UpdateFlag(updated); err != nil {
		return cur, err
	}
	err = o.touchAll(func(env string, c *server.Change) error {
		c.Flags = append(c.Flags, flagState(updated, configs[env]))
		return nil
	})
	if err != nil {
		return cur, err
	}
	return updated, o.audit(action, "flag", cur.Key, "", docOfFlag(cur), docOfFlag(updated))
}

// checkVariantsKept refuses a definition that drops a variant c still uses.
func checkVariantsKept(f engine.Flag, c server.FlagConfig) error {
	have := make(map[string]bool, len(f.Variants))
	for _, v := range f.Variants {
		have[v.Key] = true
	}
	for _, ref := range variantRefs(c.Config) {
		if ref.variant != "" && !have[ref.variant] {
			return server.Invalid("flag.variants", "variant %q is still used by environment %q (config.%s); change that configuration first",
				ref.variant, c.Environment, ref.field)
		}
	}
	return nil
}

type variantRef struct{ field, variant string }

// variantRefs lists every place a configuration names a variant.
func variantRefs(c engine.Config) []variantRef {
	refs := []variantRef{{"offVariant", c.OffVariant}}
	refs = append(refs, serveRefs("default", c.Default)...)
	for i, r := range c.Rules {
		refs = append(refs, serveRefs(fmt.Sprintf("rules[%d].serve", i), r.Serve)...)
	}
	return refs
}

func serveRefs(field string, s engine.Serve) []variantRef {
	if s.Split == nil {
		return []variantRef{{field + ".variant", s.Variant}}
	}
	refs := make([]variantRef, 0, len(s.Split.Weights))
	for i, w := range s.Split.Weights {
		refs = append(refs, variantRef{fmt.Sprintf("%s.split.weights[%d].variant", field, i), w.Variant})
	}
	return refs
}

// DeleteFlag deletes a flag and its configurations in every environment.
// Deleting a flag enabled in a protected environment needs force.
func (s *Service) DeleteFlag(ctx context.Context, key string, expected int64, force bool) error {
	if err := required("key", key); err != nil {
		return err
	}
	return s.update(ctx, func(o *op) error {
		return o.deleteFlag(key, expected, force)
	})
}

// deleteFlag deletes flag key in o's transaction.
func (o *op) deleteFlag(key string, expected int64, force bool) error {
	cur, err := getFlag(o.tx, key)
	if err != nil {
		return err
	}
	if err := checkRevision(fmt.Sprintf("flag %q", key), cur.Revision, expected); err != nil {
		return err
	}
	if err := o.checkFlagDelete(cur); err != nil {
		return err
	}
	if !force {
		if err := checkNotLive(o.tx, cur, "delete"); err != nil {
			return err
		}
	}
	if err := o.tx.DeleteFlag(key); err != nil {
		return err
	}
	err = o.touchAll(func(_ string, c *server.Change) error {
		c.DeletedFlags = append(c.DeletedFlags, key)
		return nil
	})
	if err != nil {
		return err
	}
	return o.audit("flag.delete", "flag", key, "", docOfFlag(cur), nil)
}

// checkNotLive refuses to verb (archive, delete) an unarchived flag that is
// enabled in a protected environment unless the caller forces it: the
// services there would stop getting it, a mistake that is easy to make
// and hard to notice.
func checkNotLive(tx server.Tx, f server.Flag, verb string) error {
	if f.Archived {
		return nil
	}
	envs, err := tx.ListEnvironments()
	if err != nil {
		return err
	}
	for _, e := range envs {
		if !e.Protected {
			continue
		}
		c, err := getConfig(tx, e.Name, f.Key)
		if err != nil {
			return err
		}
		if c.Enabled {
			return server.Invalid("force", "flag %q is enabled in protected environment %q: services there would stop getting it; disable it first, or force the %s",
				f.Key, e.Name, verb)
		}
	}
	return nil
}
