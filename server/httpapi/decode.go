package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flagpole/flagpole/server"
)

// decode fills msg from the body, the query and the path, in that order.
// Errors are InvalidArgument statuses naming the field.
func decode(rt Route, r *http.Request, body []byte, msg proto.Message) error {
	if err := decodeBody(rt, body, msg); err != nil {
		return err
	}
	if err := decodeQuery(r, msg); err != nil {
		return err
	}
	for wildcard, field := range rt.Params {
		if err := setPath(msg.ProtoReflect(), field, r.PathValue(wildcard)); err != nil {
			return err
		}
	}
	return nil
}

var unmarshal = protojson.UnmarshalOptions{}

func decodeBody(rt Route, body []byte, msg proto.Message) error {
	if rt.Body == "" || len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	target, field := msg, "body"
	if rt.Body != "*" {
		fd := msg.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(rt.Body))
		target, field = msg.ProtoReflect().Mutable(fd).Message().Interface(), rt.Body
	}
	if err := unmarshal.Unmarshal(body, target); err != nil {
		return invalid(field, "not valid JSON for "+string(target.ProtoReflect().Descriptor().Name())+": "+strings.TrimPrefix(err.Error(), "proto: "))
	}
	return nil
}

// decodeQuery sets top-level scalar fields (and Timestamps) from query
// parameters named by the field's proto or JSON name.
func decodeQuery(r *http.Request, msg proto.Message) error {
	m := msg.ProtoReflect()
	fields := m.Descriptor().Fields()
	for name, values := range r.URL.Query() {
		fd := fields.ByName(protoreflect.Name(name))
		if fd == nil {
			fd = fields.ByJSONName(name)
		}
		if fd == nil || fd.IsMap() || (fd.Kind() == protoreflect.MessageKind && fd.Message().FullName() != timestampName) {
			return invalid(name, "unknown query parameter")
		}
		if !fd.IsList() && len(values) > 1 {
			return invalid(name, "given more than once")
		}
		for _, s := range values {
			if s == "" && fd.Kind() != protoreflect.StringKind {
				continue // an empty value leaves the field unset
			}
			v, err := parseScalar(m, fd, s)
			if err != nil {
				return invalid(name, err.Error())
			}
			if fd.IsList() {
				m.Mutable(fd).List().Append(v)
			} else {
				m.Set(fd, v)
			}
		}
	}
	return nil
}

const timestampName = "google.protobuf.Timestamp"

func parseScalar(m protoreflect.Message, fd protoreflect.FieldDescriptor, s string) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return protoreflect.Value{}, errString("must be true or false")
		}
		return protoreflect.ValueOfBool(b), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return protoreflect.Value{}, errString("must be an integer")
		}
		return protoreflect.ValueOfInt32(int32(n)), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return protoreflect.Value{}, errString("must be an integer")
		}
		return protoreflect.ValueOfInt64(n), nil
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return protoreflect.Value{}, errString("must be a number")
		}
		if fd.Kind() == protoreflect.FloatKind {
			return protoreflect.ValueOfFloat32(float32(f)), nil
		}
		return protoreflect.ValueOfFloat64(f), nil
	case protoreflect.EnumKind:
		ev := fd.Enum().Values().ByName(protoreflect.Name(s))
		if ev == nil {
			return protoreflect.Value{}, errString("unknown value " + strconv.Quote(s))
		}
		return protoreflect.ValueOfEnum(ev.Number()), nil
	case protoreflect.MessageKind: // Timestamp only, checked by the caller
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return protoreflect.Value{}, errString("must be an RFC 3339 time")
		}
		return protoreflect.ValueOfMessage(timestamppb.New(t).ProtoReflect()), nil
	}
	return protoreflect.Value{}, errString("cannot be set from the query")
}

type errString string

func (e errString) Error() string { return string(e) }

// setPath sets the field at a dotted path (e.g. "flag.key") to the path
// wildcard's value: a string, or a number for a numeric field (a release
// plan's id). A body that names a different value is refused.
func setPath(m protoreflect.Message, path, value string) error {
	parts := strings.Split(path, ".")
	for _, name := range parts[:len(parts)-1] {
		fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
		m = m.Mutable(fd).Message()
	}
	fd := m.Descriptor().Fields().ByName(protoreflect.Name(parts[len(parts)-1]))
	v, err := parseScalar(m, fd, value)
	if err != nil {
		return invalid(jsonPath(path), "in the URL path "+err.Error())
	}
	if m.Has(fd) && !m.Get(fd).Equal(v) {
		return invalid(jsonPath(path), "is "+strconv.Quote(m.Get(fd).String())+" in the body but "+strconv.Quote(value)+" in the URL path")
	}
	m.Set(fd, v)
	return nil
}

// jsonPath spells a proto field path with JSON names (flag_key → flagKey).
func jsonPath(path string) string {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		parts[i] = lowerCamel(p)
	}
	return strings.Join(parts, ".")
}

func lowerCamel(s string) string {
	var b strings.Builder
	up := false
	for _, r := range s {
		if r == '_' {
			up = true
			continue
		}
		if up && 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		up = false
		b.WriteRune(r)
	}
	return b.String()
}

// invalid is an EINVALID error naming the field and the reason.
func invalid(field, description string) error {
	return server.Invalid(field, "%s", description)
}
