package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
)

// ApplyKind says what one item of ApplyChanges does.
type ApplyKind int

// The kinds of ApplyChanges items.
const (
	ApplyCreateSegment ApplyKind = iota + 1
	ApplyUpdateSegment
	ApplyDeleteSegment
	ApplyCreateFlag
	ApplyUpdateFlag
	ApplyArchiveFlag
	ApplyDeleteFlag
	ApplyReplaceConfig
)

var applyKindNames = map[ApplyKind]string{
	ApplyCreateSegment: "create_segment", ApplyUpdateSegment: "update_segment", ApplyDeleteSegment: "delete_segment",
	ApplyCreateFlag: "create_flag", ApplyUpdateFlag: "update_flag", ApplyArchiveFlag: "archive_flag",
	ApplyDeleteFlag: "delete_flag", ApplyReplaceConfig: "replace_config",
}

func (k ApplyKind) String() string { return applyKindNames[k] }

// ApplyItem is one change of a set. Kind says which fields count:
// Segment (create, update), Flag (create, update), Key (deletes, archive),
// Archived and Force (archive, delete), Environment, Key and Config
// (replace_config). Expected is the revision the item was planned on (0
// skips the check).
type ApplyItem struct {
	Kind        ApplyKind
	Segment     engine.Segment
	Flag        engine.Flag
	Key         string
	Environment string
	Config      engine.Config
	Archived    bool
	Force       bool
	Expected    int64
}

// errValidateOnly rolls back a validate-only set.
var errValidateOnly = errors.New("validate only")

// ApplyChanges makes every item in order in one transaction: each is
// validated, checked against the actor's rights on protected environments,
// revision-checked and audited as its own call would be, and the set is
// committed whole or not at all, then published as one Change per
// environment. A configuration with an empty off variant or no default
// serve keeps the current one. Whether every configuration still has the
// variants its flag defines is checked after the last item, so a set may
// stop serving a variant and drop it. An item that creates what exists
// already fails with ECONFLICT, as a stale revision does: the server
// changed since the set was planned. validateOnly rolls the set back.
// changed says, per item, whether it wrote something.
func (s *Service) ApplyChanges(ctx context.Context, items []ApplyItem, validateOnly bool) (changed []bool, err error) {
	for i := range items {
		if err := validateItem(&items[i]); err != nil {
			return nil, itemError(i, items[i], err)
		}
	}
	err = s.update(ctx, func(o *op) error {
		changed = make([]bool, len(items))
		o.deferred = map[string]bool{}
		for i, it := range items {
			c, err := o.applyItem(it)
			if err != nil {
				return itemError(i, it, err)
			}
			changed[i] = c
		}
		if err := o.checkDeferredVariants(); err != nil {
			return err
		}
		dedupeChanges(o)
		if validateOnly {
			return errValidateOnly
		}
		return nil
	})
	if errors.Is(err, errValidateOnly) {
		return changed, nil
	}
	if err != nil {
		return nil, err
	}
	return changed, nil
}

// validateItem checks what an item can be checked for without the store.
func validateItem(it *ApplyItem) error {
	switch it.Kind {
	case ApplyCreateSegment, ApplyUpdateSegment:
		if err := engine.ValidateSegment(it.Segment); err != nil {
			return fieldError("segment", err)
		}
	case ApplyCreateFlag, ApplyUpdateFlag:
		if err := engine.ValidateFlag(&it.Flag); err != nil {
			return fieldError("flag", err)
		}
	case ApplyDeleteSegment, ApplyArchiveFlag, ApplyDeleteFlag:
		return required("key", it.Key)
	case ApplyReplaceConfig:
		return requiredConfigKeys(it.Environment, it.Key)
	default:
		return server.Invalid("change", "is empty or of an unknown kind")
	}
	return nil
}

// itemError names the item in a field error, e.g.
// "changes[3].config.rules[0].serve", and turns "already exists" into a
// conflict, as is "not found" for an item planned on a revision: what the
// set was planned on has changed.
func itemError(i int, it ApplyItem, err error) error {
	var e *server.Error
	if !errors.As(err, &e) {
		return err
	}
	out := *e
	where := fmt.Sprintf("changes[%d]", i)
	switch {
	case out.Code == server.EEXISTS:
		out.Code = server.ECONFLICT
		out.Message += " (created since the change set was planned)"
	case out.Code == server.ENOTFOUND && it.Expected != 0:
		out.Code = server.ECONFLICT
		out.Message += " (deleted since the change set was planned)"
	}
	if out.Field != "" {
		out.Field = where + "." + out.Field
	} else {
		out.Message = fmt.Sprintf("%s (%s %s): %s", where, it.Kind, it.target(), out.Message)
	}
	return &out
}

func (it ApplyItem) target() string {
	switch it.Kind {
	case ApplyCreateSegment, ApplyUpdateSegment:
		return it.Segment.Key
	case ApplyCreateFlag, ApplyUpdateFlag:
		return it.Flag.Key
	case ApplyReplaceConfig:
		return it.Key + " [" + it.Environment + "]"
	}
	return it.Key
}

func (o *op) applyItem(it ApplyItem) (bool, error) {
	switch it.Kind {
	case ApplyCreateSegment:
		_, err := o.createSegment(it.Segment)
		return err == nil, err
	case ApplyUpdateSegment:
		before, err := getSegment(o.tx, it.Segment.Key)
		if err != nil {
			return false, err
		}
		after, err := o.updateSegment(it.Segment, it.Expected)
		return err == nil && after.Revision != before.Revision, err
	case ApplyDeleteSegment:
		return true, o.deleteSegment(it.Key, it.Expected)
	case ApplyCreateFlag:
		_, _, err := o.createFlag(it.Flag)
		return err == nil, err
	case ApplyUpdateFlag:
		before, err := getFlag(o.tx, it.Flag.Key)
		if err != nil {
			return false, err
		}
		after, err := o.updateFlag(it.Flag, it.Expected)
		return err == nil && after.Revision != before.Revision, err
	case ApplyArchiveFlag:
		before, err := getFlag(o.tx, it.Key)
		if err != nil {
			return false, err
		}
		after, err := o.archiveFlag(it.Key, it.Archived, it.Expected, it.Force)
		return err == nil && after.Revision != before.Revision, err
	case ApplyDeleteFlag:
		return true, o.deleteFlag(it.Key, it.Expected, it.Force)
	case ApplyReplaceConfig:
		want := it.Config
		edit := func(o *op, f server.Flag, cur engine.Config) (engine.Config, error) {
			c := want
			if c.OffVariant == "" {
				c.OffVariant = cur.OffVariant
			}
			if c.Default.Variant == "" && c.Default.Split == nil {
				c.Default = cur.Default
			}
			return replaceWith(c)(o, f, cur)
		}
		_, changed, err := o.changeConfig(it.Environment, it.Key, it.Expected, "config.replace", edit)
		if err != nil || !changed {
			return changed, err
		}
		return true, o.pausePlansFor(it.Environment, it.Key) // a person's change: the plan never fights it
	}
	return false, server.Invalid("change", "is empty or of an unknown kind")
}

// checkDeferredVariants refuses a set that leaves a configuration naming a
// variant its flag no longer defines.
func (o *op) checkDeferredVariants() error {
	envs, err := o.tx.ListEnvironments()
	if err != nil {
		return err
	}
	for key := range o.deferred {
		f, err := o.tx.GetFlag(key)
		if server.ErrorCode(err) == server.ENOTFOUND {
			continue // deleted later in the set
		} else if err != nil {
			return err
		}
		for _, e := range envs {
			c, err := getConfig(o.tx, e.Name, key)
			if err != nil {
				return err
			}
			if err := checkVariantsKept(f.Flag, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// dedupeChanges keeps, in every environment's Change, the last state of
// each flag and segment the set touched several times (a definition and
// then its configuration), where it came last.
func dedupeChanges(o *op) {
	for _, c := range o.changes {
		c.Flags = lastOf(c.Flags, func(f engine.FlagState) string { return f.Flag.Key })
		c.Segments = lastOf(c.Segments, func(s engine.Segment) string { return s.Key })
	}
}

func lastOf[T any](list []T, key func(T) string) []T {
	if len(list) < 2 {
		return list
	}
	last := make(map[string]int, len(list))
	for i, v := range list {
		last[key(v)] = i
	}
	out := list[:0:0]
	for i, v := range list {
		if last[key(v)] == i {
			out = append(out, v)
		}
	}
	return out
}
