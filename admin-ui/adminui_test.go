package adminui

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerServesIndexWithHeaders(t *testing.T) {
	t.Parallel()
	h := Handler()
	for _, path := range []string{"/", "/index.html"} {
		rec := get(t, h, "GET", path, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d", path, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: content type %q", path, ct)
		}
		if !strings.Contains(rec.Body.String(), `<script type="module" src="/static/js/app.js">`) {
			t.Errorf("GET %s: the page does not load app.js", path)
		}
		for k, want := range map[string]string{
			"Cache-Control":           "no-cache",
			"Content-Security-Policy": ContentSecurityPolicy,
			"X-Content-Type-Options":  "nosniff",
		} {
			if got := rec.Header().Get(k); got != want {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got, want)
			}
		}
	}
}

func TestHandlerETagRevalidation(t *testing.T) {
	t.Parallel()
	h := Handler()
	first := get(t, h, "GET", "/static/js/app.js", nil)
	if first.Code != http.StatusOK {
		t.Fatalf("status %d", first.Code)
	}
	if ct := first.Header().Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
		t.Errorf("content type %q", ct)
	}
	etag := first.Header().Get("ETag")
	if !regexp.MustCompile(`^"[A-Za-z0-9_-]{22}"$`).MatchString(etag) {
		t.Fatalf("ETag %q is not a quoted content hash", etag)
	}
	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		rec := get(t, h, "GET", "/static/js/app.js", map[string]string{"If-None-Match": inm})
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: status %d with %d bytes, want 304 and no body", inm, rec.Code, rec.Body.Len())
		}
	}
	rec := get(t, h, "GET", "/static/js/app.js", map[string]string{"If-None-Match": `"stale"`})
	if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
		t.Errorf("stale If-None-Match: status %d, want 200 with the body", rec.Code)
	}
	css := get(t, h, "GET", "/static/app.css", nil)
	if css.Header().Get("ETag") == etag {
		t.Error("two different files share an ETag")
	}
	head := get(t, h, "HEAD", "/static/app.css", nil)
	if head.Code != http.StatusOK || head.Body.Len() != 0 || head.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD: status %d, %d body bytes, length %q", head.Code, head.Body.Len(), head.Header().Get("Content-Length"))
	}
}

func TestHandlerRejects(t *testing.T) {
	t.Parallel()
	h := Handler()
	for path, want := range map[string]int{
		"/static/nope.js":         http.StatusNotFound,
		"/api/v1/flags":           http.StatusNotFound,
		"/static/../adminui.go":   http.StatusNotFound,
		"/static/js/../../static": http.StatusNotFound,
	} {
		if rec := get(t, h, "GET", path, nil); rec.Code != want {
			t.Errorf("GET %s: status %d, want %d", path, rec.Code, want)
		}
	}
	rec := get(t, h, "POST", "/", nil)
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: status %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
}

// TestAssetsHaveNoInlineCodeOrHTMLSinks keeps the CSP promise and the
// escaping rule checkable: no inline script or handler in the HTML, and no
// JavaScript API that parses strings as HTML or code.
func TestAssetsHaveNoInlineCodeOrHTMLSinks(t *testing.T) {
	t.Parallel()
	scriptTag := regexp.MustCompile(`(?is)<script\b[^>]*>`)
	inlineHandler := regexp.MustCompile(`(?i)<[^>]+\son[a-z]+\s*=`)
	styleAttr := regexp.MustCompile(`(?i)<[^>]+\sstyle\s*=`)
	sinks := regexp.MustCompile(`\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setAttribute\(\s*['"]on`)
	n := 0
	err := fs.WalkDir(static, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(static, name)
		if err != nil {
			return err
		}
		src := string(body)
		switch {
		case strings.HasSuffix(name, ".html"):
			n++
			for _, tag := range scriptTag.FindAllString(src, -1) {
				if !strings.Contains(tag, " src=") {
					t.Errorf("%s: inline script %q", name, tag)
				}
			}
			if m := inlineHandler.FindString(src); m != "" {
				t.Errorf("%s: inline event handler in %q", name, m)
			}
			if m := styleAttr.FindString(src); m != "" {
				t.Errorf("%s: style attribute in %q (blocked by the CSP)", name, m)
			}
		case strings.HasSuffix(name, ".js"):
			n++
			for i, line := range strings.Split(src, "\n") {
				if m := sinks.FindString(line); m != "" {
					t.Errorf("%s:%d: %q parses strings as HTML or code", name, i+1, m)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 {
		t.Fatalf("checked only %d files; the embed lost the assets", n)
	}
}
