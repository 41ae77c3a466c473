package httpapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// The generated package registers the flagpole.v1 descriptors (and,
	// through its imports, those of sdk/syncpb).
	_ "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
)

// Route maps an HTTP method and path to one unary gRPC method. The request
// message is the method's input type: path wildcards fill the fields named in
// Params, the JSON body fills the field named by Body ("*" for the whole
// request), and the query parameters fill top-level scalar fields by their
// proto or JSON name.
type Route struct {
	Method string // HTTP method
	Path   string // net/http.ServeMux path pattern, e.g. /api/v1/flags/{key}
	// Template is the path template of the google.api.http rule, e.g.
	// /api/v1/flags/{flag.key}: wildcards are request field paths.
	Template string
	RPC      string // gRPC full method name; the permission table is keyed by it
	Body     string // "", "*" or a top-level message field name
	// Params maps a path wildcard to a request field path, e.g. "flag.key".
	Params map[string]string
}

// Pattern is the route's ServeMux pattern, e.g. "GET /api/v1/flags/{key}".
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// Routes is the JSON API, read at init from the google.api.http annotations
// of the flagpole.v1 methods and, for the methods of sync.proto (generated
// into the SDK's module, which must not depend on googleapis), from the
// rules of sync_http.yaml. The same annotations and file generate the
// OpenAPI document, so the two cannot disagree. Streaming calls have no
// route. Sorted by path, then method.
var Routes = mustRoutes()

//go:embed sync_http.yaml
var syncHTTP []byte

const protoPackage = "flagpole.v1"

func mustRoutes() []Route {
	rs, err := routes(syncHTTP)
	if err != nil {
		panic("httpapi: " + err.Error())
	}
	return rs
}

// routes builds the table from the registered descriptors and a gRPC API
// configuration (YAML with http.rules).
func routes(config []byte) ([]Route, error) {
	rules, err := configRules(config)
	if err != nil {
		return nil, err
	}
	var rs []Route
	var errs []error
	protoregistry.GlobalFiles.RangeFilesByPackage(protoPackage, func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			methods := fd.Services().Get(i).Methods()
			for j := 0; j < methods.Len(); j++ {
				md := methods.Get(j)
				rule := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
				if extra, ok := rules[string(md.FullName())]; ok {
					if rule != nil {
						errs = append(errs, fmt.Errorf("%s has a route in both its annotation and the configuration", md.FullName()))
					}
					rule = extra
					delete(rules, string(md.FullName()))
				}
				if rule == nil {
					continue
				}
				rt, err := route(md, rule)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				rs = append(rs, rt)
			}
		}
		return true
	})
	for selector := range rules {
		errs = append(errs, fmt.Errorf("configuration names %s, which is not a method of %s", selector, protoPackage))
	}
	if len(errs) > 0 {
		return nil, errs[0]
	}
	slices.SortFunc(rs, func(a, b Route) int {
		return strings.Compare(a.Path+" "+a.Method, b.Path+" "+b.Method)
	})
	return rs, nil
}

// configRules reads the http.rules of a gRPC API configuration, keyed by
// selector (a method's full name).
func configRules(config []byte) (map[string]*annotations.HttpRule, error) {
	var doc struct {
		Type string `yaml:"type"`
		HTTP struct {
			Rules []map[string]any `yaml:"rules"`
		} `yaml:"http"`
	}
	if err := yaml.Unmarshal(config, &doc); err != nil {
		return nil, fmt.Errorf("sync_http.yaml: %w", err)
	}
	if doc.Type != "google.api.Service" {
		return nil, fmt.Errorf("sync_http.yaml: type is %q, want google.api.Service", doc.Type)
	}
	rules := map[string]*annotations.HttpRule{}
	for _, m := range doc.HTTP.Rules {
		b, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("sync_http.yaml: %w", err)
		}
		rule := &annotations.HttpRule{}
		if err := protojson.Unmarshal(b, rule); err != nil {
			return nil, fmt.Errorf("sync_http.yaml: rule %s: %w", b, err)
		}
		rules[rule.GetSelector()] = rule
	}
	return rules, nil
}

// route turns one rule into a Route, checking that every field it names
// exists in the request message.
func route(md protoreflect.MethodDescriptor, rule *annotations.HttpRule) (Route, error) {
	name := md.FullName()
	if md.IsStreamingClient() || md.IsStreamingServer() {
		return Route{}, fmt.Errorf("%s streams and cannot have a route", name)
	}
	if len(rule.GetAdditionalBindings()) > 0 || rule.GetResponseBody() != "" {
		return Route{}, fmt.Errorf("%s: additional_bindings and response_body are not supported", name)
	}
	rt := Route{
		RPC:    "/" + string(md.Parent().FullName()) + "/" + string(md.Name()),
		Body:   rule.GetBody(),
		Params: map[string]string{},
	}
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		rt.Method, rt.Template = "GET", p.Get
	case *annotations.HttpRule_Post:
		rt.Method, rt.Template = "POST", p.Post
	case *annotations.HttpRule_Put:
		rt.Method, rt.Template = "PUT", p.Put
	case *annotations.HttpRule_Delete:
		rt.Method, rt.Template = "DELETE", p.Delete
	case *annotations.HttpRule_Patch:
		rt.Method, rt.Template = "PATCH", p.Patch
	default:
		return Route{}, fmt.Errorf("%s: rule has no GET, POST, PUT, DELETE or PATCH path", name)
	}
	if rt.Body != "" && rt.Body != "*" {
		fd := md.Input().Fields().ByName(protoreflect.Name(rt.Body))
		if fd == nil || fd.Message() == nil || fd.IsList() || fd.IsMap() {
			return Route{}, fmt.Errorf("%s: body %q is not a message field of %s", name, rt.Body, md.Input().Name())
		}
	}
	path, err := muxPath(md.Input(), rt.Template, rt.Params)
	if err != nil {
		return Route{}, fmt.Errorf("%s: %w", name, err)
	}
	rt.Path = path
	return rt, nil
}

// muxPath converts a path template of literal segments and {field.path}
// variables to a ServeMux path: each variable becomes a wildcard named
// after the JSON name of the field it sets ({flag.key} → {key},
// {flag_key} → {flagKey}), recorded in params. Variables with a pattern
// ({name=things/*}), * and ** segments and :verb suffixes are not supported.
func muxPath(in protoreflect.MessageDescriptor, template string, params map[string]string) (string, error) {
	if !strings.HasPrefix(template, "/") {
		return "", fmt.Errorf("path %q does not start with /", template)
	}
	segs := strings.Split(template[1:], "/")
	for i, seg := range segs {
		if !strings.HasPrefix(seg, "{") {
			if seg == "" || strings.ContainsAny(seg, "{}*:") {
				return "", fmt.Errorf("path %q: unsupported segment %q", template, seg)
			}
			continue
		}
		field, ok := strings.CutSuffix(seg[1:], "}")
		if !ok || strings.ContainsAny(field, "{}=*:") {
			return "", fmt.Errorf("path %q: unsupported variable %q", template, seg)
		}
		fd, err := scalarField(in, field)
		if err != nil {
			return "", fmt.Errorf("path %q: %w", template, err)
		}
		wildcard := fd.JSONName()
		if _, dup := params[wildcard]; dup {
			return "", fmt.Errorf("path %q: two variables end in field %s", template, fd.Name())
		}
		params[wildcard] = field
		segs[i] = "{" + wildcard + "}"
	}
	return "/" + strings.Join(segs, "/"), nil
}

// scalarField resolves a dotted field path of singular fields, ending in a
// scalar, in the message in.
func scalarField(in protoreflect.MessageDescriptor, path string) (protoreflect.FieldDescriptor, error) {
	m := in
	parts := strings.Split(path, ".")
	for i, part := range parts {
		fd := m.Fields().ByName(protoreflect.Name(part))
		if fd == nil || fd.IsList() || fd.IsMap() {
			return nil, fmt.Errorf("%s has no singular field %q", m.FullName(), part)
		}
		if i == len(parts)-1 {
			if fd.Message() != nil {
				return nil, fmt.Errorf("field path %q ends in a message", path)
			}
			return fd, nil
		}
		if fd.Message() == nil {
			return nil, fmt.Errorf("field path %q: %s is not a message", path, part)
		}
		m = fd.Message()
	}
	return nil, fmt.Errorf("empty field path")
}
