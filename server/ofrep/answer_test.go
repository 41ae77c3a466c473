package ofrep_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server/ofrep"
)

// TestAnswerBytes pins the exact answers (status, content headers, body
// bytes) of representative requests, errors included, so that a faster
// encoding or decoding cannot change what clients receive.
func TestAnswerBytes(t *testing.T) {
	obj := engine.Flag{Key: "theme", Type: engine.TypeObject, Variants: []engine.Variant{
		{Key: "dark", Value: map[string]any{"z": 1.5, "a": "<b>&", "list": []any{true, nil}}}, {Key: "light", Value: map[string]any{}}}}
	if err := engine.ValidateFlag(&obj); err != nil {
		t.Fatal(err)
	}
	snap := testSnapshot(t, 42)
	objSnap, err := engine.Compile("staging <&>", 3, []engine.FlagState{{Flag: obj, Config: engine.Config{Enabled: true, OffVariant: "light", Default: engine.Serve{Variant: "dark"}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &ofrep.Handler{Snapshots: snapshots{"production": snap, "staging": objSnap}, Authenticate: ofrep.HeaderAuthenticator, MaxBodyBytes: 4096}
	mux := http.NewServeMux()
	h.Register(mux, nil)
	v := snap.VersionOf
	for _, tc := range []struct{ name, method, path, env, body, want string }{
		{"split", "POST", "new-checkout", "production", `{"context":{"targetingKey":"user-42","plan":"pro"}}`,
			`200 {"key":"new-checkout","value":false,"variant":"off","reason":"SPLIT","metadata":{"environmentRevision":42,"flagSetId":"production","version":"` + v("new-checkout") + `"}}`},
		{"rule", "POST", "color", "production", `{"context":{"targetingKey":"u1","country":"NL"}}`,
			`200 {"key":"color","value":"#00f","variant":"blue","reason":"TARGETING_MATCH","metadata":{"environmentRevision":42,"flagSetId":"production","version":"` + v("color") + `"}}`},
		{"disabled, context null", "POST", "limit", "production", `{"context":null}`,
			`200 {"key":"limit","value":10,"variant":"low","reason":"DISABLED","metadata":{"environmentRevision":42,"flagSetId":"production","version":"` + v("limit") + `"}}`},
		{"no context member", "POST", "color", "production", ` {} `,
			`200 {"key":"color","value":"#f00","variant":"red","reason":"DEFAULT","metadata":{"environmentRevision":42,"flagSetId":"production","version":"` + v("color") + `"}}`},
		{"object value, escaped environment", "POST", "theme", "staging", `{"context":{"targetingKey":"x"}}`,
			`200 {"key":"theme","value":{"a":"\u003cb\u003e\u0026","list":[true,null],"z":1.5},"variant":"dark","reason":"STATIC","metadata":{"environmentRevision":3,"flagSetId":"staging \u003c\u0026\u003e","version":"` + objSnap.VersionOf("theme") + `"}}`},
		{"duplicate context member: the last counts", "POST", "color", "production", `{"context":{"country":"NL"},"Context":{"x":1}}`,
			`200 {"key":"color","value":"#f00","variant":"red","reason":"DEFAULT","metadata":{"environmentRevision":42,"flagSetId":"production","version":"` + v("color") + `"}}`},
		{"escaped member name", "POST", "color", "production", `{"\u0063ontext":{"country":"NL"}}`,
			`200 {"key":"color","value":"#00f","variant":"blue","reason":"TARGETING_MATCH","metadata":{"environmentRevision":42,"flagSetId":"production","version":"` + v("color") + `"}}`},
		{"unknown flag", "POST", "nope<", "production", `{"context":{}}`, ""},
		{"split without targeting key", "POST", "new-checkout", "production", `{"context":{"country":"NL"}}`, ""},
		{"malformed JSON", "POST", "color", "production", `{"context":`, ""},
		{"body not an object", "POST", "color", "production", `[1]`, ""},
		{"trailing data", "POST", "color", "production", `{} {}`, ""},
		{"context not an object", "POST", "color", "production", `{"context":[1,2]}`, ""},
		{"targeting key not a string", "POST", "color", "production", `{"context":{"targetingKey":7}}`, ""},
		{"empty body", "POST", "color", "production", "  \n", ""},
		{"no environment", "POST", "color", "", `{}`, ""},
		{"unknown environment", "POST", "color", "dev", `{}`, ""},
		{"body too large", "POST", "color", "production", `{"context":{"a":"` + strings.Repeat("x", 5000) + `"}}`, ""},
		{"wrong method", "GET", "color", "production", ``, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "/ofrep/v1/evaluate/flags/"+tc.path, strings.NewReader(tc.body))
			if tc.env != "" {
				req.Header.Set(ofrep.EnvironmentHeader, tc.env)
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, req)
			got := w.Result().Status[:3] + " " + strings.TrimSuffix(w.Body.String(), "\n")
			if !strings.HasSuffix(w.Body.String(), "\n") {
				t.Errorf("body does not end with a newline: %q", w.Body.String())
			}
			if ct, cc := w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
				t.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
			}
			want := tc.want
			if want == "" {
				want = errorAnswers[tc.name]
			}
			if got != want {
				t.Errorf("answer\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// errorAnswers are the error answers of TestAnswerBytes, as the handler
// gave them before its encoding was written by hand.
var errorAnswers = map[string]string{
	"unknown flag":                `404 {"key":"nope\u003c","errorCode":"FLAG_NOT_FOUND","errorDetails":"flag not found"}`,
	"split without targeting key": `400 {"key":"new-checkout","errorCode":"TARGETING_KEY_MISSING","errorDetails":"flag \"new-checkout\" splits on attribute \"targetingKey\", which is missing or not a string, number or boolean"}`,
	"malformed JSON":              `400 {"key":"color","errorCode":"PARSE_ERROR","errorDetails":"request body is not a JSON object: unexpected end of JSON input"}`,
	"body not an object":          `400 {"key":"color","errorCode":"PARSE_ERROR","errorDetails":"request body is not a JSON object: json: cannot unmarshal array into Go value of type struct { Context json.RawMessage \"json:\\\"context\\\"\" }"}`,
	"trailing data":               `400 {"key":"color","errorCode":"PARSE_ERROR","errorDetails":"request body is not a JSON object: invalid character '{' after top-level value"}`,
	"context not an object":       `400 {"key":"color","errorCode":"INVALID_CONTEXT","errorDetails":"context must be a JSON object"}`,
	"targeting key not a string":  `400 {"key":"color","errorCode":"INVALID_CONTEXT","errorDetails":"context.targetingKey must be a string, got a number"}`,
	"empty body":                  `400 {"key":"color","errorCode":"PARSE_ERROR","errorDetails":"request body is empty: send {\"context\": {...}}"}`,
	"no environment":              `401 {"key":"color","errorDetails":"no environment: send an sdk token as X-API-Key or Bearer, or the X-Flagpole-Environment header"}`,
	"unknown environment":         `400 {"key":"color","errorCode":"GENERAL","errorDetails":"environment \"dev\" not found"}`,
	"body too large":              `413 {"key":"color","errorCode":"GENERAL","errorDetails":"request body larger than 4096 bytes"}`,
	"wrong method":                `405 {"errorCode":"GENERAL","errorDetails":"GET /ofrep/v1/evaluate/flags/color: use POST"}`,
}

// TestBodyLimitWhateverTheLength: the limit holds for a body without a
// length (chunked) and for one longer than its request says, as for one
// that announces its length.
func TestBodyLimitWhateverTheLength(t *testing.T) {
	h := &ofrep.Handler{Snapshots: snapshots{"production": testSnapshot(t, 1)}, Authenticate: ofrep.HeaderAuthenticator, MaxBodyBytes: 64}
	mux := http.NewServeMux()
	h.Register(mux, nil)
	small := `{"CONTEXT":{"country":"NL"}}`
	large := `{"context":{"a":"` + strings.Repeat("x", 100) + `"}}`
	for _, tc := range []struct {
		name   string
		body   string
		length int64
		want   string
	}{
		{"chunked, within", small, -1, `200 {"key":"color","value":"#00f"`},
		{"chunked, over", large, -1, `413 {"key":"color","errorCode":"GENERAL","errorDetails":"request body larger than 64 bytes"}`},
		{"announced short, longer", large, 10, `413 {"key":"color","errorCode":"GENERAL","errorDetails":"request body larger than 64 bytes"}`},
		{"announced, within", small, int64(len(small)), `200 {"key":"color","value":"#00f"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/ofrep/v1/evaluate/flags/color", strings.NewReader(tc.body))
			req.ContentLength = tc.length
			req.Header.Set(ofrep.EnvironmentHeader, "production")
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, req)
			if got := w.Result().Status[:3] + " " + w.Body.String(); !strings.HasPrefix(got, tc.want) {
				t.Errorf("answer %s, want %s…", got, tc.want)
			}
		})
	}
}
