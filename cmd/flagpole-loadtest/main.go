// Command flagpole-loadtest measures how fast a committed change reaches many SDK
// streams and what each stream costs the server.
//
// It runs the real server program (server/daemon, as `flagpole serve` runs
// it: SQLite in a temporary directory, gRPC and HTTP on 127.0.0.1 port 0)
// in this process, creates an sdk token for the production environment and
// starts a child process that connects -streams SDK providers (package sdk,
// one gRPC connection each, authenticated by that token) over loopback. It
// then toggles a flag -toggles times through the admin gRPC API. For each
// toggle it records, from t0 just before the SetEnabled call:
//
//   - write: until the SetEnabled call returned (store commit, response);
//   - publish: when the server's fan-out hub received the committed change;
//   - publish→applied: for every stream, from publish until that provider
//     applied the revision (its PROVIDER_CONFIGURATION_CHANGED event);
//   - end-to-end: from t0 until the last stream applied it.
//
// It prints p50, p90, p99 and max of each, the load average, and the server's
// heap, stack and goroutines per connected stream: the growth from before
// the measured streams connected (after -warmup streams from a process of
// their own, so one-time set-up is not counted) to after, each reading
// taken after 8 collections.
//
//	go run ./cmd/flagpole-loadtest -streams 1000 -toggles 20
//
// It also records when the server reported every connected instance's
// acknowledgement (WatchClients, what `flag enable --wait` waits for): the
// kill switch as a CI step sees it; and, from the server's client registry,
// when the server received each instance's acknowledgement of the
// revision (fanout.ClientInfo.AckedAt, the server's clock, which is this
// process's): t0 → the last acknowledgement received.
//
// Server and client processes share the machine, so client cost counts. A
// garbage collection in a client process delays every stream it holds;
// -client-procs spreads the streams over several processes, and -v prints
// every toggle with the collections each side ran meanwhile. The run is
// bounded: every wait has a deadline and the whole run stops after
// -timeout.
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
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/flagpole/flagpole/cmd/internal/serveproc"
	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/daemon"
)

const (
	flagKey     = "loadtest.toggle"
	environment = "production"
	// adminToken is the bootstrap admin credential of the in-process server.
	adminToken = "fp_loadtest_admin_token_0123456789abcdef"
	tokenEnv   = "FLAGPOLE_TOKEN"
)

func main() {
	var (
		streams   = flag.Int("streams", 1000, "SDK streams to connect")
		toggles   = flag.Int("toggles", 20, "toggles to measure")
		timeout   = flag.Duration("timeout", 10*time.Minute, "stop the whole run after this long")
		child     = flag.String("child", "", "internal: run as the client process against this address")
		profile   = flag.String("cpuprofile", "", "write a CPU profile of the server process during the toggles to this file")
		cprofile  = flag.String("client-cpuprofile", "", "write a CPU profile of the client process during the toggles to this file")
		pause     = flag.Duration("pause", 200*time.Millisecond, "pause between toggles")
		snapFlags = flag.Int("flags", 0, "extra flags in the environment (snapshot size)")
		memprof   = flag.String("memprofile", "", "write a heap profile of the server process, streams connected, to this file")
		ackDelay  = flag.Duration("ack-delay", sdk.DefaultAckDelay, "the providers' acknowledgement window (sdk.WithAckDelay: a lone revision is acknowledged at once, more within the window coalesced)")
		warmup    = flag.Int("warmup", 8, "streams connected (from a process of their own) before the server's memory is first measured, so one-time set-up is not counted per stream")
		procs     = flag.Int("client-procs", 4, "client processes the streams are spread over (each SDK instance is its own process in production; a collection in a client process delays all of its streams; 4 keeps each process's collections short on a 2-core machine without the processes outnumbering the cores by much)")
		firstInst = flag.Int("first-instance", 0, "internal: number of the child's first instance id")
		memRate   = flag.Int("memprofilerate", 0, "runtime.MemProfileRate for -memprofile (1 records every allocation; 0 keeps the default)")
		sprofile  = flag.String("allocprofile", "", "write the server process's allocations during the toggles to this file (FILE.base at the start, for pprof -base); sets the allocation profile rate to every allocation")
		aprofile  = flag.String("client-allocprofile", "", "write the client process's allocations during the toggles to this file (its allocation profile at the end; FILE.base at the start, for pprof -base)")
		verbose   = flag.Bool("v", false, "print every toggle: end-to-end time and the garbage collections each process ran meanwhile")
	)
	flag.Parse()
	if *memRate > 0 && *child == "" {
		runtime.MemProfileRate = *memRate
	}
	if *sprofile != "" && *child == "" {
		runtime.MemProfileRate = 1
	}
	if *aprofile != "" && *child != "" {
		runtime.MemProfileRate = 1 // every allocation, for an exact difference
	}
	raiseFileLimit()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var err error
	if *child != "" {
		err = runClients(ctx, *child, *streams, *firstInst, *cprofile, *aprofile, *ackDelay)
	} else {
		err = run(ctx, config{streams: *streams, toggles: *toggles, profile: *profile, clientProfile: *cprofile, clientAllocProfile: *aprofile, allocProfile: *sprofile, pause: *pause, flags: *snapFlags, memProfile: *memprof, ackDelay: *ackDelay, verbose: *verbose, clientProcs: *procs, warmup: *warmup})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

type config struct {
	streams, toggles, flags int
	profile, clientProfile  string
	clientAllocProfile      string
	allocProfile            string
	memProfile              string
	pause, ackDelay         time.Duration
	verbose                 bool
	clientProcs, warmup     int
	firstInstance           int
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

// report is one line the client process writes: once Ready, then for every
// revision the time (unix ns) each stream applied it, once all have.
type report struct {
	Ready    int     `json:"ready,omitempty"`
	Revision int64   `json:"revision,omitempty"`
	Applied  []int64 `json:"applied,omitempty"`
	// GCs is the client process's count of completed collections when
	// the last stream applied the revision.
	GCs uint64 `json:"gcs,omitempty"`
}

func run(ctx context.Context, cfg config) error {
	dir, err := os.MkdirTemp("", "flagpole-loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv := daemon.New(daemon.Config{
		DBPath: filepath.Join(dir, "flagpole.db"), GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AdminToken: adminToken, Out: io.Discard,
		// One connection per stream, plus the admin's: above the default
		// limit at 10,000 streams.
		MaxGRPCConnections: cfg.streams + 100,
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
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+adminToken)
	flags := pb.NewFlagServiceClient(conn)
	for i := range cfg.flags {
		if _, err := flags.CreateFlag(actx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: fmt.Sprintf("loadtest.extra-%d", i), Type: "boolean"}}); err != nil {
			return fmt.Errorf("create flag: %w", err)
		}
	}
	if _, err := flags.CreateFlag(actx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: flagKey, Type: "boolean"}}); err != nil {
		return fmt.Errorf("create flag: %w", err)
	}
	tok, err := pb.NewTokenServiceClient(conn).CreateToken(actx, &pb.CreateTokenRequest{Name: "loadtest", Scope: "sdk", Environments: []string{environment}})
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}

	// Warm-up streams first, from a process of their own: what the first
	// streams set up once (lazily built descriptors and caches, the
	// environment's topic and snapshot) is not a cost per stream.
	if cfg.warmup > 0 {
		wcfg := cfg
		wcfg.streams, wcfg.clientProcs, wcfg.clientProfile, wcfg.clientAllocProfile = cfg.warmup, 1, "", ""
		wcfg.firstInstance = 1_000_000 // instance ids apart from the measured ones
		warm, err := startClients(ctx, wcfg, addr, tok.GetSecret(), nil)
		if err != nil {
			return err
		}
		defer warm.kill()
		if _, err := warm.next(ctx, 5*time.Minute); err != nil {
			return fmt.Errorf("connecting %d warm-up streams: %w", cfg.warmup, err)
		}
		go func() {
			for range warm.reports { // their applied times are not measured
			}
		}()
		defer func() { _ = warm.stop() }()
	}
	// The buffers that read the client processes' reports are this
	// process's, not the streams': made before the first measurement.
	bufs := make([][]byte, max(1, min(cfg.clientProcs, cfg.streams)))
	for i := range bufs {
		bufs[i] = make([]byte, 64<<10)
	}
	before := memory()
	clients, err := startClients(ctx, cfg, addr, tok.GetSecret(), bufs)
	if err != nil {
		return err
	}
	defer clients.kill()

	start := time.Now()
	if _, err := clients.next(ctx, 5*time.Minute); err != nil {
		return fmt.Errorf("connecting %d streams: %w", cfg.streams, err)
	}
	connectTime := time.Since(start)
	time.Sleep(2 * time.Second) // let connection set-up garbage settle
	after := memory()
	if cfg.memProfile != "" {
		if err := writeHeapProfile(cfg.memProfile); err != nil {
			return err
		}
	}

	// The hub stamps each change when the service hands it over after the
	// commit; a subscription of this process reads that stamp.
	sub, _, _ := srv.SyncHub().Subscribe(environment, 0)
	defer sub.Close()

	if cfg.profile != "" {
		f, err := os.Create(cfg.profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.allocProfile != "" {
		if err := writeAllocs(cfg.allocProfile + ".base"); err != nil {
			return err
		}
		defer func() { _ = writeAllocs(cfg.allocProfile) }()
	}
	watcher := syncpb.NewSyncServiceClient(conn)
	var writes, publishes, e2e, pubLast, pubEach, acked, lastAck, ackEach []time.Duration
	enabled := false
	loadBefore := serveproc.LoadAvg()
	for i := range cfg.toggles {
		enabled = !enabled
		gcBefore := gcCount()
		t0 := time.Now()
		if _, err := flags.SetEnabled(actx, &pb.SetEnabledRequest{FlagKey: flagKey, Environment: environment, Enabled: enabled}); err != nil {
			return fmt.Errorf("toggle %d: %w", i, err)
		}
		writes = append(writes, time.Since(t0))
		// What `flagpole flag enable --wait` sees: the server's word that
		// every connected instance acknowledged the revision.
		ackc := make(chan error, 1)
		go func() {
			w, err := watcher.WatchClients(actx, &syncpb.WatchClientsRequest{Environment: environment})
			for err == nil {
				var m *syncpb.WatchClientsResponse
				if m, err = w.Recv(); err == nil && m.GetAllApplied() {
					acked = append(acked, time.Since(t0))
					break
				}
			}
			ackc <- err
		}()
		var published time.Time
		select {
		case e := <-sub.Events():
			published = e.Published
		case <-sub.Dropped():
			return errors.New("the load test's own subscription was dropped")
		case <-time.After(10 * time.Second):
			return fmt.Errorf("toggle %d: not published", i)
		}
		publishes = append(publishes, published.Sub(t0))
		r, err := clients.next(ctx, 60*time.Second)
		if err != nil {
			return fmt.Errorf("toggle %d: %w", i, err)
		}
		last := int64(0)
		for _, ns := range r.Applied {
			pubEach = append(pubEach, time.Unix(0, ns).Sub(published))
			last = max(last, ns)
		}
		if err := <-ackc; err != nil {
			return fmt.Errorf("toggle %d: watching acknowledgements: %w", i, err)
		}
		e2e = append(e2e, time.Unix(0, last).Sub(t0))
		// Every instance acknowledged r.Revision (WatchClients said so) and
		// none can have acknowledged a later one yet.
		var lastAt time.Time
		for _, c := range srv.SyncClients(environment) {
			if c.AppliedRevision != r.Revision {
				return fmt.Errorf("toggle %d: instance %s at revision %d, not %d", i, c.InstanceID, c.AppliedRevision, r.Revision)
			}
			ackEach = append(ackEach, c.AckedAt.Sub(published))
			if c.AckedAt.After(lastAt) {
				lastAt = c.AckedAt
			}
		}
		lastAck = append(lastAck, lastAt.Sub(t0))
		pubLast = append(pubLast, time.Unix(0, last).Sub(published))
		if cfg.verbose {
			fmt.Printf("toggle %2d: end-to-end %9s  server GCs %d  client GCs so far %d (summed over client processes)\n", i,
				time.Unix(0, last).Sub(t0).Round(10*time.Microsecond), gcCount()-gcBefore, r.GCs)
		}
		time.Sleep(cfg.pause)
	}
	loadAfter := serveproc.LoadAvg()
	if err := clients.stop(); err != nil {
		return err
	}

	fmt.Printf("streams=%d client-processes=%d toggles=%d connect=%s load average before/after: %s / %s\n",
		cfg.streams, len(clients.procs), cfg.toggles, connectTime.Round(time.Millisecond), loadBefore, loadAfter)
	fmt.Printf("%-36s %9s %9s %9s %9s\n", "from t0 (before SetEnabled)", "p50", "p90", "p99", "max")
	line := func(name string, d []time.Duration) {
		slices.Sort(d)
		fmt.Printf("%-36s %9s %9s %9s %9s\n", name, pct(d, 0.50), pct(d, 0.90), pct(d, 0.99), pct(d, 1))
	}
	line("write (SetEnabled returned)", writes)
	line("publish (hub got the change)", publishes)
	line("publish→applied, each stream", pubEach)
	line("publish→applied, last stream", pubLast)
	line("end-to-end t0→all applied", e2e)
	line("t0→server saw all acknowledged", acked)
	line("t0→last ack received (server clock)", lastAck)
	line("publish→ack received, each stream", ackEach)
	n := float64(cfg.streams)
	heap := float64(after.heap-before.heap) / n / 1024
	stack := float64(after.stack-before.stack) / n / 1024
	fmt.Printf("server per stream: heap=%.2f KiB stack=%.2f KiB total=%.2f KiB goroutines=%.2f (heap %d→%d MiB)\n",
		heap, stack, heap+stack, float64(after.goroutines-before.goroutines)/n, before.heap>>20, after.heap>>20)
	return nil
}

// writeHeapProfile writes the heap profile to path and the goroutines'
// stacks to path.goroutines.
func writeHeapProfile(path string) error {
	if err := writeProfile("heap", path, 0); err != nil {
		return err
	}
	return writeProfile("goroutine", path+".goroutines", 1)
}

// writeAllocs writes the allocation profile after a collection (it is
// published at the end of one).
func writeAllocs(path string) error {
	runtime.GC()
	return writeProfile("allocs", path, 0)
}

func writeProfile(name, path string, debug int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup(name).WriteTo(f, debug)
}

// pct is the nearest-rank percentile of sorted durations.
func pct(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(float64(len(sorted))*p)) - 1
	d := sorted[min(max(i, 0), len(sorted)-1)]
	if d > 10*time.Millisecond {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(10 * time.Microsecond)
}

// clientProcs are the client processes; each reports on its own stdout.
type clientProcs struct {
	procs   []*exec.Cmd
	stdins  []io.Closer
	reports chan report
	done    bool
}

// startClients starts cfg.clientProcs client processes that share
// cfg.streams streams between them (the first ones get one more when the
// division leaves a remainder).
func startClients(ctx context.Context, cfg config, addr, token string, bufs [][]byte) (*clientProcs, error) {
	k := max(1, min(cfg.clientProcs, cfg.streams))
	c := &clientProcs{reports: make(chan report, 64*k)}
	var readers sync.WaitGroup
	for i := range k {
		n := cfg.streams / k
		if i < cfg.streams%k {
			n++
		}
		args := []string{"-child", addr, "-streams", fmt.Sprint(n), "-first-instance", fmt.Sprint(cfg.firstInstance + i*(cfg.streams/k+1)), "-ack-delay", cfg.ackDelay.String()}
		// Profiles are taken of the first client process only.
		if cfg.clientProfile != "" && i == 0 {
			args = append(args, "-client-cpuprofile", cfg.clientProfile)
		}
		if cfg.clientAllocProfile != "" && i == 0 {
			args = append(args, "-client-allocprofile", cfg.clientAllocProfile)
		}
		cmd := exec.CommandContext(ctx, os.Args[0], args...)
		cmd.Env = append(os.Environ(), tokenEnv+"="+token)
		cmd.Stderr = os.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			c.kill()
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			c.kill()
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			c.kill()
			return nil, err
		}
		c.procs = append(c.procs, cmd)
		c.stdins = append(c.stdins, stdin)
		buf := make([]byte, 0)
		if i < len(bufs) {
			buf = bufs[i]
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			sc := bufio.NewScanner(out)
			sc.Buffer(buf, 64<<20)
			for sc.Scan() {
				var r report
				if json.Unmarshal(sc.Bytes(), &r) == nil {
					c.reports <- r
				}
			}
		}()
	}
	go func() { readers.Wait(); close(c.reports) }()
	return c, nil
}

// next waits until every client process sent its next report and merges
// them: the same revision (or readiness) from each, all applied times.
func (c *clientProcs) next(ctx context.Context, d time.Duration) (report, error) {
	var merged report
	deadline := time.After(d)
	for range c.procs {
		select {
		case r, ok := <-c.reports:
			if !ok {
				return report{}, errors.New("a client process ended")
			}
			if merged.Revision != 0 && r.Revision != merged.Revision {
				return report{}, fmt.Errorf("client processes report revisions %d and %d at once", merged.Revision, r.Revision)
			}
			merged.Ready += r.Ready
			merged.Revision = r.Revision
			merged.Applied = append(merged.Applied, r.Applied...)
			merged.GCs += r.GCs
		case <-deadline:
			return report{}, fmt.Errorf("no report within %s", d)
		case <-ctx.Done():
			return report{}, ctx.Err()
		}
	}
	return merged, nil
}

// stop closes the client processes' standard input (they stop and write
// their profiles) and waits for them.
func (c *clientProcs) stop() error {
	for _, in := range c.stdins {
		_ = in.Close()
	}
	var errs []error
	for _, p := range c.procs {
		if err := p.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("client process: %w", err))
		}
	}
	c.done = true
	return errors.Join(errs...)
}

func (c *clientProcs) kill() {
	if c.done {
		return
	}
	for _, p := range c.procs {
		_ = p.Process.Kill()
		_ = p.Wait()
	}
	c.done = true
}

// gcCount is the number of garbage collections this process completed.
func gcCount() uint64 { return runtimeMetric("/gc/cycles/total:gc-cycles") }

// allocated is the number of heap bytes this process allocated so far.
func allocated() uint64 { return runtimeMetric("/gc/heap/allocs:bytes") }

// liveHeap is the heap the last collection found live.
func liveHeap() uint64 { return runtimeMetric("/gc/heap/live:bytes") }

func runtimeMetric(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

type mem struct{ heap, stack, goroutines int64 }

// memory is the process's live heap, stack and goroutine count. Several
// collections in a row let the runtime shrink stacks that grew during set-up
// (it halves an idle stack that uses under a quarter of it per collection),
// as a long-running server's collections do.
func memory() mem {
	for range 8 {
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return mem{heap: int64(m.HeapAlloc), stack: int64(m.StackInuse), goroutines: int64(runtime.NumGoroutine())}
}

// runClients connects the providers, says when all are ready, then reports
// for every revision when each provider applied it. It stops when its
// standard input closes.
func runClients(ctx context.Context, addr string, n, first int, profile, allocProfile string, ackDelay time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := json.NewEncoder(os.Stdout)
	var (
		mu      sync.Mutex
		applied = map[int64][]int64{}
		ready   atomic.Int64
	)
	token := os.Getenv(tokenEnv)
	providers := make([]*sdk.Provider, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // connect in waves
	errs := make(chan error, n)
	for i := range n {
		p, err := sdk.NewProvider(addr, sdk.WithToken(token), sdk.WithServiceName("loadtest"),
			sdk.WithInstanceID(fmt.Sprintf("load-%d", first+i)), sdk.WithInitTimeout(2*time.Minute),
			sdk.WithUsageInterval(time.Hour), sdk.WithAckDelay(ackDelay))
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
					applied[rev] = append(applied[rev], now)
					if len(applied[rev]) == n {
						_ = out.Encode(report{Revision: rev, Applied: applied[rev], GCs: gcCount()})
						delete(applied, rev)
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
	// Collect the garbage of connecting now, as the server process does
	// before it measures, so that it is not collected during a toggle.
	runtime.GC()
	allocsBefore, gcsBefore := allocated(), gcCount()
	defer func() {
		fmt.Fprintf(os.Stderr, "client process during the toggles: allocated %d MiB, %d collections, live heap after the last %d MiB\n",
			(allocated()-allocsBefore)>>20, gcCount()-gcsBefore, liveHeap()>>20)
	}()
	if allocProfile != "" {
		if err := writeAllocs(allocProfile + ".base"); err != nil {
			return err
		}
		defer func() { _ = writeAllocs(allocProfile) }()
	}
	mu.Lock()
	_ = out.Encode(report{Ready: n})
	mu.Unlock()
	stopped := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	for _, p := range providers {
		go p.Shutdown()
	}
	return nil
}
