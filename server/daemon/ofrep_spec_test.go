package daemon_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestOFREPSpecConformance holds the real server's OFREP answers to the
// protocol's OpenAPI description (open-feature/protocol service/openapi.yaml)
// where issue 12 found them deviating: the 401 body, 413 without errorCode,
// no Cache-Control, an empty body accepted, GET on an evaluate route
// answered 404 text/plain.
func TestOFREPSpecConformance(t *testing.T) {
	t.Parallel()
	base, token := ofrepCORSServer(t)
	bearer := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
	body := func(raw string) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatalf("body %q is not a JSON object: %v", raw, err)
		}
		return m
	}

	t.Run("401 is an OFREP error body", func(t *testing.T) {
		resp, raw := do(t, "POST", base+"/ofrep/v1/evaluate/flags/new-checkout", `{"context":{"targetingKey":"u"}}`, map[string]string{"Authorization": "Bearer fp_sdk_wrong"})
		m := body(raw)
		if resp.StatusCode != http.StatusUnauthorized || m["errorDetails"] == nil || m["code"] != nil || m["message"] != nil {
			t.Errorf("status %d, body %s: want 401 {\"errorDetails\":...}", resp.StatusCode, raw)
		}
	})
	t.Run("413 names an errorCode", func(t *testing.T) {
		big := `{"context":{"targetingKey":"u","pad":"` + strings.Repeat("x", 1<<20+10) + `"}}`
		resp, raw := do(t, "POST", base+"/ofrep/v1/evaluate/flags", big, bearer)
		m := body(raw)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || m["errorCode"] != "GENERAL" || m["errorDetails"] == nil {
			t.Errorf("status %d, body %s: want 413 with errorCode GENERAL", resp.StatusCode, raw)
		}
	})
	t.Run("answers are not stored by caches", func(t *testing.T) {
		for _, path := range []string{"/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags/new-checkout", "/ofrep/v1/evaluate/flags/nope"} {
			resp, raw := do(t, "POST", base+path, `{"context":{"targetingKey":"u"}}`, bearer)
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("%s: status %d, Cache-Control %q, want no-store: %s", path, resp.StatusCode, got, raw)
			}
		}
	})
	t.Run("an empty body is refused", func(t *testing.T) {
		for _, path := range []string{"/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags/new-checkout"} {
			resp, raw := do(t, "POST", base+path, "", bearer)
			if m := body(raw); resp.StatusCode != http.StatusBadRequest || m["errorCode"] != "PARSE_ERROR" {
				t.Errorf("%s: status %d, body %s: want 400 PARSE_ERROR", path, resp.StatusCode, raw)
			}
		}
	})
	t.Run("GET on an evaluate route is 405 JSON", func(t *testing.T) {
		for _, path := range []string{"/ofrep/v1/evaluate/flags", "/ofrep/v1/evaluate/flags/new-checkout"} {
			resp, raw := do(t, "GET", base+path, "", bearer)
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || body(raw)["errorCode"] != "GENERAL" {
				t.Errorf("GET %s: status %d, Allow %q, Content-Type %q, body %s: want 405, Allow POST, a JSON error",
					path, resp.StatusCode, resp.Header.Get("Allow"), resp.Header.Get("Content-Type"), raw)
			}
		}
		resp, raw := do(t, "POST", base+"/ofrep/v1/nothing-here", "{}", bearer)
		if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("unknown OFREP path: status %d, Content-Type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
		}
	})
	t.Run("metadata.version is a string", func(t *testing.T) {
		_, raw := do(t, "POST", base+"/ofrep/v1/evaluate/flags/new-checkout", `{"context":{"targetingKey":"u"}}`, bearer)
		md, _ := body(raw)["metadata"].(map[string]any)
		if _, ok := md["version"].(string); !ok {
			t.Errorf("metadata %v: version is not a string", md)
		}
	})
}
