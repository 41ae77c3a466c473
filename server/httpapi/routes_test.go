package httpapi_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/proto/gen/openapi"
	"github.com/flagpole/flagpole/server/httpapi"
)

// TestEveryUnaryMethodHasOneRoute keeps the annotations complete: each unary
// method of the flagpole.v1 services has exactly one route, and each route
// names a method that exists.
func TestEveryUnaryMethodHasOneRoute(t *testing.T) {
	routes := map[string]int{}
	for _, r := range httpapi.Routes {
		routes[r.RPC]++
	}
	seen := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("flagpole.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				md := sd.Methods().Get(j)
				name := "/" + string(sd.FullName()) + "/" + string(md.Name())
				if md.IsStreamingClient() || md.IsStreamingServer() {
					if routes[name] != 0 {
						t.Errorf("streaming %s has a route", name)
					}
					continue
				}
				seen++
				if routes[name] != 1 {
					t.Errorf("%s has %d routes, want 1", name, routes[name])
				}
				delete(routes, name)
			}
		}
		return true
	})
	for name := range routes {
		t.Errorf("route for unknown method %s", name)
	}
	if seen < 30 {
		t.Errorf("only %d unary methods found; descriptors not registered?", seen)
	}
	_ = flagpolev1.File_flagpole_v1_flag_service_proto
}

// swagger is the part of the OpenAPI document the tests read.
type swagger struct {
	Paths map[string]map[string]struct {
		OperationID string `json:"operationId"`
		Summary     string `json:"summary"`
		Description string `json:"description"`
		Parameters  []struct {
			Name, In string
		} `json:"parameters"`
	} `json:"paths"`
}

func readOpenAPI(t *testing.T) swagger {
	t.Helper()
	var doc swagger
	if err := json.Unmarshal(openapi.JSON, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// operations lists the document's operations as "METHOD /path" → operationId.
func (doc swagger) operations() map[string]string {
	ops := map[string]string{}
	for path, methods := range doc.Paths {
		for method, op := range methods {
			if method == "parameters" {
				continue
			}
			ops[strings.ToUpper(method)+" "+path] = op.OperationID
		}
	}
	return ops
}

var variable = regexp.MustCompile(`\{([a-z0-9_.]+)\}`)

// openAPIPath spells a route's template as protoc-gen-openapiv2 does, with
// JSON field names: /flags/{config.flag_key} → /flags/{config.flagKey}.
func openAPIPath(template string) string {
	return variable.ReplaceAllStringFunc(template, func(v string) string {
		parts := strings.Split(strings.Trim(v, "{}"), ".")
		for i, p := range parts {
			words := strings.Split(p, "_")
			for j := 1; j < len(words); j++ {
				words[j] = strings.ToUpper(words[j][:1]) + words[j][1:]
			}
			parts[i] = strings.Join(words, "")
		}
		return "{" + strings.Join(parts, ".") + "}"
	})
}

// TestRoutesMatchOpenAPI: the routes the server serves are exactly the
// operations of the OpenAPI document it serves, each for the same method.
// Both come from the same annotations; this fails when the committed
// document is stale or when the server reads the annotations differently
// from protoc-gen-openapiv2.
func TestRoutesMatchOpenAPI(t *testing.T) {
	ops := readOpenAPI(t).operations()
	for _, rt := range httpapi.Routes {
		key := rt.Method + " " + openAPIPath(rt.Template)
		id, ok := ops[key]
		if !ok {
			t.Errorf("route %s (%s) is not in the OpenAPI document", key, rt.RPC)
			continue
		}
		delete(ops, key)
		service, method, _ := strings.Cut(strings.TrimPrefix(rt.RPC, "/flagpole.v1."), "/")
		if id != service+"_"+method {
			t.Errorf("%s: operationId %s, want %s_%s", key, id, service, method)
		}
		if got := variable.ReplaceAllString(rt.Template, "{}"); got != regexp.MustCompile(`\{\w+\}`).ReplaceAllString(rt.Path, "{}") {
			t.Errorf("%s: ServeMux path %s does not follow the template %s", key, rt.Path, rt.Template)
		}
	}
	for key := range ops {
		t.Errorf("the OpenAPI document has %s, which the server does not serve", key)
	}
	if len(httpapi.Routes) < 30 {
		t.Errorf("only %d routes", len(httpapi.Routes))
	}
}

// TestOpenAPIDescribesEveryOperation: every operation is summarised by the
// proto comment of its method ("SetEnabled flips the kill switch ..."), so
// an RPC without a user-facing comment fails here.
func TestOpenAPIDescribesEveryOperation(t *testing.T) {
	doc := readOpenAPI(t)
	for path, methods := range doc.Paths {
		for method, op := range methods {
			_, name, _ := strings.Cut(op.OperationID, "_")
			text := strings.TrimSpace(op.Summary + " " + op.Description)
			if !strings.HasPrefix(text, name+" ") || len(strings.Fields(text)) < 4 {
				t.Errorf("%s %s: summary %q, want the comment of %s", strings.ToUpper(method), path, text, op.OperationID)
			}
			if strings.Contains(text, "gRPC /flagpole") {
				t.Errorf("%s %s: summary %q names the gRPC method instead of describing it", strings.ToUpper(method), path, text)
			}
		}
	}
}

// TestOpenAPIChangesTakeAComment: every operation that can change
// something documents the X-Flagpole-Comment header (proto/openapiv2.yaml
// lists them), so a new call that changes state cannot be left out.
func TestOpenAPIChangesTakeAComment(t *testing.T) {
	changesNothing := map[string]bool{
		"EvaluationService_Evaluate": true, "EvaluationService_EvaluateAll": true,
		"WebhookService_TestWebhook": true, // sends a test event, stores nothing
	}
	for path, methods := range readOpenAPI(t).Paths {
		for method, op := range methods {
			has := false
			for _, p := range op.Parameters {
				has = has || p.In == "header" && p.Name == "X-Flagpole-Comment"
			}
			if want := method != "get" && !changesNothing[op.OperationID]; has != want {
				t.Errorf("%s %s (%s): X-Flagpole-Comment header documented %v, want %v", strings.ToUpper(method), path, op.OperationID, has, want)
			}
		}
	}
}

// TestREADMELinksOpenAPI: this package's README points to the generated
// document (a link that resolves) and to the served URL instead of copying
// the route table, which would drift from the annotations.
func TestREADMELinksOpenAPI(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	const target = "../../proto/gen/openapi/flagpole.swagger.json"
	if !strings.Contains(doc, "]("+target+")") {
		t.Errorf("README.md does not link %s", target)
	}
	if _, err := os.Stat(filepath.FromSlash(target)); err != nil {
		t.Errorf("the link target: %v", err)
	}
	if !strings.Contains(doc, "/api/v1/openapi.json") {
		t.Errorf("README.md does not name the served document, GET /api/v1/openapi.json")
	}
	row := regexp.MustCompile("(?m)^\\|\\s*`(GET|POST|PUT|DELETE|PATCH) /api/")
	if m := row.FindAllString(doc, -1); len(m) > 0 {
		t.Errorf("README.md has a route table (%d rows): link the OpenAPI document instead", len(m))
	}
}
