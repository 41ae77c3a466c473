package daemon_test

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/httpapi"
)

// TestCrossOriginRequestsRefused is login CSRF (issue 11 F11) over the real
// HTTP port: a browser on another origin may not sign in (a text/plain body
// needs no preflight) nor make any other non-safe request, while the same
// origin, and clients that are not browsers (no Origin, no Sec-Fetch-Site:
// curl, the CLI, SDKs) still may.
func TestCrossOriginRequestsRefused(t *testing.T) {
	t.Parallel()
	srv := daemon.New(config(filepath.Join(t.TempDir(), "flagpole.db")))
	start(t, srv)
	base := "http://" + srv.HTTPAddr().String()
	signInBody := `{"username":"admin","password":"test-admin-password"}`

	for _, c := range []struct {
		name, method, path, contentType, body string
		header                                map[string]string
		want                                  int
	}{
		{"sign-in from another origin", "POST", httpapi.SignInPath, "text/plain", signInBody,
			map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"sign-in from a cross-site page (Sec-Fetch-Site)", "POST", httpapi.SignInPath, "text/plain", signInBody,
			map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"sign-in from the same origin", "POST", httpapi.SignInPath, "application/json", signInBody,
			map[string]string{"Origin": base}, http.StatusOK},
		{"sign-in from the same origin (Sec-Fetch-Site)", "POST", httpapi.SignInPath, "application/json", signInBody,
			map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": base}, http.StatusOK},
		{"sign-in without Origin (curl)", "POST", httpapi.SignInPath, "application/json", signInBody,
			nil, http.StatusOK},
		{"token write from another origin", "POST", "/api/v1/flags", "application/json", `{"key":"a","type":"boolean"}`,
			map[string]string{"Origin": "https://evil.example", "Authorization": "Bearer " + testAdminToken}, http.StatusForbidden},
		{"token write without Origin (CLI)", "POST", "/api/v1/flags", "application/json", `{"key":"b","type":"boolean"}`,
			map[string]string{"Authorization": "Bearer " + testAdminToken}, http.StatusOK},
		{"safe read from another origin", "GET", "/api/v1/flags", "", "",
			map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Authorization": "Bearer " + testAdminToken}, http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.want, raw)
			}
			if c.want == http.StatusForbidden && len(resp.Cookies()) > 0 {
				t.Errorf("refused request set cookies: %v", resp.Cookies())
			}
			if c.path == httpapi.SignInPath && c.want == http.StatusOK && len(resp.Cookies()) == 0 {
				t.Error("sign-in set no cookie")
			}
		})
	}
}
