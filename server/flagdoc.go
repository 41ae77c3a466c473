package server

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/flagpole/flagpole/sdk/engine"
)

// DecodeJSON decodes a stored JSON document into v with numbers kept exact
// as json.Number; TypeNumbers then gives a flag's numbers their Go types.
// Every store decodes its stored definitions through it.
func DecodeJSON(doc []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	return d.Decode(v)
}

// DecodeFlag reads a stored flag definition: numbers decoded exactly and
// given the Go type of the flag (int64 for integer flags, float64
// otherwise).
func DecodeFlag(doc []byte) (engine.Flag, error) {
	var f engine.Flag
	if err := DecodeJSON(doc, &f); err != nil {
		return f, err
	}
	TypeNumbers(&f)
	return f, nil
}

// TypeNumbers gives the json.Numbers among f's variant values the Go type of
// the flag: int64 for integer flags, float64 otherwise.
func TypeNumbers(f *engine.Flag) {
	for i := range f.Variants {
		f.Variants[i].Value = numbersFor(f.Type, f.Variants[i].Value)
	}
}

func numbersFor(t engine.FlagType, v any) any {
	switch v := v.(type) {
	case json.Number:
		if t == engine.TypeInteger {
			if n, err := v.Int64(); err == nil {
				return n
			}
		}
		n, _ := v.Float64()
		return n
	case map[string]any:
		for k, e := range v {
			v[k] = numbersFor(engine.TypeObject, e)
		}
	case []any:
		for i, e := range v {
			v[i] = numbersFor(engine.TypeObject, e)
		}
	}
	return v
}

// MatchesQuery reports whether the flag's key, name or description contains
// the filter's Query, case-insensitively (beyond ASCII); an empty Query
// matches every flag.
func (f FlagFilter) MatchesQuery(fl engine.Flag) bool {
	if f.Query == "" {
		return true
	}
	q := strings.ToLower(f.Query)
	return strings.Contains(strings.ToLower(fl.Key), q) ||
		strings.Contains(strings.ToLower(fl.Name), q) ||
		strings.Contains(strings.ToLower(fl.Description), q)
}
