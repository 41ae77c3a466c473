package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the engine free of everything but the standard
// library and the murmur3 hash: the SDK embeds it in every service.
func TestDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the dependency check needs the go tool: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "-json=ImportPath,Standard,CgoFiles", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
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
		switch {
		case p.Standard:
		case p.ImportPath == "github.com/flagpole/flagpole/sdk/engine":
		case p.ImportPath == "github.com/twmb/murmur3":
		default:
			t.Errorf("sdk/engine depends on %s; only the standard library and github.com/twmb/murmur3 are allowed", p.ImportPath)
		}
		if len(p.CgoFiles) > 0 {
			t.Errorf("%s uses cgo: %s", p.ImportPath, strings.Join(p.CgoFiles, ", "))
		}
	}
	if seen < 3 {
		t.Fatalf("go list returned only %d packages", seen)
	}
}
