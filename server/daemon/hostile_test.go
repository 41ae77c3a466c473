package daemon_test

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/testkit"
)

// TestResponsesCarryNosniff checks that answers of every kind on the HTTP
// port (JSON API, OFREP, errors, health, the UI) tell browsers not to
// guess a content type, and that plain HTTP carries no HSTS (TestTLS checks
// that TLS does).
func TestResponsesCarryNosniff(t *testing.T) {
	t.Parallel()
	srv := daemon.New(config(filepath.Join(t.TempDir(), "flagpole.db")))
	start(t, srv)
	base := "http://" + srv.HTTPAddr().String()
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/healthz", ""},
		{"GET", "/api/v1/flags", ""},
		{"GET", "/api/v1/flags/nope", ""},
		{"POST", "/ofrep/v1/evaluate/flags/nope", `{"context":{"targetingKey":"u"}}`},
		{"GET", "/", ""},
		{"GET", "/metrics", ""},
	} {
		req, _ := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		req.Header.Set("X-Flagpole-Environment", "production")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s (%d): X-Content-Type-Options %q, want nosniff", c.method, c.path, resp.StatusCode, got)
		}
		if got := resp.Header.Get("Strict-Transport-Security"); got != "" {
			t.Errorf("%s %s over plain HTTP: Strict-Transport-Security %q", c.method, c.path, got)
		}
	}
}

// rawCodec sends []byte as it is, under the proto content subtype.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)      { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error { *(v.(*[]byte)) = data; return nil }
func (rawCodec) Name() string                       { return "proto" }

// TestMalformedProtobufIsInvalidArgument sends bytes that are not a valid
// message to unary methods over a real connection: the caller's mistake is
// InvalidArgument, not INTERNAL (issue 11 F14).
func TestMalformedProtobufIsInvalidArgument(t *testing.T) {
	t.Parallel()
	srv := daemon.New(config(filepath.Join(t.TempDir(), "flagpole.db")))
	conn := start(t, srv)
	// Field 1, length-delimited, claims 127 bytes and has one.
	malformed := []byte{0x0a, 0x7f, 'x'}
	for _, method := range []string{pb.FlagService_GetFlag_FullMethodName, pb.EvaluationService_Evaluate_FullMethodName,
		pb.FlagService_SetEnabled_FullMethodName, pb.AuthService_WhoAmI_FullMethodName} {
		var out []byte
		err := conn.Invoke(context.Background(), method, malformed, &out, grpc.ForceCodec(rawCodec{}))
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s with a malformed message: %v, want InvalidArgument", method, err)
		}
	}
}

// TestSignInDoesNotLogTheUsername signs in with a "username" that is really
// a password typed into the wrong field: the log must not keep it.
func TestSignInDoesNotLogTheUsername(t *testing.T) {
	t.Parallel()
	logs := &testkit.Buffer{}
	cfg := config(filepath.Join(t.TempDir(), "flagpole.db"))
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := daemon.New(cfg)
	start(t, srv)
	base := "http://" + srv.HTTPAddr().String()
	const typo = "correct-horse-battery-staple"
	for range 8 { // past the per-user limit, so the rate-limited line is written too
		if _, _, code := signIn(t, base, typo, "whatever"); code != http.StatusUnauthorized && code != http.StatusTooManyRequests {
			t.Fatalf("sign-in as %q: %d", typo, code)
		}
	}
	if !strings.Contains(logs.String(), "sign-in") {
		t.Fatalf("no sign-in line logged at all:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), typo) {
		t.Errorf("the log holds the username of a failed sign-in:\n%s", logs.String())
	}
}
