package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type envJSON struct {
	Name     string `json:"name"`
	Revision int64  `json:"revision"`
}

type configJSON struct {
	Environment string          `json:"environment"`
	Enabled     bool            `json:"enabled"`
	OffVariant  string          `json:"offVariant"`
	Default     json.RawMessage `json:"default"`
	Revision    int64           `json:"revision"`
	Changed     *bool           `json:"changed"`
}

type flagJSON struct {
	Key      string         `json:"key"`
	Type     string         `json:"type"`
	Tags     []string       `json:"tags"`
	Archived bool           `json:"archived"`
	Variants map[string]any `json:"variants"`
	Revision int64          `json:"revision"`
	Configs  []configJSON   `json:"configs"`
}

func TestEnvCommands(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	var envs []envJSON
	s.json(t, &envs, "env", "list")
	var names []string
	for _, e := range envs {
		names = append(names, e.Name)
	}
	for _, want := range []string{"development", "staging", "production"} {
		if !slices.Contains(names, want) {
			t.Errorf("env list = %v, want %s in it", names, want)
		}
	}
	var created envJSON
	s.json(t, &created, "env", "create", "qa", "--description", "QA cluster")
	if created.Name != "qa" {
		t.Errorf("env create qa printed %+v", created)
	}
	if out := s.ok(t, "env", "list"); !strings.Contains(out, "qa") || !strings.Contains(out, "QA cluster") {
		t.Errorf("env list table lacks qa:\n%s", out)
	}
	s.ok(t, "env", "delete", "qa")
	envs = nil
	s.json(t, &envs, "env", "list", "-o", "json")
	for _, e := range envs {
		if e.Name == "qa" {
			t.Errorf("qa still listed after env delete")
		}
	}
	s.expectCode(t, 1, "env", "delete", "qa")
}

func TestFlagCommands(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	var f flagJSON
	s.json(t, &f, "flag", "create", "new-checkout", "--type", "boolean", "--description", "New checkout", "--tag", "checkout")
	if f.Key != "new-checkout" || f.Type != "boolean" || f.Variants["on"] != true || f.Variants["off"] != false {
		t.Fatalf("flag create printed %+v", f)
	}
	s.ok(t, "flag", "create", "button-color", "--type", "string", "--variant", "blue=#00f", "--variant", "green=#0f0")
	s.ok(t, "flag", "create", "max-items", "--type", "integer", "--variant", "low=10", "--variant", "high=100")

	var list []flagJSON
	s.json(t, &list, "flag", "list", "--tag", "checkout")
	if len(list) != 1 || list[0].Key != "new-checkout" {
		t.Errorf("flag list --tag checkout = %+v, want only new-checkout", list)
	}
	list = nil
	s.json(t, &list, "flag", "list", "--env", "production")
	if len(list) != 3 {
		t.Errorf("flag list --env production listed %d flags, want 3", len(list))
	}
	for _, fl := range list {
		if len(fl.Configs) != 1 || fl.Configs[0].Environment != "production" || fl.Configs[0].Enabled {
			t.Errorf("flag list --env production: %s configs = %+v, want production disabled", fl.Key, fl.Configs)
		}
	}

	// Disabled: the off variant.
	ev := s.eval(t, "new-checkout", "production", "--targeting-key", "user-1")
	if ev["value"] != false || ev["reason"] != "DISABLED" || ev["errorCode"] != nil {
		t.Errorf("eval while disabled = %v", ev)
	}
	// A new flag serves its off variant by default even when enabled:
	// serve on by default first, then enable.
	var cfg configJSON
	s.json(t, &cfg, "flag", "default", "new-checkout", "--env", "production", "--variant", "on")
	if cfg.Enabled || string(cfg.Default) != `"on"` {
		t.Errorf("flag default printed %+v", cfg)
	}
	s.json(t, &cfg, "flag", "enable", "new-checkout", "--env", "production")
	if !cfg.Enabled || cfg.Environment != "production" || cfg.Changed == nil || !*cfg.Changed {
		t.Errorf("flag enable printed %+v", cfg)
	}
	// Enabling again changes nothing and says so (a release script must
	// not roll back a flag that was on before it ran).
	rev := cfg.Revision
	s.json(t, &cfg, "flag", "enable", "new-checkout", "--env", "production")
	if !cfg.Enabled || cfg.Revision != rev || cfg.Changed == nil || *cfg.Changed {
		t.Errorf("flag enable of an enabled flag printed %+v, want changed false at revision %d", cfg, rev)
	}
	if out := s.ok(t, "flag", "enable", "new-checkout", "--env", "production"); !strings.Contains(out, "already enabled") {
		t.Errorf("flag enable of an enabled flag printed %q, want it to say already enabled", out)
	}
	ev = s.eval(t, "new-checkout", "production", "--targeting-key", "user-1")
	if ev["value"] != true || ev["variant"] != "on" {
		t.Errorf("eval after enable = %v, want on", ev)
	}
	// Staging is untouched.
	if ev := s.eval(t, "new-checkout", "staging"); ev["reason"] != "DISABLED" {
		t.Errorf("eval in staging = %v, want DISABLED", ev)
	}

	s.json(t, &cfg, "flag", "rollout", "new-checkout", "--env", "production", "--percent", "25")
	var split struct {
		Split map[string]int `json:"split"`
	}
	if err := json.Unmarshal(cfg.Default, &split); err != nil || split.Split["on"] != 25 || split.Split["off"] != 75 {
		t.Errorf("rollout 25: default = %s, want split on 25 off 75", cfg.Default)
	}
	ev = s.eval(t, "new-checkout", "production", "--context", `{"targetingKey":"user-7"}`)
	if ev["reason"] != "SPLIT" {
		t.Errorf("eval after rollout = %v, want reason SPLIT", ev)
	}
	if out := s.ok(t, "flag", "list"); !strings.Contains(out, "production=on 25%") || !strings.Contains(out, "staging=off") {
		t.Errorf("flag list after rollout 25 in production:\n%s\nwant production=on 25%% and staging=off", out)
	}

	s.json(t, &cfg, "flag", "default", "button-color", "--env", "staging", "--variant", "green")
	if string(cfg.Default) != `"green"` {
		t.Errorf("flag default: default = %s, want \"green\"", cfg.Default)
	}
	s.ok(t, "flag", "enable", "button-color", "--env", "staging")
	if ev := s.eval(t, "button-color", "staging"); ev["value"] != "#0f0" || ev["variant"] != "green" {
		t.Errorf("eval button-color = %v, want green #0f0", ev)
	}

	s.json(t, &cfg, "flag", "disable", "new-checkout", "--env", "production")
	if cfg.Enabled {
		t.Errorf("flag disable printed enabled config")
	}

	var got flagJSON
	s.json(t, &got, "flag", "get", "max-items", "--env", "staging")
	if got.Variants["high"] != float64(100) || len(got.Configs) != 1 || got.Configs[0].Environment != "staging" {
		t.Errorf("flag get max-items --env staging = %+v", got)
	}
	var yml map[string]any
	if err := yaml.Unmarshal([]byte(s.ok(t, "flag", "get", "max-items", "-o", "yaml")), &yml); err != nil || yml["key"] != "max-items" {
		t.Errorf("flag get -o yaml: %v %v", yml, err)
	}
	if out := s.ok(t, "flag", "get", "new-checkout"); !strings.Contains(out, "production") || !strings.Contains(out, "New checkout") {
		t.Errorf("flag get table:\n%s", out)
	}

	s.json(t, &got, "flag", "archive", "max-items")
	if !got.Archived {
		t.Errorf("flag archive printed %+v", got)
	}
	if ev := s.eval(t, "max-items", "staging"); ev["errorCode"] != "FLAG_NOT_FOUND" {
		t.Errorf("eval archived flag = %v, want FLAG_NOT_FOUND", ev)
	}
	list = nil
	s.json(t, &list, "flag", "list")
	if len(list) != 2 {
		t.Errorf("flag list without --archived listed %d, want 2", len(list))
	}
	s.ok(t, "flag", "delete", "max-items")
	s.expectCode(t, 1, "flag", "get", "max-items")

	// new-checkout is live in protected production: archive and delete
	// are refused without --force, naming it, and nothing changes.
	s.ok(t, "flag", "enable", "new-checkout", "--env", "production")
	for _, verb := range []string{"archive", "delete"} {
		r := s.expectCode(t, 1, "flag", verb, "new-checkout")
		if !strings.Contains(r.stderr, "force") || !strings.Contains(r.stderr, `protected environment "production"`) {
			t.Errorf("flag %s of a live flag: %s, want a refusal naming --force and production", verb, r.stderr)
		}
	}
	if ev := s.eval(t, "new-checkout", "production", "--targeting-key", "user-1"); ev["errorCode"] != nil {
		t.Errorf("after refused archive/delete new-checkout serves %v, want it served", ev)
	}
	s.ok(t, "flag", "archive", "new-checkout", "--force")
	s.ok(t, "flag", "archive", "new-checkout", "--restore")
}

// eval runs `flagpole eval -o json` and checks the output has exactly the
// documented keys.
func (s *server) eval(t *testing.T, key, env string, args ...string) map[string]any {
	t.Helper()
	var raw map[string]json.RawMessage
	s.json(t, &raw, append([]string{"eval", key, "--env", env}, args...)...)
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if strings.Join(keys, ",") != "errorCode,reason,value,variant" {
		t.Errorf("eval -o json keys = %v, want exactly value, variant, reason, errorCode", keys)
	}
	out := map[string]any{}
	for k, v := range raw {
		var x any
		_ = json.Unmarshal(v, &x)
		out[k] = x
	}
	return out
}

func TestSegmentCommands(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	var seg struct {
		Key        string `json:"key"`
		Match      string `json:"match"`
		Conditions []struct {
			Attribute string   `json:"attribute"`
			Operator  string   `json:"operator"`
			Values    []string `json:"values"`
		} `json:"conditions"`
		Included []string `json:"included"`
		Revision int64    `json:"revision"`
	}
	s.json(t, &seg, "segment", "create", "beta", "--match", "any", "--condition", "country in de,fr",
		"--include", "alice", "--include", "bob")
	if seg.Key != "beta" || seg.Match != "any" || len(seg.Conditions) != 1 ||
		strings.Join(seg.Conditions[0].Values, ",") != "de,fr" || len(seg.Included) != 2 {
		t.Fatalf("segment create printed %+v", seg)
	}
	var segs []map[string]any
	s.json(t, &segs, "segment", "list")
	if len(segs) != 1 || segs[0]["key"] != "beta" {
		t.Errorf("segment list = %v", segs)
	}
	var y map[string]any
	if err := yaml.Unmarshal([]byte(s.ok(t, "segment", "get", "beta", "-o", "yaml")), &y); err != nil || y["key"] != "beta" {
		t.Errorf("segment get -o yaml = %v, %v", y, err)
	}
	if out := s.ok(t, "segment", "get", "beta"); !strings.Contains(out, "country in de,fr") {
		t.Errorf("segment get table:\n%s", out)
	}
	s.ok(t, "segment", "delete", "beta")
	s.expectCode(t, 1, "segment", "get", "beta")
}

func TestAuditRecordsCLISource(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok(t, "flag", "create", "audited", "--type", "boolean")
	s.ok(t, "flag", "enable", "audited", "--env", "staging")
	var entries []struct {
		Source      string `json:"source"`
		Action      string `json:"action"`
		Key         string `json:"key"`
		Environment string `json:"environment"`
		After       any    `json:"after"`
	}
	s.json(t, &entries, "audit", "--flag", "audited", "--since", "1h")
	if len(entries) < 2 {
		t.Fatalf("audit --flag audited listed %d entries, want at least 2", len(entries))
	}
	if e := entries[0]; e.Environment != "staging" || e.Action != "config.set_enabled" || e.Source != "cli" || e.After == nil {
		t.Errorf("newest audit entry = %+v, want the enable in staging from source cli", e)
	}
	entries = nil
	s.json(t, &entries, "audit", "--flag", "audited", "--env", "production")
	if len(entries) != 0 {
		t.Errorf("audit --env production listed %d entries for a flag never changed there", len(entries))
	}
	if out := s.ok(t, "audit"); !strings.Contains(out, "audited") {
		t.Errorf("audit table lacks the flag:\n%s", out)
	}
}

func TestConflictOnStaleRevision(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok(t, "flag", "create", "c", "--type", "boolean")
	s.ok(t, "flag", "default", "c", "--env", "production", "--variant", "on")
	var f flagJSON
	s.json(t, &f, "flag", "get", "c", "--env", "production")
	rev := f.Configs[0].Revision
	s.ok(t, "flag", "enable", "c", "--env", "production", "--expected-revision", itoa(rev))
	r := s.expectCode(t, 3, "flag", "disable", "c", "--env", "production", "--expected-revision", itoa(rev))
	if !strings.Contains(r.stderr, "conflict") {
		t.Errorf("stale disable: stderr does not say conflict:\n%s", r.stderr)
	}
	s.expectCode(t, 3, "flag", "rollout", "c", "--env", "production", "--percent", "10", "--expected-revision", itoa(rev))
	s.expectCode(t, 3, "flag", "default", "c", "--env", "production", "--variant", "on", "--expected-revision", itoa(rev))
	s.expectCode(t, 3, "flag", "delete", "c", "--expected-revision", itoa(f.Revision+5))
	if ev := s.eval(t, "c", "production"); ev["value"] != true {
		t.Errorf("after the rejected stale disable the flag serves %v, want true", ev["value"])
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestUnreachableServer(t *testing.T) {
	t.Parallel()
	addr := freePort(t)
	r := runCLI(t, []string{"FLAGPOLE_ADDR=" + addr}, "", "flag", "list")
	if r.code != 1 {
		t.Fatalf("flag list against %s: want exit 1, got %s", addr, r)
	}
	if !strings.Contains(r.stderr, addr) || !strings.Contains(r.stderr, "cannot reach") ||
		!strings.Contains(r.stderr, "refused") {
		t.Errorf("stderr should name %s and the cause:\n%s", addr, r.stderr)
	}
	r = runCLI(t, nil, "", "env", "list", "--addr", addr, "-o", "json")
	if r.code != 1 || !strings.Contains(r.stderr, addr) || r.stdout != "" {
		t.Errorf("--addr %s: %s", addr, r)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	for _, args := range [][]string{
		{"flag", "enable"},
		{"flag", "enable", "x"},
		{"flag", "enable", "x", "--env", "production", "--bogus"},
		{"flag", "bogus"},
		{"flag", "create", "x"},
		{"flag", "create", "x", "--type", "integer", "--variant", "a=notanumber"},
		{"flag", "rollout", "x", "--env", "production", "--percent", "200"},
		{"flag", "rollout", "x", "--env", "production"},
		{"env", "list", "-o", "xml"},
		{"env", "list", "--addr", "no-port"},
		{"eval", "x", "--env", "production", "--context", "{not json"},
		{"segment", "create", "s", "--match", "some"},
		{"token", "create", "t", "--scope", "root"},
		{"user", "create", "u", "--role", "god"},
		{"apply"},
		{"clients"},
		{"audit", "--since", "yesterday"},
		{"nonsense"},
	} {
		r := s.run(t, args...)
		if r.code != 2 {
			t.Errorf("flagpole %s: want exit 2, got %s", strings.Join(args, " "), r)
		} else if !strings.Contains(r.stderr, "--help") {
			t.Errorf("flagpole %s: usage error without a hint to --help:\n%s", strings.Join(args, " "), r.stderr)
		}
	}
}

// TestUsageErrorsSayWhy checks that a value that does not parse is named
// with its flag and the reason in plain words, never a Go parser's message.
func TestUsageErrorsSayWhy(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"flag", "create", "x", "--type", "boolean", "--variant", "on=maybe"}, `--variant on: "maybe" is not a boolean (true or false)`},
		{[]string{"flag", "create", "x", "--type", "integer", "--variant", "a=1.5"}, `--variant a: "1.5" is not an integer`},
		{[]string{"flag", "create", "x", "--type", "integer", "--variant", "a=99999999999999999999"}, `--variant a: "99999999999999999999" is out of range for an integer`},
		{[]string{"flag", "create", "x", "--type", "float", "--variant", "a=fast"}, `--variant a: "fast" is not a number`},
		{[]string{"flag", "create", "x", "--type", "object", "--variant", "a={bad"}, `--variant a: "{bad" is not valid JSON`},
		{[]string{"flag", "create", "x", "--type", "object", "--variant", "a=[1]"}, `--variant a: "[1]" is not a JSON object: it is a JSON array`},
		{[]string{"eval", "x", "--env", "production", "--context", "{not json"}, `--context: "{not json" is not valid JSON`},
		{[]string{"eval", "x", "--env", "production", "--context", `"text"`}, `--context: "\"text\"" is not a JSON object: it is a JSON string`},
		{[]string{"flag", "rollout", "x", "--env", "production", "--percent", "ten"}, `--percent: "ten" is not a whole number`},
		{[]string{"flag", "rollout", "x", "--env", "production", "--percent", "200"}, "--percent: must be 0 to 100, got 200"},
		{[]string{"flag", "enable", "x", "--env", "production", "--wait=5x"}, `--wait: "5x" is not a duration`},
		{[]string{"flag", "enable", "x", "--env", "production", "--wait=-5s"}, "--wait: -5s is negative"},
		{[]string{"flag", "enable", "x", "--env", "production", "--expected-revision", "latest"}, `--expected-revision: "latest" is not a whole number`},
		{[]string{"audit", "--since", "yesterday"}, `--since: "yesterday" is not a duration`},
		{[]string{"audit", "--since", "-1h"}, "--since: -1h0m0s is negative"},
		{[]string{"token", "create", "t", "--scope", "ci", "--expires", "1y"}, `--expires: "1y" is not a duration`},
		{[]string{"flag", "list", "--archived=maybe"}, `--archived: "maybe" is not a boolean (true or false)`},
		{[]string{"flag", "list", "--timeout", "0s"}, "--timeout: must be more than 0"},
	} {
		r := s.run(t, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("flagpole %s: want exit 2 saying %q, got %s", strings.Join(tc.args, " "), tc.want, r)
		}
		if strings.Contains(r.stderr, "strconv.") || strings.Contains(r.stderr, "time: ") || strings.Contains(r.stderr, "Go value") {
			t.Errorf("flagpole %s: a Go parser's message reaches the user:\n%s", strings.Join(tc.args, " "), r.stderr)
		}
	}
}

func TestHelpDocumentsExitCodes(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"flag", "enable", "--help"}, {"apply", "--help"}, {"eval", "--help"}} {
		r := runCLI(t, nil, "", args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Exit codes:") || !strings.Contains(r.stdout, "4  --wait timed out") {
			t.Errorf("flagpole %s: %s", strings.Join(args, " "), r)
		}
	}
}

const applyFile = `flags:
  - key: new-checkout
    name: New checkout
    description: The new checkout flow
    type: boolean
    tags: [checkout, web]
    owner: payments
    temporary: true
    environments:
      production:
        enabled: true
        rules:
          - description: staff first
            conditions:
              - {attribute: email, operator: ends_with, values: ["@example.com"]}
            serve: on
          - conditions:
              - {operator: in_segment, values: [beta]}
            serve: on
        default:
          split: {on: 10, off: 90}
      staging:
        enabled: true
        default: on
  - key: button-color
    type: string
    variants:
      blue: "#00f"
      green: "#0f0"
    environments:
      production:
        enabled: true
        offVariant: blue
        default: green
  - key: limits
    type: object
    variants:
      small: {items: 10, label: small}
      large: {items: 100, label: large}
segments:
  - key: beta
    description: Beta testers
    match: any
    conditions:
      - {attribute: plan, operator: in, values: [beta, internal]}
    included: [alice, bob]
`

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type applyJSON struct {
	DryRun  bool `json:"dryRun"`
	Applied int  `json:"applied"`
	Changes []struct {
		Action      string `json:"action"`
		Kind        string `json:"kind"`
		Key         string `json:"key"`
		Environment string `json:"environment"`
	} `json:"changes"`
}

func TestApplyExport(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok(t, "flag", "create", "legacy", "--type", "boolean")
	file := writeFile(t, "flags.yaml", applyFile)

	// Dry run: a diff, no change, no audit entry.
	before := s.auditCount(t)
	r := s.ok(t, "apply", "-f", file, "--dry-run")
	for _, want := range []string{"+ segment beta", "+ flag new-checkout", "~ config new-checkout [production]",
		"enabled: true", "Dry run"} {
		if !strings.Contains(r, want) {
			t.Errorf("dry-run diff lacks %q:\n%s", want, r)
		}
	}
	if n := s.auditCount(t); n != before {
		t.Errorf("dry run wrote %d audit entries", n-before)
	}
	s.expectCode(t, 1, "flag", "get", "new-checkout")

	// First apply creates everything.
	var res applyJSON
	s.json(t, &res, "apply", "-f", file)
	if res.DryRun || res.Applied == 0 || res.Applied != len(res.Changes) {
		t.Fatalf("apply = %+v", res)
	}
	if ev := s.eval(t, "new-checkout", "production", "--context", `{"targetingKey":"x","email":"ann@example.com"}`); ev["reason"] != "TARGETING_MATCH" || ev["value"] != true {
		t.Errorf("eval after apply = %v, want the staff rule to match", ev)
	}
	if ev := s.eval(t, "new-checkout", "production", "--targeting-key", "alice"); ev["reason"] != "TARGETING_MATCH" {
		t.Errorf("eval for segment member alice = %v, want TARGETING_MATCH", ev)
	}
	if ev := s.eval(t, "button-color", "production"); ev["value"] != "#0f0" {
		t.Errorf("eval button-color = %v", ev)
	}

	// Second apply: idempotent, no audit entry.
	before = s.auditCount(t)
	res = applyJSON{}
	s.json(t, &res, "apply", "-f", file)
	if len(res.Changes) != 0 || res.Applied != 0 {
		t.Errorf("second apply changed %+v, want nothing", res.Changes)
	}
	if out := s.ok(t, "apply", "-f", file); !strings.Contains(out, "No changes") {
		t.Errorf("second apply table output:\n%s", out)
	}
	if n := s.auditCount(t); n != before {
		t.Errorf("idempotent apply wrote %d audit entries", n-before)
	}

	// Export, re-apply the export: a no-op.
	exported := s.ok(t, "export")
	if !strings.Contains(exported, "split: {on: 10, off: 90}") {
		t.Errorf("export is not in the readable form:\n%s", exported)
	}
	exp := writeFile(t, "export.yaml", exported)
	res = applyJSON{}
	s.json(t, &res, "apply", "-f", exp, "--prune")
	if len(res.Changes) != 0 {
		t.Errorf("re-applying the export (with --prune) planned %+v", res.Changes)
	}
	// JSON export applies too (JSON is YAML).
	var jsonExport map[string]any
	jsonText := s.ok(t, "export", "--env", "production", "-o", "json")
	if err := json.Unmarshal([]byte(jsonText), &jsonExport); err != nil {
		t.Fatal(err)
	}
	res = applyJSON{}
	s.json(t, &res, "apply", "-f", writeFile(t, "export.json", jsonText))
	if len(res.Changes) != 0 {
		t.Errorf("re-applying the JSON export planned %+v", res.Changes)
	}
	if n := s.auditCount(t); n != before {
		t.Errorf("re-applying exports wrote %d audit entries", n-before)
	}

	// A changed file: only the difference is applied.
	changed := strings.Replace(applyFile, "split: {on: 10, off: 90}", "split: {on: 20, off: 80}", 1)
	res = applyJSON{}
	s.json(t, &res, "apply", "-f", writeFile(t, "changed.yaml", changed))
	if len(res.Changes) != 1 || res.Changes[0].Kind != "config" || res.Changes[0].Environment != "production" {
		t.Errorf("apply of one changed split = %+v, want one config change in production", res.Changes)
	}

	// Prune deletes the flag the file lacks; dry-run first shows it.
	out := s.ok(t, "apply", "-f", file, "--prune", "--dry-run")
	if !strings.Contains(out, "- flag legacy") {
		t.Errorf("prune dry run lacks '- flag legacy':\n%s", out)
	}
	s.ok(t, "flag", "get", "legacy")
	s.ok(t, "apply", "-f", file, "--prune")
	s.expectCode(t, 1, "flag", "get", "legacy")
	s.ok(t, "flag", "get", "new-checkout")

	// --prune with a file that defines nothing would delete everything:
	// refused as a usage error (dry run too), nothing deleted.
	for _, args := range [][]string{{"--prune"}, {"--prune", "--dry-run"}} {
		r := s.expectCode(t, 2, append([]string{"apply", "-f", writeFile(t, "empty.yaml", "# nothing\n")}, args...)...)
		if !strings.Contains(r.stderr, "--prune") {
			t.Errorf("apply %v of an empty file: %s, want a refusal naming --prune", args, r.stderr)
		}
	}
	s.ok(t, "flag", "get", "new-checkout")

	// Bad files fail before changing anything, naming the field.
	before = s.auditCount(t)
	bad := writeFile(t, "bad.yaml", "flags:\n  - key: x\n    type: boolean\n    environments:\n      mars: {enabled: true}\n")
	r2 := s.expectCode(t, 1, "apply", "-f", bad)
	if !strings.Contains(r2.stderr, "flags[0].environments.mars") {
		t.Errorf("bad environment error does not name the field:\n%s", r2.stderr)
	}
	r2 = s.expectCode(t, 1, "apply", "-f", writeFile(t, "typo.yaml", "flags:\n  - key: x\n    typ: boolean\n"))
	if !strings.Contains(r2.stderr, "typ") {
		t.Errorf("unknown field error does not name it:\n%s", r2.stderr)
	}
	if n := s.auditCount(t); n != before {
		t.Errorf("rejected files wrote %d audit entries", n-before)
	}
}
