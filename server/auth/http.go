package auth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flagpole/flagpole/server"
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
	// APIKeyHeader carries a token for OFREP clients.
	APIKeyHeader = "X-API-Key"
)

// Paths of the session endpoints that Routes registers.
const (
	SignInPath  = "/api/v1/auth/sign-in"
	SignOutPath = "/api/v1/auth/sign-out"
)

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
func (a *Authenticator) Middleware(public func(*http.Request) bool, next http.Handler) http.Handler {
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
		p := &id.principal
		if p.Session && !safeMethod(r.Method) && !isPublic {
			if err := checkCSRF(r, *p); err != nil {
				a.writeError(w, r, err)
				return
			}
		}
		source := normalizeSource(r.Header.Get(SourceHeader), SourceAPI, p.Session)
		next.ServeHTTP(w, r.WithContext(withIdentity(r.Context(), id, source)))
	})
}

// Require wraps a handler of an HTTP route that has no request message
// (an HTTP-only key of Rules, such as MethodMetrics) with its authorization.
func (a *Authenticator) Require(method string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.Authorize(r.Context(), method, nil); err != nil {
			a.writeError(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// authenticateHTTP finds and checks the request's credential. A bearer
// token wins over a cookie, so token requests never need a CSRF token.
func (a *Authenticator) authenticateHTTP(r *http.Request) (*identity, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		return a.authenticateToken(ctx, bearer(h))
	}
	if k := r.Header.Get(APIKeyHeader); k != "" {
		return a.authenticateToken(ctx, strings.TrimSpace(k))
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		p, err := a.AuthenticateSession(ctx, c.Value)
		if err != nil {
			return nil, err
		}
		return newIdentity(p), nil
	}
	return nil, errNoCredential
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

var errCSRF = server.Errorf(server.EFORBIDDEN, "missing or invalid CSRF token: send the "+CSRFCookie+" cookie's value in the "+CSRFHeader+" header")

// checkCSRF compares the X-CSRF-Token header with the session's token and
// refuses cross-origin requests.
func checkCSRF(r *http.Request, p Principal) error {
	got := r.Header.Get(CSRFHeader)
	if got == "" || p.csrf == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.csrf)) != 1 {
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
func (a *Authenticator) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+SignInPath, a.signIn)
	mux.Handle("POST "+SignOutPath, a.Require(MethodSignOut, http.HandlerFunc(a.signOut)))
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

func (a *Authenticator) signIn(w http.ResponseWriter, r *http.Request) {
	var req signInRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	if err := dec.Decode(&req); err != nil {
		a.writeError(w, r, server.Invalid("body", "want {\"username\": ..., \"password\": ...}: %v", err))
		return
	}
	secret, u, s, err := a.SignIn(r.Context(), req.Username, req.Password, a.clientIP(r))
	var limited *RateLimitError
	if errors.As(err, &limited) {
		w.Header().Set("Retry-After", strconv.Itoa(int(limited.RetryAfter.Seconds()+0.999)))
		writeJSONError(w, http.StatusTooManyRequests, "resource_exhausted", limited.Error())
		return
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	secure := a.secureCookie || r.TLS != nil
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

func (a *Authenticator) signOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		a.deleteSession(r.Context(), HashSecret(c.Value))
	}
	secure := a.secureCookie || r.TLS != nil
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
func (a *Authenticator) clientIP(r *http.Request) string {
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
func (a *Authenticator) trusted(addr string) bool {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range a.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// writeError answers with the HTTP status of err's code and the JSON API's
// error body {"code", "message"}; unexpected errors are logged.
func (a *Authenticator) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := server.ErrorCode(err)
	st, ok := httpStatuses[code]
	if !ok {
		a.log.Error("auth: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSONError(w, http.StatusInternalServerError, "internal", "internal error")
		return
	}
	if strings.HasPrefix(r.URL.Path, "/ofrep/") {
		// OFREP's error body (the protocol's generalErrorResponse), not
		// the JSON API's.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(st.status)
		json.NewEncoder(w).Encode(map[string]string{"errorDetails": server.ErrorMessage(err)})
		return
	}
	writeJSONError(w, st.status, st.name, server.ErrorMessage(err))
}

func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"code": code, "message": message})
}

// httpStatuses maps error codes to statuses and the code names of the
// JSON API's error bodies (those of the gRPC codes).
var httpStatuses = map[string]struct {
	status int
	name   string
}{
	server.EUNAUTHORIZED: {http.StatusUnauthorized, "unauthenticated"},
	server.EFORBIDDEN:    {http.StatusForbidden, "permission_denied"},
	server.EINVALID:      {http.StatusBadRequest, "invalid_argument"},
	server.ENOTFOUND:     {http.StatusNotFound, "not_found"},
	server.EUNAVAILABLE:  {http.StatusServiceUnavailable, "unavailable"},
}

// RateLimitError is returned by SignIn when attempts come too fast.
type RateLimitError struct {
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("too many sign-in attempts: retry in %s", e.RetryAfter.Round(time.Second))
}

var errBadPassword = server.Errorf(server.EUNAUTHORIZED, "invalid username or password")

// SignIn checks a username and password and starts a session. It returns
// the session secret (the cookie value), the user and the session. Each
// attempt spends a token of the username's and of the client IP's bucket;
// when either is empty the attempt is refused with a *RateLimitError before
// the password is looked at. A successful sign-in refills the username's
// bucket, so only failures add up against a user.
func (a *Authenticator) SignIn(ctx context.Context, username, password, ip string) (string, User, Session, error) {
	now := a.now()
	account := strings.ToLower(username)
	pair := account + "\x00" + ip
	// Each limit is asked only once the one before admitted the attempt,
	// so a refused attempt spends nothing of the others.
	for _, l := range []struct {
		limiter *limiter
		key     string
	}{{a.ips, ip}, {a.users, pair}, {a.accounts, account}} {
		if ok, wait := l.limiter.take(l.key, now); !ok {
			a.log.Warn("auth: sign-in rate limited", "ip", ip)
			return "", User{}, Session{}, &RateLimitError{RetryAfter: wait}
		}
	}
	var u User
	err := a.store.ViewAuth(ctx, func(tx Tx) error {
		var err error
		u, err = tx.GetUser(username)
		return err
	})
	if err != nil && server.ErrorCode(err) != server.ENOTFOUND {
		return "", User{}, Session{}, err
	}
	hash := u.PasswordHash
	if err != nil {
		hash = a.dummyHash // same work as for a real user
	}
	var match bool
	var verr error
	if herr := a.withHashSlot(ctx, func() { match, verr = VerifyPassword(password, hash) }); herr != nil {
		return "", User{}, Session{}, herr
	}
	if err != nil || verr != nil || !match {
		a.log.Info("auth: sign-in failed", "ip", ip) // not the username: it may be a mistyped password
		return "", User{}, Session{}, errBadPassword
	}
	secret := randomString(secretChars)
	s := Session{Hash: HashSecret(secret), Username: u.Username, CreatedAt: now, ExpiresAt: now.Add(a.sessionTTL)}
	err = a.store.UpdateAuth(ctx, func(tx Tx) error {
		if err := tx.DeleteExpiredSessions(now); err != nil {
			return err
		}
		return tx.CreateSession(s)
	})
	if err != nil {
		return "", User{}, Session{}, err
	}
	a.users.reset(pair) // only failures count against a user
	a.accounts.reset(account)
	a.log.Info("auth: signed in", "user", u.Username, "ip", ip)
	return secret, u, s, nil
}
