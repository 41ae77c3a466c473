package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/grpcapi"
)

// benchServer runs the real server on loopback with a flag that has a rule
// and a 30/70 split, so every evaluation walks conditions and hashes. It
// returns the secret of an sdk token of production: every benchmarked call
// authenticates with it, as a service's calls do.
func benchServer(b *testing.B) (*daemon.Server, string) {
	return benchServerLogging(b, slog.LevelError)
}

// benchServerLogging is benchServer with a text logger at level. Above
// error it discards; otherwise it writes every line it lets through to a
// file, as a deployed server's logger writes to its stderr (a write call per
// line).
func benchServerLogging(b *testing.B, level slog.Level) (*daemon.Server, string) {
	srv, token, _ := benchServerLog(b, level)
	return srv, token
}

// benchServerLog is benchServerLogging that also returns the count of log
// bytes written so far.
func benchServerLog(b *testing.B, level slog.Level) (*daemon.Server, string, *atomic.Int64) {
	b.Helper()
	cfg := config(filepath.Join(b.TempDir(), "flagpole.db"))
	logged := &countingWriter{w: io.Discard}
	if level < slog.LevelError {
		f, err := os.Create(filepath.Join(b.TempDir(), "flagpole.log"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		logged.w = f
	}
	w := logged
	cfg.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	srv := daemon.New(cfg)
	if err := srv.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(context.Background()) })
	admin := dial(b, srv, testAdminToken)
	ctx := context.Background()
	flags := pb.NewFlagServiceClient(admin)
	if _, err := flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "checkout", Type: "boolean"}}); err != nil {
		b.Fatal(err)
	}
	_, err := flags.ReplaceFlagConfig(ctx, &pb.ReplaceFlagConfigRequest{Config: &syncpb.FlagConfig{
		FlagKey: "checkout", Environment: "production", Enabled: true, OffVariant: "off",
		Rules: []*syncpb.Rule{{Conditions: []*syncpb.Condition{{Attribute: "plan", Operator: "in", Values: []string{"enterprise"}}},
			Serve: &syncpb.Serve{Kind: &syncpb.Serve_Variant{Variant: "on"}}}},
		DefaultServe: &syncpb.Serve{Kind: &syncpb.Serve_Split{Split: &syncpb.Split{Weights: []*syncpb.Weight{{Variant: "on", Weight: 30}, {Variant: "off", Weight: 70}}}}},
	}})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := pb.NewTokenServiceClient(admin).CreateToken(ctx, &pb.CreateTokenRequest{Name: "bench", Scope: "sdk",
		Environments: []string{"production"}})
	if err != nil {
		b.Fatal(err)
	}
	return srv, tok.GetSecret(), &logged.n
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return c.w.Write(p)
}

// dial connects to srv's gRPC port, sending token with every call.
func dial(b *testing.B, srv *daemon.Server, token string) *grpc.ClientConn {
	b.Helper()
	conn, err := grpc.NewClient(srv.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(grpcapi.TokenCredentials{Token: token, Insecure: true}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

// latencies collects per-call durations from parallel workers and reports
// throughput and percentiles as benchmark metrics.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(ds []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, ds...)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B, elapsed time.Duration) {
	slices.Sort(l.all)
	pct := func(p float64) float64 {
		if len(l.all) == 0 {
			return 0
		}
		return float64(l.all[int(p*float64(len(l.all)-1))].Microseconds())
	}
	b.ReportMetric(float64(len(l.all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.90), "p90-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

// callers runs call from 8 parallel callers per CPU, each call with a
// distinct targeting key, and reports throughput, latency percentiles and
// the process's CPU time per call (client and server together: both run in
// this process). It fails with the first error if any call failed.
func callers(b *testing.B, call func(targetingKey string) error) {
	var lat latencies
	var failed atomic.Int64
	var firstErr atomic.Value
	var worker atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	cpu0, cpuKnown := processCPU()
	start := time.Now()
	b.RunParallel(func(pb_ *testing.PB) {
		w := worker.Add(1)
		var ds []time.Duration
		for i := 0; pb_.Next(); i++ {
			t0 := time.Now()
			err := call(fmt.Sprintf("user-%d-%d", w, i))
			ds = append(ds, time.Since(t0))
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
		}
		lat.add(ds)
	})
	elapsed := time.Since(start)
	cpu1, _ := processCPU()
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d evaluations failed, the first with: %v", n, firstErr.Load())
	}
	lat.report(b, elapsed)
	if cpuKnown && len(lat.all) > 0 {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(len(lat.all)), "cpu-µs/op")
	}
}

// BenchmarkRemoteEvaluationGRPC measures EvaluationService/Evaluate over a
// real gRPC connection on loopback, from parallel callers.
func BenchmarkRemoteEvaluationGRPC(b *testing.B) {
	benchmarkGRPCEvaluate(b, slog.LevelError)
}

// BenchmarkRemoteEvaluationGRPCInfoLog is BenchmarkRemoteEvaluationGRPC
// with the logger at info, the level `flagpole serve` logs at by default:
// what the per-call access log costs an evaluation.
func BenchmarkRemoteEvaluationGRPCInfoLog(b *testing.B) {
	benchmarkGRPCEvaluate(b, slog.LevelInfo)
}

func benchmarkGRPCEvaluate(b *testing.B, level slog.Level) {
	srv, token, logged := benchServerLog(b, level)
	client := pb.NewEvaluationServiceClient(dial(b, srv, token))
	attrs, _ := structpb.NewStruct(map[string]any{"plan": "pro"})
	before := logged.Load()
	defer func() { b.ReportMetric(float64(logged.Load()-before)/float64(b.N), "log-B/op") }()
	callers(b, func(key string) error {
		resp, err := client.Evaluate(context.Background(), &pb.EvaluateRequest{Environment: "production",
			FlagKey: "checkout", TargetingKey: key, Context: attrs})
		if err == nil && resp.GetEvaluation().GetErrorCode() != "" {
			err = fmt.Errorf("error code %s", resp.GetEvaluation().GetErrorCode())
		}
		return err
	})
}

// BenchmarkRemoteEvaluationOFREP measures POST /ofrep/v1/evaluate/flags/{key}
// over real HTTP/1.1 keep-alive connections on loopback.
func BenchmarkRemoteEvaluationOFREP(b *testing.B) {
	srv, token := benchServer(b)
	url := "http://" + srv.HTTPAddr().String() + "/ofrep/v1/evaluate/flags/checkout"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	b.Cleanup(client.CloseIdleConnections)
	callers(b, func(key string) error {
		body := fmt.Sprintf(`{"context":{"targetingKey":%q,"plan":"pro"}}`, key)
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewBufferString(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Flagpole-Environment", "production")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	})
}
