package testkit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Binary returns the path of the command pkg of this module (an import path
// such as "github.com/flagpole/flagpole/cmd/flagpole"), built once per set
// of sources: test packages of one `go test ./...` run, which are separate
// processes, share one build instead of each running `go build` and linking
// the same cgo binary.
//
// Builds are cached under os.TempDir()/flagpole-testbin, keyed by a hash of
// the module's sources (every file but tests, testdata and documentation),
// the Go version and the build environment; a file lock makes concurrent
// test processes wait for one build. A change to any source gives a new key,
// so a stale binary is never run. Entries unused for a day are removed.
func Binary(tb testing.TB, pkg string) string {
	tb.Helper()
	binaries.mu.Lock()
	defer binaries.mu.Unlock()
	if bin, ok := binaries.built[pkg]; ok {
		return bin
	}
	bin, err := build(pkg)
	if err != nil {
		tb.Fatalf("build %s: %v", pkg, err)
	}
	binaries.built[pkg] = bin
	return bin
}

var binaries = struct {
	mu    sync.Mutex
	built map[string]string
}{built: map[string]string{}}

func build(pkg string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	key, err := sourceKey(root, pkg)
	if err != nil {
		return "", err
	}
	cache := filepath.Join(os.TempDir(), "flagpole-testbin")
	dir := filepath.Join(cache, key)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, path.Base(pkg))
	unlock, err := lockFile(filepath.Join(dir, "lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	now := time.Now()
	if _, err := os.Stat(bin); err == nil {
		os.Chtimes(dir, now, now) // keep it from being pruned
		return bin, nil
	}
	tmp := bin + ".tmp"
	cmd := exec.Command("go", "build", "-o", tmp, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	prune(cache, key, now.Add(-24*time.Hour))
	return bin, nil
}

// prune removes cached builds other than keep not used since before.
func prune(cache, keep string, before time.Time) {
	entries, _ := os.ReadDir(cache)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && e.Name() != keep && info.ModTime().Before(before) {
			os.RemoveAll(filepath.Join(cache, e.Name()))
		}
	}
}

// moduleRoot is the directory of the go.mod above the working directory,
// which go test sets to the package under test.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// sourceKey hashes what a build of pkg depends on: the module's Go files
// other than tests, go.mod, go.sum and go.work, the SQL migrations and the
// UI's static assets (what the go:embed directives take in), the Go version
// and the build environment. Databases and binaries a user leaves in the
// work tree are not inputs.
func sourceKey(root, pkg string) (string, error) {
	h := sha256.New()
	fmt.Fprintln(h, pkg, runtime.Version(), runtime.GOOS, runtime.GOARCH,
		os.Getenv("CGO_ENABLED"), os.Getenv("GOFLAGS"), os.Getenv("GOEXPERIMENT"))
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !buildInput(p) {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(h, "%s\x00", filepath.ToSlash(rel))
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

// buildInput reports whether the file at p can change a build.
func buildInput(p string) bool {
	name := filepath.Base(p)
	switch {
	case strings.HasSuffix(name, "_test.go"):
		return false
	case strings.HasSuffix(name, ".go"), strings.HasSuffix(name, ".sql"),
		name == "go.mod", name == "go.sum", name == "go.work", name == "go.work.sum":
		return true
	}
	return strings.Contains(filepath.ToSlash(p), "/static/")
}
