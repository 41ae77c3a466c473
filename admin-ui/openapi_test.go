package adminui_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/proto/gen/openapi"
	"github.com/flagpole/flagpole/server/httpapi"
)

// uiCall is one entry of the routes table in static/js/api.js.
type uiCall struct {
	name, method, path string
	query              []string // query parameter names
}

var (
	routesBlock = regexp.MustCompile(`(?s)export const routes = \{\n(.*?)\n\};`)
	builder     = regexp.MustCompile(`(?m)^  (\w+): \(`)
	// ['METHOD', `path` or 'path', optionally + query({ ... })
	routeEntry = regexp.MustCompile("(?s)(\\w+): \\([^)]*\\) =>\\s*\\[\\s*'([A-Z]+)',\\s*(`[^`]*`|'[^']*')(\\s*\\+\\s*query\\(\\{([^}]*)\\}\\))?")
	jsVariable = regexp.MustCompile(`\$\{[^}]*\}`)
	apiVar     = regexp.MustCompile(`\{[^}]*\}`)
)

// uiCalls parses the routes table of api.js, the UI's only way to the server.
func uiCalls(t *testing.T) []uiCall {
	t.Helper()
	src, err := os.ReadFile("static/js/api.js")
	if err != nil {
		t.Fatal(err)
	}
	block := routesBlock.FindSubmatch(src)
	if block == nil {
		t.Fatal("api.js: no `export const routes = {...};` table")
	}
	var calls []uiCall
	for _, m := range routeEntry.FindAllStringSubmatch(string(block[1]), -1) {
		c := uiCall{name: m[1], method: m[2]}
		path := strings.Trim(m[3], "`'")
		path, inline, _ := strings.Cut(path, "?")
		c.path = "/api/v1" + jsVariable.ReplaceAllString(path, "{}")
		for _, kv := range strings.Split(inline, "&") {
			if k, _, _ := strings.Cut(kv, "="); k != "" {
				c.query = append(c.query, k)
			}
		}
		for _, part := range strings.Split(m[5], ",") {
			if k, _, _ := strings.Cut(part, ":"); strings.TrimSpace(k) != "" {
				c.query = append(c.query, strings.TrimSpace(k))
			}
		}
		calls = append(calls, c)
	}
	if n := len(builder.FindAll(block[1], -1)); n != len(calls) || n < 30 {
		t.Fatalf("api.js: parsed %d of %d routes; the table's shape changed, adapt this test", len(calls), n)
	}
	return calls
}

// TestUICallsExistInOpenAPI: every call the admin UI makes (the routes table
// of api.js) is an operation of the generated OpenAPI document, with the
// same method, a path of the same shape and query parameters that the
// operation takes. Sign-in and sign-out are the session endpoints of
// httpapi.Sessions, not gRPC calls, so they are not in the document.
func TestUICallsExistInOpenAPI(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct{ Name, In string } `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openapi.JSON, &doc); err != nil {
		t.Fatal(err)
	}
	type operation struct{ query map[string]bool }
	ops := map[string]operation{}
	for path, methods := range doc.Paths {
		for method, op := range methods {
			o := operation{query: map[string]bool{}}
			for _, p := range op.Parameters {
				if p.In == "query" {
					o.query[p.Name] = true
				}
			}
			ops[strings.ToUpper(method)+" "+apiVar.ReplaceAllString(path, "{}")] = o
		}
	}
	sessions := map[string]bool{"POST " + httpapi.SignInPath: true, "POST " + httpapi.SignOutPath: true}
	for _, c := range uiCalls(t) {
		key := c.method + " " + c.path
		if sessions[key] {
			continue
		}
		op, ok := ops[key]
		if !ok {
			t.Errorf("api.js %s calls %s, which is not in the OpenAPI document", c.name, key)
			continue
		}
		for _, q := range c.query {
			if !op.query[q] {
				t.Errorf("api.js %s sends query parameter %q, which %s does not take", c.name, q, key)
			}
		}
	}
}

// TestOnlyAPIJSFetches: the routes table is the UI's only way to the server,
// so the test above sees every call: no other module calls fetch.
func TestOnlyAPIJSFetches(t *testing.T) {
	t.Parallel()
	err := filepath.WalkDir("static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".js") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n := strings.Count(string(b), "fetch(") + strings.Count(string(b), "XMLHttpRequest") + strings.Count(string(b), "EventSource(")
		want := 0
		if filepath.ToSlash(path) == "static/js/api.js" {
			want = 1
		}
		if n != want {
			t.Errorf("%s makes %d requests of its own, want %d: add the call to api.js's routes table", path, n, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
