package grpcapi

import (
	"encoding/json"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/service"
)

// This file holds every conversion between the flagpole.v1 messages and the
// domain types. Values travel as google.protobuf.Value; integers come back
// from the engine as int64 and go out as numbers.

func timestamp(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

// valueToProto converts a variant or result value; a value of a type
// google.protobuf.Value cannot hold becomes null.
func valueToProto(v any) *structpb.Value {
	pv, err := structpb.NewValue(v)
	if err != nil {
		return structpb.NewNullValue()
	}
	return pv
}

func valueFromProto(v *structpb.Value) any {
	if v == nil {
		return nil
	}
	return v.AsInterface()
}

// jsonToProto converts a stored JSON document (an audit before/after).
func jsonToProto(raw json.RawMessage) *structpb.Value {
	if len(raw) == 0 {
		return structpb.NewNullValue()
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return structpb.NewNullValue()
	}
	return valueToProto(v)
}

// EnvironmentToProto converts an environment.
func EnvironmentToProto(e server.Environment) *pb.Environment {
	return &pb.Environment{
		Name: e.Name, Description: e.Description, Protected: e.Protected,
		Revision: e.Revision, CreateTime: timestamp(e.CreatedAt),
	}
}

func environmentFromProto(e *pb.Environment) server.Environment {
	return server.Environment{Name: e.GetName(), Description: e.GetDescription(), Protected: e.GetProtected()}
}

// FlagToProto converts a stored flag definition.
func FlagToProto(f server.Flag) *pb.Flag {
	p := definitionToProto(f.Flag)
	p.Revision, p.CreateTime, p.UpdateTime = f.Revision, timestamp(f.CreatedAt), timestamp(f.UpdatedAt)
	return p
}

func definitionToProto(f engine.Flag) *pb.Flag {
	variants := make([]*pb.Variant, len(f.Variants))
	for i, v := range f.Variants {
		variants[i] = &pb.Variant{Key: v.Key, Value: valueToProto(v.Value)}
	}
	return &pb.Flag{
		Key: f.Key, Name: f.Name, Description: f.Description, Tags: f.Tags, Owner: f.Owner,
		Type: string(f.Type), Variants: variants, Temporary: f.Temporary, Archived: f.Archived,
	}
}

// FlagFromProto converts a flag definition; revision and times are not part
// of it.
func FlagFromProto(p *pb.Flag) engine.Flag {
	var variants []engine.Variant
	for _, v := range p.GetVariants() {
		variants = append(variants, engine.Variant{Key: v.GetKey(), Value: valueFromProto(v.GetValue())})
	}
	return engine.Flag{
		Key: p.GetKey(), Name: p.GetName(), Description: p.GetDescription(), Tags: p.GetTags(),
		Owner: p.GetOwner(), Type: engine.FlagType(p.GetType()), Variants: variants,
		Temporary: p.GetTemporary(), Archived: p.GetArchived(),
	}
}

// ConfigToProto converts a stored flag configuration.
func ConfigToProto(c server.FlagConfig) *pb.FlagConfig {
	p := configToProto(c.FlagKey, c.Environment, c.Config)
	p.Revision, p.UpdateTime = c.Revision, timestamp(c.UpdatedAt)
	return p
}

func configsToProto(cs []server.FlagConfig) []*pb.FlagConfig {
	out := make([]*pb.FlagConfig, len(cs))
	for i, c := range cs {
		out[i] = ConfigToProto(c)
	}
	return out
}

func configToProto(flagKey, env string, c engine.Config) *pb.FlagConfig {
	rules := make([]*pb.Rule, len(c.Rules))
	for i, r := range c.Rules {
		rules[i] = &pb.Rule{Id: r.ID, Description: r.Description, Conditions: conditionsToProto(r.Conditions), Serve: serveToProto(r.Serve)}
	}
	return &pb.FlagConfig{
		FlagKey: flagKey, Environment: env, Enabled: c.Enabled, OffVariant: c.OffVariant,
		Rules: rules, DefaultServe: serveToProto(c.Default),
	}
}

// ConfigFromProto converts a flag configuration's definition.
func ConfigFromProto(p *pb.FlagConfig) engine.Config {
	var rules []engine.Rule
	for _, r := range p.GetRules() {
		rules = append(rules, engine.Rule{
			ID: r.GetId(), Description: r.GetDescription(),
			Conditions: conditionsFromProto(r.GetConditions()), Serve: serveFromProto(r.GetServe()),
		})
	}
	return engine.Config{
		Enabled: p.GetEnabled(), OffVariant: p.GetOffVariant(), Rules: rules, Default: serveFromProto(p.GetDefaultServe()),
	}
}

func serveToProto(s engine.Serve) *pb.Serve {
	if s.Split == nil {
		return &pb.Serve{Kind: &pb.Serve_Variant{Variant: s.Variant}}
	}
	weights := make([]*pb.Weight, len(s.Split.Weights))
	for i, w := range s.Split.Weights {
		weights[i] = &pb.Weight{Variant: w.Variant, Weight: int32(w.Weight)}
	}
	return &pb.Serve{Kind: &pb.Serve_Split{Split: &pb.Split{BucketBy: s.Split.BucketBy, Weights: weights}}}
}

func serveFromProto(p *pb.Serve) engine.Serve {
	split := p.GetSplit()
	if split == nil {
		return engine.Serve{Variant: p.GetVariant()}
	}
	weights := make([]engine.Weight, len(split.GetWeights()))
	for i, w := range split.GetWeights() {
		weights[i] = engine.Weight{Variant: w.GetVariant(), Weight: int(w.GetWeight())}
	}
	return engine.Serve{Split: &engine.Split{BucketBy: split.GetBucketBy(), Weights: weights}}
}

func conditionsToProto(cs []engine.Condition) []*pb.Condition {
	out := make([]*pb.Condition, len(cs))
	for i, c := range cs {
		out[i] = &pb.Condition{Attribute: c.Attribute, Operator: string(c.Operator), Values: c.Values}
	}
	return out
}

func conditionsFromProto(ps []*pb.Condition) []engine.Condition {
	var out []engine.Condition
	for _, c := range ps {
		out = append(out, engine.Condition{Attribute: c.GetAttribute(), Operator: engine.Operator(c.GetOperator()), Values: c.GetValues()})
	}
	return out
}

// SegmentToProto converts a stored segment.
func SegmentToProto(s server.Segment) *pb.Segment {
	p := SegmentDefinitionToProto(s.Segment)
	p.Revision, p.CreateTime, p.UpdateTime = s.Revision, timestamp(s.CreatedAt), timestamp(s.UpdatedAt)
	return p
}

// SegmentDefinitionToProto converts a segment definition.
func SegmentDefinitionToProto(s engine.Segment) *pb.Segment {
	return &pb.Segment{
		Key: s.Key, Name: s.Name, Description: s.Description, Match: string(s.Match),
		Conditions: conditionsToProto(s.Conditions), Included: s.Included, Excluded: s.Excluded,
	}
}

// SegmentFromProto converts a segment definition.
func SegmentFromProto(p *pb.Segment) engine.Segment {
	return engine.Segment{
		Key: p.GetKey(), Name: p.GetName(), Description: p.GetDescription(), Match: engine.Match(p.GetMatch()),
		Conditions: conditionsFromProto(p.GetConditions()), Included: p.GetIncluded(), Excluded: p.GetExcluded(),
	}
}

// FlagStateToProto converts a flag with its configuration in env.
func FlagStateToProto(env string, s engine.FlagState) *pb.FlagState {
	return &pb.FlagState{Flag: definitionToProto(s.Flag), Config: configToProto(s.Flag.Key, env, s.Config)}
}

// SnapshotToProto converts an environment's whole state (as
// service.EnvironmentState returns it).
func SnapshotToProto(env server.Environment, flags []engine.FlagState, segments []engine.Segment) *pb.Snapshot {
	p := &pb.Snapshot{Environment: env.Name, Revision: env.Revision}
	for _, f := range flags {
		p.Flags = append(p.Flags, FlagStateToProto(env.Name, f))
	}
	for _, s := range segments {
		p.Segments = append(p.Segments, SegmentDefinitionToProto(s))
	}
	return p
}

// ChangeToProto converts a committed change.
func ChangeToProto(c server.Change) *pb.Change {
	p := &pb.Change{
		Environment: c.Environment, Revision: c.Revision, CommitTime: timestamp(c.Time),
		DeletedFlags: c.DeletedFlags, DeletedSegments: c.DeletedSegments,
	}
	for _, f := range c.Flags {
		p.Flags = append(p.Flags, FlagStateToProto(c.Environment, f))
	}
	for _, s := range c.Segments {
		p.Segments = append(p.Segments, SegmentDefinitionToProto(s))
	}
	return p
}

func auditEntryToProto(e server.AuditEntry) *pb.AuditEntry {
	return &pb.AuditEntry{
		Id: e.ID, Time: timestamp(e.Time), Actor: e.Actor.Name, ActorKind: e.Actor.Kind, Source: e.Actor.Source,
		Action: e.Action, Resource: e.Resource, Key: e.Key, Environment: e.Environment,
		Before: jsonToProto(e.Before), After: jsonToProto(e.After),
	}
}

// evaluationContext flattens a request's context and targeting key the way
// the engine reads them.
func evaluationContext(targetingKey string, ctx *structpb.Struct) map[string]any {
	m := ctx.AsMap()
	if targetingKey != "" {
		m[engine.TargetingKey] = targetingKey
	}
	return m
}

// EvaluationToProto converts a result with its metadata (flagSetId, version).
func EvaluationToProto(e service.Evaluation) *pb.Evaluation {
	p := &pb.Evaluation{
		FlagKey: e.FlagKey, Variant: e.Variant, Reason: string(e.Reason),
		ErrorCode: string(e.ErrorCode), ErrorMessage: e.ErrorMessage,
		Metadata: &structpb.Struct{Fields: map[string]*structpb.Value{
			"flagSetId": structpb.NewStringValue(e.Environment),
			"version":   structpb.NewNumberValue(float64(e.Revision)),
		}},
	}
	if e.Value != nil {
		p.Value = valueToProto(e.Value)
	}
	return p
}
