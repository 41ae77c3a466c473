package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/auth"
	"github.com/flagpole/flagpole/server/httpapi"
)

// httpRoute is one HTTP route and the permission-table key it is checked by.
type httpRoute struct {
	method, path, rule string
	body               bool
	params             map[string]string // path wildcard → request field path
}

// httpRoutes is every HTTP route that needs a credential: the JSON API's
// table plus OFREP, /metrics, the OpenAPI document and sign-out.
func httpRoutes() []httpRoute {
	var rs []httpRoute
	for _, rt := range httpapi.Routes {
		rs = append(rs, httpRoute{rt.Method, rt.Path, rt.RPC, rt.Body != "", rt.Params})
	}
	return append(rs,
		httpRoute{"POST", "/ofrep/v1/evaluate/flags/{key}", pb.EvaluationService_Evaluate_FullMethodName, true, nil},
		httpRoute{"POST", "/ofrep/v1/evaluate/flags", pb.EvaluationService_EvaluateAll_FullMethodName, true, nil},
		httpRoute{"GET", "/ofrep/v1/configuration", pb.EvaluationService_EvaluateAll_FullMethodName, false, nil},
		httpRoute{"GET", "/metrics", server.MethodMetrics, false, nil},
		httpRoute{"GET", "/api/v1/openapi.json", server.MethodOpenAPI, false, nil},
		httpRoute{"POST", httpapi.SignOutPath, server.MethodSignOut, true, nil},
	)
}

// url fills the route's wildcards by the request field each one sets:
// environments are production, users admin, release plans and webhooks 1,
// flags, segments and tokens walk. A wildcard it cannot place fails the test.
func (r httpRoute) url(t *testing.T, base string) string {
	t.Helper()
	p := wildcard.ReplaceAllStringFunc(r.path, func(w string) string {
		name := strings.Trim(w, "{}")
		field := name
		if f, ok := r.params[name]; ok {
			field = f
		}
		field = field[strings.LastIndex(field, ".")+1:]
		switch {
		case field == "environment", field == "name" && strings.Contains(r.rule, "EnvironmentService"):
			return "production"
		case field == "username":
			return "admin"
		case field == "id":
			return "1"
		case field == "key", field == "flag_key", field == "name":
			return "walk"
		}
		t.Fatalf("%s %s: no value for wildcard %s (field %s)", r.method, r.path, w, field)
		return ""
	})
	return base + p
}

var wildcard = regexp.MustCompile(`\{\w+\}`)

type httpCaller struct {
	name   string
	client *http.Client
	header http.Header
	want   func(server.Access) int // 0: admitted (neither 401 nor 403)
}

func (c httpCaller) do(t *testing.T, r httpRoute, base string) (int, string) {
	t.Helper()
	var body io.Reader
	if r.body {
		body = strings.NewReader(`{}`)
	}
	req, err := http.NewRequest(r.method, r.url(t, base), body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(auth.EnvironmentHeader, "production")
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// signIn opens a UI session and returns its client (with the cookie) and
// the CSRF token.
func signIn(t *testing.T, base, user, password string) (*http.Client, string, int) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	b, _ := json.Marshal(map[string]string{"username": user, "password": password})
	resp, err := c.Post(base+httpapi.SignInPath, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ CSRFToken string }
	json.NewDecoder(resp.Body).Decode(&out)
	return c, out.CSRFToken, resp.StatusCode
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// TestEveryHTTPRouteRefusesWrongCredentials walks every HTTP route with no
// credential, a revoked token, an expired token, an sdk token of another
// environment, a ci token outside its environments and a viewer session.
func TestEveryHTTPRouteRefusesWrongCredentials(t *testing.T) {
	t.Parallel()
	f := startAuthFixture(t)
	base := "http://" + f.srv.HTTPAddr().String()
	ctx := context.Background()
	revoked := f.createToken(t, &pb.CreateTokenRequest{Name: "revoked", Scope: "admin"})
	if _, err := pb.NewTokenServiceClient(f.admin).RevokeToken(ctx, &pb.RevokeTokenRequest{Name: "revoked"}); err != nil {
		t.Fatal(err)
	}
	expiring := f.createToken(t, &pb.CreateTokenRequest{Name: "expiring", Scope: "admin", ExpireTime: timestamppb.New(f.clock.Now().Add(time.Hour))})
	sdk := f.createToken(t, &pb.CreateTokenRequest{Name: "svc", Scope: "sdk", Environments: []string{"staging"}})
	ci := f.createToken(t, &pb.CreateTokenRequest{Name: "deploy", Scope: "ci", Environments: []string{"staging"}})
	if _, err := pb.NewUserServiceClient(f.admin).CreateUser(ctx, &pb.CreateUserRequest{Username: "vi", Password: "viewer-password", Role: "viewer"}); err != nil {
		t.Fatal(err)
	}
	viewer, csrf, code := signIn(t, base, "vi", "viewer-password")
	if code != 200 || csrf == "" {
		t.Fatalf("viewer sign-in: %d", code)
	}

	routes := httpRoutes()
	for _, r := range routes {
		if _, ok := server.Permissions[r.rule]; !ok {
			t.Errorf("%s %s names %s, which has no rule", r.method, r.path, r.rule)
		}
	}
	none := func(server.Access) int { return 401 }
	deny := func(admitted ...server.Access) func(server.Access) int {
		return func(a server.Access) int {
			for _, ok := range admitted {
				if a == ok {
					return 0
				}
			}
			return 403
		}
	}
	callers := []httpCaller{
		{"no credential", http.DefaultClient, nil, none},
		{"revoked token", http.DefaultClient, bearer(revoked), none},
		{"revoked token as X-API-Key", http.DefaultClient, http.Header{"X-Api-Key": {revoked}}, none},
		{"sdk token of staging", http.DefaultClient, bearer(sdk), deny(server.AccessAuthenticated)},
		{"ci token of staging", http.DefaultClient, bearer(ci), deny(server.AccessAuthenticated, server.AccessRead, server.AccessEvaluate)},
		{"viewer session", viewer, http.Header{httpapi.CSRFHeader: {csrf}}, deny(server.AccessAuthenticated, server.AccessRead, server.AccessEvaluate)},
		{"expired token", http.DefaultClient, bearer(expiring), none},
	}
	for _, c := range callers {
		if c.name == "expired token" {
			f.clock.Advance(time.Hour) // the credential clock passes the expiry
		}
		for _, r := range routes {
			if r.path == httpapi.SignOutPath {
				continue // would end the viewer's session; checked below
			}
			access := server.Permissions[r.rule].Access
			got, body := c.do(t, r, base)
			want := c.want(access)
			refused := got == 401 || got == 403
			switch {
			case want == 0 && refused:
				t.Errorf("%s: %s %s (%s) refused: %d %s", c.name, r.method, r.path, access, got, body)
			case want != 0 && got != want:
				t.Errorf("%s: %s %s (%s) = %d %s, want %d", c.name, r.method, r.path, access, got, body, want)
			case want == 403 && strings.Contains(body, "CSRF"):
				t.Errorf("%s: %s %s refused for CSRF, not by its rule: %s", c.name, r.method, r.path, body)
			}
		}
	}
	signOut := httpRoute{"POST", httpapi.SignOutPath, server.MethodSignOut, true, nil}
	if got, _ := callers[0].do(t, signOut, base); got != 401 {
		t.Errorf("sign-out without a session: %d, want 401", got)
	}
}

// TestUISessionOverRealServer: sign-in, CSRF, protected production, the
// audit source "ui", sign-out, and the rate limit, through the real wiring.
func TestUISessionOverRealServer(t *testing.T) {
	t.Parallel()
	f := startAuthFixture(t)
	base := "http://" + f.srv.HTTPAddr().String()
	ctx := context.Background()
	if _, err := pb.NewUserServiceClient(f.admin).CreateUser(ctx, &pb.CreateUserRequest{Username: "ed", Password: "editor-password", Role: "editor"}); err != nil {
		t.Fatal(err)
	}
	ed, csrf, code := signIn(t, base, "ed", "editor-password")
	if code != 200 {
		t.Fatalf("sign-in: %d", code)
	}
	editor := func(hdr http.Header) httpCaller { return httpCaller{client: ed, header: hdr} }
	create := httpRoute{"POST", "/api/v1/flags", "", true, nil}
	if got, body := editor(nil).do(t, create, base); got != 403 || !strings.Contains(body, "CSRF") {
		t.Fatalf("create flag without CSRF token: %d %s, want 403", got, body)
	}
	withCSRF := http.Header{httpapi.CSRFHeader: {csrf}}
	req, _ := http.NewRequest("POST", base+"/api/v1/flags", strings.NewReader(`{"key":"beta","type":"boolean"}`))
	req.Header = withCSRF.Clone()
	resp, err := ed.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("create flag with CSRF token: %d", resp.StatusCode)
	}
	toggle := func(env string) (int, string) {
		return editor(withCSRF).do(t, httpRoute{"POST", "/api/v1/flags/beta/environments/" + env + "/enabled", "", true, nil}, base)
	}
	if got, body := toggle("staging"); got != 200 {
		t.Fatalf("editor toggles staging: %d %s", got, body)
	}
	if got, body := toggle("production"); got != 403 || !strings.Contains(body, "protected") {
		t.Fatalf("editor toggles production: %d %s, want 403 protected", got, body)
	}
	audit, err := pb.NewAuditServiceClient(f.admin).ListAuditEntries(ctx, &pb.ListAuditEntriesRequest{FlagKey: "beta"})
	if err != nil || len(audit.GetEntries()) == 0 {
		t.Fatal(audit, err)
	}
	if e := audit.GetEntries()[0]; e.GetActor() != "ed" || e.GetActorKind() != "user" || e.GetSource() != "ui" {
		t.Fatalf("latest audit entry by %q (%s) from %q, want ed (user) from ui", e.GetActor(), e.GetActorKind(), e.GetSource())
	}
	// Sign-out ends the session for good.
	if got, _ := editor(withCSRF).do(t, httpRoute{"POST", httpapi.SignOutPath, "", true, nil}, base); got != 204 {
		t.Fatalf("sign-out: %d", got)
	}
	if got, _ := toggle("staging"); got != 401 {
		t.Fatalf("after sign-out: %d, want 401", got)
	}
	// Five wrong passwords, then even the right one waits.
	for i := range 5 {
		if _, _, code := signIn(t, base, "ed", "wrong-password"); code != 401 {
			t.Fatalf("wrong password %d: %d, want 401", i, code)
		}
	}
	if _, _, code := signIn(t, base, "ed", "editor-password"); code != 429 {
		t.Fatalf("sixth attempt: %d, want 429", code)
	}
}
