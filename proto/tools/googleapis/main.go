// Command googleapis puts the two google/api protos that the flagpole.v1
// protos import (annotations.proto and http.proto, for google.api.http) into
// proto/third_party, where buf.yaml finds them as a second module.
//
// The files are not kept in this repository and buf's registry is not
// reachable from CI, so they come from a Go module that ships them: the Go
// command downloads it into the module cache (checked against go.sum's
// checksum database like any module), and this program checks each file's
// SHA-256 before it copies it. Their Go code is not generated here: it is
// google.golang.org/genproto/googleapis/api/annotations.
//
// Run it from the repository root:
//
//	go -C proto/tools run ./googleapis
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// source is the module that ships the files, under dir.
const (
	source = "github.com/grpc-ecosystem/grpc-gateway@v1.16.0"
	dir    = "third_party/googleapis"
)

// files are the paths (relative to dir, and to the output folder) and the
// SHA-256 of each file's content.
var files = map[string]string{
	"google/api/annotations.proto": "bff7c47b78bd25d34e70efc06f49764ec24f55e665067b9be49e53e825250ce8",
	"google/api/http.proto":        "e2706b549f04b1814be792f74fe5eb4f8141f96c95c191f4f1697679d55eb259",
}

func main() {
	if err := run(filepath.Join("..", "third_party")); err != nil {
		fmt.Fprintln(os.Stderr, "googleapis:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	root, err := download(source)
	if err != nil {
		return err
	}
	for name, sum := range files {
		b, err := os.ReadFile(filepath.Join(root, dir, filepath.FromSlash(name)))
		if err != nil {
			return err
		}
		got := sha256.Sum256(b)
		if hex.EncodeToString(got[:]) != sum {
			return fmt.Errorf("%s in %s: SHA-256 %x, want %s", name, source, got, sum)
		}
		dst := filepath.Join(out, filepath.FromSlash(name))
		if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, b) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// download fetches module@version into the module cache and returns the
// folder it is extracted in.
func download(module string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", module)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", module, err)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("go mod download %s: %w", module, err)
	}
	if m.Error != "" {
		return "", fmt.Errorf("go mod download %s: %s", module, m.Error)
	}
	return m.Dir, nil
}
