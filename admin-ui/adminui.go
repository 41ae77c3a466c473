// Package adminui serves Flagpole's admin web UI: plain HTML, CSS and ES
// modules embedded into the binary, so the server binary is the whole product
// and no Node toolchain is needed to build or run it. The UI talks only to the
// server's HTTP JSON API (/api/v1/...), the same one the CLI and scripts use.
//
// Embedded files carry no modification time, so every response gets a strong
// ETag derived from the file's SHA-256 and "Cache-Control: no-cache": browsers
// keep their copy and revalidate it with If-None-Match, which costs a 304 and
// never serves a stale script after an upgrade.
package adminui

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// ContentSecurityPolicy is sent with every UI response. Scripts and styles
// come only from the server itself; there is no inline script, no inline
// event handler and no eval anywhere in the UI.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// asset is one embedded file ready to serve.
type asset struct {
	body        []byte
	etag        string
	contentType string
}

// contentTypes is explicit so the answer does not depend on the host's MIME
// tables (a module script served as text/plain is refused by browsers).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".json": "application/json",
}

// Handler returns the handler of the admin UI. Mount it at "/": it answers
// "/" and "/index.html" with the application page and "/static/..." with the
// embedded assets; anything else is 404 (the UI routes with the URL fragment,
// so no server-side fallback is needed).
func Handler() http.Handler {
	assets, err := load(static)
	if err != nil {
		// The files are compiled in; failing here means a broken build.
		panic(fmt.Sprintf("adminui: %v", err))
	}
	return &handler{assets: assets}
}

// load reads every embedded file and computes its ETag.
func load(fsys fs.FS) (map[string]asset, error) {
	assets := make(map[string]asset)
	err := fs.WalkDir(fsys, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			ct = "application/octet-stream"
		}
		assets["/"+name] = asset{
			body:        body,
			etag:        `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`,
			contentType: ct,
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load assets: %w", err)
	}
	if _, ok := assets["/static/index.html"]; !ok {
		return nil, fmt.Errorf("load assets: static/index.html missing")
	}
	return assets, nil
}

type handler struct {
	assets map[string]asset
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := r.URL.Path
	if name == "/" || name == "/index.html" {
		name = "/static/index.html"
	}
	a, ok := h.assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("ETag", a.etag)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("X-Frame-Options", "DENY")
	if etagMatch(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Length", fmt.Sprint(len(a.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(a.body)
	}
}

// etagMatch reports whether an If-None-Match header names etag (weak
// comparison, as RFC 9110 asks for If-None-Match).
func etagMatch(header, etag string) bool {
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == etag {
			return true
		}
	}
	return false
}
