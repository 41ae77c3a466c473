package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// File is the declarative document that apply reads and export writes:
// flag definitions with their configuration per environment, and segments.
type File struct {
	Flags    []FlagSpec    `json:"flags,omitempty" yaml:"flags,omitempty"`
	Segments []SegmentSpec `json:"segments,omitempty" yaml:"segments,omitempty"`
}

// FlagSpec is a flag definition and its configuration in the environments
// it names. Environments the file does not name are left as they are.
type FlagSpec struct {
	Key          string                 `json:"key" yaml:"key"`
	Name         string                 `json:"name,omitempty" yaml:"name,omitempty"`
	Description  string                 `json:"description,omitempty" yaml:"description,omitempty"`
	Type         string                 `json:"type" yaml:"type"`
	Owner        string                 `json:"owner,omitempty" yaml:"owner,omitempty"`
	Tags         []string               `json:"tags,omitempty" yaml:"tags,omitempty,flow"`
	Temporary    bool                   `json:"temporary,omitempty" yaml:"temporary,omitempty"`
	Archived     bool                   `json:"archived,omitempty" yaml:"archived,omitempty"`
	Variants     Variants               `json:"variants,omitempty" yaml:"variants,omitempty"`
	Environments map[string]*ConfigSpec `json:"environments,omitempty" yaml:"environments,omitempty"`
}

// ConfigSpec is a flag's configuration in one environment. OffVariant and
// Default, when omitted, keep the value the server has.
type ConfigSpec struct {
	Enabled    bool       `json:"enabled" yaml:"enabled"`
	OffVariant string     `json:"offVariant,omitempty" yaml:"offVariant,omitempty"`
	Rules      []RuleSpec `json:"rules,omitempty" yaml:"rules,omitempty"`
	Default    *ServeSpec `json:"default,omitempty" yaml:"default,omitempty"`
	// Guarded makes SDKs report the flag's signals (engine.Config.Guarded).
	// Omitted, apply keeps the server's value: a running release plan sets
	// it, and a file written before the plan must not turn it off.
	Guarded *bool `json:"guarded,omitempty" yaml:"guarded,omitempty"`
}

// RuleSpec serves when all its conditions hold.
type RuleSpec struct {
	ID          string          `json:"id,omitempty" yaml:"id,omitempty"`
	Description string          `json:"description,omitempty" yaml:"description,omitempty"`
	Conditions  []ConditionSpec `json:"conditions,omitempty" yaml:"conditions,omitempty"`
	Serve       ServeSpec       `json:"serve" yaml:"serve"`
}

// ConditionSpec tests one context attribute.
type ConditionSpec struct {
	Attribute string   `json:"attribute,omitempty" yaml:"attribute,omitempty"`
	Operator  string   `json:"operator" yaml:"operator"`
	Values    []string `json:"values,omitempty" yaml:"values,omitempty,flow"`
}

// SegmentSpec is a reusable set of contexts.
type SegmentSpec struct {
	Key         string          `json:"key" yaml:"key"`
	Name        string          `json:"name,omitempty" yaml:"name,omitempty"`
	Description string          `json:"description,omitempty" yaml:"description,omitempty"`
	Match       string          `json:"match,omitempty" yaml:"match,omitempty"`
	Conditions  []ConditionSpec `json:"conditions,omitempty" yaml:"conditions,omitempty"`
	Included    []string        `json:"included,omitempty" yaml:"included,omitempty,flow"`
	Excluded    []string        `json:"excluded,omitempty" yaml:"excluded,omitempty,flow"`
}

// ServeSpec is a single variant, written as a plain string ("on"), or a
// split, written as {split: {on: 10, off: 90}, bucketBy: attr}.
type ServeSpec struct {
	Variant  string
	Split    Weights
	BucketBy string
}

type serveObject struct {
	Variant  string  `json:"variant,omitempty" yaml:"variant,omitempty"`
	Split    Weights `json:"split,omitempty" yaml:"split,omitempty"`
	BucketBy string  `json:"bucketBy,omitempty" yaml:"bucketBy,omitempty"`
}

func (s ServeSpec) object() serveObject { return serveObject(s) }

func (s *ServeSpec) set(o serveObject) error {
	if (o.Variant == "") == (len(o.Split) == 0) {
		return errors.New("serve needs exactly one of a variant or a split")
	}
	if o.BucketBy != "" && len(o.Split) == 0 {
		return errors.New("bucketBy needs a split")
	}
	*s = ServeSpec(o)
	return nil
}

// MarshalYAML writes a variant as a plain string.
func (s ServeSpec) MarshalYAML() (any, error) {
	if len(s.Split) == 0 {
		return s.Variant, nil
	}
	return s.object(), nil
}

// UnmarshalYAML reads a plain string or a {variant|split, bucketBy} mapping.
func (s *ServeSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return s.set(serveObject{Variant: n.Value})
	}
	var o serveObject
	if err := decodeStrict(n, &o); err != nil {
		return err
	}
	return s.set(o)
}

// MarshalJSON writes a variant as a plain string.
func (s ServeSpec) MarshalJSON() ([]byte, error) {
	if len(s.Split) == 0 {
		return json.Marshal(s.Variant)
	}
	return json.Marshal(s.object())
}

// UnmarshalJSON reads a plain string or a {variant|split, bucketBy} object.
func (s *ServeSpec) UnmarshalJSON(b []byte) error {
	var v string
	if json.Unmarshal(b, &v) == nil {
		return s.set(serveObject{Variant: v})
	}
	var o serveObject
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return err
	}
	return s.set(o)
}

// WeightSpec is one variant's integer share of a split.
type WeightSpec struct {
	Variant string
	Weight  int
}

// Weights is an ordered split, written as a mapping {variant: weight, ...}.
type Weights []WeightSpec

// MarshalYAML writes the split as a one-line mapping in order.
func (ws Weights) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	for _, w := range ws {
		n.Content = append(n.Content, strNode(w.Variant),
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(w.Weight)})
	}
	return n, nil
}

// UnmarshalYAML reads a mapping of variant to weight, keeping its order.
func (ws *Weights) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: split must be a mapping of variant to weight, like {on: 10, off: 90}", n.Line)
	}
	out := Weights{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		var w int
		if err := n.Content[i+1].Decode(&w); err != nil {
			return fmt.Errorf("line %d: split weight of %q must be an integer", n.Content[i+1].Line, n.Content[i].Value)
		}
		out = append(out, WeightSpec{Variant: n.Content[i].Value, Weight: w})
	}
	*ws = out
	return nil
}

// MarshalJSON writes the split as an object in order.
func (ws Weights) MarshalJSON() ([]byte, error) {
	pairs := make([]pair, len(ws))
	for i, w := range ws {
		pairs[i] = pair{w.Variant, w.Weight}
	}
	return marshalPairs(pairs)
}

// UnmarshalJSON reads an object of variant to weight, keeping its order.
func (ws *Weights) UnmarshalJSON(b []byte) error {
	pairs, err := unmarshalPairs(b)
	if err != nil {
		return fmt.Errorf("split: %w", err)
	}
	out := Weights{}
	for _, p := range pairs {
		f, ok := p.value.(float64)
		if !ok || f != math.Trunc(f) {
			return fmt.Errorf("split weight of %q must be an integer", p.key)
		}
		out = append(out, WeightSpec{Variant: p.key, Weight: int(f)})
	}
	*ws = out
	return nil
}

// VariantSpec is one named value of a flag.
type VariantSpec struct {
	Key   string
	Value any
}

// Variants are ordered, written as a mapping {name: value, ...}.
type Variants []VariantSpec

// MarshalYAML writes the variants as a mapping in order.
func (vs Variants) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, v := range vs {
		var val yaml.Node
		if err := val.Encode(v.Value); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, strNode(v.Key), &val)
	}
	return n, nil
}

// UnmarshalYAML reads a mapping of name to value, keeping its order.
func (vs *Variants) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: variants must be a mapping of name to value, like {on: true, off: false}", n.Line)
	}
	out := Variants{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		var v any
		if err := n.Content[i+1].Decode(&v); err != nil {
			return err
		}
		out = append(out, VariantSpec{Key: n.Content[i].Value, Value: v})
	}
	*vs = out
	return nil
}

// MarshalJSON writes the variants as an object in order.
func (vs Variants) MarshalJSON() ([]byte, error) {
	pairs := make([]pair, len(vs))
	for i, v := range vs {
		pairs[i] = pair{v.Key, v.Value}
	}
	return marshalPairs(pairs)
}

// UnmarshalJSON reads an object of name to value, keeping its order.
func (vs *Variants) UnmarshalJSON(b []byte) error {
	pairs, err := unmarshalPairs(b)
	if err != nil {
		return fmt.Errorf("variants: %w", err)
	}
	out := Variants{}
	for _, p := range pairs {
		out = append(out, VariantSpec{Key: p.key, Value: p.value})
	}
	*vs = out
	return nil
}

func strNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func decodeStrict(n *yaml.Node, v any) error {
	// yaml.Node.Decode has no strict mode; re-encode and decode strictly.
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

type pair struct {
	key   string
	value any
}

func marshalPairs(ps []pair) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, p := range ps {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(p.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(p.value)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func unmarshalPairs(b []byte) ([]pair, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("must be an object")
	}
	var out []pair
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, pair{key: tok.(string), value: v})
	}
	return out, nil
}

// parseFile reads a declarative document; YAML (and so JSON) is accepted.
// Unknown fields are errors, so typos do not pass silently.
func parseFile(b []byte) (*File, error) {
	var f File
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if err := checkNode(&doc, reflect.TypeFor[File](), ""); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) || strings.TrimSpace(string(b)) == "" {
			return &f, nil
		}
		return nil, err
	}
	return &f, nil
}
