package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/auth"
	"github.com/flagpole/flagpole/server/passhash"
	"github.com/flagpole/flagpole/server/sqlite"
	"net/netip"
	"net/url"
	"path/filepath"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// httpFixture serves the middleware, the session routes and one
// state-changing route (SetEnabled) that echoes the actor, over a SQLite
// store with the three default environments, production protected.
type httpFixture struct {
	a      *auth.Authenticator
	s      *Sessions
	db     *sqlite.DB
	clock  *clock
	srv    *httptest.Server
	logs   *bytes.Buffer
	logger *slog.Logger
}

var testParams = passhash.Params{Time: 1, Memory: 64, Threads: 1}

func newHTTPFixture(t *testing.T, opts ...auth.Option) *httpFixture {
	t.Helper()
	f := &httpFixture{clock: &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}, logs: &bytes.Buffer{}}
	f.logger = slog.New(slog.NewTextHandler(&lockedWriter{w: f.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.db = openStore(t)
	opts = append([]auth.Option{auth.WithPasswordParams(testParams), auth.WithClock(f.clock.Now), auth.WithLogger(f.logger)}, opts...)
	f.a = auth.New(f.db, opts...)
	f.s = &Sessions{Auth: f.a}
	ctx := context.Background()
	if _, err := f.a.CreateUser(ctx, "ed", "editor-password-1", server.RoleEditor); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	f.s.Routes(mux)
	mux.HandleFunc("POST /api/v1/flags/{key}/environments/{env}/enabled", func(w http.ResponseWriter, r *http.Request) {
		req := &pb.SetEnabledRequest{FlagKey: r.PathValue("key"), Environment: r.PathValue("env")}
		if err := f.a.Authorize(r.Context(), pb.FlagService_SetEnabled_FullMethodName, req); err != nil {
			f.s.writeError(w, r, err)
			return
		}
		p, _ := auth.FromContext(r.Context())
		io.WriteString(w, p.Name)
	})
	f.srv = httptest.NewServer(f.s.Middleware(nil, mux))
	t.Cleanup(f.srv.Close)
	return f
}

// openStore opens a SQLite store with development, staging and a protected
// production.
func openStore(t *testing.T) *sqlite.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "flagpole.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.Update(ctx, func(tx server.Tx) error {
		for _, e := range []server.Environment{{Name: "development"}, {Name: "staging"}, {Name: "production", Protected: true}} {
			if err := tx.CreateEnvironment(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (f *httpFixture) client(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// signIn posts credentials and returns the response and the CSRF token.
func (f *httpFixture) signIn(t *testing.T, c *http.Client, user, password string) (*http.Response, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	resp, err := c.Post(f.srv.URL+SignInPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out signInResponse
	json.NewDecoder(resp.Body).Decode(&out)
	return resp, out.CSRFToken
}

func (f *httpFixture) toggle(t *testing.T, c *http.Client, env, csrf string, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/flags/f/environments/"+env+"/enabled", nil)
	if csrf != "" {
		req.Header.Set(CSRFHeader, csrf)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestSessionNeedsCSRFToken(t *testing.T) {
	f := newHTTPFixture(t)
	c := f.client(t)
	resp, csrf := f.signIn(t, c, "ed", "editor-password-1")
	if resp.StatusCode != 200 || csrf == "" {
		t.Fatalf("sign-in: %d, csrf %q", resp.StatusCode, csrf)
	}
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == SessionCookie {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax", session)
	}
	if code, _ := f.toggle(t, c, "staging", "", nil); code != http.StatusForbidden {
		t.Errorf("no CSRF token: status %d, want 403", code)
	}
	if code, _ := f.toggle(t, c, "staging", csrf+"x", nil); code != http.StatusForbidden {
		t.Errorf("wrong CSRF token: status %d, want 403", code)
	}
	evil := http.Header{"Origin": {"https://evil.example"}}
	if code, _ := f.toggle(t, c, "staging", csrf, evil); code != http.StatusForbidden {
		t.Errorf("foreign origin: status %d, want 403", code)
	}
	if code, body := f.toggle(t, c, "staging", csrf, nil); code != http.StatusOK || body != "ed" {
		t.Errorf("with CSRF token: %d %q, want 200 \"ed\"", code, body)
	}
	// A CSRF token of another session does not do.
	c2 := f.client(t)
	_, csrf2 := f.signIn(t, c2, "ed", "editor-password-1")
	if code, _ := f.toggle(t, c, "staging", csrf2, nil); code != http.StatusForbidden {
		t.Errorf("other session's CSRF token: status %d, want 403", code)
	}
	// Protected environment: editors are refused even with a CSRF token.
	if code, _ := f.toggle(t, c, "production", csrf, nil); code != http.StatusForbidden {
		t.Errorf("editor on production: status %d, want 403", code)
	}
}

func TestTokenRequestsNeedNoCSRF(t *testing.T) {
	f := newHTTPFixture(t)
	_, secret, err := f.a.CreateToken(context.Background(), auth.NewToken{Name: "deploy", Scope: server.ScopeCI, Environments: []string{"staging"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []http.Header{{"Authorization": {"Bearer " + secret}}, {auth.APIKeyHeader: {secret}}} {
		if code, body := f.toggle(t, http.DefaultClient, "staging", "", h); code != 200 || body != "deploy" {
			t.Errorf("%v: %d %q, want 200 deploy", h, code, body)
		}
	}
	if code, _ := f.toggle(t, http.DefaultClient, "production", "", http.Header{"Authorization": {"Bearer " + secret}}); code != 403 {
		t.Errorf("ci token outside its environments: %d, want 403", code)
	}
	if code, _ := f.toggle(t, http.DefaultClient, "staging", "", nil); code != 401 {
		t.Errorf("no credential: %d, want 401", code)
	}
}

func TestSessionExpires(t *testing.T) {
	f := newHTTPFixture(t, auth.WithSessionTTL(time.Hour))
	c := f.client(t)
	_, csrf := f.signIn(t, c, "ed", "editor-password-1")
	f.clock.Add(59 * time.Minute)
	if code, _ := f.toggle(t, c, "staging", csrf, nil); code != 200 {
		t.Fatalf("within the TTL: %d, want 200", code)
	}
	f.clock.Add(time.Minute)
	if code, body := f.toggle(t, c, "staging", csrf, nil); code != 401 || !strings.Contains(body, "session expired") {
		t.Fatalf("after the TTL: %d %s, want 401 session expired", code, body)
	}
	u, _ := url.Parse(f.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name != SessionCookie {
			continue
		}
		err := f.db.ViewAuth(context.Background(), func(tx server.AuthTx) error {
			_, err := tx.GetSession(auth.HashSecret(ck.Value))
			return err
		})
		if server.ErrorCode(err) != server.ENOTFOUND {
			t.Fatalf("session stored after expiry: %v, want not found", err)
		}
	}
}

func TestSignOutEndsSession(t *testing.T) {
	f := newHTTPFixture(t)
	c := f.client(t)
	_, csrf := f.signIn(t, c, "ed", "editor-password-1")
	req, _ := http.NewRequest("POST", f.srv.URL+SignOutPath, nil)
	req.Header.Set(CSRFHeader, csrf)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	if code, _ := f.toggle(t, c, "staging", csrf, nil); code != 401 {
		t.Fatalf("after sign-out: %d, want 401", code)
	}
}

func TestSignInRateLimited(t *testing.T) {
	f := newHTTPFixture(t, auth.WithSignInLimit(3, time.Minute, 100, time.Second))
	c := f.client(t)
	for i := range 3 {
		if resp, _ := f.signIn(t, c, "ed", "wrong-password-x"); resp.StatusCode != 401 {
			t.Fatalf("attempt %d: %d, want 401", i, resp.StatusCode)
		}
	}
	// The right password does not help once the bucket is empty.
	resp, _ := f.signIn(t, c, "ed", "editor-password-1")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" {
		t.Fatalf("4th attempt: %d Retry-After %q, want 429 and 60", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Another username is limited separately.
	if resp, _ := f.signIn(t, c, "someone", "wrong-password-x"); resp.StatusCode != 401 {
		t.Fatalf("other user: %d, want 401", resp.StatusCode)
	}
	f.clock.Add(time.Minute)
	if resp, _ := f.signIn(t, c, "ed", "editor-password-1"); resp.StatusCode != 200 {
		t.Fatalf("after a minute: %d, want 200", resp.StatusCode)
	}
}

func TestSignInRateLimitedPerIP(t *testing.T) {
	f := newHTTPFixture(t, auth.WithSignInLimit(100, time.Second, 4, time.Minute))
	c := f.client(t)
	for i := range 4 {
		if resp, _ := f.signIn(t, c, "user"+string(rune('a'+i)), "wrong-password-x"); resp.StatusCode != 401 {
			t.Fatalf("attempt %d: %d, want 401", i, resp.StatusCode)
		}
	}
	if resp, _ := f.signIn(t, c, "ed", "editor-password-1"); resp.StatusCode != 429 {
		t.Fatalf("5th attempt from one IP: %d, want 429", resp.StatusCode)
	}
}

func TestNoSecretInLogsOrAudit(t *testing.T) {
	f := newHTTPFixture(t)
	ctx := auth.NewContext(context.Background(), auth.Principal{Kind: server.KindUser, Name: "ada", Role: server.RoleAdmin})
	_, secret, err := f.a.CreateToken(ctx, auth.NewToken{Name: "deploy", Scope: server.ScopeCI, Environments: []string{"staging"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.RevokeToken(ctx, "deploy"); err != nil {
		t.Fatal(err)
	}
	const pw = "a-very-secret-password"
	if _, err := f.a.CreateUser(ctx, "vi", pw, server.RoleViewer); err != nil {
		t.Fatal(err)
	}
	if err := f.a.SetPassword(ctx, "vi", pw+"2", ""); err != nil {
		t.Fatal(err)
	}
	c := f.client(t)
	f.signIn(t, c, "vi", pw)     // wrong now
	f.signIn(t, c, "vi", pw+"2") // right
	f.toggle(t, http.DefaultClient, "staging", "", http.Header{"Authorization": {"Bearer " + secret}})
	var b bytes.Buffer
	fresh := auth.New(openStore(t), auth.WithLogger(f.logger), auth.WithPasswordParams(testParams))
	if err := fresh.Bootstrap(context.Background(), "", "", &b); err != nil {
		t.Fatal(err)
	}
	audit, logs := auditText(t, f.db), f.logs.String()
	if !strings.Contains(audit, "token.create") || !strings.Contains(audit, "user.set_password") || !strings.Contains(logs, "sign-in failed") {
		t.Fatalf("fixture did not exercise audit and logs:\n%s\n%s", audit, logs)
	}
	hashes := []string{}
	err = f.db.ViewAuth(ctx, func(tx server.AuthTx) error {
		us, err := tx.ListUsers()
		for _, u := range us {
			hashes = append(hashes, u.PasswordHash)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{secret, pw, pw + "2", hex.EncodeToString(auth.HashSecret(secret)),
		base64.StdEncoding.EncodeToString(auth.HashSecret(secret))}
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if _, s, ok := strings.Cut(line, ": "); ok && !strings.Contains(line, "shown only once") {
			secrets = append(secrets, s) // the generated bootstrap password and token
		}
	}
	if len(secrets) != 7 {
		t.Fatalf("bootstrap printed %q, want a password and a token", b.String())
	}
	for _, s := range append(secrets, hashes...) {
		if strings.Contains(audit, s) {
			t.Errorf("audit trail contains secret %q", s)
		}
		if strings.Contains(logs, s) {
			t.Errorf("log contains secret %q", s)
		}
	}
}

// auditText is every audit entry as one string, to search for secrets.
func auditText(t *testing.T, db *sqlite.DB) string {
	t.Helper()
	var b strings.Builder
	err := db.View(context.Background(), func(tx server.Tx) error {
		es, err := tx.ListAudit(server.AuditFilter{})
		for _, e := range es {
			b.WriteString(e.Actor.Name + " " + e.Action + " " + e.Key + " " + string(e.Before) + " " + string(e.After) + "\n")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestTrustedProxyClientAddress: behind a trusted proxy the client's
// address comes from X-Forwarded-For; from anyone else it is ignored.
func TestTrustedProxyClientAddress(t *testing.T) {
	a := &Sessions{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	for _, c := range []struct{ peer, xff, want string }{
		{"10.1.2.3:5000", "198.51.100.7", "198.51.100.7"},
		{"10.1.2.3:5000", "203.0.113.1, 198.51.100.7, 10.9.9.9", "198.51.100.7"},
		{"192.0.2.1:5000", "198.51.100.7", "192.0.2.1"},
		{"10.1.2.3:5000", "", "10.1.2.3"},
		{"10.1.2.3:5000", "not-an-address", "10.1.2.3"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := a.clientIP(r); got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
}
