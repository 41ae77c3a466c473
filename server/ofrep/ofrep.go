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
	"bytes"
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
	"sync"

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

// success is a successful evaluation in the bulk answer; single is one in
// the answer for one flag, whose metadata also carries the environment's
// revision; failure is a failed one. The metadata are structs whose fields
// are in the order encoding/json sorts a map's keys, so that they encode to
// the bytes a map did, without the map.
type success struct {
	Key      string       `json:"key"`
	Value    any          `json:"value"`
	Variant  string       `json:"variant,omitempty"`
	Reason   string       `json:"reason"`
	Metadata flagMetadata `json:"metadata"`
}

type flagMetadata struct {
	FlagSetID string `json:"flagSetId"`
	Version   string `json:"version"`
}

type single struct {
	Key      string         `json:"key"`
	Value    any            `json:"value"`
	Variant  string         `json:"variant,omitempty"`
	Reason   string         `json:"reason"`
	Metadata singleMetadata `json:"metadata"`
}

type singleMetadata struct {
	EnvironmentRevision int64  `json:"environmentRevision"`
	FlagSetID           string `json:"flagSetId"`
	Version             string `json:"version"`
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
	e := encoders.Get().(*encoder)
	e.single = single{Key: res.FlagKey, Value: res.Value, Variant: res.Variant, Reason: string(res.Reason),
		Metadata: singleMetadata{EnvironmentRevision: snap.Revision(), FlagSetID: snap.Environment(), Version: snap.VersionOf(res.FlagKey)}}
	e.write(w, http.StatusOK, &e.single)
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
	buf := bodies.Get().(*bytes.Buffer)
	defer putBody(buf)
	body, err := readBody(buf, w, r, limit)
	switch {
	case tooLarge(err):
		return nil, &failure{ErrorCode: codeGeneral, ErrorDetails: "request body larger than " + strconv.FormatInt(limit, 10) + " bytes"}
	case err != nil:
		return nil, &failure{ErrorCode: codeParse, ErrorDetails: "reading request body: " + err.Error()}
	case len(bytes.TrimSpace(body)) == 0:
		return nil, &failure{ErrorCode: codeParse, ErrorDetails: `request body is empty: send {"context": {...}}`}
	}
	ctx, ok := decodeOnce(body)
	if !ok {
		var fail *failure
		if ctx, fail = decodeTwice(body); fail != nil {
			return nil, fail
		}
	}
	if err := engine.CheckContext(ctx); err != nil {
		return nil, &failure{ErrorCode: codeInvalidContext, ErrorDetails: err.Error()}
	}
	return ctx, nil
}

// tooLarge reports whether err says the body exceeded the limit. (A
// function of its own: the target errors.As needs would otherwise be
// allocated for every request, error or not.)
func tooLarge(err error) bool {
	var e *http.MaxBytesError
	return err != nil && errors.As(err, &e)
}

// bodies are the buffers request bodies are read into.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putBody(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledAnswer {
		buf.Reset()
		bodies.Put(buf)
	}
}

// readBody reads the request body into buf, refusing more than limit
// bytes with an *http.MaxBytesError. A body that announces its length
// (Content-Length, as every OFREP provider sends it) within the limit is
// read as it is: net/http's body reader ends at that length, so it cannot
// exceed the limit, and http.MaxBytesReader (an allocation) is not needed.
// Should a handler's caller hand it a longer body all the same, the limit
// still holds.
func readBody(buf *bytes.Buffer, w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength < 0 || r.ContentLength > limit {
		_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, limit))
		return buf.Bytes(), err
	}
	buf.Grow(int(r.ContentLength) + bytes.MinRead)
	for {
		if int64(buf.Len()) > limit {
			return nil, &http.MaxBytesError{Limit: limit}
		}
		b := buf.AvailableBuffer()
		n, err := r.Body.Read(b[:cap(b)])
		buf.Write(b[:n]) // in place: b is buf's own free space
		switch {
		case err == io.EOF:
			if int64(buf.Len()) > limit {
				return nil, &http.MaxBytesError{Limit: limit}
			}
			return buf.Bytes(), nil
		case err != nil:
			return nil, err
		case n == len(b[:cap(b)]):
			buf.Grow(bytes.MinRead)
		}
	}
}

// decodeOnce decodes the context in one pass over the body, where
// decodeTwice takes two (the body, then the context's raw bytes). It
// reports false when it cannot tell that the result is decodeTwice's:
// when decoding fails (decodeTwice then words the error), or when the body
// may name the context member more than once (a backslash escape could
// spell it; two spellings would merge into one map where decodeTwice keeps
// the last). encoding/json matches member names without regard to case,
// and no letter of "context" has a non-ASCII case variant, so an ASCII
// case-insensitive count finds every spelling.
func decodeOnce(body []byte) (map[string]any, bool) {
	if bytes.IndexByte(body, '\\') >= 0 || contextMembers(body) > 1 {
		return nil, false
	}
	var req struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, false
	}
	if req.Context == nil { // no member, or null
		req.Context = map[string]any{}
	}
	return req.Context, true
}

// contextMembers counts `context"` in body, ASCII letters in any case.
func contextMembers(body []byte) int {
	const name = `context"`
	n := 0
	for i := 0; i+len(name) <= len(body); i++ {
		if body[i]|0x20 != 'c' {
			continue
		}
		j := 1
		for j < len(name) && body[i+j]|0x20 == name[j] {
			j++
		}
		if j == len(name) {
			n++
		}
	}
	return n
}

// decodeTwice decodes the body, then its context member, wording the
// errors of each.
func decodeTwice(body []byte) (map[string]any, *failure) {
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
	return ctx, nil
}

func (h *Handler) success(snap *engine.Snapshot, res engine.Result) success {
	return success{
		Key:     res.FlagKey,
		Value:   res.Value,
		Variant: res.Variant,
		Reason:  string(res.Reason),
		Metadata: flagMetadata{
			FlagSetID: snap.Environment(),
			Version:   snap.VersionOf(res.FlagKey),
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
	encoders.Get().(*encoder).write(w, status, v)
}

// The values of writeJSON's headers, shared by every answer instead of a
// new slice per header and answer (what Header.Set makes). Nothing in the
// server writes into a header's slice in place: Set and Add replace it or
// append to it, which copies a slice this full.
var (
	contentTypeJSON = []string{"application/json"}
	noStore         = []string{"no-store"}
)

// encoder encodes an answer into a buffer reused from answer to answer,
// and holds the single-flag answer, so that encoding one allocates nothing
// of its own.
type encoder struct {
	buf    bytes.Buffer
	json   *json.Encoder
	single single
}

// maxPooledAnswer is the largest buffer kept for reuse: a bulk answer of
// many flags is not kept alive for the single answers.
const maxPooledAnswer = 64 << 10

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.json = json.NewEncoder(&e.buf)
	return e
}}

// write sends v, encoded as json.NewEncoder(w).Encode(v) encodes it (a
// newline after the value, HTML characters escaped), in one Write, and
// returns e to the pool.
func (e *encoder) write(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	e.buf.Reset()
	if err := e.json.Encode(v); err == nil {
		w.Write(e.buf.Bytes())
	}
	e.single = single{}
	if e.buf.Cap() <= maxPooledAnswer {
		encoders.Put(e)
	}
}
