package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDependencies keeps the SDK a library a service can embed: nothing
// from server/, no SQL driver, no cgo — and it builds with CGO_ENABLED=0.
func TestDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the dependency check needs the go tool: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "-json=ImportPath,Standard,CgoFiles", "github.com/flagpole/flagpole/sdk/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{
		"github.com/flagpole/flagpole/server",
		"database/sql",
		"github.com/mattn/go-sqlite3",
		"github.com/jackc/pgx",
		"github.com/lib/pq",
		"modernc.org/sqlite",
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	seen := 0
	for {
		var p struct {
			ImportPath string
			Standard   bool
			CgoFiles   []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		for _, f := range forbidden {
			if p.ImportPath == f || strings.HasPrefix(p.ImportPath, f+"/") {
				t.Errorf("sdk depends on %s", p.ImportPath)
			}
		}
		if !p.Standard && len(p.CgoFiles) > 0 {
			t.Errorf("sdk depends on %s, which uses cgo (%s)", p.ImportPath, strings.Join(p.CgoFiles, ", "))
		}
	}
	if seen < 20 {
		t.Fatalf("go list returned only %d packages", seen)
	}
	build := exec.Command(goTool, "build", "-o", os.DevNull, "github.com/flagpole/flagpole/sdk/...")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./sdk/...: %v\n%s", err, out)
	}
}

// TestConsumerModules keeps the SDK's module graph to what it needs: a
// module that imports only the SDK sees gRPC, protobuf, OpenFeature, murmur3
// and the modules those require, nothing of the server's graph (SQL
// drivers, buf, the browser tests' chromedp). It builds such a consumer in a
// temporary directory, with a replace of the SDK to this directory, and
// walks the consumer's requirement graph from those roots. It needs the
// module cache or the module proxy, as any go build does.
func TestConsumerModules(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the module check needs the go tool: %v", err)
	}
	sdkDir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	goMod := "module example.com/consumer\n\ngo 1.26.0\n\n" +
		"require " + modulePath + " v0.0.0-00010101000000-000000000000\n\n" +
		"replace " + modulePath + " => " + sdkDir + "\n"
	main := "package main\n\nimport \"" + modulePath + "\"\n\nfunc main() { _, _ = sdk.NewProvider(\"localhost:9090\") }\n"
	for name, content := range map[string]string{"go.mod": goMod, "main.go": main} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(goTool, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
		}
		return string(out)
	}
	goCmd("mod", "tidy")

	// Walk the requirement graph from the allowed roots; every module in
	// the build list must be reached without passing through the SDK. A
	// module's requirements are those of every version of it in the graph.
	roots := []string{
		"google.golang.org/grpc",
		"google.golang.org/protobuf",
		"github.com/open-feature/go-sdk",
		"github.com/twmb/murmur3",
	}
	requires := map[string][]string{}
	for line := range strings.Lines(goCmd("mod", "graph")) {
		from, to, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		from, _, _ = strings.Cut(from, "@")
		to, _, _ = strings.Cut(to, "@")
		requires[from] = append(requires[from], to)
	}
	version := map[string]string{}
	all := strings.Fields(goCmd("list", "-m", "-f", "{{.Path}}@{{.Version}}", "all"))
	for _, mv := range all[1:] { // all[0] is the consumer
		path, v, _ := strings.Cut(mv, "@")
		version[path] = v
	}
	reached := map[string]bool{}
	var walk func(path string)
	walk = func(path string) {
		if reached[path] || path == modulePath {
			return
		}
		reached[path] = true
		for _, r := range requires[path] {
			walk(r)
		}
	}
	for _, r := range roots {
		if version[r] == "" {
			t.Errorf("%s is not in the consumer's build list", r)
		}
		walk(r)
	}
	for path := range version {
		if path != modulePath && !reached[path] {
			t.Errorf("a module that imports only the SDK gets %s, which none of %s requires", path, strings.Join(roots, ", "))
		}
	}
	t.Logf("go list -m all of a module that imports only the SDK: %d modules besides itself", len(version))
}
