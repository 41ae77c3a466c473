package service

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
)

// Evaluation is an engine result with the flag metadata every result
// carries: flagSetId (the environment), version (the flag's own version,
// engine.Snapshot.VersionOf) and environmentRevision (the environment's
// revision).
type Evaluation struct {
	engine.Result
	Environment string
	Version     string
	Revision    int64
}

// Evaluate evaluates one flag in env for a flattened context (the
// targeting key under engine.TargetingKey). want is the type the caller
// expects, "" for any. An unknown flag is a result with FLAG_NOT_FOUND, not
// an error; an unknown environment is ENOTFOUND.
func (s *Service) Evaluate(ctx context.Context, env, flagKey string, want engine.FlagType, evalCtx map[string]any) (Evaluation, error) {
	if err := required("environment", env); err != nil {
		return Evaluation{}, err
	}
	if err := required("flag_key", flagKey); err != nil {
		return Evaluation{}, err
	}
	switch want {
	case "", engine.TypeBoolean, engine.TypeString, engine.TypeInteger, engine.TypeFloat, engine.TypeObject:
	default:
		return Evaluation{}, server.Invalid("type", "%q is not one of boolean, string, integer, float, object", want)
	}
	snap, err := s.Snapshot(ctx, env)
	if err != nil {
		return Evaluation{}, err
	}
	r := snap.Evaluate(flagKey, want, evalCtx)
	return Evaluation{Result: r, Environment: env, Version: snap.VersionOf(flagKey), Revision: snap.Revision()}, nil
}

// EvaluateAll evaluates every flag of env that is not archived, in key
// order, and returns the revision evaluated.
func (s *Service) EvaluateAll(ctx context.Context, env string, evalCtx map[string]any) ([]Evaluation, int64, error) {
	if err := required("environment", env); err != nil {
		return nil, 0, err
	}
	snap, err := s.Snapshot(ctx, env)
	if err != nil {
		return nil, 0, err
	}
	rev := snap.Revision()
	results := snap.EvaluateAll(evalCtx)
	out := make([]Evaluation, len(results))
	for i, r := range results {
		out[i] = Evaluation{Result: r, Environment: env, Version: snap.VersionOf(r.FlagKey), Revision: rev}
	}
	return out, rev, nil
}

// EnvironmentState reads an environment, its flags with their configuration
// there and every segment in one consistent read.
func (s *Service) EnvironmentState(ctx context.Context, env string) (server.Environment, []engine.FlagState, []engine.Segment, error) {
	var (
		e      server.Environment
		states []engine.FlagState
		segs   []engine.Segment
	)
	err := s.view(ctx, func(tx server.Tx) error {
		var err error
		if e, err = getEnvironment(tx, env); err != nil {
			return err
		}
		flags, err := tx.ListFlags(server.FlagFilter{IncludeArchived: true})
		if err != nil {
			return err
		}
		configs, err := tx.ListConfigs(env)
		if err != nil {
			return err
		}
		byKey := make(map[string]engine.Config, len(configs))
		for _, c := range configs {
			byKey[c.FlagKey] = c.Config
		}
		states = make([]engine.FlagState, 0, len(flags))
		for _, f := range flags {
			c, ok := byKey[f.Key]
			if !ok {
				return fmt.Errorf("flag %q has no configuration in environment %q", f.Key, env)
			}
			states = append(states, engine.FlagState{Flag: f.Flag, Config: c})
		}
		stored, err := tx.ListSegments()
		if err != nil {
			return err
		}
		segs = make([]engine.Segment, len(stored))
		for i, seg := range stored {
			segs[i] = seg.Segment
		}
		return nil
	})
	return e, states, segs, err
}

// Snapshot returns env's compiled snapshot at its current revision. It is
// compiled once per revision and shared by every request until the next
// committed change of env.
func (s *Service) Snapshot(ctx context.Context, env string) (*engine.Snapshot, error) {
	e := s.snapshots.entry(env)
	if snap := e.state.Load().snap; snap != nil {
		return snap, nil
	}
	e.compile.Lock()
	defer e.compile.Unlock()
	cur := e.state.Load()
	if cur.snap != nil {
		return cur.snap, nil
	}
	environment, states, segs, err := s.EnvironmentState(ctx, env)
	if err != nil {
		return nil, err
	}
	snap, err := engine.Compile(env, environment.Revision, states, segs)
	if err != nil {
		return nil, fmt.Errorf("service: compile %s at revision %d: %w", env, environment.Revision, err)
	}
	// Keep it only if no commit invalidated the environment meanwhile.
	e.state.CompareAndSwap(cur, &cached{gen: cur.gen, snap: snap})
	return snap, nil
}

// Invalidate drops env's cached snapshot so the next evaluation compiles the
// stored state. Changes made through this Service do it themselves; call it
// for changes committed elsewhere (another server replica).
func (s *Service) Invalidate(env string) { s.snapshots.invalidate(env) }

// snapshotCache holds the compiled snapshot of each environment.
type snapshotCache struct {
	entries sync.Map // environment name → *cacheEntry
}

type cacheEntry struct {
	compile sync.Mutex // one compilation at a time per environment
	state   atomic.Pointer[cached]
}

// cached is immutable; every invalidation installs a new one with the next
// generation, so a compilation that read the store before a commit cannot
// install its stale result after that commit's invalidation.
type cached struct {
	gen  uint64
	snap *engine.Snapshot
}

func (c *snapshotCache) entry(env string) *cacheEntry {
	if e, ok := c.entries.Load(env); ok {
		return e.(*cacheEntry)
	}
	e := &cacheEntry{}
	e.state.Store(&cached{})
	actual, _ := c.entries.LoadOrStore(env, e)
	return actual.(*cacheEntry)
}

// apply brings env's cached snapshot up to the committed change ch by
// compiling only the flags it changed, when the cache holds the revision
// just before; otherwise (nothing cached, a gap, segments changed, the
// environment created) it invalidates, and the next evaluation compiles
// the stored state. Either way a compilation racing with it cannot install
// a snapshot older than ch.
func (c *snapshotCache) apply(ch server.Change) {
	e := c.entry(ch.Environment)
	for {
		cur := e.state.Load()
		next := &cached{gen: cur.gen + 1}
		if cur.snap != nil && cur.snap.Revision() == ch.Revision-1 && !ch.Created &&
			len(ch.Segments) == 0 && len(ch.DeletedSegments) == 0 {
			if snap, err := cur.snap.Apply(ch.Revision, ch.Flags, ch.DeletedFlags); err == nil {
				next.snap = snap
			}
		}
		if e.state.CompareAndSwap(cur, next) {
			return
		}
	}
}

func (c *snapshotCache) invalidate(env string) {
	e := c.entry(env)
	for {
		cur := e.state.Load()
		if e.state.CompareAndSwap(cur, &cached{gen: cur.gen + 1}) {
			return
		}
	}
}
