package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/auth"
)

// Cookie and header names of UI sessions.
const (
	// SessionCookie holds the session secret; HttpOnly, never readable by
	// scripts.
	SessionCookie = "flagpole_session"
	// CSRFCookie holds the session's CSRF token for the UI's scripts to
	// send back in CSRFHeader on every state-changing request.
	CSRFCookie = "flagpole_csrf"
	CSRFHeader = "X-CSRF-Token"
)

// Paths of the session endpoints that Routes registers.
const (
	SignInPath  = "/api/v1/auth/sign-in"
	SignOutPath = "/api/v1/auth/sign-out"
)

// Sessions is authentication on the HTTP port: UI sessions with their
// cookies and CSRF protection, sign-in and sign-out, and tokens in headers,
// all checked by Auth. Its errors are answered through the adapter's one
// error table.
type Sessions struct {
	Auth *auth.Authenticator
	// SecureCookies marks session cookies Secure; set it when serving TLS.
	SecureCookies bool
	// TrustedProxies names the reverse proxies in front of the HTTP
	// server. A sign-in from one of them is counted against the address its
	// X-Forwarded-For header gives: the rightmost entry that is not itself
	// a trusted proxy. From any other peer the header is ignored (a client
	// could set it to escape the per-address limit).
	TrustedProxies []netip.Prefix
}

// Middleware authenticates every HTTP request that public does not admit:
// a token from "Authorization: Bearer" or X-API-Key, or a UI session
// cookie. Without a valid credential it answers 401. A session request that
// changes anything (any method but GET, HEAD, OPTIONS) must carry the
// session's CSRF token in X-CSRF-Token, and an Origin, if sent, of this
// host; otherwise 403. The principal and the audit actor (source from the
// X-Flagpole-Source header; "ui" for sessions) go into the request context.
//
// Middleware authenticates; each handler then authorizes its call with
// Authorize (or Require), naming the gRPC method the route serves.
// public may be nil.
func (a *Sessions) Middleware(public func(*http.Request) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isPublic := r.URL.Path == SignInPath || (public != nil && public(r))
		id, err := a.authenticateHTTP(r)
		switch {
		case err != nil && isPublic:
			next.ServeHTTP(w, r)
			return
		case err != nil:
			w.Header().Set("WWW-Authenticate", `Bearer realm="flagpole"`)
			a.writeError(w, r, err)
			return
		}
		p := id.Principal()
		if p.Session && !safeMethod(r.Method) && !isPublic {
			if err := checkCSRF(r); err != nil {
				a.writeError(w, r, err)
				return
			}
		}
		source := auth.NormalizeSource(r.Header.Get(auth.SourceHeader), server.SourceAPI, p.Session)
		next.ServeHTTP(w, r.WithContext(auth.WithIdentity(r.Context(), id, source)))
	})
}

// Require wraps a handler of an HTTP route that has no request message
// (an HTTP-only key of Rules, such as MethodMetrics) with its authorization.
func (a *Sessions) Require(method string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.Auth.Authorize(r.Context(), method, nil); err != nil {
			a.writeError(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// authenticateHTTP finds and checks the request's credential. A bearer
// token wins over a cookie, so token requests never need a CSRF token.
func (a *Sessions) authenticateHTTP(r *http.Request) (*auth.Identity, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		return a.Auth.TokenIdentity(ctx, auth.Bearer(h))
	}
	if k := r.Header.Get(auth.APIKeyHeader); k != "" {
		return a.Auth.TokenIdentity(ctx, strings.TrimSpace(k))
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return a.Auth.SessionIdentity(ctx, c.Value)
	}
	return nil, auth.ErrNoCredential
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

var errCSRF = server.Errorf(server.EFORBIDDEN, "missing or invalid CSRF token: send the "+CSRFCookie+" cookie's value in the "+CSRFHeader+" header")

// checkCSRF compares the X-CSRF-Token header with the token of the
// request's session and refuses cross-origin requests.
func checkCSRF(r *http.Request) error {
	var want string
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		want = csrfToken(c.Value)
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" || want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return errCSRF
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return server.Errorf(server.EFORBIDDEN, "cross-origin request from %q refused", origin)
		}
	}
	return nil
}

// Routes registers the session endpoints on mux:
//
//	POST /api/v1/auth/sign-in  {"username": "...", "password": "..."}
//	  → 200 {"user": {"username", "role"}, "csrfToken", "expireTime"} and the
//	    session and CSRF cookies; 401 on a bad username or password; 429
//	    with Retry-After when attempts come too fast.
//	POST /api/v1/auth/sign-out → 204, ends the session, clears the cookies.
//
// Both must sit behind Middleware (sign-in is public there).
func (a *Sessions) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+SignInPath, a.signIn)
	mux.Handle("POST "+SignOutPath, a.Require(server.MethodSignOut, http.HandlerFunc(a.signOut)))
}

type signInRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type signInResponse struct {
	User struct {
		Username string `json:"username"`
		Role     string `json:"role"`
	} `json:"user"`
	CSRFToken  string    `json:"csrfToken"`
	ExpireTime time.Time `json:"expireTime"`
}

func (a *Sessions) signIn(w http.ResponseWriter, r *http.Request) {
	var req signInRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	if err := dec.Decode(&req); err != nil {
		a.writeError(w, r, server.Invalid("body", "want {\"username\": ..., \"password\": ...}: %v", err))
		return
	}
	secret, u, s, err := a.Auth.SignIn(r.Context(), req.Username, req.Password, a.clientIP(r))
	var limited *auth.RateLimitError
	if errors.As(err, &limited) {
		w.Header().Set("Retry-After", strconv.Itoa(int(limited.RetryAfter.Seconds()+0.999)))
		writeJSONError(w, http.StatusTooManyRequests, "resource_exhausted", limited.Error())
		return
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	secure := a.SecureCookies || r.TLS != nil
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", Expires: s.ExpiresAt,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: csrfToken(secret), Path: "/", Expires: s.ExpiresAt,
		Secure: secure, SameSite: http.SameSiteStrictMode})
	var resp signInResponse
	resp.User.Username, resp.User.Role = u.Username, u.Role
	resp.CSRFToken, resp.ExpireTime = csrfToken(secret), s.ExpiresAt.UTC()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(resp)
}

func (a *Sessions) signOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		a.Auth.EndSession(r.Context(), c.Value)
	}
	secure := a.SecureCookies || r.TLS != nil
	for _, name := range []string{SessionCookie, CSRFCookie} {
		http.SetCookie(w, &http.Cookie{Name: name, Path: "/", MaxAge: -1, HttpOnly: name == SessionCookie,
			Secure: secure, SameSite: http.SameSiteLaxMode})
	}
	w.WriteHeader(http.StatusNoContent)
}

// clientIP is the address of the peer, or, when the peer is a trusted
// proxy (WithTrustedProxies), the rightmost X-Forwarded-For address that is
// not a trusted proxy. From other peers X-Forwarded-For is ignored: a
// client could set it to escape the per-address limit.
func (a *Sessions) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if !a.trusted(host) {
		return host
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if !a.trusted(hop) {
			if _, err := netip.ParseAddr(hop); err == nil {
				return hop
			}
			return host // malformed: the proxy is the client we know
		}
	}
	return host
}

// trusted reports whether addr is one of the trusted proxies.
func (a *Sessions) trusted(addr string) bool {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range a.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// writeError answers with the HTTP status of err's code from the
// adapter's one table, in the JSON API's error body {"code", "message"} or,
// under /ofrep/, in OFREP's (the protocol's generalErrorResponse).
// Unexpected errors are logged.
func (a *Sessions) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := errorResponse(err)
	if status == http.StatusInternalServerError {
		a.Auth.Logger().Error("auth: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if strings.HasPrefix(r.URL.Path, "/ofrep/") {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"errorDetails": body.Message})
		return
	}
	writeJSONError(w, status, body.Code, body.Message)
}

func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"code": code, "message": message})
}

// csrfToken derives a session's CSRF token from its secret: only someone
// who holds the session cookie's value can compute it, and nothing has to
// be stored.
func csrfToken(sessionSecret string) string {
	mac := hmac.New(sha256.New, []byte(sessionSecret))
	mac.Write([]byte("flagpole csrf v1"))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
