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
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/flagpole/flagpole/cmd/internal/serveproc"
	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/grpcapi"
)

const (
	adminToken = "fp_ofrepcpu_admin_token_0123456789abcdef"
	flagKey    = "checkout"
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
	*serveproc.Server
	bin   string
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
			s.Stop()
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
		fmt.Printf("%s: server pid %d\n", bin, s.Pid())
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
			fmt.Printf("round %d  %-28s %6.1f CPU-µs/req  %7.0f req/s  load %s\n", r+1, s.bin, per, float64(n)/wall.Seconds(), serveproc.LoadAvg())
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
	p, err := serveproc.Start(ctx, bin, adminToken, extra...)
	if p == nil {
		return nil, err
	}
	s := &server{Server: p, bin: bin, url: "http://" + p.HTTPAddr + "/ofrep/v1/evaluate/flags/" + flagKey}
	if err != nil {
		return s, err
	}
	s.token, err = setUp(ctx, p.GRPCAddr)
	return s, err
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
	cpu0, err := s.CPU()
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
	cpu1, err := s.CPU()
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
