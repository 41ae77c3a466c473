// Package enginepb converts the engine's flag definitions to and from their
// flagpole.v1 protobuf messages. The server encodes sync streams with it and
// the SDK decodes them, so both sides agree on one mapping, and the SDK needs
// nothing from server/ to read the wire.
package enginepb

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/flagpole/flagpole/sdk/engine"
	pb "github.com/flagpole/flagpole/sdk/syncpb"
)

// FlagState converts a flag and its configuration in env.
func FlagState(env string, s engine.FlagState) (*pb.FlagState, error) {
	f, err := Flag(s.Flag)
	if err != nil {
		return nil, err
	}
	return &pb.FlagState{Flag: f, Config: Config(env, s.Flag.Key, s.Config)}, nil
}

// Flag converts a definition. Variant values must be bool, string, int64,
// float64 (or another Go number) or map[string]any.
func Flag(f engine.Flag) (*pb.Flag, error) {
	out := &pb.Flag{
		Key:         f.Key,
		Name:        f.Name,
		Description: f.Description,
		Tags:        f.Tags,
		Owner:       f.Owner,
		Type:        string(f.Type),
		Temporary:   f.Temporary,
		Archived:    f.Archived,
		Variants:    make([]*pb.Variant, len(f.Variants)),
	}
	for i, v := range f.Variants {
		val, err := structpb.NewValue(v.Value)
		if err != nil {
			return nil, fmt.Errorf("enginepb: flag %q: variants[%d].value: %w", f.Key, i, err)
		}
		out.Variants[i] = &pb.Variant{Key: v.Key, Value: val}
	}
	return out, nil
}

// Config converts a configuration of flagKey in env.
func Config(env, flagKey string, c engine.Config) *pb.FlagConfig {
	out := &pb.FlagConfig{
		FlagKey:      flagKey,
		Environment:  env,
		Enabled:      c.Enabled,
		OffVariant:   c.OffVariant,
		DefaultServe: serve(c.Default),
		Guarded:      c.Guarded,
	}
	if len(c.Rules) > 0 {
		out.Rules = make([]*pb.Rule, len(c.Rules))
		for i, r := range c.Rules {
			out.Rules[i] = &pb.Rule{
				Id:          r.ID,
				Description: r.Description,
				Conditions:  conditions(r.Conditions),
				Serve:       serve(r.Serve),
			}
		}
	}
	return out
}

// Segment converts a segment definition.
func Segment(s engine.Segment) *pb.Segment {
	return &pb.Segment{
		Key:         s.Key,
		Name:        s.Name,
		Description: s.Description,
		Match:       string(s.Match),
		Conditions:  conditions(s.Conditions),
		Included:    s.Included,
		Excluded:    s.Excluded,
	}
}

func serve(s engine.Serve) *pb.Serve {
	if s.Split == nil {
		return &pb.Serve{Kind: &pb.Serve_Variant{Variant: s.Variant}}
	}
	sp := &pb.Split{BucketBy: s.Split.BucketBy, Weights: make([]*pb.Weight, len(s.Split.Weights))}
	for i, w := range s.Split.Weights {
		sp.Weights[i] = &pb.Weight{Variant: w.Variant, Weight: int32(min(max(w.Weight, 0), math.MaxInt32))}
	}
	return &pb.Serve{Kind: &pb.Serve_Split{Split: sp}}
}

func conditions(cs []engine.Condition) []*pb.Condition {
	if len(cs) == 0 {
		return nil
	}
	out := make([]*pb.Condition, len(cs))
	for i, c := range cs {
		out[i] = &pb.Condition{Attribute: c.Attribute, Operator: string(c.Operator), Values: c.Values}
	}
	return out
}

// ToFlagState converts a streamed flag state back.
func ToFlagState(s *pb.FlagState) (engine.FlagState, error) {
	f, err := ToFlag(s.GetFlag())
	if err != nil {
		return engine.FlagState{}, err
	}
	return engine.FlagState{Flag: f, Config: ToConfig(s.GetConfig())}, nil
}

// ToFlag converts a definition back. Values take the Go type of the flag's
// type: whole numbers of an integer flag become int64, objects map[string]any.
func ToFlag(f *pb.Flag) (engine.Flag, error) {
	out := engine.Flag{
		Key:         f.GetKey(),
		Name:        f.GetName(),
		Description: f.GetDescription(),
		Tags:        f.GetTags(),
		Owner:       f.GetOwner(),
		Type:        engine.FlagType(f.GetType()),
		Temporary:   f.GetTemporary(),
		Archived:    f.GetArchived(),
		Variants:    make([]engine.Variant, len(f.GetVariants())),
	}
	for i, v := range f.GetVariants() {
		val, err := value(out.Type, v.GetValue())
		if err != nil {
			return engine.Flag{}, fmt.Errorf("enginepb: flag %q: variants[%d].value: %w", out.Key, i, err)
		}
		out.Variants[i] = engine.Variant{Key: v.GetKey(), Value: val}
	}
	return out, nil
}

func value(t engine.FlagType, v *structpb.Value) (any, error) {
	val := v.AsInterface()
	if t != engine.TypeInteger {
		return val, nil
	}
	n, ok := val.(float64)
	if !ok || n != math.Trunc(n) || math.Abs(n) > 1<<53 {
		return nil, fmt.Errorf("not an integer: %v", val)
	}
	return int64(n), nil
}

// ToConfig converts a configuration back.
func ToConfig(c *pb.FlagConfig) engine.Config {
	out := engine.Config{
		Enabled:    c.GetEnabled(),
		OffVariant: c.GetOffVariant(),
		Default:    toServe(c.GetDefaultServe()),
		Guarded:    c.GetGuarded(),
	}
	if len(c.GetRules()) > 0 {
		out.Rules = make([]engine.Rule, len(c.GetRules()))
		for i, r := range c.GetRules() {
			out.Rules[i] = engine.Rule{
				ID:          r.GetId(),
				Description: r.GetDescription(),
				Conditions:  toConditions(r.GetConditions()),
				Serve:       toServe(r.GetServe()),
			}
		}
	}
	return out
}

// ToSegment converts a segment back.
func ToSegment(s *pb.Segment) engine.Segment {
	return engine.Segment{
		Key:         s.GetKey(),
		Name:        s.GetName(),
		Description: s.GetDescription(),
		Match:       engine.Match(s.GetMatch()),
		Conditions:  toConditions(s.GetConditions()),
		Included:    s.GetIncluded(),
		Excluded:    s.GetExcluded(),
	}
}

func toServe(s *pb.Serve) engine.Serve {
	sp := s.GetSplit()
	if sp == nil {
		return engine.Serve{Variant: s.GetVariant()}
	}
	out := &engine.Split{BucketBy: sp.GetBucketBy(), Weights: make([]engine.Weight, len(sp.GetWeights()))}
	for i, w := range sp.GetWeights() {
		out.Weights[i] = engine.Weight{Variant: w.GetVariant(), Weight: int(w.GetWeight())}
	}
	return engine.Serve{Split: out}
}

func toConditions(cs []*pb.Condition) []engine.Condition {
	if len(cs) == 0 {
		return nil
	}
	out := make([]engine.Condition, len(cs))
	for i, c := range cs {
		out[i] = engine.Condition{Attribute: c.GetAttribute(), Operator: engine.Operator(c.GetOperator()), Values: c.GetValues()}
	}
	return out
}
