// Command rollbacktime measures how long a guarded release takes to undo a
// fault: from the first request the new variant fails (the fault starting)
// to the plan's rollback committed, and to the rollback reaching every
// service instance.
//
// Each run starts the real Flagpole server (server/daemon, a temporary
// SQLite file, real sockets, the production defaults: the release runner
// ticks every second, the server stores signals every 5 s, the SDKs report
// them every 2 s), creates the flag new-checkout, starts -instances
// instances of the example's checkout service (package shop: each its own
// SDK provider, HTTP server and users sending -rps requests per second),
// and a guarded plan whose first step serves the new variant to -percent.
// Every request fails with probability -base-errors; the new variant's
// also with -fault, so at the defaults it fails 5% of requests against the
// control's 1%. The run ends when every instance serves the rollback, or
// after -timeout; the command stops after -runs runs.
//
//	go run ./examples/guarded-release/rollbacktime -instances 100 -rps 20 -runs 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/flagpole/flagpole/examples/guarded-release/shop"
	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/daemon"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fs := flag.NewFlagSet("rollbacktime", flag.ExitOnError)
	p := params{}
	fs.IntVar(&p.Instances, "instances", 100, "service instances")
	fs.Float64Var(&p.RPS, "rps", 20, "requests per second per instance")
	fs.IntVar(&p.Percent, "percent", 5, "the plan's first step: percentage served the new variant")
	fs.Float64Var(&p.BaseErrors, "base-errors", 0.01, "share of every request that fails")
	fs.Float64Var(&p.Fault, "fault", 1-0.95/0.99, "share of the new variant's other requests that fail (default: 5% in all)")
	fs.Float64Var(&p.MaxRatio, "max-ratio", 1.2, "the guard's tolerated ratio to the control's error rate")
	fs.Int64Var(&p.MinSamples, "min-samples", 500, "exposures per variant before the guard decides")
	fs.DurationVar(&p.Timeout, "timeout", 2*time.Minute, "longest run")
	runs := fs.Int("runs", 3, "runs")
	_ = fs.Parse(os.Args[1:])

	var commits, reachP50, reachMax []time.Duration
	var rates []float64
	for run := range *runs {
		r, err := measure(ctx, p, fmt.Sprint("run", run))
		if err != nil {
			fmt.Fprintln(os.Stderr, "rollbacktime:", err)
			os.Exit(1)
		}
		fmt.Println(r)
		commits, reachP50, reachMax = append(commits, r.Commit), append(reachP50, r.ReachP50), append(reachMax, r.ReachMax)
		rates = append(rates, r.RPS)
	}
	fmt.Printf("%d runs, %d instances asked for %g requests/s each, served %.0f–%.0f requests/s in all, %d%% step: fault → rollback committed %s; → every instance: p50 %s, max %s (ranges over runs)\n",
		*runs, p.Instances, p.RPS, slices.Min(rates), slices.Max(rates), p.Percent, span(commits), span(reachP50), span(reachMax))
}

func span(ds []time.Duration) string {
	return fmt.Sprintf("%s–%s", slices.Min(ds).Round(10*time.Millisecond), slices.Max(ds).Round(10*time.Millisecond))
}

type params struct {
	Instances  int
	RPS        float64
	Percent    int
	BaseErrors float64
	Fault      float64
	MaxRatio   float64 // guard: http.server.error <= MaxRatio × control
	MinSamples int64
	Timeout    time.Duration
	// The intervals of the loop; 0 keeps the defaults: the runner's tick
	// (1 s), the server storing signals (5 s), the SDKs reporting them (2 s).
	ReleaseInterval, SignalsInterval, TrackInterval time.Duration
	ServerLog                                       io.Writer // default: discard
}

// result is one run's measurement. Times are from the first request the
// fault failed.
type result struct {
	Instances          int
	Commit             time.Duration // rollback committed (the plan's end time)
	ReachP50, ReachMax time.Duration // each instance serving the rollback
	Reason             string        // the plan's reason, with the evidence in words
	NewSamples         int64         // new variant's exposures in the deciding window
	RPS                float64       // requests/s the instances served, measured
}

func (r result) String() string {
	return fmt.Sprintf("%d instances serving %.0f requests/s: fault → rollback committed %s, → every instance p50 %s max %s (decided on %d samples of the new variant: %s)",
		r.Instances, r.RPS, r.Commit.Round(time.Millisecond), r.ReachP50.Round(time.Millisecond), r.ReachMax.Round(time.Millisecond), r.NewSamples, r.Reason)
}

// measure runs one release with the fault and measures its rollback.
func measure(ctx context.Context, p params, name string) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "rollbacktime-")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(dir)
	logs := p.ServerLog
	if logs == nil {
		logs = io.Discard
	}
	const admin = "rollbacktime-admin-token-0123456789abcdef"
	srv := daemon.New(daemon.Config{DBPath: filepath.Join(dir, "flagpole.db"), GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(logs, nil)), AdminToken: admin, AdminPassword: "rollbacktime-password", Out: io.Discard,
		ReleaseInterval: p.ReleaseInterval, UsageFlushInterval: p.SignalsInterval})
	if err := srv.Start(ctx); err != nil {
		return result{}, err
	}
	defer srv.Shutdown(context.Background())
	conn, err := grpc.NewClient(srv.GRPCAddr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(bearer(admin)))
	if err != nil {
		return result{}, err
	}
	defer conn.Close()
	if _, err := pb.NewFlagServiceClient(conn).CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: shop.Flag, Type: "boolean"}}); err != nil {
		return result{}, err
	}
	tok, err := pb.NewTokenServiceClient(conn).CreateToken(ctx, &pb.CreateTokenRequest{Name: "shop", Scope: "sdk", Environments: []string{"production"}})
	if err != nil {
		return result{}, err
	}

	var opts []sdk.Option
	if p.TrackInterval > 0 {
		opts = append(opts, sdk.WithTrackFlushInterval(p.TrackInterval))
	}
	instances := make([]*shop.Instance, 0, p.Instances)
	defer func() { // in parallel: each waits for its HTTP server and SDK stream to end
		var wg sync.WaitGroup
		for _, in := range instances {
			wg.Go(in.Close)
		}
		wg.Wait()
	}()
	for i := range p.Instances {
		in, err := shop.Start(ctx, shop.Config{Server: srv.GRPCAddr().String(), Token: tok.GetSecret(), ID: fmt.Sprintf("%s-shop-%d", name, i),
			Fault: p.Fault, BaseErrors: p.BaseErrors, RPS: p.RPS, Seed: uint64(i + 1), SDKOptions: opts})
		if err != nil {
			return result{}, err
		}
		instances = append(instances, in)
	}

	loadStart := time.Now() // every instance's users are running
	var before int64
	for _, in := range instances {
		or, _, nr, _ := in.Counts()
		before += or + nr
	}
	releases := pb.NewReleaseServiceClient(conn)
	created, err := releases.CreateReleasePlan(ctx, &pb.CreateReleasePlanRequest{FlagKey: shop.Flag, Environment: "production",
		Steps: []*pb.ReleaseStep{{Percent: int32(p.Percent), Hold: durationpb.New(time.Hour)}, {Percent: 100, Hold: durationpb.New(time.Hour)}},
		Guard: &pb.ReleaseGuard{Event: "http.server.error", MaxRatio: p.MaxRatio, MinSamples: p.MinSamples}})
	if err != nil {
		return result{}, err
	}
	var plan *pb.ReleasePlan
	for {
		r, err := releases.GetReleasePlan(ctx, &pb.GetReleasePlanRequest{Environment: "production", Id: created.GetPlan().GetId()})
		if err != nil {
			return result{}, err
		}
		plan = r.GetPlan()
		if plan.GetState() != "scheduled" && plan.GetState() != "running" {
			break
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return result{}, fmt.Errorf("plan still %s at step %d: %w", plan.GetState(), plan.GetStep(), err)
		}
	}
	if plan.GetState() != "rolled_back" {
		return result{}, fmt.Errorf("plan %s, not rolled back: %s", plan.GetState(), plan.GetReason())
	}
	env, err := pb.NewEnvironmentServiceClient(conn).GetEnvironment(ctx, &pb.GetEnvironmentRequest{Name: "production"})
	if err != nil {
		return result{}, err
	}
	rev := env.GetEnvironment().GetRevision() // nothing changes production after the rollback

	var fault time.Time
	for _, in := range instances {
		if f := in.FirstFault(); !f.IsZero() && (fault.IsZero() || f.Before(fault)) {
			fault = f
		}
	}
	if fault.IsZero() {
		return result{}, errors.New("rolled back, but no request failed by the fault")
	}
	reach := make([]time.Duration, len(instances))
	for i, in := range instances {
		for {
			if at := in.ReachedAt(rev); !at.IsZero() {
				reach[i] = at.Sub(fault)
				break
			}
			if err := sleep(ctx, 5*time.Millisecond); err != nil {
				return result{}, fmt.Errorf("%s did not serve revision %d: %w", in.ID(), rev, err)
			}
		}
	}
	served := -before
	for _, in := range instances {
		or, _, nr, _ := in.Counts()
		served += or + nr
	}
	rps := float64(served) / time.Since(loadStart).Seconds()
	slices.Sort(reach)
	r := result{Instances: len(instances), Commit: plan.GetEndTime().AsTime().Sub(fault), ReachP50: reach[(len(reach)-1)/2], ReachMax: reach[len(reach)-1],
		Reason: plan.GetReason(), RPS: rps}
	if ev := plan.GetEvidence().GetStructValue(); ev != nil {
		r.NewSamples = int64(ev.GetFields()["new"].GetStructValue().GetFields()["samples"].GetNumberValue())
	}
	return r, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// bearer sends an admin token on every call.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }
