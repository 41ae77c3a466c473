package service

import (
	"fmt"
	"slices"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
)

// Protected environments are changed by admins only. The transports check
// that for changes to one environment's configuration; a change to a shared
// object (a flag's definition, a segment) reaches every environment, so the
// service checks here, in the change's transaction, what that change would
// alter: a restricted actor (server.Actor.Restricted: an editor) may make it
// only when no protected environment would serve anything different.
//
// Decided: creating a flag or a segment is not refused. A new flag is
// served disabled (its off variant) until someone with the environment's
// rights enables it, and a new segment is used by no rule yet.

// refuseProtected is the error for a restricted actor whose change would
// alter what protected environment env serves.
func (o *op) refuseProtected(env, what string) error {
	return server.Errorf(server.EFORBIDDEN, "%s %q may not change protected environment %q: %s would change what it serves; admins only",
		o.actor.Kind, o.actor.Name, env, what)
}

// checkFlagChange refuses a restricted actor's new definition next of cur
// when it changes what cfg, a protected environment's configuration of the
// flag, serves.
func (o *op) checkFlagChange(env server.Environment, cur, next engine.Flag, cfg engine.Config) error {
	if !o.actor.Restricted || !env.Protected {
		return nil
	}
	if what := servingChange(cur, next, cfg); what != "" {
		return o.refuseProtected(env.Name, what)
	}
	return nil
}

// servingChange says what of the change from cur to next alters what cfg
// serves, or "" when nothing does.
func servingChange(cur, next engine.Flag, cfg engine.Config) string {
	switch {
	case cur.Archived && next.Archived:
		return "" // served nowhere before or after
	case !cur.Archived && next.Archived:
		return fmt.Sprintf("archiving flag %q", cur.Key)
	case cur.Archived && !next.Archived:
		return fmt.Sprintf("restoring flag %q", cur.Key)
	}
	for _, v := range servedVariants(cfg) {
		if !same(variantValue(cur, v), variantValue(next, v)) {
			return fmt.Sprintf("the value of variant %q of flag %q", v, cur.Key)
		}
	}
	return ""
}

// servedVariants lists the variants cfg can serve: the off variant while
// disabled, else every rule's and the default's (split variants of weight
// zero are never served).
func servedVariants(cfg engine.Config) []string {
	if !cfg.Enabled {
		return []string{cfg.OffVariant}
	}
	var out []string
	add := func(s engine.Serve) {
		if s.Split == nil {
			out = append(out, s.Variant)
			return
		}
		for _, w := range s.Split.Weights {
			if w.Weight > 0 {
				out = append(out, w.Variant)
			}
		}
	}
	for _, r := range cfg.Rules {
		add(r.Serve)
	}
	add(cfg.Default)
	return out
}

func variantValue(f engine.Flag, key string) any {
	for _, v := range f.Variants {
		if v.Key == key {
			return v.Value
		}
	}
	return nil
}

// checkFlagDelete refuses a restricted actor's deletion of a flag that a
// protected environment serves (every unarchived flag is served there,
// enabled or not).
func (o *op) checkFlagDelete(cur server.Flag) error {
	if !o.actor.Restricted || cur.Archived {
		return nil
	}
	envs, err := o.tx.ListEnvironments()
	if err != nil {
		return err
	}
	for _, e := range envs {
		if e.Protected {
			return o.refuseProtected(e.Name, fmt.Sprintf("deleting flag %q", cur.Key))
		}
	}
	return nil
}

// checkSegmentChange refuses a restricted actor's change of segment cur to
// next when it changes who matches and an enabled configuration of a
// protected environment uses the segment (segments cannot use segments).
func (o *op) checkSegmentChange(cur, next engine.Segment) error {
	if !o.actor.Restricted || sameMatching(cur, next) {
		return nil
	}
	envs, err := o.tx.ListEnvironments()
	if err != nil {
		return err
	}
	for _, e := range envs {
		if !e.Protected {
			continue
		}
		configs, err := o.tx.ListConfigs(e.Name)
		if err != nil {
			return err
		}
		for _, c := range configs {
			if !c.Enabled {
				continue
			}
			for _, r := range c.Rules {
				if segmentCondition(r.Conditions, cur.Key) >= 0 {
					return o.refuseProtected(e.Name, fmt.Sprintf("changing who matches segment %q (used by flag %q)", cur.Key, c.FlagKey))
				}
			}
		}
	}
	return nil
}

// sameMatching reports whether a and b match the same contexts (names and
// descriptions aside).
func sameMatching(a, b engine.Segment) bool {
	return a.Match == b.Match && same(a.Conditions, b.Conditions) &&
		slices.Equal(a.Included, b.Included) && slices.Equal(a.Excluded, b.Excluded)
}
