package service

import (
	"context"
	"fmt"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
)

// GetConfig returns a flag's configuration in one environment.
func (s *Service) GetConfig(ctx context.Context, env, flagKey string) (server.FlagConfig, error) {
	if err := requiredConfigKeys(env, flagKey); err != nil {
		return server.FlagConfig{}, err
	}
	var c server.FlagConfig
	err := s.view(ctx, func(tx server.Tx) error {
		if _, err := getEnvironment(tx, env); err != nil {
			return err
		}
		if _, err := getFlag(tx, flagKey); err != nil {
			return err
		}
		var err error
		c, err = getConfig(tx, env, flagKey)
		return err
	})
	return c, err
}

// ReplaceConfig validates and stores a flag's whole configuration in one
// environment. expected is the revision it is based on (0 skips the check).
func (s *Service) ReplaceConfig(ctx context.Context, env, flagKey string, c engine.Config, expected int64) (server.FlagConfig, error) {
	return s.changeConfig(ctx, env, flagKey, expected, "config.replace", replaceWith(c))
}

// replaceWith is the edit of ReplaceConfig: c, validated against the flag
// and the segments of the transaction.
func replaceWith(c engine.Config) func(o *op, f server.Flag, cur engine.Config) (engine.Config, error) {
	return func(o *op, f server.Flag, cur engine.Config) (engine.Config, error) {
		segments, err := o.tx.ListSegments()
		if err != nil {
			return c, err
		}
		known := make(map[string]bool, len(segments))
		for _, seg := range segments {
			known[seg.Key] = true
		}
		if err := engine.ValidateConfig(f.Flag, c, func(key string) bool { return known[key] }); err != nil {
			return c, fieldError("config", err)
		}
		return c, nil
	}
}

// SetEnabled flips the kill switch of a flag in one environment.
func (s *Service) SetEnabled(ctx context.Context, env, flagKey string, enabled bool, expected int64) (server.FlagConfig, error) {
	return s.changeConfig(ctx, env, flagKey, expected, "config.set_enabled", func(_ *op, _ server.Flag, cur engine.Config) (engine.Config, error) {
		cur.Enabled = enabled
		return cur, nil
	})
}

// Rollout asks for Percent of the contexts to get Variant and the others
// RestVariant. For a boolean flag Variant defaults to the true variant and
// RestVariant to the false one; otherwise Variant is required and
// RestVariant defaults to the off variant.
type Rollout struct {
	Percent     int
	Variant     string
	RestVariant string
}

// SetRollout makes a flag's default serve in one environment a split of
// Variant at Percent and RestVariant at 100-Percent, Variant first so that
// raising the percentage keeps everyone already in. 100 serves Variant
// alone, 0 RestVariant alone. Rules and the kill switch stay as they are.
func (s *Service) SetRollout(ctx context.Context, env, flagKey string, r Rollout, expected int64) (server.FlagConfig, error) {
	if r.Percent < 0 || r.Percent > 100 {
		return server.FlagConfig{}, server.Invalid("percent", "must be between 0 and 100, got %d", r.Percent)
	}
	return s.changeConfig(ctx, env, flagKey, expected, "config.set_rollout", func(_ *op, f server.Flag, cur engine.Config) (engine.Config, error) {
		variant, rest, err := rolloutVariants(f.Flag, cur, r)
		if err != nil {
			return cur, err
		}
		return rollout(cur, variant, rest, r.Percent), nil
	})
}

// rollout returns cur with its default serve a split of variant at percent
// and rest at 100-percent, variant first, in the bucketing attribute the
// default split had.
func rollout(cur engine.Config, variant, rest string, percent int) engine.Config {
	bucketBy := ""
	if cur.Default.Split != nil {
		bucketBy = cur.Default.Split.BucketBy
	}
	switch percent {
	case 100:
		cur.Default = engine.Serve{Variant: variant}
	case 0:
		cur.Default = engine.Serve{Variant: rest}
	default:
		cur.Default = engine.Serve{Split: &engine.Split{BucketBy: bucketBy, Weights: []engine.Weight{
			{Variant: variant, Weight: percent},
			{Variant: rest, Weight: 100 - percent},
		}}}
	}
	return cur
}

func rolloutVariants(f engine.Flag, cur engine.Config, r Rollout) (variant, rest string, err error) {
	variant, rest = r.Variant, r.RestVariant
	if f.Type == engine.TypeBoolean {
		if variant == "" {
			variant = booleanVariant(f, true)
		}
		if rest == "" {
			rest = booleanVariant(f, false)
		}
	}
	if rest == "" {
		rest = cur.OffVariant
	}
	if variant == "" {
		return "", "", server.Invalid("variant", "is required for a %s flag", f.Type)
	}
	if !hasVariant(f, variant) {
		return "", "", server.Invalid("variant", "flag %q has no variant %q", f.Key, variant)
	}
	if !hasVariant(f, rest) {
		return "", "", server.Invalid("rest_variant", "flag %q has no variant %q", f.Key, rest)
	}
	if variant == rest {
		return "", "", server.Invalid("rest_variant", "must differ from the rolled-out variant %q", variant)
	}
	return variant, rest, nil
}

func hasVariant(f engine.Flag, key string) bool {
	for _, v := range f.Variants {
		if v.Key == key {
			return true
		}
	}
	return false
}

// changeConfig runs one configuration change: it loads the environment, the
// flag and the current configuration, checks the revision, lets edit compute
// the new configuration, and stores it unless nothing changed. A change by
// anyone but a release plan pauses the flag's running plan in that
// environment in the same transaction: a plan never fights a person.
func (s *Service) changeConfig(ctx context.Context, env, flagKey string, expected int64, action string,
	edit func(o *op, f server.Flag, cur engine.Config) (engine.Config, error)) (server.FlagConfig, error) {
	if err := requiredConfigKeys(env, flagKey); err != nil {
		return server.FlagConfig{}, err
	}
	var updated server.FlagConfig
	err := s.update(ctx, func(o *op) error {
		var changed bool
		var err error
		updated, changed, err = o.changeConfig(env, flagKey, expected, action, edit)
		if err != nil || !changed {
			return err
		}
		return o.pausePlansFor(env, flagKey)
	})
	return updated, err
}

// changeConfig is one configuration change within o's transaction; it
// reports whether anything changed.
func (o *op) changeConfig(env, flagKey string, expected int64, action string,
	edit func(o *op, f server.Flag, cur engine.Config) (engine.Config, error)) (server.FlagConfig, bool, error) {
	if _, err := getEnvironment(o.tx, env); err != nil {
		return server.FlagConfig{}, false, err
	}
	f, err := getFlag(o.tx, flagKey)
	if err != nil {
		return server.FlagConfig{}, false, err
	}
	cur, err := getConfig(o.tx, env, flagKey)
	if err != nil {
		return cur, false, err
	}
	what := fmt.Sprintf("configuration of flag %q in environment %q", flagKey, env)
	if err := checkRevision(what, cur.Revision, expected); err != nil {
		return cur, false, err
	}
	next, err := edit(o, f, cur.Config)
	if err != nil {
		return cur, false, err
	}
	if same(cur.Config, next) {
		return cur, false, nil
	}
	updated := cur
	updated.Config, updated.Revision, updated.UpdatedAt = next, cur.Revision+1, o.now
	if err := o.tx.PutConfig(updated); err != nil {
		return cur, false, err
	}
	change, err := o.touch(env)
	if err != nil {
		return cur, false, err
	}
	change.Flags = append(change.Flags, flagState(f, updated))
	return updated, true, o.audit(action, "config", flagKey, env, docOfConfig(cur), docOfConfig(updated))
}

func requiredConfigKeys(env, flagKey string) error {
	if err := required("environment", env); err != nil {
		return err
	}
	return required("flag_key", flagKey)
}
