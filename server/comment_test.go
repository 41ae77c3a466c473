package server_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/server"
)

func TestParseComment(t *testing.T) {
	ok := []struct{ raw, want string }{
		{"", ""},
		{"   ", ""},
		{"ramp%20to%2050%25", "ramp to 50%"},
		{"plain-ascii_without.escapes", "plain-ascii_without.escapes"},
		{"%20%20INC-7%0Asecond%20line%09tab%20", "INC-7\nsecond line\ttab"},
		{"caf%C3%A9%20%E2%9C%93", "café ✓"},
		{strings.Repeat("%C3%A9", server.MaxCommentLength), strings.Repeat("é", server.MaxCommentLength)},
	}
	for _, c := range ok {
		got, err := server.ParseComment(c.raw)
		if err != nil || got != c.want {
			t.Errorf("ParseComment(%q) = %q, %v; want %q", c.raw, got, err, c.want)
		}
	}
	bad := []struct{ raw, reason string }{
		{"ramp to 50%", "percent-encoded"},
		{"%E2%9C", "UTF-8"},
		{strings.Repeat("a", server.MaxCommentLength+1), "1001 characters long, the limit is 1000"},
		{"bell%07", "control character U+0007"},
	}
	for _, c := range bad {
		_, err := server.ParseComment(c.raw)
		var e *server.Error
		if err == nil || !strings.Contains(err.Error(), c.reason) || !errors.As(err, &e) || e.Field != "comment" || e.Code != server.EINVALID {
			t.Errorf("ParseComment(%q) = %v, want an invalid comment saying %q", c.raw, err, c.reason)
		}
	}
}
