// Command flagpole-ofrepcpu measures what one OFREP single evaluation
// costs the server in CPU time, with the server in a process of its own as
// deployed.
//
// It starts each given flagpole binary (`flagpole serve`, a temporary
// SQLite database, 127.0.0.1, the default log level unless -serve-args
// says otherwise), creates through the admin gRPC API a boolean flag with a
// rule (plan in [enterprise]) and a 30/70 split by targeting key, and an
// sdk token of production. Then, for -rounds rounds, binary after binary
// (the order alternating from round to round, so that load from the rest
// of the machine falls on both alike), it sends -n POST
// /ofrep/v1/evaluate/flags/{key} requests from -c concurrent clients over
// keep-alive HTTP/1.1 connections, each with its own targeting key, and
// reads the server process's CPU time (utime+stime of /proc/PID/stat)
// before and after. It prints per round the server's CPU-µs per request,
// requests per second and the load average, then each binary's median.
//
//	go build -o /tmp/flagpole-old ./cmd/flagpole   # at the old commit
//	go build -o /tmp/flagpole-new ./cmd/flagpole
//	go run ./cmd/flagpole-ofrepcpu -n 30000 -c 16 -rounds 6 /tmp/flagpole-old /tmp/flagpole-new
//
// Linux only (/proc). The clients run in this process and share the
// machine with the server; only the server's CPU is counted.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/grpcapi"
)

const (
	adminToken = "fp_ofrepcpu_admin_token_0123456789abcdef"
	flagKey    = "checkout"
	// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on
	// every Linux architecture Go supports.
	clockTicks = 100
)

func main() {
	n := flag.Int("n", 30000, "requests per round and binary")
	c := flag.Int("c", 16, "concurrent clients (one keep-alive connection each)")
	rounds := flag.Int("rounds", 6, "rounds; each runs every binary once")
	warmup := flag.Int("warmup", 3000, "requests sent to each server before the first round")
	serveArgs := flag.String("serve-args", "", "extra arguments for flagpole serve, space separated (e.g. --log-level=warn)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: flagpole-ofrepcpu [flags] FLAGPOLE_BINARY...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Args(), *n, *c, *rounds, *warmup, strings.Fields(*serveArgs)); err != nil {
		fmt.Fprintln(os.Stderr, "ofrepcpu:", err)
		os.Exit(1)
	}
}

// server is one running flagpole serve.
type server struct {
	bin   string
	dir   string // its database and log, removed by stop
	cmd   *exec.Cmd
	url   string
	token string
	cpu   []float64 // CPU-µs per request, per round
}

func run(bins []string, n, c, rounds, warmup int, extra []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	for _, bin := range bins {
		s, err := start(ctx, bin, extra)
		if s != nil {
			servers = append(servers, s)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", bin, err)
		}
		fmt.Printf("%s: server pid %d\n", bin, s.cmd.Process.Pid)
		if _, _, err := s.drive(warmup, c); err != nil {
			return fmt.Errorf("%s: warm-up: %w", bin, err)
		}
	}
	fmt.Printf("%d requests per round from %d clients; server CPU = utime+stime of its process\n", n, c)
	for r := range rounds {
		order := slices.Clone(servers)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, s := range order {
			cpu, wall, err := s.drive(n, c)
			if err != nil {
				return fmt.Errorf("%s: %w", s.bin, err)
			}
			per := float64(cpu.Microseconds()) / float64(n)
			s.cpu = append(s.cpu, per)
			fmt.Printf("round %d  %-28s %6.1f CPU-µs/req  %7.0f req/s  load %s\n", r+1, s.bin, per, float64(n)/wall.Seconds(), loadavg())
		}
	}
	for _, s := range servers {
		slices.Sort(s.cpu)
		fmt.Printf("median %-28s %6.1f CPU-µs/req (min %.1f, max %.1f over %d rounds)\n", s.bin, s.cpu[len(s.cpu)/2], s.cpu[0], s.cpu[len(s.cpu)-1], len(s.cpu))
	}
	return nil
}

// start runs bin serve on free loopback ports with a new database, and
// creates the flag and an sdk token.
func start(ctx context.Context, bin string, extra []string) (*server, error) {
	dir, err := os.MkdirTemp("", "ofrepcpu-")
	if err != nil {
		return nil, err
	}
	grpcAddr, httpAddr := freePort(), freePort()
	args := append([]string{"serve", "--db", filepath.Join(dir, "flagpole.db"), "--grpc-addr", grpcAddr, "--http-addr", httpAddr}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "FLAGPOLE_ADMIN_TOKEN="+adminToken, "FLAGPOLE_ADMIN_PASSWORD=ofrepcpu-admin-password")
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf // the log is written, as a deployed server writes it
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &server{bin: bin, dir: dir, cmd: cmd, url: "http://" + httpAddr + "/ofrep/v1/evaluate/flags/" + flagKey}
	if err := waitHealthy(ctx, "http://"+httpAddr+"/healthz"); err != nil {
		return s, fmt.Errorf("%w (log: %s)", err, logf.Name())
	}
	s.token, err = setUp(ctx, grpcAddr)
	return s, err
}

func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(s.dir)
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitHealthy(ctx context.Context, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("server not healthy after 30s")
}

// setUp creates the flag (a rule, then a 30/70 split by targeting key) in
// production and returns the secret of an sdk token of production.
func setUp(ctx context.Context, grpcAddr string) (string, error) {
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(grpcapi.TokenCredentials{Token: adminToken, Insecure: true}))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	flags := pb.NewFlagServiceClient(conn)
	if _, err := flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: flagKey, Type: "boolean"}}); err != nil {
		return "", fmt.Errorf("create flag: %w", err)
	}
	_, err = flags.ReplaceFlagConfig(ctx, &pb.ReplaceFlagConfigRequest{Config: &syncpb.FlagConfig{
		FlagKey: flagKey, Environment: "production", Enabled: true, OffVariant: "off",
		Rules: []*syncpb.Rule{{Conditions: []*syncpb.Condition{{Attribute: "plan", Operator: "in", Values: []string{"enterprise"}}},
			Serve: &syncpb.Serve{Kind: &syncpb.Serve_Variant{Variant: "on"}}}},
		DefaultServe: &syncpb.Serve{Kind: &syncpb.Serve_Split{Split: &syncpb.Split{Weights: []*syncpb.Weight{{Variant: "on", Weight: 30}, {Variant: "off", Weight: 70}}}}},
	}})
	if err != nil {
		return "", fmt.Errorf("configure flag: %w", err)
	}
	tok, err := pb.NewTokenServiceClient(conn).CreateToken(ctx, &pb.CreateTokenRequest{Name: "ofrepcpu", Scope: "sdk", Environments: []string{"production"}})
	if err != nil {
		return "", fmt.Errorf("create token: %w", err)
	}
	return tok.GetSecret(), nil
}

// drive sends n evaluations from c clients and returns the server's CPU
// time meanwhile and the wall time.
func (s *server) drive(n, c int) (cpu, wall time.Duration, err error) {
	tr := &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	cpu0, err := processCPU(s.cmd.Process.Pid)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if err := s.evaluate(client, fmt.Sprintf("user-%d-%d", w, i)); err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	wall = time.Since(start)
	cpu1, err := processCPU(s.cmd.Process.Pid)
	if err != nil {
		return 0, 0, err
	}
	return cpu1 - cpu0, wall, firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func (s *server) evaluate(client *http.Client, key string) error {
	body := `{"context":{"targetingKey":"` + key + `","plan":"pro"}}`
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"key":"checkout"`)) {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	return nil
}

// processCPU reads utime+stime of process pid.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after its closing one. utime and stime are fields 14
	// and 15, so the 12th and 13th after it.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}
