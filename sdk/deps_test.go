package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
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
