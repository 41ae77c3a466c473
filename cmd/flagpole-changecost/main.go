// Command flagpole-changecost measures what one change of one flag costs as
// deployed, at 100, 1,000 and 10,000 flags, so that old and new builds can
// be compared side by side (issue 17: work per change must not grow with
// the number of flags). The in-process BenchmarkToggleAndWait in
// server/daemon measures the server's work; this command measures what a CI
// step and a service see, with the server in a process of its own.
//
// For each flag count it starts each given flagpole binary (`flagpole
// serve`, a temporary SQLite database, free 127.0.0.1 ports, the default
// log level), creates that many boolean flags through the admin gRPC API
// (flag-00000 serves true when enabled, false when disabled), and connects
// ONE SDK instance of this tree (sdk.NewProvider, default options: the sync
// stream, the 50 ms acknowledgement window) in this process to production.
// Then, for -rounds rounds, binary after binary (the order alternating from
// round to round, so that load from the rest of the machine falls on both
// alike), it toggles flag-00000 -k times in two ways:
//
//   - wait: the binary's own CLI, `flagpole flag enable|disable flag-00000
//     --env production --wait` (what CI runs), timing each command's wall
//     time from start to exit;
//   - probe: gRPC SetEnabled without waiting, timing the call (commit) and
//     the call's start until the SDK provider in this process serves the
//     new value (checked on each of the provider's events).
//
// Toggles are -gap apart, longer than the SDK's acknowledgement window, so
// that each change is acknowledged at once and the figures are of the
// work, not of the window. The server's CPU time (utime+stime of
// /proc/PID/stat, 10 ms ticks) is read before and after each series of -k
// toggles, gaps included, and divided by -k.
//
//	go build -o /tmp/fp-old ./cmd/flagpole   # at the old commit
//	go build -o /tmp/fp-new ./cmd/flagpole
//	go run ./cmd/flagpole-changecost -bin old=/tmp/fp-old -bin new=/tmp/fp-new
//
// Linux only (/proc). The SDK and the CLI run on the same machine as the
// server; only the server's CPU is counted.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/flagpole/flagpole/cmd/internal/serveproc"
	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/grpcapi"
)

const (
	adminToken = "fp_changecost_admin_token_0123456789abcdef"
	flagKey    = "flag-00000"
	env        = "production"
)

type bins []string

func (b *bins) String() string     { return strings.Join(*b, ",") }
func (b *bins) Set(v string) error { *b = append(*b, v); return nil }

func main() {
	var bs bins
	flag.Var(&bs, "bin", "NAME=PATH of a flagpole binary (repeat)")
	counts := flag.String("flags", "100,1000,10000", "flag counts, comma separated")
	k := flag.Int("k", 50, "toggles per series")
	rounds := flag.Int("rounds", 3, "rounds; each runs every binary once")
	gap := flag.Duration("gap", 100*time.Millisecond, "pause between toggles (longer than the SDK's acknowledgement window)")
	flag.Parse()
	if len(bs) == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var ns []int
	for _, f := range strings.Split(*counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			fmt.Fprintln(os.Stderr, "changecost: -flags:", err)
			os.Exit(2)
		}
		ns = append(ns, n)
	}
	if err := run(bs, ns, *k, *rounds, *gap); err != nil {
		fmt.Fprintln(os.Stderr, "changecost:", err)
		os.Exit(1)
	}
}

// server is one running flagpole serve with its SDK instance.
type server struct {
	*serveproc.Server
	name, bin string
	conn      *grpc.ClientConn
	flags     pb.FlagServiceClient
	p         *sdk.Provider
	changed   chan struct{} // a provider event arrived
	enabled   bool          // the flag's state on the server

	waitCPU, probeCPU       []float64       // CPU-ms per toggle, per series
	waitWall, commit, probe []time.Duration // per toggle
}

func run(bs []string, ns []int, k, rounds int, gap time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	fmt.Printf("load %s; %d toggles per series, %v apart; server CPU = utime+stime of its process\n", serveproc.LoadAvg(), k, gap)
	var summary []string
	for _, n := range ns {
		var servers []*server
		stopAll := func() {
			for _, s := range servers {
				s.stop()
			}
		}
		for _, b := range bs {
			name, path, ok := strings.Cut(b, "=")
			if !ok {
				name, path = filepath.Base(b), b
			}
			t0 := time.Now()
			s, err := start(ctx, name, path, n)
			if s != nil {
				servers = append(servers, s)
			}
			if err != nil {
				stopAll()
				return fmt.Errorf("%s at %d flags: %w", name, n, err)
			}
			fmt.Printf("%s: %d flags, server pid %d, set up in %.1fs\n", name, n, s.Pid(), time.Since(t0).Seconds())
			// Warm-up: a few toggles of each kind, not counted.
			if _, err := s.series(ctx, 3, gap, true); err != nil {
				stopAll()
				return err
			}
			if _, err := s.series(ctx, 3, gap, false); err != nil {
				stopAll()
				return err
			}
			s.waitWall, s.commit, s.probe = nil, nil, nil
			idle, err := s.idle(k, gap)
			if err != nil {
				stopAll()
				return err
			}
			fmt.Printf("%s: %d flags, idle server CPU %.2f CPU-ms per %v gap (included in the per-toggle figures)\n", name, n, idle, gap)
		}
		for r := range rounds {
			order := slices.Clone(servers)
			if r%2 == 1 {
				slices.Reverse(order)
			}
			for _, s := range order {
				for _, wait := range []bool{true, false} {
					cpu, err := s.series(ctx, k, gap, wait)
					if err != nil {
						stopAll()
						return err
					}
					what := "probe"
					if wait {
						what = "wait "
						s.waitCPU = append(s.waitCPU, cpu)
					} else {
						s.probeCPU = append(s.probeCPU, cpu)
					}
					fmt.Printf("flags %5d round %d %-4s %s %6.2f CPU-ms/toggle  load %s\n", n, r+1, s.name, what, cpu, serveproc.LoadAvg())
				}
			}
		}
		for _, s := range servers {
			line := fmt.Sprintf("flags %5d %-4s  CPU-ms/toggle wait %s probe %s | --wait wall p50 %s p90 %s | commit p50 %s p90 %s | change->SDK p50 %s p90 %s",
				n, s.name, med(s.waitCPU), med(s.probeCPU),
				ms(pct(s.waitWall, 50)), ms(pct(s.waitWall, 90)), ms(pct(s.commit, 50)), ms(pct(s.commit, 90)),
				ms(pct(s.probe, 50)), ms(pct(s.probe, 90)))
			fmt.Println(line)
			summary = append(summary, line)
		}
		stopAll()
	}
	fmt.Printf("summary (CPU: median of %d series, min–max; times: percentiles over all toggles), load %s\n", rounds, serveproc.LoadAvg())
	for _, l := range summary {
		fmt.Println(l)
	}
	return nil
}

func med(v []float64) string {
	s := slices.Sorted(slices.Values(v))
	return fmt.Sprintf("%.2f (%.2f–%.2f)", s[len(s)/2], s[0], s[len(s)-1])
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1e3) }

func pct(v []time.Duration, p int) time.Duration {
	s := slices.Sorted(slices.Values(v))
	return s[(len(s)-1)*p/100]
}

// start runs bin serve on free loopback ports with a new database, creates n
// flags and an sdk token, and connects one SDK instance.
func start(ctx context.Context, name, bin string, n int) (*server, error) {
	p, err := serveproc.Start(ctx, bin, adminToken)
	if p == nil {
		return nil, err
	}
	s := &server{Server: p, name: name, bin: bin, changed: make(chan struct{}, 1)}
	if err != nil {
		return s, err
	}
	s.conn, err = grpc.NewClient(p.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(grpcapi.TokenCredentials{Token: adminToken, Insecure: true}))
	if err != nil {
		return s, err
	}
	s.flags = pb.NewFlagServiceClient(s.conn)
	if err := s.createFlags(ctx, n); err != nil {
		return s, err
	}
	tok, err := pb.NewTokenServiceClient(s.conn).CreateToken(ctx, &pb.CreateTokenRequest{Name: "changecost", Scope: "sdk", Environments: []string{env}})
	if err != nil {
		return s, fmt.Errorf("create token: %w", err)
	}
	s.p, err = sdk.NewProvider(p.GRPCAddr, sdk.WithToken(tok.GetSecret()), sdk.WithInstanceID("changecost-1"),
		sdk.WithInitTimeout(60*time.Second), sdk.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return s, err
	}
	go func() {
		for range s.p.EventChannel() {
			select {
			case s.changed <- struct{}{}:
			default:
			}
		}
	}()
	ictx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := s.p.InitWithContext(ictx, openfeature.EvaluationContext{}); err != nil {
		return s, fmt.Errorf("sdk init: %w", err)
	}
	if s.serves() {
		return s, errors.New("the SDK serves flag-00000 as enabled before the first toggle")
	}
	return s, nil
}

// createFlags creates n boolean flags from 4 concurrent callers; flag-00000
// serves true when enabled.
func (s *server) createFlags(ctx context.Context, n int) error {
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				if _, err := s.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: fmt.Sprintf("flag-%05d", i), Type: "boolean"}}); err != nil {
					errs <- fmt.Errorf("create flag: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	_, err := s.flags.ReplaceFlagConfig(ctx, &pb.ReplaceFlagConfigRequest{Config: &syncpb.FlagConfig{
		FlagKey: flagKey, Environment: env, Enabled: false, OffVariant: "off",
		DefaultServe: &syncpb.Serve{Kind: &syncpb.Serve_Variant{Variant: "on"}},
	}})
	if err != nil {
		return fmt.Errorf("configure flag: %w", err)
	}
	return nil
}

// serves reports whether the SDK serves flag-00000 as enabled (true).
func (s *server) serves() bool {
	return s.p.BooleanEvaluation(context.Background(), flagKey, false, openfeature.FlattenedContext{"targetingKey": "u"}).Value
}

// series toggles the flag k times, with the CLI and --wait or with
// SetEnabled and the SDK probe, and returns the server's CPU-ms per toggle.
func (s *server) series(ctx context.Context, k int, gap time.Duration, wait bool) (float64, error) {
	cpu0, err := s.CPU()
	if err != nil {
		return 0, err
	}
	for range k {
		time.Sleep(gap)
		want := !s.enabled
		if wait {
			err = s.cliToggle(ctx, want)
		} else {
			err = s.probeToggle(ctx, want)
		}
		if err != nil {
			return 0, fmt.Errorf("%s: %w", s.name, err)
		}
		s.enabled = want
	}
	cpu1, err := s.CPU()
	if err != nil {
		return 0, err
	}
	return float64((cpu1 - cpu0).Microseconds()) / 1e3 / float64(k), nil
}

// idle returns the server's CPU-ms per gap while nothing changes, over k
// gaps.
func (s *server) idle(k int, gap time.Duration) (float64, error) {
	cpu0, err := s.CPU()
	if err != nil {
		return 0, err
	}
	time.Sleep(time.Duration(k) * gap)
	cpu1, err := s.CPU()
	if err != nil {
		return 0, err
	}
	return float64((cpu1 - cpu0).Microseconds()) / 1e3 / float64(k), nil
}

func (s *server) cliToggle(ctx context.Context, on bool) error {
	verb := "disable"
	if on {
		verb = "enable"
	}
	cmd := exec.CommandContext(ctx, s.bin, "flag", verb, flagKey, "--env", env, "--wait=60s", "--addr", s.GRPCAddr, "--token", adminToken)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil {
		return fmt.Errorf("flag %s --wait: %w: %s", verb, err, out.Bytes())
	}
	s.waitWall = append(s.waitWall, d)
	// The SDK acknowledged, so it serves the new value; let its event
	// pass so that it does not count as the next probe's.
	if s.serves() != on {
		return errors.New("--wait returned before the SDK served the change")
	}
	drain(s.changed)
	return nil
}

func (s *server) probeToggle(ctx context.Context, on bool) error {
	drain(s.changed)
	t0 := time.Now()
	if _, err := s.flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: flagKey, Environment: env, Enabled: on}); err != nil {
		return fmt.Errorf("SetEnabled: %w", err)
	}
	s.commit = append(s.commit, time.Since(t0))
	timeout := time.After(30 * time.Second)
	for s.serves() != on {
		select {
		case <-s.changed:
		case <-timeout:
			return errors.New("the SDK did not serve the change within 30s")
		}
	}
	s.probe = append(s.probe, time.Since(t0))
	return nil
}

func drain(c chan struct{}) {
	select {
	case <-c:
	default:
	}
}

func (s *server) stop() {
	if s.p != nil {
		s.p.Shutdown()
	}
	if s.conn != nil {
		s.conn.Close()
	}
	s.Stop()
}
