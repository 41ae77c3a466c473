package cli

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkNode walks a YAML node against the Go type it decodes into and
// reports the first unknown field or value of the wrong kind by its path
// in the file (flags[0].environments.production.enabeld), so that the
// error speaks the file's language, not the decoder's Go types.
func checkNode(n *yaml.Node, t reflect.Type, path string) error {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return checkNode(n.Content[0], t, path)
	}
	if n.Kind == 0 || isNull(n) {
		return nil // an empty document or value
	}
	switch t {
	case reflect.TypeFor[ServeSpec]():
		if n.Kind == yaml.ScalarNode {
			return nil
		}
		return checkNode(n, reflect.TypeFor[serveObject](), path)
	case reflect.TypeFor[Weights]():
		if n.Kind != yaml.MappingNode {
			return pathError(path, n, "must be a mapping of variant to weight, like {on: 10, off: 90}")
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkNode(n.Content[i+1], reflect.TypeFor[int](), join(path, n.Content[i].Value)); err != nil {
				return err
			}
		}
		return nil
	case reflect.TypeFor[Variants]():
		if n.Kind != yaml.MappingNode {
			return pathError(path, n, "must be a mapping of name to value, like {on: true, off: false}")
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return checkNode(n, t.Elem(), path)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return pathError(path, n, "must be a mapping, not %s", describe(n))
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			ft, ok := fields[key]
			if !ok {
				return pathError(join(path, key), n.Content[i], "unknown field (want one of %s)", strings.Join(sortedKeys(fields), ", "))
			}
			if err := checkNode(n.Content[i+1], ft, join(path, key)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return pathError(path, n, "must be a list, not %s", describe(n))
		}
		for i, c := range n.Content {
			if err := checkNode(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return pathError(path, n, "must be a mapping, not %s", describe(n))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkNode(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value)); err != nil {
				return err
			}
		}
		return nil
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return pathError(path, n, "must be a string, not %s", describe(n))
		}
		return nil
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
			return pathError(path, n, "must be true or false, not %s", describe(n))
		}
		return nil
	case reflect.Int:
		var i int
		if n.Kind != yaml.ScalarNode || n.Decode(&i) != nil || i > math.MaxInt32 {
			return pathError(path, n, "must be an integer, not %s", describe(n))
		}
		return nil
	}
	return nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// yamlFields maps the YAML names of t's fields to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

// pathError is an error that starts with the field's path and ends with
// its line, e.g. `flags[0].enabeld: unknown field (...) (line 4)`.
func pathError(path string, n *yaml.Node, format string, args ...any) error {
	if path == "" {
		path = "file"
	}
	return fmt.Errorf("%s: %s (line %d)", path, fmt.Sprintf(format, args...), n.Line)
}
