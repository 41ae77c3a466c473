// Package ofrep serves the OpenFeature Remote Evaluation Protocol, so that an
// OpenFeature SDK in any language can evaluate Flagpole flags remotely with
// its OFREP provider. It evaluates with the same engine snapshots that the
// sync stream sends to the Go SDK, so both give the same answer.
//
// Routes (mounted by Register):
//
//	POST /ofrep/v1/evaluate/flags/{key}  one flag
//	POST /ofrep/v1/evaluate/flags        every flag, with ETag / If-None-Match
//	GET  /ofrep/v1/configuration         provider configuration
package ofrep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
)

// Snapshots gives the compiled snapshot an environment serves now. It
// returns a *server.Error with ENOTFOUND for an unknown environment.
type Snapshots interface {
	Snapshot(ctx context.Context, environment string) (*engine.Snapshot, error)
}

// Caller is who asks: the environment the request evaluates in and a name
// for usage insights (the token's name, or "" when unknown).
type Caller struct {
	Environment string
	Service     string
}

// Authenticator resolves the caller of a request from its credentials
// (X-API-Key or Authorization: Bearer). It returns a *server.Error with
// EUNAUTHORIZED (→ 401), EFORBIDDEN (→ 403) or EINVALID (→ 400).
type Authenticator func(r *http.Request) (Caller, error)

// EvaluationCounter counts remote evaluations (the metrics).
type EvaluationCounter interface {
	Evaluated(source, environment, flag, reason, errorCode string)
}

// UsageRecorder records that a flag served a variant (the usage insights).
type UsageRecorder interface {
	Record(environment, service, flag, variant string, count int64)
}

// Handler serves OFREP. Snapshots and Authenticate are required; Counter,
// Usage and Logger are optional.
type Handler struct {
	Snapshots    Snapshots
	Authenticate Authenticator
	Counter      EvaluationCounter
	Usage        UsageRecorder
	Logger       *slog.Logger
	// MaxBodyBytes limits request bodies (default 1 MiB).
	MaxBodyBytes int64
}

// EnvironmentHeader names the environment for HeaderAuthenticator.
const EnvironmentHeader = "X-Flagpole-Environment"

// HeaderAuthenticator takes the environment from the X-Flagpole-Environment
// header or the environment query parameter, without checking a credential.
// It is the seam for servers without token authentication; with auth, the
// environment comes from the sdk token instead.
func HeaderAuthenticator(r *http.Request) (Caller, error) {
	env := r.Header.Get(EnvironmentHeader)
	if env == "" {
		env = r.URL.Query().Get("environment")
	}
	if env == "" {
		return Caller{}, server.Errorf(server.EUNAUTHORIZED, "no environment: send an sdk token as X-API-Key or Bearer, or the %s header", EnvironmentHeader)
	}
	return Caller{Environment: env, Service: r.Header.Get("X-Flagpole-Service")}, nil
}

// ContextAuthenticator resolves the caller from what an HTTP authentication
// middleware put in the request context: resolve (auth.Authenticator's
// EvaluationEnvironment) gets the environment the request names, if any,
// and returns the one the credential may evaluate in, or a *server.Error.
func ContextAuthenticator(resolve func(ctx context.Context, requested string) (string, error)) Authenticator {
	return func(r *http.Request) (Caller, error) {
		requested := r.Header.Get(EnvironmentHeader)
		if requested == "" {
			requested = r.URL.Query().Get("environment")
		}
		env, err := resolve(r.Context(), requested)
		if err != nil {
			return Caller{}, err
		}
		return Caller{Environment: env, Service: r.Header.Get("X-Flagpole-Service")}, nil
	}
}

// Register mounts the OFREP routes on mux. wrap, when not nil, wraps each
// route's handler with the route name (for metrics middleware).
func (h *Handler) Register(mux *http.ServeMux, wrap func(name string, next http.Handler) http.Handler) {
	if wrap == nil {
		wrap = func(_ string, next http.Handler) http.Handler { return next }
	}
	mux.Handle("POST /ofrep/v1/evaluate/flags/{key}", wrap("ofrep.EvaluateFlag", http.HandlerFunc(h.evaluateFlag)))
	mux.Handle("POST /ofrep/v1/evaluate/flags", wrap("ofrep.EvaluateFlags", http.HandlerFunc(h.evaluateFlags)))
	mux.Handle("GET /ofrep/v1/configuration", wrap("ofrep.Configuration", http.HandlerFunc(h.configuration)))
	// Other methods on these routes, and paths that name no route, get an
	// OFREP error body rather than the admin UI's (or ServeMux's) text.
	mux.Handle("/ofrep/v1/evaluate/flags/{key}", methodNotAllowed(http.MethodPost))
	mux.Handle("/ofrep/v1/evaluate/flags", methodNotAllowed(http.MethodPost))
	mux.Handle("/ofrep/v1/configuration", methodNotAllowed(http.MethodGet))
	mux.HandleFunc("/ofrep/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, failure{ErrorCode: codeGeneral, ErrorDetails: "no OFREP route " + r.URL.Path})
	})
}

func methodNotAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeJSON(w, http.StatusMethodNotAllowed, failure{ErrorCode: codeGeneral, ErrorDetails: r.Method + " " + r.URL.Path + ": use " + allow})
	})
}

// success is a successful evaluation; failure a failed one.
type success struct {
	Key      string         `json:"key"`
	Value    any            `json:"value"`
	Variant  string         `json:"variant,omitempty"`
	Reason   string         `json:"reason"`
	Metadata map[string]any `json:"metadata"`
}

type failure struct {
	Key          string `json:"key,omitempty"`
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorDetails string `json:"errorDetails,omitempty"`
}

// The OFREP error codes beyond the engine's.
const (
	codeParse          = "PARSE_ERROR"
	codeInvalidContext = "INVALID_CONTEXT"
	codeGeneral        = "GENERAL"
)

func (h *Handler) evaluateFlag(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	caller, snap, ctx, fail, status := h.prepare(w, r)
	if fail != nil {
		fail.Key = key
		writeJSON(w, status, fail)
		return
	}
	res := snap.Evaluate(key, "", ctx)
	h.observe(caller, res)
	if res.ErrorCode != engine.ErrorNone {
		status := http.StatusBadRequest
		if res.ErrorCode == engine.ErrorFlagNotFound {
			status = http.StatusNotFound
		}
		writeJSON(w, status, failure{Key: key, ErrorCode: string(res.ErrorCode), ErrorDetails: res.ErrorMessage})
		return
	}
	ok := h.success(snap, res)
	ok.Metadata["environmentRevision"] = snap.Revision()
	writeJSON(w, http.StatusOK, ok)
}

func (h *Handler) evaluateFlags(w http.ResponseWriter, r *http.Request) {
	caller, snap, ctx, fail, status := h.prepare(w, r)
	if fail != nil {
		writeJSON(w, status, fail)
		return
	}
	etag := etagOf(snap, ctx)
	w.Header().Set("ETag", etag)
	if matches(r.Header.Get("If-None-Match"), etag) {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	results := snap.EvaluateAll(ctx)
	flags := make([]any, 0, len(results))
	for _, res := range results {
		h.observe(caller, res)
		if res.ErrorCode != engine.ErrorNone {
			flags = append(flags, failure{Key: res.FlagKey, ErrorCode: string(res.ErrorCode), ErrorDetails: res.ErrorMessage})
			continue
		}
		flags = append(flags, h.success(snap, res))
	}
	// The environment's revision is flag set metadata: in each flag's
	// metadata it would make every flag look changed on every change.
	writeJSON(w, http.StatusOK, map[string]any{"flags": flags,
		"metadata": map[string]any{"flagSetId": snap.Environment(), "environmentRevision": snap.Revision()}})
}

func (h *Handler) configuration(w http.ResponseWriter, r *http.Request) {
	if _, err := h.Authenticate(r); err != nil {
		status, fail := h.errorStatus(err)
		writeJSON(w, status, fail)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name": "flagpole",
		"capabilities": map[string]any{
			"cacheInvalidation": map[string]any{
				"polling": map[string]any{"enabled": true, "minPollingIntervalMs": 1000},
			},
			"flagEvaluation": map[string]any{
				"supportedTypes": []string{"boolean", "string", "int", "float", "object"},
			},
		},
	})
}

// prepare authenticates, loads the snapshot and decodes the context. On
// failure it returns the body and status to answer with.
func (h *Handler) prepare(w http.ResponseWriter, r *http.Request) (Caller, *engine.Snapshot, map[string]any, *failure, int) {
	caller, err := h.Authenticate(r)
	if err != nil {
		status, fail := h.errorStatus(err)
		return caller, nil, nil, fail, status
	}
	ctx, fail := h.decodeContext(w, r)
	if fail != nil {
		status := http.StatusBadRequest
		if fail.ErrorCode == codeGeneral {
			status = http.StatusRequestEntityTooLarge
		}
		return caller, nil, nil, fail, status
	}
	snap, err := h.Snapshots.Snapshot(r.Context(), caller.Environment)
	if err != nil {
		status, fail := h.errorStatus(err)
		return caller, nil, nil, fail, status
	}
	return caller, snap, ctx, nil, 0
}

// decodeContext reads {"context": {...}}. An empty body is an empty context.
func (h *Handler) decodeContext(w http.ResponseWriter, r *http.Request) (map[string]any, *failure) {
	limit := h.MaxBodyBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, &failure{ErrorCode: codeGeneral, ErrorDetails: "request body larger than " + strconv.FormatInt(limit, 10) + " bytes"}
	case err != nil:
		return nil, &failure{ErrorCode: codeParse, ErrorDetails: "reading request body: " + err.Error()}
	case len(strings.TrimSpace(string(body))) == 0:
		return nil, &failure{ErrorCode: codeParse, ErrorDetails: `request body is empty: send {"context": {...}}`}
	}
	var req struct {
		Context json.RawMessage `json:"context"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, &failure{ErrorCode: codeParse, ErrorDetails: "request body is not a JSON object: " + err.Error()}
	}
	ctx := map[string]any{}
	if len(req.Context) > 0 && string(req.Context) != "null" {
		if err := json.Unmarshal(req.Context, &ctx); err != nil {
			return nil, &failure{ErrorCode: codeInvalidContext, ErrorDetails: "context must be a JSON object"}
		}
	}
	if err := engine.CheckContext(ctx); err != nil {
		return nil, &failure{ErrorCode: codeInvalidContext, ErrorDetails: err.Error()}
	}
	return ctx, nil
}

func (h *Handler) success(snap *engine.Snapshot, res engine.Result) success {
	return success{
		Key:     res.FlagKey,
		Value:   res.Value,
		Variant: res.Variant,
		Reason:  string(res.Reason),
		Metadata: map[string]any{
			"flagSetId": snap.Environment(),
			"version":   snap.VersionOf(res.FlagKey),
		},
	}
}

func (h *Handler) observe(c Caller, res engine.Result) {
	if h.Counter != nil {
		h.Counter.Evaluated("ofrep", c.Environment, res.FlagKey, string(res.Reason), string(res.ErrorCode))
	}
	if h.Usage != nil && res.ErrorCode == engine.ErrorNone {
		service := c.Service
		if service == "" {
			service = "ofrep"
		}
		h.Usage.Record(c.Environment, service, res.FlagKey, res.Variant, 1)
	}
}

// errorStatus maps a caller or snapshot error to an OFREP status and body.
// Unexpected errors are logged and answered without detail.
func (h *Handler) errorStatus(err error) (int, *failure) {
	var e *server.Error
	if !errors.As(err, &e) {
		if h.Logger != nil {
			h.Logger.Error("ofrep: internal error", "err", err)
		}
		return http.StatusInternalServerError, &failure{ErrorDetails: "internal error"}
	}
	switch e.Code {
	case server.EUNAUTHORIZED:
		return http.StatusUnauthorized, &failure{ErrorDetails: e.Error()}
	case server.EFORBIDDEN:
		return http.StatusForbidden, &failure{ErrorDetails: e.Error()}
	case server.EUNAVAILABLE:
		return http.StatusServiceUnavailable, &failure{ErrorDetails: e.Error()}
	case server.EINTERNAL:
		return http.StatusInternalServerError, &failure{ErrorDetails: "internal error"}
	default: // an unknown environment or bad input
		return http.StatusBadRequest, &failure{ErrorCode: codeGeneral, ErrorDetails: e.Error()}
	}
}

// etagOf identifies a bulk result: the environment, its revision and the
// context (encoding/json sorts map keys, so equal contexts hash equally).
func etagOf(snap *engine.Snapshot, ctx map[string]any) string {
	b, _ := json.Marshal(ctx)
	sum := sha256.New()
	sum.Write([]byte(snap.Environment()))
	sum.Write([]byte{0})
	sum.Write([]byte(strconv.FormatInt(snap.Revision(), 10)))
	sum.Write([]byte{0})
	sum.Write(b)
	return `"` + hex.EncodeToString(sum.Sum(nil)[:16]) + `"`
}

// matches reports whether an If-None-Match header lists etag (weak
// comparison, as RFC 9110 asks for If-None-Match) or is "*".
func matches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// writeJSON answers with v. No OFREP answer may be stored by a cache: it
// depends on the credential and the context, and the bulk answer's ETag is
// revalidated by the provider itself (If-None-Match), not by an HTTP cache.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
