package engine

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// goldenFile is one file of evaluation vectors in testdata: an environment
// (flags with their configuration, segments) and cases evaluated against it.
type goldenFile struct {
	Description string       `json:"description"`
	Environment string       `json:"environment"`
	Revision    int64        `json:"revision"`
	Segments    []Segment    `json:"segments"`
	Flags       []FlagState  `json:"flags"`
	Cases       []goldenCase `json:"cases"`
}

type goldenCase struct {
	Name      string          `json:"name"`
	Flag      string          `json:"flag"`
	Type      FlagType        `json:"type"`
	Context   map[string]any  `json:"context"`
	Value     json.RawMessage `json:"value"`
	Variant   string          `json:"variant"`
	Reason    Reason          `json:"reason"`
	ErrorCode ErrorCode       `json:"errorCode"`
}

// goldenFiles lists the evaluation vector files (every testdata/*.json but
// the ones with another shape).
func goldenFiles(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		switch filepath.Base(f) {
		case "bucketing.json", "validation.json":
			continue
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		t.Fatal("no golden files in testdata")
	}
	return out
}

func loadGolden(t testing.TB, path string) goldenFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return g
}

func TestGolden(t *testing.T) {
	total := 0
	for _, path := range goldenFiles(t) {
		g := loadGolden(t, path)
		t.Run(filepath.Base(path), func(t *testing.T) {
			snap, err := Compile(g.Environment, g.Revision, g.Flags, g.Segments)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if snap.Environment() != g.Environment || snap.Revision() != g.Revision {
				t.Errorf("snapshot is %s@%d, want %s@%d", snap.Environment(), snap.Revision(), g.Environment, g.Revision)
			}
			if len(g.Cases) == 0 {
				t.Fatal("no cases")
			}
			for _, c := range g.Cases {
				total++
				got := snap.Evaluate(c.Flag, c.Type, c.Context)
				checkGolden(t, c, got)
			}
		})
	}
	t.Logf("%d golden cases", total)
}

func checkGolden(t *testing.T, c goldenCase, got Result) {
	t.Helper()
	gotValue, err := json.Marshal(got.Value)
	if err != nil {
		t.Errorf("%s: marshal value: %v", c.Name, err)
		return
	}
	var want any
	if len(c.Value) > 0 {
		if err := json.Unmarshal(c.Value, &want); err != nil {
			t.Errorf("%s: expected value: %v", c.Name, err)
			return
		}
	}
	wantValue, _ := json.Marshal(want)
	if !bytes.Equal(gotValue, wantValue) || got.Variant != c.Variant || got.Reason != c.Reason || got.ErrorCode != c.ErrorCode {
		t.Errorf("%s: got value=%s variant=%q reason=%s error=%q (%s), want value=%s variant=%q reason=%s error=%q",
			c.Name, gotValue, got.Variant, got.Reason, got.ErrorCode, got.ErrorMessage, wantValue, c.Variant, c.Reason, c.ErrorCode)
	}
	if got.FlagKey != c.Flag {
		t.Errorf("%s: FlagKey = %q, want %q", c.Name, got.FlagKey, c.Flag)
	}
	if (got.ErrorCode == ErrorNone) != (got.ErrorMessage == "") {
		t.Errorf("%s: error code %q with message %q", c.Name, got.ErrorCode, got.ErrorMessage)
	}
}

// TestGoldenCoversEveryOperator fails when an operator has no positive and
// negative golden case, so the vectors stay complete as operators are added.
func TestGoldenCoversEveryOperator(t *testing.T) {
	pos := map[Operator]bool{}
	neg := map[Operator]bool{}
	for _, path := range goldenFiles(t) {
		g := loadGolden(t, path)
		snap, err := Compile(g.Environment, g.Revision, g.Flags, g.Segments)
		if err != nil {
			t.Fatal(err)
		}
		ops := map[string][]Operator{}
		for _, fs := range g.Flags {
			if len(fs.Config.Rules) != 1 || len(fs.Config.Rules[0].Conditions) != 1 {
				continue
			}
			ops[fs.Flag.Key] = append(ops[fs.Flag.Key], fs.Config.Rules[0].Conditions[0].Operator)
		}
		for _, c := range g.Cases {
			for _, op := range ops[c.Flag] {
				switch snap.Evaluate(c.Flag, c.Type, c.Context).Reason {
				case ReasonTargetingMatch:
					pos[op] = true
				case ReasonDefault:
					neg[op] = true
				}
			}
		}
	}
	for op := range opcodes {
		if !pos[op] || !neg[op] {
			t.Errorf("operator %s: positive case %v, negative case %v", op, pos[op], neg[op])
		}
	}
}

// validationCase is a definition that must be rejected with a FieldError
// naming Field.
type validationCase struct {
	Name     string   `json:"name"`
	Flag     *Flag    `json:"flag"`
	Config   *Config  `json:"config"`
	Segment  *Segment `json:"segment"`
	Segments []string `json:"segments"`
	Field    string   `json:"field"`
	Reason   string   `json:"reason"`
}

func TestGoldenValidation(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "validation.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Description string           `json:"description"`
		Cases       []validationCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range file.Cases {
		err := validateCase(c)
		var fe *FieldError
		switch {
		case c.Field == "" && err != nil:
			t.Errorf("%s: want valid, got %v", c.Name, err)
		case c.Field == "":
		case err == nil:
			t.Errorf("%s: accepted, want an error on %s", c.Name, c.Field)
		case !asFieldError(err, &fe):
			t.Errorf("%s: %T %v is not a *FieldError", c.Name, err, err)
		case fe.Field != c.Field || !strings.Contains(fe.Reason, c.Reason):
			t.Errorf("%s: got %q, want field %q with reason containing %q", c.Name, err, c.Field, c.Reason)
		}
	}
}

func validateCase(c validationCase) error {
	if c.Segment != nil {
		return ValidateSegment(*c.Segment)
	}
	if err := ValidateFlag(c.Flag); err != nil {
		return err
	}
	if c.Config == nil {
		return nil
	}
	exists := func(key string) bool {
		for _, s := range c.Segments {
			if s == key {
				return true
			}
		}
		return false
	}
	return ValidateConfig(*c.Flag, *c.Config, exists)
}

func asFieldError(err error, fe **FieldError) bool {
	e, ok := err.(*FieldError)
	*fe = e
	return ok
}

// TestApplyMatchesCompile builds each golden environment by Apply, flag by
// flag onto a snapshot of its segments alone, and checks every golden case
// against it; then removes one flag and archives another.
func TestApplyMatchesCompile(t *testing.T) {
	for _, path := range goldenFiles(t) {
		g := loadGolden(t, path)
		t.Run(filepath.Base(path), func(t *testing.T) {
			snap, err := Compile(g.Environment, 1, nil, g.Segments)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			for i := len(g.Flags) - 1; i >= 0; i-- { // out of key order
				if snap, err = snap.Apply(int64(len(g.Flags)-i+1), g.Flags[i:i+1], nil); err != nil {
					t.Fatalf("apply %q: %v", g.Flags[i].Flag.Key, err)
				}
			}
			want, err := Compile(g.Environment, g.Revision, g.Flags, g.Segments)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(snap.Keys(), want.Keys()) {
				t.Fatalf("keys %v, want %v", snap.Keys(), want.Keys())
			}
			for _, c := range g.Cases {
				checkGolden(t, c, snap.Evaluate(c.Flag, c.Type, c.Context))
			}
			if len(g.Flags) < 2 {
				return
			}
			archived := g.Flags[1]
			archived.Flag.Archived = true
			next, err := snap.Apply(100, []FlagState{archived}, []string{g.Flags[0].Flag.Key})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range g.Flags[:2] {
				if r := next.Evaluate(f.Flag.Key, f.Flag.Type, nil); r.ErrorCode != ErrorFlagNotFound {
					t.Errorf("%q after delete/archive: %+v, want FLAG_NOT_FOUND", f.Flag.Key, r)
				}
				if r := snap.Evaluate(f.Flag.Key, f.Flag.Type, nil); r.ErrorCode == ErrorFlagNotFound {
					t.Errorf("%q gone from the original snapshot", f.Flag.Key)
				}
			}
			if got, want := len(next.Keys()), len(snap.Keys())-2; got != want || next.Revision() != 100 {
				t.Errorf("after apply: %d keys at %d, want %d at 100", got, next.Revision(), want)
			}
		})
	}
}
