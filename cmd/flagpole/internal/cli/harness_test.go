package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/testkit"
)

// adminToken bootstraps the server's admin credential (FLAGPOLE_ADMIN_TOKEN)
// and is what the CLI sends (FLAGPOLE_TOKEN).
const adminToken = "e2e-admin-token-0123456789abcdef0123456789"

// flagpoleBin is the flagpole binary, built once per set of sources and
// shared with the other test packages that run it.
func flagpoleBin(t testing.TB) string {
	return testkit.Binary(t, "github.com/flagpole/flagpole/cmd/flagpole")
}

// server is a real `flagpole serve` process on a temporary SQLite file.
type server struct {
	addr string // gRPC host:port
	log  *testkit.Buffer
	cmd  *exec.Cmd

	mu        sync.Mutex
	sdkTokens map[string]string // environment → sdk token
}

// startServer runs `flagpole serve` on 127.0.0.1 port 0 (with extra serve
// flags) and reads the bound gRPC address from its JSON log. Cleanup stops
// it with SIGINT.
func startServer(t *testing.T, extra ...string) *server {
	t.Helper()
	return startServerOn(t, filepath.Join(t.TempDir(), "flagpole.db"), extra...)
}

// startServerOn is startServer on the SQLite file db, which may exist.
func startServerOn(t *testing.T, db string, extra ...string) *server {
	t.Helper()
	cmd := exec.Command(flagpoleBin(t), append([]string{"serve", "--db", db,
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-format", "json"}, extra...)...)
	cmd.Env = append(os.Environ(), "FLAGPOLE_ADMIN_TOKEN="+adminToken)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{log: &testkit.Buffer{}, cmd: cmd}
	addrc := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			s.log.Write(append(line, '\n'))
			var rec struct {
				Msg  string `json:"msg"`
				GRPC string `json:"grpc"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "flagpole serving" && rec.GRPC != "" {
				select {
				case addrc <- rec.GRPC:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		<-drained
		if t.Failed() {
			t.Logf("server log:\n%s", s.log.String())
		}
	})
	select {
	case s.addr = <-addrc:
	case <-time.After(30 * time.Second):
		t.Fatalf("flagpole serve did not report its address; log:\n%s", s.log.String())
	}
	return s
}

// result is one CLI run.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// run runs the CLI against the server with FLAGPOLE_ADDR and FLAGPOLE_TOKEN set.
func (s *server) run(t *testing.T, args ...string) result {
	t.Helper()
	return runCLI(t, []string{"FLAGPOLE_ADDR=" + s.addr, "FLAGPOLE_TOKEN=" + adminToken}, "", args...)
}

func runCLI(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, flagpoleBin(t), args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("flagpole %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// cleanEnv is the test's environment without FLAGPOLE_* variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLAGPOLE_") {
			env = append(env, kv)
		}
	}
	return env
}

// ok runs the CLI and fails the test unless it exits 0.
func (s *server) ok(t *testing.T, args ...string) string {
	t.Helper()
	r := s.run(t, args...)
	if r.code != 0 {
		t.Fatalf("flagpole %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// json runs the CLI with -o json and decodes stdout into v.
func (s *server) json(t *testing.T, v any, args ...string) {
	t.Helper()
	out := s.ok(t, append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("flagpole %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// expectCode runs the CLI and fails unless it exits with code.
func (s *server) expectCode(t *testing.T, code int, args ...string) result {
	t.Helper()
	r := s.run(t, args...)
	if r.code != code {
		t.Fatalf("flagpole %s: want exit %d, got %s", strings.Join(args, " "), code, r)
	}
	return r
}

// auditCount is the number of audit entries on the server.
func (s *server) auditCount(t *testing.T) int {
	t.Helper()
	var entries []map[string]any
	s.json(t, &entries, "audit", "--limit", "0")
	return len(entries)
}

// connectStuck opens a raw sync stream that says hello and never
// acknowledges anything: an instance stuck on an old revision.
func (s *server) connectStuck(t *testing.T, env, id string) {
	t.Helper()
	conn, err := grpc.NewClient(s.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ctx = metadata.AppendToOutgoingContext(ctx, "x-flagpole-environment", env,
		"authorization", "Bearer "+s.sdkToken(t, env))
	stream, err := syncpb.NewSyncServiceClient(conn).Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hello := &syncpb.SyncRequest{Message: &syncpb.SyncRequest_Hello{Hello: &syncpb.Hello{
		SdkName: "e2e-raw", SdkVersion: "0", ServiceName: "checkout", InstanceId: id}}}
	if err := stream.Send(hello); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // read and drop everything, ack nothing
		defer close(done)
		for {
			if _, err := stream.Recv(); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		conn.Close()
	})
	s.waitConnected(t, env, id)
}

// connectSDK starts a real SDK provider for env and waits until the server
// lists it.
func (s *server) connectSDK(t *testing.T, env, id string) *sdk.Provider {
	t.Helper()
	p, err := sdk.NewProvider(s.addr, sdk.WithToken(s.sdkToken(t, env)), sdk.WithEnvironment(env),
		sdk.WithServiceName("checkout"), sdk.WithInstanceID(id),
		sdk.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.InitWithContext(ctx, openfeature.EvaluationContext{}); err != nil {
		t.Fatalf("sdk provider %s: %v", id, err)
	}
	t.Cleanup(p.Shutdown)
	s.waitConnected(t, env, id)
	return p
}

// waitConnected polls `flagpole clients` until the instance is listed.
func (s *server) waitConnected(t *testing.T, env, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var v struct {
			Clients []struct {
				InstanceID string `json:"instanceId"`
			} `json:"clients"`
		}
		s.json(t, &v, "clients", "--env", env)
		for _, c := range v.Clients {
			if c.InstanceID == id {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("instance %s never appeared in flagpole clients --env %s", id, env)
}

// freePort returns an address on 127.0.0.1 where nothing listens.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// sdkToken returns an sdk-scope token for env, created once per server with
// `flagpole token create`: the server derives a stream's environment from it.
func (s *server) sdkToken(t *testing.T, env string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok, ok := s.sdkTokens[env]; ok {
		return tok
	}
	tok := strings.TrimSpace(s.ok(t, "token", "create", "sdk-"+env, "--scope", "sdk", "--env", env))
	if s.sdkTokens == nil {
		s.sdkTokens = map[string]string{}
	}
	s.sdkTokens[env] = tok
	return tok
}
