package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/server/grpcapi"
	"github.com/flagpole/flagpole/server/httpapi"
	"github.com/flagpole/flagpole/server/service"
	"github.com/flagpole/flagpole/server/sqlite"
)

// newAPI serves the JSON API over a real SQLite file and the real service
// and gRPC implementations, on a loopback httptest server.
func newAPI(t *testing.T, opts ...httpapi.Option) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "flagpole.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := service.New(db)
	if err := svc.EnsureDefaults(ctx); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	api := httpapi.New(append([]httpapi.Option{httpapi.WithLogger(log)}, opts...)...)
	grpcapi.Register(api, svc, log)
	mux := http.NewServeMux()
	api.Register(mux, nil)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

type result struct {
	status int
	body   map[string]any
	raw    string
}

func call(t *testing.T, srv *httptest.Server, method, path, body string) result {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, raw: string(raw)}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object", method, path, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: content type %q", method, path, ct)
	}
	return r
}

// step is one request and what must come back: the status, and for errors
// the code and (when set) the field a violation must name.
type step struct {
	method, path, body string
	status             int
	code               string // error code, for failures
	field              string // a fieldViolations[].field, for 400s
	has                string // a substring the body must contain, for successes
}

// TestRoutes walks every admin and evaluation route through a success and a
// failure over real HTTP.
func TestRoutes(t *testing.T) {
	srv := newAPI(t)
	steps := []step{
		{"GET", "/api/v1/environments", "", 200, "", "", `"name":"production"`},
		{"POST", "/api/v1/environments", `{"name":"qa","description":"for QA"}`, 200, "", "", `"name":"qa"`},
		{"POST", "/api/v1/environments", `{"name":"qa"}`, 409, "already_exists", "", ""},
		{"POST", "/api/v1/environments", `{"name":"Bad Name"}`, 400, "invalid_argument", "environment.name", ""},
		{"POST", "/api/v1/environments", `{"nmae":"qa"}`, 400, "invalid_argument", "environment", ""},
		{"GET", "/api/v1/environments/qa", "", 200, "", "", `"description":"for QA"`},
		{"GET", "/api/v1/environments/nope", "", 404, "not_found", "", ""},
		{"PUT", "/api/v1/environments/qa", `{"description":"quality"}`, 200, "", "", `"description":"quality"`},
		{"PUT", "/api/v1/environments/qa", `{"name":"staging","description":"x"}`, 400, "invalid_argument", "environment.name", ""},
		{"DELETE", "/api/v1/environments/qa", "", 200, "", "", ""},
		{"DELETE", "/api/v1/environments/qa", "", 404, "not_found", "", ""},

		{"POST", "/api/v1/flags", `{"key":"checkout","type":"boolean","name":"New checkout"}`, 200, "", "", `"key":"checkout"`},
		{"POST", "/api/v1/flags", `{"key":"checkout","type":"boolean"}`, 409, "already_exists", "", ""},
		{"POST", "/api/v1/flags", `{"key":"Not A Key","type":"boolean"}`, 400, "invalid_argument", "flag.key", ""},
		{"POST", "/api/v1/flags", `{"key":`, 400, "invalid_argument", "flag", ""},
		{"GET", "/api/v1/flags", "", 200, "", "", `"key":"checkout"`},
		{"GET", "/api/v1/flags?include_archived=maybe", "", 400, "invalid_argument", "include_archived", ""},
		{"GET", "/api/v1/flags?colour=red", "", 400, "invalid_argument", "colour", ""},
		{"GET", "/api/v1/flags/checkout", "", 200, "", "", `"revision":"1"`},
		{"GET", "/api/v1/flags/nope", "", 404, "not_found", "", ""},
		{"PUT", "/api/v1/flags/checkout", `{"type":"boolean","name":"Checkout v2","revision":"1"}`, 200, "", "", `"revision":"2"`},
		{"PUT", "/api/v1/flags/checkout", `{"type":"boolean","name":"stale","revision":"1"}`, 409, "aborted", "", ""},

		{"GET", "/api/v1/flags/checkout/environments/production", "", 200, "", "", `"enabled":false`},
		{"GET", "/api/v1/flags/checkout/environments/nope", "", 404, "not_found", "", ""},
		{"PUT", "/api/v1/flags/checkout/environments/staging", `{"enabled":true,"offVariant":"off","defaultServe":{"variant":"on"}}`, 200, "", "", `"enabled":true`},
		{"PUT", "/api/v1/flags/checkout/environments/staging", `{"enabled":true,"offVariant":"off","defaultServe":{"variant":"purple"}}`, 400, "invalid_argument", "", ""},
		{"POST", "/api/v1/flags/checkout/environments/production/enabled", `{"enabled":true}`, 200, "", "", `"enabled":true`},
		{"POST", "/api/v1/flags/checkout/environments/production/enabled", `{"enabled":false,"expectedRevision":"99"}`, 409, "aborted", "", ""},
		{"POST", "/api/v1/flags/checkout/environments/production/rollout", `{"percent":30}`, 200, "", "", `"weight":30`},
		{"POST", "/api/v1/flags/checkout/environments/production/rollout", `{"percent":130}`, 400, "invalid_argument", "percent", ""},

		{"POST", "/api/v1/environments/production/flags/checkout/evaluate", `{"targetingKey":"user-1"}`, 200, "", "", `"reason":"SPLIT"`},
		{"POST", "/api/v1/environments/nope/flags/checkout/evaluate", `{"targetingKey":"user-1"}`, 404, "not_found", "", ""},
		{"POST", "/api/v1/environments/production/evaluate", `{"targetingKey":"user-1"}`, 200, "", "", `"flagKey":"checkout"`},
		{"POST", "/api/v1/environments/production/evaluate", `{"context":"x"}`, 400, "invalid_argument", "body", ""},

		{"POST", "/api/v1/segments", `{"key":"beta","included":["user-1"]}`, 200, "", "", `"key":"beta"`},
		{"POST", "/api/v1/segments", `{"key":"beta"}`, 409, "already_exists", "", ""},
		{"GET", "/api/v1/segments", "", 200, "", "", `"key":"beta"`},
		{"GET", "/api/v1/segments/beta", "", 200, "", "", `"user-1"`},
		{"GET", "/api/v1/segments/nope", "", 404, "not_found", "", ""},
		{"PUT", "/api/v1/segments/beta", `{"included":["user-2"],"revision":"1"}`, 200, "", "", `"user-2"`},
		{"PUT", "/api/v1/segments/beta", `{"included":["user-3"],"revision":"1"}`, 409, "aborted", "", ""},
		{"DELETE", "/api/v1/segments/beta?expected_revision=1", "", 409, "aborted", "", ""},
		{"DELETE", "/api/v1/segments/beta", "", 200, "", "", ""},
		{"DELETE", "/api/v1/segments/beta", "", 404, "not_found", "", ""},

		{"GET", "/api/v1/audit?flag_key=checkout", "", 200, "", "", `"action"`},
		{"GET", "/api/v1/audit?since=yesterday", "", 400, "invalid_argument", "since", ""},

		{"POST", "/api/v1/release-plans", `{"flagKey":"checkout","environment":"staging","steps":[{"percent":10,"hold":"60s"},{"percent":100,"hold":"60s"}],"guard":{"event":"error","maxRatio":1.2,"minSamples":"500"},"startTime":"2099-01-01T09:00:00Z"}`, 200, "", "", `"state":"scheduled"`},
		{"POST", "/api/v1/release-plans", `{"flagKey":"checkout","environment":"staging","steps":[{"percent":100,"hold":"60s"}]}`, 409, "already_exists", "", ""},
		{"POST", "/api/v1/release-plans", `{"flagKey":"checkout","environment":"production","steps":[{"percent":50,"hold":"60s"},{"percent":10,"hold":"60s"}]}`, 400, "invalid_argument", "steps[1].percent", ""},
		{"GET", "/api/v1/release-plans?environment=staging", "", 200, "", "", `"flagKey":"checkout"`},
		{"GET", "/api/v1/environments/staging/release-plans/1", "", 200, "", "", `"event":"error"`},
		{"GET", "/api/v1/environments/production/release-plans/1", "", 404, "not_found", "", ""},
		{"GET", "/api/v1/environments/staging/release-plans/one", "", 400, "invalid_argument", "id", ""},
		{"POST", "/api/v1/environments/staging/release-plans/1/pause", `{}`, 200, "", "", `"state":"paused"`},
		{"POST", "/api/v1/environments/staging/release-plans/1/resume", `{}`, 200, "", "", `"state":"scheduled"`},
		{"POST", "/api/v1/environments/staging/release-plans/1/cancel", `{}`, 200, "", "", `"state":"cancelled"`},
		{"POST", "/api/v1/environments/staging/release-plans/1/cancel", `{}`, 400, "invalid_argument", "id", ""},

		{"POST", "/api/v1/flags/checkout/archive", `{"archived":true}`, 400, "invalid_argument", "force", ""},
		{"POST", "/api/v1/flags/checkout/archive", `{"archived":true,"force":true}`, 200, "", "", `"archived":true`},
		{"POST", "/api/v1/flags/nope/archive", `{"archived":true}`, 404, "not_found", "", ""},
		{"DELETE", "/api/v1/flags/checkout?expectedRevision=99", "", 409, "aborted", "", ""},
		{"DELETE", "/api/v1/flags/checkout", "", 200, "", "", ""},
		{"DELETE", "/api/v1/flags/checkout", "", 404, "not_found", "", ""},

		// Services this server does not register answer 501, not 404.
		{"GET", "/api/v1/environments/production/clients", "", 501, "unimplemented", "", ""},
	}
	for _, s := range steps {
		r := call(t, srv, s.method, s.path, s.body)
		name := s.method + " " + s.path + " " + s.body
		if r.status != s.status {
			t.Errorf("%s: status %d, want %d; body %s", name, r.status, s.status, r.raw)
			continue
		}
		if s.status >= 400 {
			if r.body["code"] != s.code {
				t.Errorf("%s: code %v, want %s", name, r.body["code"], s.code)
			}
			if m, _ := r.body["message"].(string); m == "" {
				t.Errorf("%s: no message: %s", name, r.raw)
			}
			if s.field != "" && !hasViolation(r.body, s.field) {
				t.Errorf("%s: no field violation for %q: %s", name, s.field, r.raw)
			}
		} else if !strings.Contains(r.raw, s.has) {
			t.Errorf("%s: body lacks %s: %s", name, s.has, r.raw)
		}
	}
}

func hasViolation(body map[string]any, field string) bool {
	vs, _ := body["fieldViolations"].([]any)
	for _, v := range vs {
		m, _ := v.(map[string]any)
		if f, _ := m["field"].(string); f == field || strings.HasPrefix(f, field+".") || strings.HasPrefix(f, field+"[") {
			return true
		}
	}
	return false
}

func TestBodyLimit(t *testing.T) {
	srv := newAPI(t, httpapi.WithMaxBodyBytes(1024))
	r := call(t, srv, "POST", "/api/v1/flags", `{"key":"big","type":"boolean","description":"`+strings.Repeat("x", 2000)+`"}`)
	if r.status != http.StatusRequestEntityTooLarge || r.body["code"] != "request_too_large" {
		t.Errorf("oversized body: %d %s", r.status, r.raw)
	}
	if r := call(t, srv, "GET", "/api/v1/flags/big", ""); r.status != 404 {
		t.Errorf("the oversized create was applied: %d", r.status)
	}
}

// TestOpenAPI serves the generated document: Swagger 2.0, with the schemas
// of the protobuf JSON mapping (64-bit integers as strings, timestamps as
// date-times) and the body and path parameters of a call.
func TestOpenAPI(t *testing.T) {
	srv := newAPI(t)
	r := call(t, srv, "GET", "/api/v1/openapi.json", "")
	if r.status != 200 || r.body["swagger"] != "2.0" {
		t.Fatalf("openapi: %d %.200s", r.status, r.raw)
	}
	if info, _ := r.body["info"].(map[string]any); info["title"] != "Flagpole API" {
		t.Errorf("info: %v, want the title of proto/openapiv2.yaml", info)
	}
	defs, _ := r.body["definitions"].(map[string]any)
	flag, _ := defs["Flag"].(map[string]any)
	props, _ := flag["properties"].(map[string]any)
	createTime, _ := props["createTime"].(map[string]any)
	revision, _ := props["revision"].(map[string]any)
	if createTime["format"] != "date-time" || revision["format"] != "int64" || revision["type"] != "string" {
		t.Errorf("Flag schema: %v", props)
	}
	paths, _ := r.body["paths"].(map[string]any)
	ops, _ := paths["/api/v1/flags/{flagKey}/environments/{environment}/enabled"].(map[string]any)
	setEnabled, _ := ops["post"].(map[string]any)
	var names []string
	params, _ := setEnabled["parameters"].([]any)
	for _, p := range params {
		p, _ := p.(map[string]any)
		names = append(names, p["in"].(string)+":"+p["name"].(string))
	}
	if strings.Join(names, " ") != "path:flagKey path:environment body:body header:X-Flagpole-Comment" {
		t.Errorf("SetEnabled parameters %v, want path flagKey, path environment, body, header X-Flagpole-Comment", names)
	}
}
