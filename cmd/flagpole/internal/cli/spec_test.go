package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
)

const sampleFile = `
flags:
  - key: new-checkout
    name: New checkout
    type: boolean
    tags: [checkout]
    environments:
      production:
        enabled: true
        rules:
          - description: staff
            conditions:
              - {attribute: email, operator: ends_with, values: ["@example.com"]}
            serve: on
        default:
          split: {on: 10, off: 90}
      staging:
        enabled: true
        default: on
  - key: max-items
    type: integer
    variants:
      low: 10
      high: 100
segments:
  - key: beta
    match: any
    included: [alice, bob]
`

func TestParseFileReadsOrderedVariantsAndServes(t *testing.T) {
	t.Parallel()
	f, err := parseFile([]byte(sampleFile))
	if err != nil {
		t.Fatal(err)
	}
	prod := f.Flags[0].Environments["production"]
	if got := prod.Default.Split; len(got) != 2 || got[0] != (WeightSpec{"on", 10}) || got[1] != (WeightSpec{"off", 90}) {
		t.Errorf("split = %+v, want on 10, off 90 in order", got)
	}
	if prod.Rules[0].Serve.Variant != "on" {
		t.Errorf("rule serve = %+v, want variant on", prod.Rules[0].Serve)
	}
	if v := f.Flags[1].Variants; len(v) != 2 || v[0].Key != "low" || v[1].Key != "high" {
		t.Errorf("variants = %+v, want low then high", v)
	}
	if f.Segments[0].Match != "any" || len(f.Segments[0].Included) != 2 {
		t.Errorf("segment = %+v", f.Segments[0])
	}
}

func TestParseFileRejectsUnknownFieldsAndBadServes(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"unknown field": "flags:\n  - key: a\n    type: boolean\n    enabeld: true\n",
		"serve both":    "flags:\n  - key: a\n    type: boolean\n    environments:\n      dev:\n        enabled: true\n        default: {variant: on, split: {on: 1}}\n",
		"bad weight":    "flags:\n  - key: a\n    type: boolean\n    environments:\n      dev:\n        enabled: true\n        default: {split: {on: x}}\n",
		"variants list": "flags:\n  - key: a\n    type: string\n    variants: [a, b]\n",
	} {
		if _, err := parseFile([]byte(doc)); err == nil {
			t.Errorf("%s: parseFile succeeded, want an error", name)
		}
	}
}

// TestFileRoundTrip checks that YAML and JSON encodings read back equal.
func TestFileRoundTrip(t *testing.T) {
	t.Parallel()
	f, err := parseFile([]byte(sampleFile))
	if err != nil {
		t.Fatal(err)
	}
	var y bytes.Buffer
	if err := writeFileYAML(&y, f); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(y.String(), "split: {on: 10, off: 90}") || !strings.Contains(y.String(), "default: \"on\"") &&
		!strings.Contains(y.String(), "default: on") {
		t.Errorf("YAML is not in the readable form:\n%s", y.String())
	}
	back, err := parseFile(y.Bytes())
	if err != nil {
		t.Fatalf("re-read YAML: %v\n%s", err, y.String())
	}
	j, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON File
	if err := json.Unmarshal(j, &fromJSON); err != nil {
		t.Fatalf("re-read JSON: %v\n%s", err, j)
	}
	a, _ := json.Marshal(back)
	b, _ := json.Marshal(&fromJSON)
	if string(a) != string(j) || string(b) != string(j) {
		t.Errorf("round trip differs:\norig %s\nyaml %s\njson %s", j, a, b)
	}
}

func protoFlag(t *testing.T, key, typ string, rev int64, variants ...any) *syncpb.Flag {
	t.Helper()
	f := &syncpb.Flag{Key: key, Name: key, Type: typ, Revision: rev}
	for i := 0; i+1 < len(variants); i += 2 {
		v, err := structpb.NewValue(variants[i+1])
		if err != nil {
			t.Fatal(err)
		}
		f.Variants = append(f.Variants, &syncpb.Variant{Key: variants[i].(string), Value: v})
	}
	return f
}

func TestPlanOnlyChangesWhatDiffers(t *testing.T) {
	t.Parallel()
	st := &state{envs: []string{"production", "staging"}, segments: map[string]*syncpb.Segment{},
		flags: map[string]*flagpolev1.FlagWithConfigs{
			"max-items": {Flag: protoFlag(t, "max-items", "integer", 4, "low", 10.0, "high", 100.0)},
			"legacy":    {Flag: protoFlag(t, "legacy", "boolean", 1, "on", true, "off", false)},
		}}
	f, err := parseFile([]byte(sampleFile))
	if err != nil {
		t.Fatal(err)
	}
	changes, err := plan(f, st, planOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.Action+" "+c.Kind+" "+c.target())
	}
	want := []string{"create segment beta", "create flag new-checkout",
		"update config new-checkout [production]", "update config new-checkout [staging]"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("plan = %q, want %q (max-items matches the server: integers 10 and 10.0 are equal)", got, want)
	}
	pruned, err := plan(f, st, planOptions{prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if last := pruned[len(pruned)-1]; last.Action != "delete" || last.Key != "legacy" {
		t.Errorf("prune: last change = %+v, want delete legacy", last)
	}
}

func TestPlanConfigKeepsServerFilledFields(t *testing.T) {
	t.Parallel()
	cur := &syncpb.FlagConfig{FlagKey: "a", Environment: "production", Enabled: false, OffVariant: "off",
		DefaultServe: &syncpb.Serve{Kind: &syncpb.Serve_Variant{Variant: "off"}}, Revision: 7,
		Rules: []*syncpb.Rule{{Id: "r-1", Serve: &syncpb.Serve{Kind: &syncpb.Serve_Variant{Variant: "on"}}}}}
	want := &ConfigSpec{Enabled: false, Rules: []RuleSpec{{Serve: ServeSpec{Variant: "on"}}}}
	if ch, ok := planConfig("a", "production", want, cur); ok {
		t.Errorf("planConfig = %+v, want no change (omitted offVariant, default and rule id keep the server's)", ch.Fields)
	}
	want.Enabled = true
	ch, ok := planConfig("a", "production", want, cur)
	if !ok || len(ch.Fields) != 1 || ch.Fields[0].Field != "enabled" {
		t.Fatalf("planConfig = %+v, want one change of enabled", ch.Fields)
	}
}

func TestPlanConfigKeepsGuardedUnlessTheFileSaysSo(t *testing.T) {
	t.Parallel()
	cur := &syncpb.FlagConfig{FlagKey: "a", Environment: "production", OffVariant: "off", Guarded: true,
		DefaultServe: &syncpb.Serve{Kind: &syncpb.Serve_Variant{Variant: "off"}}, Revision: 7}
	if ch, ok := planConfig("a", "production", &ConfigSpec{}, cur); ok {
		t.Errorf("planConfig without guarded = %+v, want no change", ch.Fields)
	}
	ch, ok := planConfig("a", "production", &ConfigSpec{Guarded: new(false)}, cur)
	if !ok || len(ch.Fields) != 1 || ch.Fields[0].Field != "guarded" {
		t.Fatalf("planConfig with guarded: false = %+v, want one change of guarded", ch.Fields)
	}
	cur.Guarded = false
	if ch, ok := planConfig("a", "production", &ConfigSpec{Guarded: new(false)}, cur); ok {
		t.Errorf("planConfig with guarded: false on an unguarded flag = %+v, want no change", ch.Fields)
	}
	ch, ok = planConfig("a", "production", &ConfigSpec{Guarded: new(true)}, cur)
	if !ok || len(ch.Fields) != 1 || ch.Fields[0].Field != "guarded" {
		t.Fatalf("planConfig with guarded: true = %+v, want one change of guarded", ch.Fields)
	}
}

func TestPlanRejectsBadInputNamingTheField(t *testing.T) {
	t.Parallel()
	st := &state{envs: []string{"production"}, flags: map[string]*flagpolev1.FlagWithConfigs{
		"a": {Flag: protoFlag(t, "a", "boolean", 1, "on", true, "off", false)}}, segments: map[string]*syncpb.Segment{}}
	for doc, field := range map[string]string{
		"flags:\n  - key: a\n    type: string\n":                                     "flags[0]: type",
		"flags:\n  - key: Bad\n    type: boolean\n":                                  "flags[0]: key",
		"flags:\n  - key: b\n    type: integer\n    variants: {x: 1.5}\n":            "flags[0]: variants.x",
		"flags:\n  - key: b\n    type: boolean\n    environments:\n      prod: {}\n": "flags[0].environments.prod",
		"flags:\n  - key: b\n    type: boolean\n  - key: b\n    type: boolean\n":     "flags[1].key",
		"segments:\n  - key: s\n  - key: s\n":                                        "segments[1].key",
	} {
		f, err := parseFile([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		_, err = plan(f, st, planOptions{})
		if err == nil || !strings.HasPrefix(err.Error(), field) {
			t.Errorf("plan(%q) error = %v, want one starting with %q", doc, err, field)
		}
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{usagef("x"), ExitUsage},
		{fmt.Errorf("wrapped: %w", usagef("x")), ExitUsage},
		{errors.New("plain"), ExitError},
		{&WaitTimeoutError{}, ExitWaitTimeout},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestParseFileErrorsNameThePath: unknown fields and values of the wrong
// type are reported by their path in the file, not by a Go type.
func TestParseFileErrorsNameThePath(t *testing.T) {
	t.Parallel()
	for doc, path := range map[string]string{
		"flags:\n  - key: a\n    type: boolean\n    environments:\n      production:\n        enabeld: true\n":                                                       "flags[0].environments.production.enabeld",
		"flags:\n  - key: a\n    type: boolean\n  - key: b\n    typ: boolean\n":                                                                                      "flags[1].typ",
		"flags:\n  - key: a\n    type: boolean\n    environments:\n      production:\n        enabled: maybe\n":                                                      "flags[0].environments.production.enabled",
		"flags:\n  - key: a\n    type: boolean\n    tags: oops\n":                                                                                                    "flags[0].tags",
		"segments:\n  - key: s\n    conditions:\n      - {operator: in, values: [a], atribute: x}\n":                                                                 "segments[0].conditions[0].atribute",
		"flags:\n  - key: a\n    type: boolean\n    environments:\n      dev:\n        enabled: true\n        default: {split: {on: x}}\n":                           "flags[0].environments.dev.default.split.on",
		"flags:\n  - key: a\n    type: boolean\n    environments:\n      dev:\n        enabled: true\n        rules:\n          - serve: {variant: on, bucket: x}\n": "flags[0].environments.dev.rules[0].serve.bucket",
		"flag:\n  - key: a\n": "flag",
	} {
		_, err := parseFile([]byte(doc))
		if err == nil {
			t.Errorf("parseFile(%q) succeeded, want an error naming %s", doc, path)
			continue
		}
		if !strings.HasPrefix(err.Error(), path+":") || strings.Contains(err.Error(), "cli.") {
			t.Errorf("parseFile(%q) error = %q, want one starting with %q and naming no Go type", doc, err, path+":")
		}
	}
}
