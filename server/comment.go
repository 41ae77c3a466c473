package server

import (
	"context"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxCommentLength is the most characters (Unicode code points) a change
// comment may have.
const MaxCommentLength = 1000

// CommentHeader is the gRPC metadata key, and the HTTP header, that carries
// the comment of a change: why it is made. Its value is UTF-8 text,
// percent-encoded (RFC 3986, as JavaScript's encodeURIComponent and Go's
// url.PathEscape write it), because gRPC metadata and HTTP headers carry
// ASCII only. A literal % is written %25.
const CommentHeader = "x-flagpole-comment"

type commentKey struct{}

// NewContextWithComment returns a copy of ctx that carries the comment of
// the change made with it, stored in the change's audit entries.
func NewContextWithComment(ctx context.Context, comment string) context.Context {
	return context.WithValue(ctx, commentKey{}, comment)
}

// CommentFromContext returns the comment ctx carries, or "".
func CommentFromContext(ctx context.Context) string {
	c, _ := ctx.Value(commentKey{}).(string)
	return c
}

// ParseComment decodes the value of CommentHeader and checks it: valid
// percent-encoding of UTF-8, at most MaxCommentLength characters, no control
// characters but line breaks and tabs. Surrounding white space is dropped;
// white space only is no comment. Errors name the field "comment".
func ParseComment(raw string) (string, error) {
	s, err := url.PathUnescape(raw)
	if err != nil {
		return "", Invalid("comment", "the %s header is not percent-encoded UTF-8 (write %%25 for a %%): %v", CommentHeader, err)
	}
	if !utf8.ValidString(s) {
		return "", Invalid("comment", "is not valid UTF-8 once percent-decoded")
	}
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n > MaxCommentLength {
		return "", Invalid("comment", "is %d characters long, the limit is %d", n, MaxCommentLength)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return "", Invalid("comment", "contains the control character %U", r)
		}
	}
	return s, nil
}
