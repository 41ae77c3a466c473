package grpcapi

import (
	"encoding/json"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/sdk/enginepb"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/service"
)

// This file holds every conversion between the flagpole.v1 messages and the
// domain types. Engine definitions go through sdk/enginepb, the mapping the
// sync stream and the SDK share; this file adds what only the admin API has
// (revisions, times, audit, evaluation results). Values travel as
// google.protobuf.Value; integers come back from the engine as int64 and go
// out as numbers.

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
		Name: e.Name, Description: e.Description, Protected: e.Protected, RequireComment: e.RequireComment,
		Revision: e.Revision, CreateTime: timestamp(e.CreatedAt),
	}
}

func environmentFromProto(e *pb.Environment) server.Environment {
	return server.Environment{Name: e.GetName(), Description: e.GetDescription(), Protected: e.GetProtected(), RequireComment: e.GetRequireComment()}
}

// FlagToProto converts a stored flag definition.
func FlagToProto(f server.Flag) (*pb.Flag, error) {
	p, err := enginepb.Flag(f.Flag)
	if err != nil {
		return nil, err
	}
	p.Revision, p.CreateTime, p.UpdateTime = f.Revision, timestamp(f.CreatedAt), timestamp(f.UpdatedAt)
	return p, nil
}

// FlagFromProto converts a flag definition; revision and times are not part
// of it. Values stay as google.protobuf.Value gives them (numbers float64):
// the engine's validation normalises them and names the field of any that
// does not fit the flag's type.
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
	p := enginepb.Config(c.Environment, c.FlagKey, c.Config)
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

// ConfigFromProto converts a flag configuration's definition.
func ConfigFromProto(p *pb.FlagConfig) engine.Config { return enginepb.ToConfig(p) }

// SegmentToProto converts a stored segment.
func SegmentToProto(s server.Segment) *pb.Segment {
	p := enginepb.Segment(s.Segment)
	p.Revision, p.CreateTime, p.UpdateTime = s.Revision, timestamp(s.CreatedAt), timestamp(s.UpdatedAt)
	return p
}

// SegmentFromProto converts a segment definition.
func SegmentFromProto(p *pb.Segment) engine.Segment { return enginepb.ToSegment(p) }

func auditEntryToProto(e server.AuditEntry) *pb.AuditEntry {
	return &pb.AuditEntry{
		Id: e.ID, Time: timestamp(e.Time), Actor: e.Actor.Name, ActorKind: e.Actor.Kind, Source: e.Actor.Source,
		Action: e.Action, Resource: e.Resource, Key: e.Key, Environment: e.Environment,
		Before: jsonToProto(e.Before), After: jsonToProto(e.After), Comment: e.Comment,
	}
}

// evaluationContext flattens a request's context and targeting key the way
// the engine reads them.
// evaluationContext merges the request's targeting key into its context
// and applies the context rule of every transport (engine.CheckContext).
func evaluationContext(targetingKey string, ctx *structpb.Struct) (map[string]any, error) {
	m := ctx.AsMap()
	if targetingKey != "" {
		m[engine.TargetingKey] = targetingKey
	}
	if err := engine.CheckContext(m); err != nil {
		return nil, server.Invalid("context.targetingKey", "%v", err)
	}
	return m, nil
}

// EvaluationToProto converts a result with its metadata (flagSetId,
// version, environmentRevision).
func EvaluationToProto(e service.Evaluation) *pb.Evaluation {
	p := &pb.Evaluation{
		FlagKey: e.FlagKey, Variant: e.Variant, Reason: string(e.Reason),
		ErrorCode: string(e.ErrorCode), ErrorMessage: e.ErrorMessage,
		Metadata: &structpb.Struct{Fields: map[string]*structpb.Value{
			"flagSetId":           structpb.NewStringValue(e.Environment),
			"version":             structpb.NewStringValue(e.Version),
			"environmentRevision": structpb.NewNumberValue(float64(e.Revision)),
		}},
	}
	if e.Value != nil {
		p.Value = valueToProto(e.Value)
	}
	return p
}
