package engine

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fuzzEnv is the JSON shape both fuzz targets decode definitions from.
type fuzzEnv struct {
	Flags    []FlagState `json:"flags"`
	Segments []Segment   `json:"segments"`
}

// addGoldenSeeds seeds a fuzz target with each flag of the golden files
// (with the segments of its file) and a context of its first case, so the
// corpus starts small and covers every feature.
func addGoldenSeeds(f *testing.F, add func(env []byte, ctx []byte)) {
	for _, path := range goldenFiles(f) {
		g := loadGolden(f, path)
		for _, fs := range g.Flags {
			env, err := json.Marshal(fuzzEnv{Flags: []FlagState{fs}, Segments: g.Segments})
			if err != nil {
				f.Fatal(err)
			}
			ctx := []byte(`{}`)
			for _, c := range g.Cases {
				if c.Flag == fs.Flag.Key {
					if ctx, err = json.Marshal(c.Context); err != nil {
						f.Fatal(err)
					}
					break
				}
			}
			add(env, ctx)
		}
	}
	var v struct {
		Cases []validationCase `json:"cases"`
	}
	data, err := os.ReadFile(filepath.Join("testdata", "validation.json"))
	if err != nil {
		f.Fatal(err)
	}
	if err := json.Unmarshal(data, &v); err != nil {
		f.Fatal(err)
	}
	for _, c := range v.Cases {
		var e fuzzEnv
		if c.Flag != nil {
			fs := FlagState{Flag: *c.Flag}
			if c.Config != nil {
				fs.Config = *c.Config
			}
			e.Flags = append(e.Flags, fs)
		}
		if c.Segment != nil {
			e.Segments = append(e.Segments, *c.Segment)
		}
		env, _ := json.Marshal(e)
		add(env, []byte(`{"targetingKey":"u1"}`))
	}
}

// FuzzValidate feeds JSON-decoded definitions to the validators and Compile:
// nothing may panic, every error is a *FieldError, and an environment whose
// parts all validate must compile.
func FuzzValidate(f *testing.F) {
	addGoldenSeeds(f, func(env, _ []byte) { f.Add(env) })
	f.Add([]byte(`{"flags":[{"flag":{"key":"a","type":"integer","variants":[{"key":"x","value":1e300}]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var e fuzzEnv
		if json.Unmarshal(data, &e) != nil {
			return
		}
		segs := map[string]bool{}
		valid := true
		for _, s := range e.Segments {
			if err := ValidateSegment(s); err != nil {
				checkFieldError(t, err)
				valid = false
			}
			if segs[s.Key] {
				valid = false
			}
			segs[s.Key] = true
		}
		keys := map[string]bool{}
		for _, fs := range e.Flags {
			fl := fs.Flag
			if keys[fl.Key] {
				valid = false
			}
			keys[fl.Key] = true
			if fl.Archived {
				continue
			}
			if err := ValidateFlag(&fl); err != nil {
				checkFieldError(t, err)
				valid = false
				continue
			}
			if err := ValidateConfig(fl, fs.Config, func(k string) bool { return segs[k] }); err != nil {
				checkFieldError(t, err)
				valid = false
			}
		}
		snap, err := Compile("fuzz", 1, e.Flags, e.Segments)
		if valid && err != nil {
			t.Fatalf("every part validates but Compile fails: %v", err)
		}
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Compile error %v does not wrap a *FieldError", err)
			}
			return
		}
		for _, r := range snap.EvaluateAll(map[string]any{TargetingKey: "user-1"}) {
			if r.ErrorCode == ErrorNone && r.Value == nil {
				t.Fatalf("%s: nil value without an error", r.FlagKey)
			}
		}
	})
}

func checkFieldError(t *testing.T, err error) {
	t.Helper()
	fe, ok := err.(*FieldError)
	if !ok {
		t.Fatalf("%T %v is not a *FieldError", err, err)
	}
	if fe.Field == "" || fe.Reason == "" {
		t.Fatalf("FieldError without field or reason: %q", fe.Error())
	}
}

// FuzzEvaluate compiles fuzzed environments and evaluates every flag (and
// an unknown one) against fuzzed contexts: nothing may panic and every
// result is well formed.
func FuzzEvaluate(f *testing.F) {
	addGoldenSeeds(f, func(env, ctx []byte) { f.Add(env, ctx, "") })
	f.Fuzz(func(t *testing.T, envData, ctxData []byte, want string) {
		var e fuzzEnv
		if json.Unmarshal(envData, &e) != nil {
			return
		}
		snap, err := Compile("fuzz", 1, e.Flags, e.Segments)
		if err != nil {
			return
		}
		var ctx map[string]any
		_ = json.Unmarshal(ctxData, &ctx)
		keys := append(snap.Keys(), "no-such-flag")
		for _, k := range keys {
			r := snap.Evaluate(k, FlagType(want), ctx)
			checkResult(t, snap, k, r)
		}
		if all := snap.EvaluateAll(ctx); len(all) != len(keys)-1 {
			t.Fatalf("EvaluateAll returned %d results for %d flags", len(all), len(keys)-1)
		}
	})
}

func checkResult(t *testing.T, snap *Snapshot, key string, r Result) {
	t.Helper()
	if r.FlagKey != key {
		t.Fatalf("FlagKey %q, want %q", r.FlagKey, key)
	}
	switch r.Reason {
	case ReasonError:
		if r.ErrorCode == ErrorNone || r.Value != nil || r.Variant != "" {
			t.Fatalf("%s: malformed error result %+v", key, r)
		}
	case ReasonStatic, ReasonDefault, ReasonTargetingMatch, ReasonSplit, ReasonDisabled:
		if r.ErrorCode != ErrorNone || r.Value == nil || r.Variant == "" {
			t.Fatalf("%s: malformed result %+v", key, r)
		}
		f := snap.ordered.at(snap.flags[key])
		if !valueHasType(r.Value, f.typ) {
			t.Fatalf("%s: %T value for a %s flag", key, r.Value, f.typ)
		}
	default:
		t.Fatalf("%s: unknown reason %q", key, r.Reason)
	}
}

func valueHasType(v any, t FlagType) bool {
	switch v.(type) {
	case bool:
		return t == TypeBoolean
	case string:
		return t == TypeString
	case int64:
		return t == TypeInteger
	case float64:
		return t == TypeFloat
	case map[string]any:
		return t == TypeObject
	}
	return false
}
