package httpapi

import (
	"encoding/json"
	"regexp"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// The generated package registers the flagpole.v1 descriptors.
	_ "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
)

// OpenAPI returns the OpenAPI 3 description of Routes, generated from the
// route table and the protobuf descriptors of the request and response
// messages (schemas in the protobuf JSON mapping). It panics if a route
// names a method that is not in the registry, which a test rules out.
func OpenAPI() []byte {
	g := &openapiGen{schemas: map[string]any{}}
	paths := map[string]map[string]any{}
	for _, rt := range Routes {
		md := methodDescriptor(rt.RPC)
		if paths[rt.Path] == nil {
			paths[rt.Path] = map[string]any{}
		}
		paths[rt.Path][strings.ToLower(rt.Method)] = g.operation(rt, md)
	}
	g.schemas["Error"] = map[string]any{
		"type": "object",
		"properties": map[string]any{
			"code":    map[string]any{"type": "string", "description": "snake_case gRPC code, e.g. invalid_argument, not_found, aborted"},
			"message": map[string]any{"type": "string"},
			"fieldViolations": map[string]any{"type": "array", "items": map[string]any{
				"type": "object",
				"properties": map[string]any{
					"field":       map[string]any{"type": "string"},
					"description": map[string]any{"type": "string"},
				},
			}},
		},
		"required": []string{"code", "message"},
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "Flagpole API",
			"version":     "v1",
			"description": "JSON transport of the flagpole.v1 gRPC API (protobuf JSON mapping). Generated from the route table and the protobuf descriptors.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": g.schemas,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer"},
			},
		},
		"security": []any{map[string]any{"bearer": []string{}}},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

func methodDescriptor(rpc string) protoreflect.MethodDescriptor {
	service, method, _ := strings.Cut(strings.TrimPrefix(rpc, "/"), "/")
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		panic("httpapi: route for unknown service " + service)
	}
	md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(method))
	if md == nil {
		panic("httpapi: route for unknown method " + rpc)
	}
	return md
}

type openapiGen struct {
	schemas map[string]any
}

var wildcard = regexp.MustCompile(`\{([a-z_]+)\}`)

func (g *openapiGen) operation(rt Route, md protoreflect.MethodDescriptor) map[string]any {
	in := md.Input()
	op := map[string]any{
		"operationId": string(md.Parent().Name()) + "_" + string(md.Name()),
		"tags":        []string{string(md.Parent().Name())},
		"summary":     "gRPC " + rt.RPC,
	}
	var params []any
	for _, m := range wildcard.FindAllStringSubmatch(rt.Path, -1) {
		params = append(params, map[string]any{
			"name": m[1], "in": "path", "required": true,
			"schema":      map[string]any{"type": "string"},
			"description": "sets " + jsonPath(rt.Params[m[1]]),
		})
	}
	if rt.Method != "GET" {
		params = append(params, map[string]any{
			"name": "X-Flagpole-Comment", "in": "header", "required": false,
			"schema": map[string]any{"type": "string"},
			"description": "why the change is made, stored in its audit entries: UTF-8, percent-encoded (RFC 3986), " +
				"at most 1000 characters; required by environments with requireComment",
		})
	}
	if rt.Body == "" {
		bound := map[string]bool{}
		for _, f := range rt.Params {
			bound[f] = true
		}
		fields := in.Fields()
		for i := 0; i < fields.Len(); i++ {
			fd := fields.Get(i)
			if bound[string(fd.Name())] || fd.IsMap() || (fd.Kind() == protoreflect.MessageKind && fd.Message().FullName() != timestampName) {
				continue
			}
			params = append(params, map[string]any{"name": fd.JSONName(), "in": "query", "schema": g.field(fd)})
		}
	} else {
		var ref protoreflect.MessageDescriptor = in
		if rt.Body != "*" {
			ref = in.Fields().ByName(protoreflect.Name(rt.Body)).Message()
		}
		op["requestBody"] = map[string]any{
			"required": true,
			"content":  map[string]any{"application/json": map[string]any{"schema": g.message(ref)}},
		}
	}
	if params != nil {
		op["parameters"] = params
	}
	errResp := map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}}
	op["responses"] = map[string]any{
		"200": map[string]any{
			"description": "OK",
			"content":     map[string]any{"application/json": map[string]any{"schema": g.message(md.Output())}},
		},
		"default": errResp,
	}
	return op
}

// message returns a schema (usually a $ref) for a message, adding it and
// what it references to the components.
func (g *openapiGen) message(md protoreflect.MessageDescriptor) map[string]any {
	switch md.FullName() {
	case timestampName:
		return map[string]any{"type": "string", "format": "date-time"}
	case "google.protobuf.Duration":
		return map[string]any{"type": "string", "description": "seconds with an s suffix, e.g. 1.5s"}
	case "google.protobuf.Struct":
		return map[string]any{"type": "object", "additionalProperties": true}
	case "google.protobuf.Value":
		return map[string]any{"description": "any JSON value"}
	case "google.protobuf.ListValue":
		return map[string]any{"type": "array", "items": map[string]any{}}
	case "google.protobuf.Empty":
		return map[string]any{"type": "object"}
	}
	name := string(md.FullName())
	ref := map[string]any{"$ref": "#/components/schemas/" + name}
	if _, done := g.schemas[name]; done {
		return ref
	}
	props := map[string]any{}
	g.schemas[name] = map[string]any{"type": "object", "properties": props}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		props[fd.JSONName()] = g.field(fd)
	}
	return ref
}

func (g *openapiGen) field(fd protoreflect.FieldDescriptor) map[string]any {
	if fd.IsMap() {
		return map[string]any{"type": "object", "additionalProperties": g.single(fd.MapValue())}
	}
	if fd.IsList() {
		return map[string]any{"type": "array", "items": g.single(fd)}
	}
	return g.single(fd)
}

func (g *openapiGen) single(fd protoreflect.FieldDescriptor) map[string]any {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return map[string]any{"type": "boolean"}
	case protoreflect.StringKind:
		return map[string]any{"type": "string"}
	case protoreflect.BytesKind:
		return map[string]any{"type": "string", "format": "byte"}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return map[string]any{"type": "integer", "format": "int32"}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return map[string]any{"type": "string", "format": "int64", "description": "a 64-bit integer, written as a JSON string (numbers are accepted too)"}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return map[string]any{"type": "number"}
	case protoreflect.EnumKind:
		var names []string
		vals := fd.Enum().Values()
		for i := 0; i < vals.Len(); i++ {
			names = append(names, string(vals.Get(i).Name()))
		}
		return map[string]any{"type": "string", "enum": names}
	default:
		return g.message(fd.Message())
	}
}
