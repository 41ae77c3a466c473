package ofrep_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/ofrep"
)

// snapshots is a hand-written snapshot source over compiled engine snapshots.
type snapshots map[string]*engine.Snapshot

func (s snapshots) Snapshot(_ context.Context, env string) (*engine.Snapshot, error) {
	if snap, ok := s[env]; ok {
		return snap, nil
	}
	return nil, server.Errorf(server.ENOTFOUND, "environment %q not found", env)
}

type recorder struct {
	mu    sync.Mutex
	evals []string
	usage []string
}

func (r *recorder) Evaluated(source, env, flag, reason, _ string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evals = append(r.evals, source+" "+env+" "+flag+" "+reason)
}

func (r *recorder) Record(env, service, flag, variant string, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.usage = append(r.usage, env+" "+service+" "+flag+" "+variant)
}

func testSnapshot(t testing.TB, revision int64) *engine.Snapshot {
	t.Helper()
	boolFlag := engine.Flag{Key: "new-checkout", Type: engine.TypeBoolean}
	if err := engine.ValidateFlag(&boolFlag); err != nil {
		t.Fatal(err)
	}
	color := engine.Flag{Key: "color", Type: engine.TypeString, Variants: []engine.Variant{{Key: "red", Value: "#f00"}, {Key: "blue", Value: "#00f"}}}
	if err := engine.ValidateFlag(&color); err != nil {
		t.Fatal(err)
	}
	limit := engine.Flag{Key: "limit", Type: engine.TypeInteger, Variants: []engine.Variant{{Key: "low", Value: 10}, {Key: "high", Value: 100}}}
	if err := engine.ValidateFlag(&limit); err != nil {
		t.Fatal(err)
	}
	states := []engine.FlagState{
		{Flag: boolFlag, Config: engine.Config{Enabled: true, OffVariant: "off", Default: engine.Serve{Split: &engine.Split{Weights: []engine.Weight{{Variant: "on", Weight: 50}, {Variant: "off", Weight: 50}}}}}},
		{Flag: color, Config: engine.Config{Enabled: true, OffVariant: "red", Default: engine.Serve{Variant: "red"},
			Rules: []engine.Rule{{Conditions: []engine.Condition{{Attribute: "country", Operator: engine.OpIn, Values: []string{"NL"}}}, Serve: engine.Serve{Variant: "blue"}}}}},
		{Flag: limit, Config: engine.Config{Enabled: false, OffVariant: "low", Default: engine.Serve{Variant: "high"}}},
	}
	snap, err := engine.Compile("production", revision, states, nil)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func newServer(t *testing.T, snaps snapshots) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	h := &ofrep.Handler{Snapshots: snaps, Authenticate: ofrep.HeaderAuthenticator, Counter: rec, Usage: rec, MaxBodyBytes: 4096}
	mux := http.NewServeMux()
	h.Register(mux, nil)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, rec
}

func post(t *testing.T, url, env, body string, header ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if env != "" {
		req.Header.Set(ofrep.EnvironmentHeader, env)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("body %q is not a JSON object: %v", raw, err)
		}
	}
	return resp, out
}

func TestEvaluateFlag(t *testing.T) {
	snap := testSnapshot(t, 42)
	srv, rec := newServer(t, snapshots{"production": snap})
	url := srv.URL + "/ofrep/v1/evaluate/flags/"

	resp, body := post(t, url+"color", "production", `{"context":{"targetingKey":"u1","country":"NL"}}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, body %v", resp.StatusCode, body)
	}
	want := map[string]any{"key": "color", "value": "#00f", "variant": "blue", "reason": "TARGETING_MATCH",
		"metadata": map[string]any{"flagSetId": "production", "version": snap.VersionOf("color"), "environmentRevision": 42}}
	if !equalJSON(body, want) {
		t.Errorf("got %v, want %v", body, want)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}

	_, body = post(t, url+"limit", "production", `{}`)
	if body["value"] != float64(10) || body["reason"] != "DISABLED" || body["variant"] != "low" {
		t.Errorf("disabled integer flag: %v", body)
	}
	_, body = post(t, url+"color", "production", `{"context":{}}`)
	if body["value"] != "#f00" || body["reason"] != "DEFAULT" {
		t.Errorf("empty context: %v", body)
	}

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.evals) != 3 || rec.evals[0] != "ofrep production color TARGETING_MATCH" {
		t.Errorf("counted %v", rec.evals)
	}
	if len(rec.usage) != 3 || rec.usage[0] != "production ofrep color blue" {
		t.Errorf("usage %v", rec.usage)
	}
}

func TestEvaluateFlagErrors(t *testing.T) {
	srv, _ := newServer(t, snapshots{"production": testSnapshot(t, 1)})
	url := srv.URL + "/ofrep/v1/evaluate/flags/"
	for _, tc := range []struct {
		name, flag, env, body string
		status                int
		want                  map[string]any
	}{
		{"unknown flag", "nope", "production", `{"context":{}}`, 404,
			map[string]any{"key": "nope", "errorCode": "FLAG_NOT_FOUND"}},
		{"split without targeting key", "new-checkout", "production", `{"context":{"country":"NL"}}`, 400,
			map[string]any{"key": "new-checkout", "errorCode": "TARGETING_KEY_MISSING"}},
		{"malformed JSON", "color", "production", `{"context":`, 400,
			map[string]any{"key": "color", "errorCode": "PARSE_ERROR"}},
		{"context not an object", "color", "production", `{"context":[1,2]}`, 400,
			map[string]any{"key": "color", "errorCode": "INVALID_CONTEXT"}},
		{"targeting key not a string", "color", "production", `{"context":{"targetingKey":7}}`, 400,
			map[string]any{"key": "color", "errorCode": "INVALID_CONTEXT"}},
		{"no environment", "color", "", `{}`, 401, map[string]any{}},
		{"unknown environment", "color", "staging", `{}`, 400,
			map[string]any{"key": "color", "errorCode": "GENERAL"}},
		{"body too large", "color", "production", `{"context":{"a":"` + strings.Repeat("x", 5000) + `"}}`, 413,
			map[string]any{"key": "color", "errorCode": "GENERAL"}},
		{"empty body", "color", "production", ``, 400, map[string]any{"key": "color", "errorCode": "PARSE_ERROR"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, url+tc.flag, tc.env, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %v", resp.StatusCode, tc.status, body)
			}
			for k, v := range tc.want {
				if body[k] != v {
					t.Errorf("%s = %v, want %v (body %v)", k, body[k], v, body)
				}
			}
			if d, _ := body["errorDetails"].(string); d == "" {
				t.Errorf("no errorDetails in %v", body)
			}
			if _, ok := body["value"]; ok {
				t.Errorf("error response carries a value: %v", body)
			}
		})
	}
}

func TestBulkEvaluationAndETag(t *testing.T) {
	snaps := snapshots{"production": testSnapshot(t, 5)}
	srv, _ := newServer(t, snaps)
	url := srv.URL + "/ofrep/v1/evaluate/flags"
	ctx := `{"context":{"country":"DE"}}`

	resp, body := post(t, url, "production", ctx)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %v", resp.StatusCode, body)
	}
	flags, _ := body["flags"].([]any)
	if len(flags) != 3 {
		t.Fatalf("flags %v", body)
	}
	byKey := map[string]map[string]any{}
	for _, f := range flags {
		m := f.(map[string]any)
		byKey[m["key"].(string)] = m
	}
	if byKey["color"]["value"] != "#f00" || byKey["color"]["reason"] != "DEFAULT" {
		t.Errorf("color: %v", byKey["color"])
	}
	if byKey["new-checkout"]["errorCode"] != "TARGETING_KEY_MISSING" {
		t.Errorf("a split without targeting key should fail in the list: %v", byKey["new-checkout"])
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || etag[0] != '"' {
		t.Fatalf("ETag %q", etag)
	}

	resp, body = post(t, url, "production", ctx, "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified || body != nil {
		t.Fatalf("matching ETag: status %d body %v, want 304 without body", resp.StatusCode, body)
	}
	resp, _ = post(t, url, "production", `{"context":{"country":"NL"}}`, "If-None-Match", etag)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Errorf("other context: status %d, same etag %v", resp.StatusCode, resp.Header.Get("ETag") == etag)
	}
	snaps["production"] = testSnapshot(t, 6) // a new revision
	resp, _ = post(t, url, "production", ctx, "If-None-Match", etag)
	if resp.StatusCode != 200 {
		t.Errorf("new revision: status %d, want 200", resp.StatusCode)
	}

	resp, body = post(t, url, "production", `{"context":"x"}`)
	if resp.StatusCode != 400 || body["errorCode"] != "INVALID_CONTEXT" {
		t.Errorf("bulk invalid context: %d %v", resp.StatusCode, body)
	}
}

func TestConfiguration(t *testing.T) {
	srv, _ := newServer(t, snapshots{})
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/ofrep/v1/configuration", nil)
	req.Header.Set(ofrep.EnvironmentHeader, "production")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 200 || body["name"] != "flagpole" {
		t.Errorf("configuration: %d %v", resp.StatusCode, body)
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

type tokenKey struct{}

// TestContextAuthenticator: the environment comes from the credential a
// middleware resolved; a missing one is 401, a forbidden environment 403.
func TestContextAuthenticator(t *testing.T) {
	resolve := func(ctx context.Context, requested string) (string, error) {
		tok, _ := ctx.Value(tokenKey{}).(string)
		switch {
		case tok == "":
			return "", server.Errorf(server.EUNAUTHORIZED, "no credential")
		case requested != "" && requested != "production":
			return "", server.Errorf(server.EFORBIDDEN, "token is for production")
		}
		return "production", nil
	}
	h := &ofrep.Handler{Snapshots: snapshots{"production": testSnapshot(t, 3)}, Authenticate: ofrep.ContextAuthenticator(resolve)}
	mux := http.NewServeMux()
	h.Register(mux, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if k := r.Header.Get("X-API-Key"); k != "" {
			r = r.WithContext(context.WithValue(r.Context(), tokenKey{}, k))
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	url := srv.URL + "/ofrep/v1/evaluate/flags/color"
	if resp, body := post(t, url, "", `{}`, "X-API-Key", "sdk-secret"); resp.StatusCode != 200 || body["value"] != "#f00" {
		t.Errorf("token: %d %v", resp.StatusCode, body)
	}
	if resp, _ := post(t, url, "", `{}`); resp.StatusCode != 401 {
		t.Errorf("no token: %d, want 401", resp.StatusCode)
	}
	if resp, _ := post(t, url, "staging", `{}`, "X-API-Key", "sdk-secret"); resp.StatusCode != 403 {
		t.Errorf("other environment: %d, want 403", resp.StatusCode)
	}
}

// TestPerFlagVersions: each flag carries its own version, so a change of
// one flag changes only that flag's entry in the bulk answer (the OFREP web
// provider reports as changed every flag whose entry differs); the
// environment's revision is in the bulk answer's metadata instead.
func TestPerFlagVersions(t *testing.T) {
	bulk := func(snap *engine.Snapshot) (map[string]any, map[string]any) {
		srv, _ := newServer(t, snapshots{"production": snap})
		resp, body := post(t, srv.URL+"/ofrep/v1/evaluate/flags", "production", `{"context":{"targetingKey":"u1"}}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %v", resp.StatusCode, body)
		}
		entries := map[string]any{}
		for _, f := range body["flags"].([]any) {
			entries[f.(map[string]any)["key"].(string)] = f
		}
		meta, _ := body["metadata"].(map[string]any)
		return entries, meta
	}
	before, meta1 := bulk(testSnapshot(t, 1))
	// Revision 2 changes color only.
	snap := testSnapshot(t, 1)
	color := engine.Flag{Key: "color", Type: engine.TypeString, Variants: []engine.Variant{{Key: "red", Value: "#f00"}, {Key: "blue", Value: "#00f"}}}
	next, err := snap.Apply(2, []engine.FlagState{{Flag: color, Config: engine.Config{Enabled: true, OffVariant: "red", Default: engine.Serve{Variant: "red"}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, meta2 := bulk(next)
	for key := range before {
		same := equalJSON(before[key], after[key])
		if same != (key != "color") {
			t.Errorf("%s: entry before %v, after %v (same = %v)", key, before[key], after[key], same)
		}
	}
	if v := after["color"].(map[string]any)["metadata"].(map[string]any)["version"]; v != next.VersionOf("color") || v == before["color"].(map[string]any)["metadata"].(map[string]any)["version"] {
		t.Errorf("color's version %v, want the new %s", v, next.VersionOf("color"))
	}
	if meta1["environmentRevision"] != float64(1) || meta2["environmentRevision"] != float64(2) || meta2["flagSetId"] != "production" {
		t.Errorf("bulk metadata %v then %v, want flagSetId production and environmentRevision 1 then 2", meta1, meta2)
	}

	// One flag: its version and the environment's revision.
	srv, _ := newServer(t, snapshots{"production": next})
	_, body := post(t, srv.URL+"/ofrep/v1/evaluate/flags/limit", "production", `{"context":{}}`)
	want := map[string]any{"flagSetId": "production", "version": next.VersionOf("limit"), "environmentRevision": float64(2)}
	if !equalJSON(body["metadata"], want) {
		t.Errorf("metadata %v, want %v", body["metadata"], want)
	}
}
