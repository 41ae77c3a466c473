package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/grpcapi"
	"github.com/flagpole/flagpole/server/testkit"
)

// runMainEnv makes the test binary run the service's main instead of the
// tests, so a test can run the service as a process of its own without
// building it.
const runMainEnv = "FLAGGED_SERVICE_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const adminToken = "example-test-admin-token-0123456789abcdef"

// service is one run of the service as a process.
type service struct {
	cmd  *exec.Cmd
	addr string // where it listens, once it said so
	log  *testkit.Buffer
}

// startService runs the service with args and env and waits until it
// listens (it does so only once its flags are ready) or exits.
func startService(t *testing.T, env []string, args ...string) *service {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...) // TestMain runs main with args
	cmd.Env = append(os.Environ(), append([]string{runMainEnv + "=1", "FLAGPOLE_ADDR=", "FLAGPOLE_ENV=", "FLAGPOLE_CACHE=", "ADDR="}, env...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &service{cmd: cmd, log: &testkit.Buffer{}}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.log.Write([]byte(line + "\n"))
			if _, addr, ok := strings.Cut(line, "listening on "); ok {
				listening <- addr
			}
		}
		close(listening)
	}()
	select {
	case addr, ok := <-listening:
		if !ok {
			_ = cmd.Wait()
			t.Fatalf("the service exited before it listened:\n%s", s.log.String())
		}
		s.addr = addr
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the service did not listen in time:\n%s", s.log.String())
	}
	return s
}

// stop interrupts the service, as a deploy does, and waits for it to exit.
func (s *service) stop(t *testing.T) {
	t.Helper()
	_ = s.cmd.Process.Signal(os.Interrupt)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("the service exited with %v:\n%s", err, s.log.String())
	}
}

func (s *service) checkout(t *testing.T, user string) string {
	t.Helper()
	resp, err := http.Get("http://" + s.addr + "/checkout?user=" + user)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

// The service restarted with its cache file present and no flag changed
// since its last run becomes ready each time (issue 12: it waited for a
// snapshot that never came and exited after 10s), and the server lists it as
// having applied the current revision. It runs against the real server
// program, with an sdk token, as the README's quickstart does.
func TestRestartFromCache(t *testing.T) {
	ctx := context.Background()
	srv := daemon.New(daemon.Config{
		DBPath: filepath.Join(t.TempDir(), "flagpole.db"), GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AdminToken: adminToken,
		AdminPassword: "example-test-password", Out: io.Discard,
	})
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	conn, err := grpc.NewClient(srv.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(grpcapi.TokenCredentials{Token: adminToken, Insecure: true}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	flags := pb.NewFlagServiceClient(conn)
	if _, err := flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "new-checkout", Type: "boolean"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "new-checkout", Environment: "production", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	tok, err := pb.NewTokenServiceClient(conn).CreateToken(ctx, &pb.CreateTokenRequest{Name: "flagged-service", Scope: "sdk", Environments: []string{"production"}})
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"FLAGPOLE_TOKEN=" + tok.GetSecret()}
	cacheDir := t.TempDir()
	args := []string{"--server", srv.GRPCAddr().String(), "--addr", "127.0.0.1", "--port", "0", "--cache-dir", cacheDir, "--init-timeout", "5s"}
	sync := syncpb.NewSyncServiceClient(conn)
	clients := func() (*syncpb.ListClientsResponse, error) {
		return sync.ListClients(ctx, &syncpb.ListClientsRequest{Environment: "production"})
	}

	for run := range 4 { // the first run fills the cache; three restarts
		svc := startService(t, env, args...)
		if got := svc.checkout(t, "alice"); got != "new checkout for alice" {
			t.Fatalf("run %d: %q\n%s", run, got, svc.log.String())
		}
		waitFor(t, "the instance to acknowledge the current revision", func() bool {
			resp, err := clients()
			return err == nil && len(resp.GetClients()) == 1 && resp.GetRevision() > 0 &&
				resp.GetClients()[0].GetAppliedRevision() == resp.GetRevision()
		})
		svc.stop(t)
		waitFor(t, "the instance to disconnect", func() bool {
			resp, err := clients()
			return err == nil && len(resp.GetClients()) == 0
		})
		files, _ := filepath.Glob(filepath.Join(cacheDir, "*"))
		if len(files) != 1 {
			t.Fatalf("run %d: cache directory holds %v; want one file", run, files)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// --help prints the flags and succeeds; a bad flag or argument is a usage
// error.
func TestCommandLine(t *testing.T) {
	t.Setenv("ADDR", "")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"-server", "-addr", "-port", "-env", "-cache-dir", "FLAGPOLE_TOKEN"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, out.String())
		}
	}
	for _, args := range [][]string{{"--port", "x"}, {"--nope"}, {"extra"}, {"--port", "70000"}} {
		out.Reset()
		if err := run(context.Background(), args, &out); !errors.Is(err, errUsage) {
			t.Errorf("%v: %v; want a usage error", args, err)
		}
	}
	c, err := parse([]string{"--server", "flags:9090", "--addr", "0.0.0.0", "--port", "9000"}, io.Discard)
	if err != nil || c.server != "flags:9090" || c.addr != "0.0.0.0" || c.port != 9000 {
		t.Fatalf("parse = %+v, %v", c, err)
	}
}
