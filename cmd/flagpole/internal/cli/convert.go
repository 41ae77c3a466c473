package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/flagpole/flagpole/sdk/syncpb"
)

// normalizeValue converts a variant value decoded from YAML, JSON or a
// protobuf Value to the canonical Go value of the flag type, so a file and
// the server compare equal when they mean the same thing.
func normalizeValue(typ string, v any) (any, error) {
	switch typ {
	case "boolean":
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case "string":
		if s, ok := v.(string); ok {
			return s, nil
		}
	case "integer":
		switch n := v.(type) {
		case int:
			return int64(n), nil
		case int64:
			return n, nil
		case uint64:
			if n <= math.MaxInt64 {
				return int64(n), nil
			}
		case float64:
			if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
				return int64(n), nil
			}
		}
	case "float":
		switch n := v.(type) {
		case int:
			return float64(n), nil
		case int64:
			return float64(n), nil
		case uint64:
			return float64(n), nil
		case float64:
			return n, nil
		}
	case "object":
		if m, ok := v.(map[string]any); ok {
			b, err := json.Marshal(m)
			if err != nil {
				return nil, err
			}
			var out map[string]any
			return out, json.Unmarshal(b, &out)
		}
	default:
		return nil, fmt.Errorf("unknown flag type %q (want boolean, string, integer, float or object)", typ)
	}
	return nil, fmt.Errorf("want a %s value, got %s", typ, compact(v))
}

// parseVariantValue parses the value of --variant name=value by flag type;
// its errors say in plain words what the value is not.
func parseVariantValue(typ, s string) (any, error) {
	switch typ {
	case "boolean":
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a boolean (true or false)", s)
		}
		return b, nil
	case "string":
		return s, nil
	case "integer":
		n, err := strconv.ParseInt(s, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("%q is out of range for an integer (a 64-bit whole number)", s)
		} else if err != nil {
			return nil, fmt.Errorf("%q is not an integer (a whole number such as 10 or -3)", s)
		}
		return n, nil
	case "float":
		f, err := strconv.ParseFloat(s, 64)
		if errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("%q is out of range for a float", s)
		} else if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%q is not a number (such as 0.5 or 10)", s)
		}
		return f, nil
	case "object":
		return parseJSONObject(s)
	}
	return nil, fmt.Errorf("unknown flag type %q (want boolean, string, integer, float or object)", typ)
}

// parseJSONObject parses s as a JSON object, with an error that says what
// is wrong and where.
func parseJSONObject(s string) (map[string]any, error) {
	var m map[string]any
	err := json.Unmarshal([]byte(s), &m)
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return nil, fmt.Errorf("%q is not valid JSON: %v (at byte %d)", s, syntax, syntax.Offset)
	case errors.As(err, &typeErr):
		return nil, fmt.Errorf("%q is not a JSON object: it is a JSON %s", s, typeErr.Value)
	case err != nil:
		return nil, fmt.Errorf("%q is not a JSON object: %v", s, err)
	case m == nil:
		return nil, fmt.Errorf("%q is not a JSON object: it is null", s)
	}
	return m, nil
}

// defaultVariants are what the server gives a boolean flag without variants.
func defaultVariants(typ string) Variants {
	if typ == "boolean" {
		return Variants{{Key: "on", Value: true}, {Key: "off", Value: false}}
	}
	return nil
}

func flagFromProto(f *syncpb.Flag) FlagSpec {
	s := FlagSpec{
		Key: f.GetKey(), Name: f.GetName(), Description: f.GetDescription(), Type: f.GetType(),
		Owner: f.GetOwner(), Tags: slices.Clone(f.GetTags()), Temporary: f.GetTemporary(),
		Archived: f.GetArchived(),
	}
	for _, v := range f.GetVariants() {
		val := v.GetValue().AsInterface()
		if n, err := normalizeValue(s.Type, val); err == nil {
			val = n
		}
		s.Variants = append(s.Variants, VariantSpec{Key: v.GetKey(), Value: val})
	}
	return s
}

func flagToProto(s FlagSpec, revision int64) (*syncpb.Flag, error) {
	f := &syncpb.Flag{
		Key: s.Key, Name: s.Name, Description: s.Description, Type: s.Type, Owner: s.Owner,
		Tags: s.Tags, Temporary: s.Temporary, Archived: s.Archived, Revision: revision,
	}
	for _, v := range s.Variants {
		pv, err := structpb.NewValue(v.Value)
		if err != nil {
			return nil, fmt.Errorf("variants.%s: %w", v.Key, err)
		}
		f.Variants = append(f.Variants, &syncpb.Variant{Key: v.Key, Value: pv})
	}
	return f, nil
}

func serveFromProto(s *syncpb.Serve) *ServeSpec {
	if s == nil {
		return nil
	}
	if sp := s.GetSplit(); sp != nil {
		out := &ServeSpec{BucketBy: sp.GetBucketBy(), Split: Weights{}}
		for _, w := range sp.GetWeights() {
			out.Split = append(out.Split, WeightSpec{Variant: w.GetVariant(), Weight: int(w.GetWeight())})
		}
		return out
	}
	if s.GetVariant() == "" {
		return nil
	}
	return &ServeSpec{Variant: s.GetVariant()}
}

func serveToProto(s *ServeSpec) *syncpb.Serve {
	if s == nil {
		return nil
	}
	if len(s.Split) == 0 {
		return &syncpb.Serve{Kind: &syncpb.Serve_Variant{Variant: s.Variant}}
	}
	sp := &syncpb.Split{BucketBy: s.BucketBy}
	for _, w := range s.Split {
		sp.Weights = append(sp.Weights, &syncpb.Weight{Variant: w.Variant, Weight: int32(w.Weight)})
	}
	return &syncpb.Serve{Kind: &syncpb.Serve_Split{Split: sp}}
}

func conditionsFromProto(cs []*syncpb.Condition) []ConditionSpec {
	var out []ConditionSpec
	for _, c := range cs {
		out = append(out, ConditionSpec{Attribute: c.GetAttribute(), Operator: c.GetOperator(),
			Values: slices.Clone(c.GetValues())})
	}
	return out
}

func conditionsToProto(cs []ConditionSpec) []*syncpb.Condition {
	var out []*syncpb.Condition
	for _, c := range cs {
		out = append(out, &syncpb.Condition{Attribute: c.Attribute, Operator: c.Operator, Values: c.Values})
	}
	return out
}

func configFromProto(c *syncpb.FlagConfig) *ConfigSpec {
	s := &ConfigSpec{Enabled: c.GetEnabled(), OffVariant: c.GetOffVariant(), Default: serveFromProto(c.GetDefaultServe())}
	if c.GetGuarded() {
		s.Guarded = new(true)
	}
	for _, r := range c.GetRules() {
		rs := RuleSpec{ID: r.GetId(), Description: r.GetDescription(),
			Conditions: conditionsFromProto(r.GetConditions())}
		if sv := serveFromProto(r.GetServe()); sv != nil {
			rs.Serve = *sv
		}
		s.Rules = append(s.Rules, rs)
	}
	return s
}

func configToProto(flagKey, env string, s *ConfigSpec, revision int64) *syncpb.FlagConfig {
	c := &syncpb.FlagConfig{FlagKey: flagKey, Environment: env, Enabled: s.Enabled,
		OffVariant: s.OffVariant, DefaultServe: serveToProto(s.Default), Revision: revision, Guarded: s.Guarded != nil && *s.Guarded}
	for _, r := range s.Rules {
		serve := r.Serve
		c.Rules = append(c.Rules, &syncpb.Rule{Id: r.ID, Description: r.Description,
			Conditions: conditionsToProto(r.Conditions), Serve: serveToProto(&serve)})
	}
	return c
}

func segmentFromProto(s *syncpb.Segment) SegmentSpec {
	return SegmentSpec{Key: s.GetKey(), Name: s.GetName(), Description: s.GetDescription(),
		Match: s.GetMatch(), Conditions: conditionsFromProto(s.GetConditions()),
		Included: slices.Clone(s.GetIncluded()), Excluded: slices.Clone(s.GetExcluded())}
}

func segmentToProto(s SegmentSpec, revision int64) *syncpb.Segment {
	return &syncpb.Segment{Key: s.Key, Name: s.Name, Description: s.Description, Match: s.Match,
		Conditions: conditionsToProto(s.Conditions), Included: s.Included, Excluded: s.Excluded,
		Revision: revision}
}
