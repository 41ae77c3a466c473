// Command loadtest measures how fast a committed change reaches many SDK
// streams and what each stream costs the server.
//
// It runs the real server program (server/serve, as `flagpole serve` runs
// it: SQLite in a temporary directory, gRPC and HTTP on 127.0.0.1 port 0)
// in this process and starts a child process
// that connects -streams SDK providers (package sdk, one gRPC connection
// each) over loopback. It then toggles a flag -toggles times through the
// admin gRPC API and, for each toggle, takes the time from just before the
// SetEnabled call until the last of the streams has applied the new
// revision (the provider's swap, observed through its
// PROVIDER_CONFIGURATION_CHANGED event). It prints p50, p99 and max over the
// toggles and the server's heap and stack growth per connected stream.
//
//	go run ./server/syncapi/loadtest -streams 1000 -toggles 20
//
// The run is bounded: every wait has a deadline and the whole run stops
// after -timeout.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/server/serve"
)

const (
	flagKey     = "loadtest.toggle"
	environment = "production"
)

func main() {
	var (
		streams = flag.Int("streams", 1000, "SDK streams to connect")
		toggles = flag.Int("toggles", 20, "toggles to measure")
		timeout = flag.Duration("timeout", 10*time.Minute, "stop the whole run after this long")
		child   = flag.String("child", "", "internal: run as the client process against this address")
		profile = flag.String("cpuprofile", "", "write a CPU profile of the server process during the toggles to this file")
	)
	flag.Parse()
	raiseFileLimit()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var err error
	if *child != "" {
		err = runClients(ctx, *child, *streams)
	} else {
		err = run(ctx, *streams, *toggles, *profile)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// raiseFileLimit lifts the soft open-file limit to the hard one: each
// stream is a socket on both sides.
func raiseFileLimit() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// report is one line the client process writes.
type report struct {
	Ready    int   `json:"ready,omitempty"`
	Revision int64 `json:"revision,omitempty"`
	Applied  int64 `json:"applied,omitempty"` // unix ns when the last stream applied Revision
}

func run(ctx context.Context, streams, toggles int, profile string) error {
	dir, err := os.MkdirTemp("", "flagpole-loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv := serve.New(serve.Config{
		DBPath: filepath.Join(dir, "flagpole.db"), GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err := srv.Start(ctx); err != nil {
		return err
	}
	defer srv.Shutdown(context.Background())
	addr := srv.GRPCAddr().String()

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	flags := pb.NewFlagServiceClient(conn)
	if _, err := flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &pb.Flag{Key: flagKey, Type: "boolean"}}); err != nil {
		return fmt.Errorf("create flag: %w", err)
	}

	before := memory()
	cmd := exec.CommandContext(ctx, os.Args[0], "-child", addr, "-streams", fmt.Sprint(streams))
	cmd.Stderr = os.Stderr
	cmd.Stdin = nil
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	reports := make(chan report, 64)
	go func() {
		defer close(reports)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var r report
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				reports <- r
			}
		}
	}()

	start := time.Now()
	if _, err := next(ctx, reports, 5*time.Minute); err != nil {
		return fmt.Errorf("connecting %d streams: %w", streams, err)
	}
	connectTime := time.Since(start)
	time.Sleep(2 * time.Second) // let connection set-up garbage settle
	after := memory()

	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var lat, writes []time.Duration
	enabled := false
	for i := range toggles {
		enabled = !enabled
		t0 := time.Now()
		resp, err := flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: flagKey, Environment: environment, Enabled: enabled})
		if err != nil {
			return fmt.Errorf("toggle %d: %w", i, err)
		}
		_ = resp
		writes = append(writes, time.Since(t0))
		r, err := next(ctx, reports, 60*time.Second)
		if err != nil {
			return fmt.Errorf("toggle %d: %w", i, err)
		}
		lat = append(lat, time.Unix(0, r.Applied).Sub(t0))
		time.Sleep(200 * time.Millisecond)
	}
	slices.Sort(lat)
	slices.Sort(writes)
	fmt.Printf("streams=%d toggles=%d connect=%s\n", streams, toggles, connectTime.Round(time.Millisecond))
	fmt.Printf("propagation commit->all applied: p50=%s p99=%s max=%s min=%s\n",
		pct(lat, 0.50), pct(lat, 0.99), lat[len(lat)-1].Round(10*time.Microsecond), lat[0].Round(10*time.Microsecond))
	fmt.Printf("of which the SetEnabled call (write, commit, response): p50=%s p99=%s\n", pct(writes, 0.50), pct(writes, 0.99))
	n := float64(streams)
	fmt.Printf("server per stream: heap=%.1f KiB stack=%.1f KiB goroutines=%.2f (heap %d→%d MiB)\n",
		float64(after.heap-before.heap)/n/1024, float64(after.stack-before.stack)/n/1024,
		float64(after.goroutines-before.goroutines)/n, before.heap>>20, after.heap>>20)
	return nil
}

// pct is the nearest-rank percentile of sorted durations.
func pct(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)].Round(10 * time.Microsecond)
}

func next(ctx context.Context, reports <-chan report, d time.Duration) (report, error) {
	select {
	case r, ok := <-reports:
		if !ok {
			return report{}, errors.New("client process ended")
		}
		return r, nil
	case <-time.After(d):
		return report{}, fmt.Errorf("no report within %s", d)
	case <-ctx.Done():
		return report{}, ctx.Err()
	}
}

type mem struct{ heap, stack, goroutines int64 }

func memory() mem {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return mem{heap: int64(m.HeapAlloc), stack: int64(m.StackInuse), goroutines: int64(runtime.NumGoroutine())}
}

// runClients connects the providers, says when all are ready, then reports
// for every revision when the last provider applied it.
func runClients(ctx context.Context, addr string, n int) error {
	out := json.NewEncoder(os.Stdout)
	var (
		mu      sync.Mutex
		applied = map[int64]int{}
		ready   atomic.Int64
	)
	providers := make([]*sdk.Provider, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // connect in waves
	errs := make(chan error, n)
	for i := range n {
		p, err := sdk.NewProvider(addr, sdk.WithEnvironment(environment), sdk.WithServiceName("loadtest"),
			sdk.WithInstanceID(fmt.Sprintf("load-%d", i)), sdk.WithInitTimeout(2*time.Minute),
			sdk.WithUsageInterval(time.Hour))
		if err != nil {
			return err
		}
		providers[i] = p
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			err := p.InitWithContext(ctx, openfeature.EvaluationContext{})
			<-sem
			if err != nil {
				errs <- err
				return
			}
			ready.Add(1)
			for {
				select {
				case ev := <-p.EventChannel():
					if ev.EventType != openfeature.ProviderConfigChange {
						continue
					}
					now := time.Now().UnixNano()
					rev, _ := ev.EventMetadata["revision"].(int64)
					mu.Lock()
					applied[rev]++
					if applied[rev] == n {
						_ = out.Encode(report{Revision: rev, Applied: now})
					}
					mu.Unlock()
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	deadline := time.After(5 * time.Minute)
	for ready.Load() < int64(n) {
		select {
		case err := <-errs:
			return err
		case <-deadline:
			return fmt.Errorf("only %d of %d streams ready", ready.Load(), n)
		case <-time.After(50 * time.Millisecond):
		}
	}
	mu.Lock()
	_ = out.Encode(report{Ready: n})
	mu.Unlock()
	<-ctx.Done()
	wg.Wait()
	return nil
}
