package ofrep

import (
	"net/http"
	"strings"
)

// Prefix is the path prefix of every OFREP route.
const Prefix = "/ofrep/v1/"

// EvaluationPatterns are the ServeMux patterns of OFREP's POST evaluation
// routes. They change nothing and authenticate by token (X-API-Key or
// Bearer), not by cookie, so a server's cross-origin protection may exempt
// them: a browser page on an allowed origin must be able to POST to them.
var EvaluationPatterns = []string{
	"POST /ofrep/v1/evaluate/flags",
	"POST /ofrep/v1/evaluate/flags/{key}",
}

// CORS answers the cross-origin requests of browsers to the OFREP routes
// (paths under Prefix) for the origins allowed; other paths pass to next
// untouched. origins are exact origins ("https://app.example.com") or "*"
// for any. A preflight (OPTIONS with Access-Control-Request-Method) from an
// allowed origin is answered 204 here, before any authentication (browsers
// send no credentials on a preflight); one from another origin gets 403.
// Actual requests from an allowed origin get Access-Control-Allow-Origin
// and ETag exposed. Credentials (cookies) are never allowed: OFREP clients
// authenticate with a token header.
func CORS(origins []string, next http.Handler) http.Handler {
	anyOrigin := false
	allowed := make(map[string]bool, len(origins))
	for _, o := range origins {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if o == "*" {
			anyOrigin = true
		}
		allowed[strings.ToLower(o)] = true
	}
	allow := func(origin string) (string, bool) {
		switch {
		case origin == "":
			return "", false
		case anyOrigin:
			return "*", true
		case allowed[strings.ToLower(origin)]:
			return origin, true
		}
		return "", false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, Prefix) {
			next.ServeHTTP(w, r)
			return
		}
		origin := r.Header.Get("Origin")
		value, ok := allow(origin)
		h := w.Header()
		if !anyOrigin {
			if _, set := h["Vary"]; set {
				h.Add("Vary", "Origin")
			} else {
				h["Vary"] = varyOrigin // shared, as writeJSON's headers are
			}
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if !ok {
				writeJSON(w, http.StatusForbidden, failure{ErrorCode: codeGeneral,
					ErrorDetails: "origin " + quoteOrigin(origin) + " may not call OFREP: allow it with serve --cors-origin"})
				return
			}
			h.Set("Access-Control-Allow-Origin", value)
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-None-Match, X-API-Key, "+EnvironmentHeader+", X-Flagpole-Service")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if ok {
			h.Set("Access-Control-Allow-Origin", value)
			h.Set("Access-Control-Expose-Headers", "ETag")
		}
		next.ServeHTTP(w, r)
	})
}

var varyOrigin = []string{"Origin"}

func quoteOrigin(o string) string {
	if o == "" {
		return "(none)"
	}
	return `"` + o + `"`
}
