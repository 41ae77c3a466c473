package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
)

// change is one step of an apply: what it changes, shown to the user, and
// the item of the change set that makes it.
type change struct {
	Action      string        `json:"action"` // create, update or delete
	Kind        string        `json:"kind"`   // segment, flag or config
	Key         string        `json:"key"`
	Environment string        `json:"environment,omitempty"`
	Fields      []fieldChange `json:"fields,omitempty"`
	// allEnvs says the change alters what every environment serves.
	allEnvs bool
	// fresh says the object is new, so Fields hold values, not differences.
	fresh bool
	// item is the change set's item; its expected revision is the one the
	// plan read.
	item *flagpolev1.ApplyChange
	// where is the change's place in the file (flags[1].environments.production),
	// "" for a deletion by --prune.
	where string
}

// fieldChange is one field's old and new value; From is null on create.
type fieldChange struct {
	Field string `json:"field"`
	From  any    `json:"from"`
	To    any    `json:"to"`
}

// state is what the server holds, read once before planning.
type state struct {
	envs     []string
	flags    map[string]*flagpolev1.FlagWithConfigs
	segments map[string]*syncpb.Segment
}

func readState(ctx context.Context, c *clients, env string) (*state, error) {
	st := &state{flags: map[string]*flagpolev1.FlagWithConfigs{}, segments: map[string]*syncpb.Segment{}}
	envs, err := c.env.ListEnvironments(ctx, &flagpolev1.ListEnvironmentsRequest{})
	if err != nil {
		return nil, fmt.Errorf("list environments: %w", err)
	}
	for _, e := range envs.GetEnvironments() {
		st.envs = append(st.envs, e.GetName())
	}
	flags, err := c.flag.ListFlags(ctx, &flagpolev1.ListFlagsRequest{IncludeArchived: true, Environment: env})
	if err != nil {
		return nil, fmt.Errorf("list flags: %w", err)
	}
	for _, f := range flags.GetFlags() {
		st.flags[f.GetFlag().GetKey()] = f
	}
	segs, err := c.seg.ListSegments(ctx, &flagpolev1.ListSegmentsRequest{})
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	for _, s := range segs.GetSegments() {
		st.segments[s.GetKey()] = s
	}
	return st, nil
}

var keyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)

// planOptions are apply's choices: prune adds deletions of flags and
// segments the file lacks; force archives or deletes flags even where a
// protected environment has them enabled (the server refuses otherwise).
type planOptions struct{ prune, force bool }

// plan computes the changes that make the server match f. Only what differs
// becomes a change.
func plan(f *File, st *state, opts planOptions) ([]change, error) {
	var segChanges, flagChanges, cfgChanges, deletions []change
	seen := map[string]bool{}
	for i, s := range f.Segments {
		where := fmt.Sprintf("segments[%d]", i)
		if !keyPattern.MatchString(s.Key) {
			return nil, fmt.Errorf("%s.key: %q must match %s", where, s.Key, keyPattern)
		}
		if seen[s.Key] {
			return nil, fmt.Errorf("%s.key: segment %q appears twice", where, s.Key)
		}
		seen[s.Key] = true
		if ch, ok := planSegment(s, st.segments[s.Key]); ok {
			ch.where = where
			segChanges = append(segChanges, ch)
		}
	}
	seen = map[string]bool{}
	for i, fs := range f.Flags {
		where := fmt.Sprintf("flags[%d]", i)
		if seen[fs.Key] {
			return nil, fmt.Errorf("%s.key: flag %q appears twice", where, fs.Key)
		}
		seen[fs.Key] = true
		want, err := normalizeFlag(fs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		for _, env := range sortedKeys(fs.Environments) {
			if !slices.Contains(st.envs, env) {
				return nil, fmt.Errorf("%s.environments.%s: no such environment (have %v)", where, env, st.envs)
			}
			if fs.Environments[env] == nil {
				return nil, fmt.Errorf("%s.environments.%s: empty configuration (write at least enabled: false)", where, env)
			}
		}
		fc, cc, err := planFlag(want, fs.Environments, st.flags[fs.Key], opts.force)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		for i := range fc {
			fc[i].where = where
		}
		for i := range cc {
			cc[i].where = where + ".environments." + cc[i].Environment
		}
		flagChanges = append(flagChanges, fc...)
		cfgChanges = append(cfgChanges, cc...)
	}
	if opts.prune {
		deletions = planPrune(f, st, opts.force)
	}
	return slices.Concat(segChanges, flagChanges, cfgChanges, deletions), nil
}

// normalizeFlag validates a flag of the file and fills what the server
// fills: boolean variants and canonical variant values.
func normalizeFlag(fs FlagSpec) (FlagSpec, error) {
	if !keyPattern.MatchString(fs.Key) {
		return fs, fmt.Errorf("key: %q must match %s", fs.Key, keyPattern)
	}
	want := fs
	want.Environments = nil
	if len(want.Tags) == 0 {
		want.Tags = nil
	}
	if len(want.Variants) == 0 {
		want.Variants = defaultVariants(fs.Type)
	}
	switch fs.Type {
	case "boolean", "string", "integer", "float", "object":
	case "":
		return fs, fmt.Errorf("type: missing (want boolean, string, integer, float or object)")
	default:
		return fs, fmt.Errorf("type: unknown type %q (want boolean, string, integer, float or object)", fs.Type)
	}
	vs := make(Variants, len(want.Variants))
	for i, v := range want.Variants {
		n, err := normalizeValue(fs.Type, v.Value)
		if err != nil {
			return fs, fmt.Errorf("variants.%s: %w", v.Key, err)
		}
		vs[i] = VariantSpec{Key: v.Key, Value: n}
	}
	want.Variants = vs
	return want, nil
}

func planSegment(s SegmentSpec, cur *syncpb.Segment) (change, bool) {
	want := s
	if want.Match == "" {
		want.Match = "all"
	}
	if cur == nil {
		return change{Action: "create", Kind: "segment", Key: s.Key, Fields: fieldDiff(nil, want), allEnvs: true, fresh: true,
			item: &flagpolev1.ApplyChange{Change: &flagpolev1.ApplyChange_CreateSegment{CreateSegment: segmentToProto(want, 0)}}}, true
	}
	have := segmentFromProto(cur)
	if have.Match == "" {
		have.Match = "all"
	}
	if want.Name == "" {
		want.Name = have.Name
	}
	fields := fieldDiff(have, want)
	if len(fields) == 0 {
		return change{}, false
	}
	rev := cur.GetRevision()
	return change{Action: "update", Kind: "segment", Key: s.Key, Fields: fields, allEnvs: true,
		item: &flagpolev1.ApplyChange{Change: &flagpolev1.ApplyChange_UpdateSegment{UpdateSegment: segmentToProto(want, rev)}}}, true
}

// planFlag plans the definition change of one flag and its configuration
// changes in the environments the file names.
func planFlag(want FlagSpec, envs map[string]*ConfigSpec, cur *flagpolev1.FlagWithConfigs, force bool) (defs, cfgs []change, err error) {
	key := want.Key
	if cur == nil {
		create := want
		create.Archived = false
		p, err := flagToProto(create, 0)
		if err != nil {
			return nil, nil, err
		}
		defs = append(defs, change{Action: "create", Kind: "flag", Key: key, Fields: fieldDiff(nil, want), allEnvs: true, fresh: true,
			item: &flagpolev1.ApplyChange{Change: &flagpolev1.ApplyChange_CreateFlag{CreateFlag: p}}})
		for _, env := range sortedKeys(envs) {
			cfgs = append(cfgs, newConfigChange(key, env, envs[env]))
		}
		if want.Archived {
			defs = append(defs, archiveChange(key, true, 0, force))
		}
		return defs, cfgs, nil
	}
	have := flagFromProto(cur.GetFlag())
	if have.Type != want.Type {
		return nil, nil, fmt.Errorf("type: cannot change %s from %s to %s (delete and recreate the flag)", key, have.Type, want.Type)
	}
	if want.Name == "" {
		want.Name = have.Name
	}
	if len(have.Tags) == 0 {
		have.Tags = nil
	}
	rev := cur.GetFlag().GetRevision()
	def := want
	def.Archived = have.Archived
	if fields := fieldDiff(have, def); len(fields) > 0 {
		p, err := flagToProto(def, rev)
		if err != nil {
			return nil, nil, err
		}
		defs = append(defs, change{Action: "update", Kind: "flag", Key: key, Fields: fields, allEnvs: true,
			item: &flagpolev1.ApplyChange{Change: &flagpolev1.ApplyChange_UpdateFlag{UpdateFlag: p}}})
		rev = 0 // the archive step below follows our own update
	}
	if have.Archived != want.Archived {
		defs = append(defs, archiveChange(key, want.Archived, rev, force))
	}
	configs := map[string]*syncpb.FlagConfig{}
	for _, c := range cur.GetConfigs() {
		configs[c.GetEnvironment()] = c
	}
	for _, env := range sortedKeys(envs) {
		if ch, ok := planConfig(key, env, envs[env], configs[env]); ok {
			cfgs = append(cfgs, ch)
		}
	}
	return defs, cfgs, nil
}

func archiveChange(key string, archived bool, rev int64, force bool) change {
	return change{Action: "update", Kind: "flag", Key: key, allEnvs: true,
		Fields: []fieldChange{{Field: "archived", From: !archived, To: archived}},
		item: &flagpolev1.ApplyChange{Change: &flagpolev1.ApplyChange_ArchiveFlag{ArchiveFlag: &flagpolev1.ArchiveFlagRequest{
			Key: key, Archived: archived, ExpectedRevision: rev, Force: force}}}}
}

// desiredConfig fills what the file leaves to the server: the off variant,
// the default serve, the guarded marker and rule IDs the server assigned.
func desiredConfig(want *ConfigSpec, have *ConfigSpec) *ConfigSpec {
	d := *want
	d.Rules = slices.Clone(want.Rules)
	if d.OffVariant == "" {
		d.OffVariant = have.OffVariant
	}
	if d.Default == nil {
		d.Default = have.Default
	}
	if d.Guarded == nil || !*d.Guarded && have.Guarded == nil {
		d.Guarded = have.Guarded // false and unset are the same
	}
	for i := range d.Rules {
		if d.Rules[i].ID == "" && i < len(have.Rules) {
			d.Rules[i].ID = have.Rules[i].ID
		}
	}
	return &d
}

func planConfig(key, env string, want *ConfigSpec, cur *syncpb.FlagConfig) (change, bool) {
	if cur == nil {
		return newConfigChange(key, env, want), true
	}
	have := configFromProto(cur)
	d := desiredConfig(want, have)
	fields := fieldDiff(have, d)
	if len(fields) == 0 {
		return change{}, false
	}
	rev := cur.GetRevision()
	return change{Action: "update", Kind: "config", Key: key, Environment: env, Fields: fields,
		item: &flagpolev1.ApplyChange{Change: &flagpolev1.ApplyChange_ReplaceConfig{ReplaceConfig: configToProto(key, env, d, rev)}}}, true
}

// newConfigChange configures a flag created by the same apply: what the
// file leaves out (the off variant, the default serve) the server fills
// with the new flag's initial configuration.
func newConfigChange(key, env string, want *ConfigSpec) change {
	return change{Action: "update", Kind: "config", Key: key, Environment: env, Fields: fieldDiff(nil, want), fresh: true,
		item: &flagpolev1.ApplyChange{Change: &flagpolev1.ApplyChange_ReplaceConfig{ReplaceConfig: configToProto(key, env, want, 0)}}}
}

func planPrune(f *File, st *state, force bool) []change {
	var out []change
	inFile := map[string]bool{}
	for _, fs := range f.Flags {
		inFile[fs.Key] = true
	}
	for _, key := range sortedKeys(st.flags) {
		if inFile[key] {
			continue
		}
		rev := st.flags[key].GetFlag().GetRevision()
		out = append(out, change{Action: "delete", Kind: "flag", Key: key, allEnvs: true,
			item: &flagpolev1.ApplyChange{Change: &flagpolev1.ApplyChange_DeleteFlag{DeleteFlag: &flagpolev1.DeleteFlagRequest{
				Key: key, ExpectedRevision: rev, Force: force}}}})
	}
	inFile = map[string]bool{}
	for _, s := range f.Segments {
		inFile[s.Key] = true
	}
	for _, key := range sortedKeys(st.segments) {
		if inFile[key] {
			continue
		}
		rev := st.segments[key].GetRevision()
		out = append(out, change{Action: "delete", Kind: "segment", Key: key, allEnvs: true,
			item: &flagpolev1.ApplyChange{Change: &flagpolev1.ApplyChange_DeleteSegment{DeleteSegment: &flagpolev1.DeleteSegmentRequest{
				Key: key, ExpectedRevision: rev}}}})
	}
	return out
}

// fieldDiff lists the top-level JSON fields whose values differ between
// from and to, in the order to writes them. A nil from lists every field.
func fieldDiff(from, to any) []fieldChange {
	a, b := jsonPairs(from), jsonPairs(to)
	am := map[string]any{}
	for _, p := range a {
		am[p.key] = p.value
	}
	var out []fieldChange
	seen := map[string]bool{}
	for _, p := range b {
		seen[p.key] = true
		if old, ok := am[p.key]; !ok || !reflect.DeepEqual(old, p.value) {
			out = append(out, fieldChange{Field: p.key, From: am[p.key], To: p.value})
		}
	}
	for _, p := range a {
		if !seen[p.key] {
			out = append(out, fieldChange{Field: p.key, From: p.value, To: nil})
		}
	}
	return out
}

func jsonPairs(v any) []pair {
	if v == nil || (reflect.ValueOf(v).Kind() == reflect.Pointer && reflect.ValueOf(v).IsNil()) {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return []pair{{key: "error", value: err.Error()}}
	}
	ps, err := unmarshalPairs(b)
	if err != nil {
		return []pair{{key: "error", value: err.Error()}}
	}
	return ps
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
