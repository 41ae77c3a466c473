package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/cmd/flagpole/internal/cli"
	fpserver "github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/release"
)

type planJSON struct {
	ID          int64  `json:"id"`
	FlagKey     string `json:"flagKey"`
	Environment string `json:"environment"`
	Kind        string `json:"kind"`
	State       string `json:"state"`
	Step        int    `json:"step"`
	Reason      string `json:"reason"`
	Variant     string `json:"variant"`
	Control     string `json:"control"`
	Guard       *struct {
		Event      string  `json:"event"`
		Measure    string  `json:"measure"`
		MaxRatio   float64 `json:"maxRatio"`
		MaxDiff    float64 `json:"maxDiff"`
		MinSamples int64   `json:"minSamples"`
	} `json:"guard"`
}

type auditJSON struct {
	Action   string `json:"action"`
	Resource string `json:"resource"`
	Actor    string `json:"actor"`
	Source   string `json:"source"`
}

// TestReleaseCommands runs release plans through a real server: a plan
// with 1 s holds that completes under --wait, a person's change that
// pauses a plan, resume and cancel, refused input, and a scheduled change.
func TestReleaseCommands(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok(t, "flag", "create", "new-checkout", "--type", "boolean")

	// Bad input: the field is named, nothing is written.
	before := s.auditCount(t)
	for _, bad := range [][]string{
		{"--steps", "5,50", "--hold", "1s"},
		{"--steps", "50,5,100", "--hold", "1s"},
		{"--steps", "5,100", "--hold", "500ms"},
		{"--steps", "5,100", "--hold", "1s", "--variant", "blue"},
		{"--steps", "5,100", "--hold", "1s", "--start-at", "2020-01-01T00:00:00Z"},
	} {
		r := s.expectCode(t, 1, append([]string{"release", "start", "new-checkout", "--env", "staging"}, bad...)...)
		if !strings.Contains(r.stderr, "steps[") && !strings.Contains(r.stderr, "variant") && !strings.Contains(r.stderr, "start_at") {
			t.Errorf("release start %v: error does not name the field:\n%s", bad, r)
		}
	}
	s.expectCode(t, 2, "release", "start", "new-checkout", "--env", "staging", "--steps", "5,x")
	s.expectCode(t, 2, "release", "start", "new-checkout", "--env", "staging", "--steps", "5,100", "--guard", "error<=lots")
	// Mean guards: bad syntax is refused by the CLI (exit 2), a ratio under 1
	// or a negative excess by the server naming the field.
	for _, bad := range []string{"mean(latency<=1.2x", "mean()<=1.2x", "mean(latency)<=+5%", "mean(latency)<=fast", "mean(latency)<="} {
		if r := s.expectCode(t, 2, "release", "start", "new-checkout", "--env", "staging", "--steps", "5,100", "--guard", bad); !strings.Contains(r.stderr, "--guard") {
			t.Errorf("--guard %s: %s", bad, r)
		}
	}
	for bad, field := range map[string]string{"mean(latency)<=0.9x": "guard.max_ratio", "mean(latency)<=1.2x,+-0.05": "guard.max_diff"} {
		if r := s.expectCode(t, 1, "release", "start", "new-checkout", "--env", "staging", "--steps", "5,100", "--guard", bad); !strings.Contains(r.stderr, field) {
			t.Errorf("--guard %s: error does not name %s:\n%s", bad, field, r)
		}
	}
	if got := s.auditCount(t); got != before {
		t.Errorf("refused plans wrote %d audit entries", got-before)
	}

	// A guarded plan with 1 s holds: the server judges its guard, and with
	// no SDK reporting signals it waits for samples at step 1 past its
	// hold. (Judged releases run end to end in server/daemon's
	// TestGuardedReleaseEndToEnd.)
	var guarded planJSON
	s.json(t, &guarded, "release", "start", "new-checkout", "--env", "staging", "--steps", "10,50,100", "--hold", "1s",
		"--guard", "error<=1.2x,+0.5%", "--min-samples", "100")
	if g := guarded.Guard; g == nil || g.Event != "error" || g.MaxRatio != 1.2 || g.MaxDiff != 0.005 || g.MinSamples != 100 {
		t.Errorf("guard stored as %+v", guarded.Guard)
	}
	waitState(t, s, "new-checkout", "staging", "running")
	time.Sleep(1500 * time.Millisecond)
	s.json(t, &guarded, "release", "status", "new-checkout", "--env", "staging")
	if guarded.State != "running" || guarded.Step != 1 {
		t.Errorf("a guarded plan without signals, after its hold: %s at step %d, want running at step 1", guarded.State, guarded.Step)
	}
	s.ok(t, "release", "cancel", "new-checkout", "--env", "staging")

	// An unguarded plan with 1 s holds advances on its holds and
	// completes; --wait exits 0.
	var done planJSON
	s.json(t, &done, "release", "start", "new-checkout", "--env", "staging", "--steps", "10,50,100", "--hold", "1s", "--wait=60s")
	if done.State != "completed" || done.Step != 3 || done.Variant != "on" || done.Control != "off" {
		t.Fatalf("release start --wait: %+v, want completed at step 3 of on against off", done)
	}
	var flag flagJSON
	s.json(t, &flag, "flag", "get", "new-checkout", "--env", "staging")
	if c := flag.Configs[0]; !c.Enabled || compactJSON(c.Default) != `"on"` {
		t.Errorf("after the release staging serves %s (enabled %v), want on", c.Default, c.Enabled)
	}
	var entries []auditJSON
	s.json(t, &entries, "audit", "--flag", "new-checkout", "--env", "staging")
	var steps []string
	for _, e := range entries {
		if e.Action == "release.step" && e.Resource == "config" && e.Source == "system" {
			steps = append(steps, e.Actor)
		}
	}
	// Plan 2's first step serves what plan 1's left (10%, and cancelling
	// plan 1 cleared its guarded mark): no change, no entry.
	if strings.Join(steps, "|") != "release-plan/2 step 3/3|release-plan/2 step 2/3|release-plan/1 step 1/3" {
		t.Errorf("plan steps in the audit trail: %v", steps)
	}

	// A plan with a long hold, paused by a person's rollout.
	var running planJSON
	s.json(t, &running, "release", "start", "new-checkout", "--env", "production", "--steps", "5,100", "--hold", "1h")
	s.expectCode(t, 1, "release", "start", "new-checkout", "--env", "production", "--steps", "5,100", "--hold", "1h")
	waitState(t, s, "new-checkout", "production", "running")
	s.ok(t, "flag", "rollout", "new-checkout", "--env", "production", "--percent", "30")
	var paused planJSON
	s.json(t, &paused, "release", "status", "new-checkout", "--env", "production")
	if paused.State != "paused" || !strings.Contains(paused.Reason, "changed the configuration") {
		t.Fatalf("after a person's rollout the plan is %s (%s), want paused", paused.State, paused.Reason)
	}
	s.ok(t, "release", "resume", "new-checkout", "--env", "production")
	s.json(t, &flag, "flag", "get", "new-checkout", "--env", "production")
	if d := compactJSON(flag.Configs[0].Default); d != `{"split":{"on":5,"off":95}}` {
		t.Errorf("resume did not re-apply step 1 (5%%): default %s", d)
	}
	var cancelled planJSON
	s.json(t, &cancelled, "release", "cancel", "new-checkout", "--env", "production")
	if cancelled.State != "cancelled" {
		t.Errorf("release cancel: state %s", cancelled.State)
	}
	var plans []planJSON
	s.json(t, &plans, "release", "list", "--flag", "new-checkout")
	if len(plans) != 3 {
		t.Errorf("release list: %d plans, want 3", len(plans))
	}

	// A scheduled change: disable staging one second from now.
	var sched planJSON
	s.json(t, &sched, "flag", "schedule", "new-checkout", "disable", "--env", "staging", "--at", "+1s", "--wait=30s")
	if sched.Kind != "schedule" || sched.State != "completed" {
		t.Fatalf("flag schedule --wait: %+v", sched)
	}
	s.json(t, &flag, "flag", "get", "new-checkout", "--env", "staging")
	if flag.Configs[0].Enabled {
		t.Error("the scheduled disable did not disable the flag")
	}
	s.expectCode(t, 2, "flag", "schedule", "new-checkout", "--env", "staging", "--at", "+1s")
	s.expectCode(t, 2, "flag", "schedule", "new-checkout", "flip", "--env", "staging", "--at", "+1s")

	s.ok(t, "flag", "create", "new-search", "--type", "boolean")
	// A mean guard on an event no SDK has reported yet is accepted: it
	// waits for values.
	var meanPlan planJSON
	s.json(t, &meanPlan, "release", "start", "new-search", "--env", "staging", "--steps", "10,100", "--hold", "1s",
		"--guard", "mean(http.server.request.duration)<=1.2x,+0.05", "--min-samples", "100")
	if g := meanPlan.Guard; g == nil || g.Event != "http.server.request.duration" || g.Measure != "mean" || g.MaxRatio != 1.2 || g.MaxDiff != 0.05 {
		t.Errorf("mean guard stored as %+v", meanPlan.Guard)
	}
	if out := s.ok(t, "release", "status", "new-search", "--env", "staging"); !strings.Contains(out, "mean(http.server.request.duration)<=1.2x,+0.05") {
		t.Errorf("release status of a mean guard:\n%s", out)
	}
	s.ok(t, "release", "cancel", "new-search", "--env", "staging")
}

func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// waitState polls the plan's status until it is state. The runner takes a
// plan up on its next tick (every second by default), so a number of polls
// is no bound: quick polls could all come before the tick. A minute is.
func waitState(t *testing.T, s *server, key, env, state string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var p planJSON
		out := s.ok(t, "release", "status", key, "--env", env, "-o", "json")
		if json.Unmarshal([]byte(out), &p) == nil && p.State == state {
			return
		}
		last = p.State
	}
	t.Fatalf("plan of %s in %s never became %s within a minute (last %s)", key, env, state, last)
}

func TestRolledBackExitCode(t *testing.T) {
	t.Parallel()
	if got := cli.ExitCode(&cli.RolledBackError{ID: 1, Reason: "error rate"}); got != 5 {
		t.Errorf("exit code of a rolled back plan = %d, want 5", got)
	}
	if got := cli.ExitCode(&cli.PlanWaitTimeoutError{ID: 1}); got != cli.ExitWaitTimeout {
		t.Errorf("exit code of a plan wait timeout = %d, want %d", got, cli.ExitWaitTimeout)
	}
}

// regressAtStep2 is a guard judge that passes step 1 and finds a
// regression at step 2.
type regressAtStep2 struct{}

func (regressAtStep2) Check(_ context.Context, _ fpserver.ReleasePlan, step int) (release.Decision, error) {
	if step < 2 {
		return release.Decision{Verdict: release.Passing, Reason: "within tolerance"}, nil
	}
	return release.Decision{Verdict: release.Regressed, Reason: "error rate 5.0% against control 1.0% (limit 1.2x)",
		Evidence: json.RawMessage(`{"verdict":"regressed","statistic":7.5,"threshold":4.6,"control":{"samples":900,"events":9},"new":{"samples":950,"events":48}}`)}, nil
}

// TestReleaseStartWaitRolledBack runs the CLI against an in-process server
// whose guard judge finds a regression at step 2: release start --wait
// exits 5 and prints the evidence, and the control is served to everyone.
func TestReleaseStartWaitRolledBack(t *testing.T) {
	t.Parallel()
	srv := daemon.New(daemon.Config{DBPath: filepath.Join(t.TempDir(), "flagpole.db"), GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AdminToken: adminToken, Out: io.Discard,
		ReleaseInterval: 100 * time.Millisecond, ReleaseJudge: regressAtStep2{}})
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	s := &server{addr: srv.GRPCAddr().String()}
	s.ok(t, "flag", "create", "new-checkout", "--type", "boolean")
	r := s.expectCode(t, cli.ExitRolledBack, "release", "start", "new-checkout", "--env", "staging", "--steps", "10,50,100",
		"--hold", "1s", "--guard", "error<=1.2x", "--wait=60s")
	for _, want := range []string{"rolled_back", `"statistic":7.5`, "error rate 5.0% against control 1.0%"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("release start --wait output lacks %q:\n%s", want, r)
		}
	}
	if !strings.Contains(r.stderr, "rolled back") {
		t.Errorf("stderr does not say the plan rolled back:\n%s", r)
	}
	var flag flagJSON
	s.json(t, &flag, "flag", "get", "new-checkout", "--env", "staging")
	if d := compactJSON(flag.Configs[0].Default); d != `"off"` {
		t.Errorf("after the rollback staging serves %s, want the control off", d)
	}
	var entries []auditJSON
	s.json(t, &entries, "audit", "--flag", "new-checkout", "--env", "staging", "--resource", "release_plan")
	if len(entries) == 0 || entries[0].Action != "release.rollback" {
		t.Errorf("newest plan audit entry %+v, want release.rollback", entries)
	}
}
