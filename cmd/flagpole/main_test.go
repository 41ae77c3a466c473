package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/flagpole/flagpole/server/testkit"
)

func TestExitCodes(t *testing.T) {
	missingDir := filepath.Join(t.TempDir(), "missing", "flagpole.db")
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{nil, 0, "Usage"},
		{[]string{"--help"}, 0, "serve"},
		{[]string{"serve", "--help"}, 0, "--grpc-addr"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"serve", "--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"serve", "extra"}, 2, "unknown command"},
		{[]string{"serve", "--log-format", "xml"}, 2, "--log-format"},
		{[]string{"serve", "--log-level", "loud"}, 2, "--log-level"},
		{[]string{"serve", "--stale-after", "1y"}, 2, `--stale-after: "1y" is not a duration`},
		{[]string{"serve", "--stale-after", "0"}, 2, "--stale-after: must be more than 0"},
		{[]string{"serve", "--shutdown-timeout", "-1s"}, 2, "--shutdown-timeout: -1s is negative"},
		{[]string{"serve", "--db", missingDir, "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}, 1, "sqlite"},
	} {
		var out bytes.Buffer
		code := run(context.Background(), tc.args, &out, &out)
		if code != tc.code || !strings.Contains(out.String(), tc.says) {
			t.Errorf("flagpole %v: exit %d, want %d; output should contain %q:\n%s", tc.args, code, tc.code, tc.says, out.String())
		}
	}
}

// TestBinary runs the real binary's `flagpole serve` on port 0, checks its
// health over gRPC, sends SIGTERM and expects a clean exit.
func TestBinary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := testkit.Binary(t, "github.com/flagpole/flagpole/cmd/flagpole")
	cmd := exec.Command(bin, "serve", "--db", filepath.Join(dir, "flagpole.db"),
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-format", "json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan map[string]any, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil {
				lines <- line
			}
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
	})

	grpcAddr := ""
	timeout := time.After(30 * time.Second)
	for grpcAddr == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("flagpole serve exited before serving: %v", <-exited)
			}
			if line["msg"] == "flagpole serving" {
				grpcAddr, _ = line["grpc"].(string)
			}
		case <-timeout:
			t.Fatal("flagpole serve did not log its addresses")
		}
	}
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hc, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v, %v", hc, err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stoppedLogged := false
	for line := range lines {
		if line["msg"] == "flagpole stopped" {
			stoppedLogged = true
		}
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("flagpole serve after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("flagpole serve did not exit after SIGTERM")
	}
	if !stoppedLogged {
		t.Error("no shutdown log line")
	}
}
