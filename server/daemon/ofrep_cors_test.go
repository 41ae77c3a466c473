package daemon_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/testkit"
)

// ofrepCORSServer is a real server allowing the OFREP calls of pages on
// origins, with one boolean flag and an sdk token for staging.
func ofrepCORSServer(t *testing.T, origins ...string) (base, sdkToken string) {
	t.Helper()
	cfg := config(filepath.Join(t.TempDir(), "flagpole.db"))
	cfg.CORSOrigins = origins
	srv := daemon.New(cfg)
	conn := start(t, srv)
	ctx := context.Background()
	c := clientsOf(conn)
	testkit.Must(c.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "new-checkout", Type: "boolean"}}))(t)
	testkit.Must(c.flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "new-checkout", Environment: "staging", Enabled: true}))(t)
	tok := testkit.Must(pb.NewTokenServiceClient(conn).CreateToken(ctx, &pb.CreateTokenRequest{Name: "web", Scope: "sdk", Environments: []string{"staging"}}))(t)
	return "http://" + srv.HTTPAddr().String(), tok.GetSecret()
}

func do(t *testing.T, method, url, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(raw)
}

// TestOFREPCORS is issue 12's "no CORS" over the real HTTP port: a browser
// page on an allowed origin gets its preflight answered 204 without
// credentials, and its evaluations (POSTs that the cross-origin protection
// would refuse) answered with Access-Control-Allow-Origin and ETag exposed.
// Other origins get neither; other routes stay protected.
func TestOFREPCORS(t *testing.T) {
	t.Parallel()
	const app = "http://app.example:3000"
	base, token := ofrepCORSServer(t, app)

	preflight := map[string]string{"Origin": app, "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization,content-type,if-none-match", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}
	for _, path := range []string{"/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags/new-checkout", "/ofrep/v1/configuration"} {
		resp, body := do(t, "OPTIONS", base+path, "", preflight)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("preflight %s: status %d, want 204: %s", path, resp.StatusCode, body)
		}
		h := resp.Header
		if got := h.Get("Access-Control-Allow-Origin"); got != app {
			t.Errorf("preflight %s: Access-Control-Allow-Origin %q, want %q", path, got, app)
		}
		allowHeaders := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
		for _, want := range []string{"authorization", "content-type", "if-none-match"} {
			if !strings.Contains(allowHeaders, want) {
				t.Errorf("preflight %s: Access-Control-Allow-Headers %q lacks %s", path, allowHeaders, want)
			}
		}
		if !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
			t.Errorf("preflight %s: Access-Control-Allow-Methods %q lacks POST", path, h.Get("Access-Control-Allow-Methods"))
		}
		if h.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight %s allows credentials", path)
		}
	}

	cross := map[string]string{"Origin": app, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors",
		"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	resp, body := do(t, "POST", base+"/ofrep/v1/evaluate/flags", `{"context":{"targetingKey":"u1"}}`, cross)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("bulk evaluation from %s: status %d: %s", app, resp.StatusCode, body)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != app {
		t.Errorf("bulk evaluation: Access-Control-Allow-Origin %q, want %q", got, app)
	}
	if !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "ETag") || resp.Header.Get("ETag") == "" {
		t.Errorf("bulk evaluation: ETag %q, exposed %q", resp.Header.Get("ETag"), resp.Header.Get("Access-Control-Expose-Headers"))
	}
	resp, body = do(t, "POST", base+"/ofrep/v1/evaluate/flags/new-checkout", `{"context":{"targetingKey":"u1"}}`, cross)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != app {
		t.Errorf("flag evaluation from %s: status %d, Access-Control-Allow-Origin %q: %s", app, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), body)
	}

	// Another origin: preflight refused, no CORS header on anything.
	evil := map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST", "Sec-Fetch-Site": "cross-site"}
	resp, _ = do(t, "OPTIONS", base+"/ofrep/v1/evaluate/flags", "", evil)
	if resp.StatusCode == http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from an unlisted origin: status %d, Access-Control-Allow-Origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	delete(evil, "Access-Control-Request-Method")
	evil["Authorization"] = "Bearer " + token
	resp, _ = do(t, "POST", base+"/ofrep/v1/evaluate/flags", `{}`, evil)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("evaluation from an unlisted origin carries Access-Control-Allow-Origin %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	// The allowed origin is trusted for OFREP only: the admin API still
	// refuses its writes.
	resp, body = do(t, "POST", base+"/api/v1/flags", `{"key":"x","type":"boolean"}`, map[string]string{"Origin": app, "Sec-Fetch-Site": "cross-site",
		"Authorization": "Bearer " + testAdminToken, "Content-Type": "application/json"})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("admin write from the OFREP origin: status %d, want 403: %s", resp.StatusCode, body)
	}
}

// TestOFREPCORSAnyOrigin: "*" allows every origin, answered with "*".
func TestOFREPCORSAnyOrigin(t *testing.T) {
	t.Parallel()
	base, token := ofrepCORSServer(t, "*")
	resp, body := do(t, "POST", base+"/ofrep/v1/evaluate/flags/new-checkout", `{"context":{"targetingKey":"u1"}}`,
		map[string]string{"Origin": "https://anything.example", "Sec-Fetch-Site": "cross-site", "Authorization": "Bearer " + token})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("status %d, Access-Control-Allow-Origin %q: %s", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), body)
	}
}
