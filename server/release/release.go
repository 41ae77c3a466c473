// Package release runs release plans: a Runner, owned by the server, finds
// every second the plans that are due and moves them on through the
// service layer — a scheduled plan starts, a running one whose step has
// held (and whose guard passes) takes its next step or completes, and one
// whose guard finds a regression is rolled back at once with the evidence.
//
// The plans, and where each stands, live in the store (see server/service's
// plans.go for what a step changes and what pausing and resuming do), so
// the runner keeps no state of its own: a server that was down picks each
// plan up at its step with the rest of its hold. Each move is one
// transaction conditional on the plan being where the runner saw it, so a
// step is never applied twice; a step advances only in the tick that
// checked its guard, so no guard check is skipped.
//
// With several server replicas on one PostgreSQL database, exactly one
// runs each plan at a time: before it touches a plan a runner takes or
// renews the plan's lease (owner, until) with a conditional update, for
// DefaultLease. A replica that stops hands its plans over at once (Stop
// ends its leases); one that dies stops renewing, and another takes its
// plans over within DefaultLease (15 s) plus one tick.
package release

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/flagpole/flagpole/server"
)

// Defaults of a Runner.
const (
	DefaultInterval = time.Second
	DefaultLease    = 15 * time.Second
)

// Verdict is what a guard check concludes.
type Verdict int

const (
	// Waiting: not enough samples yet; the step keeps holding.
	Waiting Verdict = iota
	// Passing: enough samples and no regression; a held step may advance.
	Passing
	// Regressed: the new variant is worse than the guard tolerates.
	Regressed
)

// Decision is a guard check's verdict with its reason in words and its
// evidence (counts, rates, statistic, threshold) as JSON, which is stored
// on the plan and in the audit entry of a rollback.
type Decision struct {
	Verdict  Verdict
	Reason   string
	Evidence json.RawMessage
}

// Judge checks the guard of a running plan's current step (plan.Step,
// 1-based, applied at plan.StepStartedAt: judge the counts since then,
// when the split was fixed). The runner calls it on every tick while the
// step holds, so it must be cheap and sound under continuous monitoring
// (server/guard: Guard.ForSteps(len(plan.Steps)) spends the plan's error
// bound across its steps). At the last step (100%) no control group is
// left: judge against the control counts of the step before, which held
// at least plan.Steps[step-2].Hold up to plan.StepStartedAt. Waiting keeps
// the step holding past its hold; Passing lets it advance; Regressed
// rolls the plan back at once. An error skips the plan for this tick: the
// step does not advance without a check; an EINVALID or ENOTFOUND
// *server.Error pauses the plan.
type Judge interface {
	Check(ctx context.Context, plan server.ReleasePlan, step int) (Decision, error)
}

// Service is what the runner needs of server/service.Service.
type Service interface {
	ActivePlans(ctx context.Context) ([]server.ReleasePlan, error)
	LeasePlan(ctx context.Context, id int64, owner string, ttl time.Duration) (bool, error)
	AdvancePlan(ctx context.Context, id int64, from int, evidence json.RawMessage) (server.ReleasePlan, error)
	CompletePlan(ctx context.Context, id int64, evidence json.RawMessage) (server.ReleasePlan, error)
	RollBackPlan(ctx context.Context, id int64, step int, reason string, evidence json.RawMessage) (server.ReleasePlan, error)
	PauseStuckPlan(ctx context.Context, id int64, reason string) (server.ReleasePlan, error)
}

// Runner moves release plans on. Set the fields, then Start it (or call
// Tick yourself, as tests do); Stop ends it.
type Runner struct {
	Service Service
	// Judge checks guarded plans; nil means no guard: steps advance on
	// their hold alone.
	Judge Judge
	// Owner names this runner in plan leases; distinct per replica.
	Owner    string
	Interval time.Duration    // default DefaultInterval
	Lease    time.Duration    // default DefaultLease
	Now      func() time.Time // default time.Now; must be the service's clock
	Log      *slog.Logger     // default slog.Default()

	stop context.CancelFunc
	done sync.WaitGroup
	held map[int64]bool // plans leased by the last Tick

	judgedMu sync.Mutex
	judged   map[int64]Judgment // the last guard decision per plan this runner holds
}

// Judgment is a guard's decision on a plan's step, kept in memory between
// ticks (a waiting decision is not stored: it changes every tick).
type Judgment struct {
	Step     int
	Decision Decision
}

// LastJudgment returns the last guard decision this runner made on plan
// id, while it holds the plan.
func (r *Runner) LastJudgment(id int64) (Judgment, bool) {
	r.judgedMu.Lock()
	defer r.judgedMu.Unlock()
	j, ok := r.judged[id]
	return j, ok
}

func (r *Runner) judgedSet(id int64, j Judgment) {
	r.judgedMu.Lock()
	defer r.judgedMu.Unlock()
	if r.judged == nil {
		r.judged = map[int64]Judgment{}
	}
	r.judged[id] = j
}

// judgedKeep forgets the decisions on plans the last Tick did not hold.
func (r *Runner) judgedKeep(held map[int64]bool) {
	r.judgedMu.Lock()
	defer r.judgedMu.Unlock()
	for id := range r.judged {
		if !held[id] {
			delete(r.judged, id)
		}
	}
}

// Start runs Tick every Interval in a goroutine until Stop.
func (r *Runner) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	ticker := time.NewTicker(r.interval())
	r.done.Go(func() {
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				if err := r.Tick(ctx); err != nil && ctx.Err() == nil {
					r.log().Warn("release plans: tick failed", "err", err)
				}
			}
		}
	})
}

// Stop ends the goroutine Start began, waits for it, and hands the plans it
// held over (Release), so that another replica, or this server restarted,
// takes them at once instead of after the lease.
func (r *Runner) Stop() {
	if r == nil {
		return
	}
	if r.stop != nil {
		r.stop()
	}
	r.done.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r.Release(ctx)
}

// Release ends the leases the last Tick took. Call it only when no Tick
// runs.
func (r *Runner) Release(ctx context.Context) {
	for id := range r.held {
		if _, err := r.Service.LeasePlan(ctx, id, r.Owner, -time.Nanosecond); err != nil {
			r.log().Warn("release plans: could not hand a plan over; another replica takes it when the lease ends",
				"plan", id, "err", err)
		}
	}
	r.held = nil
}

func (r *Runner) interval() time.Duration {
	if r.Interval > 0 {
		return r.Interval
	}
	return DefaultInterval
}

func (r *Runner) lease() time.Duration {
	if r.Lease > 0 {
		return r.Lease
	}
	return DefaultLease
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

// Tick moves every due plan one step on. A plan that fails is logged and
// left for the next tick; only failing to list the plans is an error.
func (r *Runner) Tick(ctx context.Context) error {
	plans, err := r.Service.ActivePlans(ctx)
	if err != nil {
		return err
	}
	r.held = map[int64]bool{}
	for _, p := range plans {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err := r.run(ctx, p)
		if code := server.ErrorCode(err); code == server.EINVALID || code == server.ENOTFOUND {
			// The plan cannot move (its guard cannot judge the event, the
			// flag changed under it): it waits for a person rather than
			// failing every tick.
			r.log().Warn("release plan cannot move on; pausing it", "plan", p.Name(), "flag", p.FlagKey, "environment", p.Environment, "err", err)
			_, err = r.Service.PauseStuckPlan(ctx, p.ID, "paused: the plan cannot move on: "+server.ErrorMessage(err))
		}
		if err != nil {
			level := slog.LevelWarn
			if server.ErrorCode(err) == server.ECONFLICT {
				level = slog.LevelDebug // paused or moved meanwhile
			}
			r.log().Log(ctx, level, "release plan not moved", "plan", p.Name(), "flag", p.FlagKey, "environment", p.Environment, "err", err)
		}
	}
	r.judgedKeep(r.held)
	return nil
}

// run moves one plan on if it is due and this runner holds its lease.
func (r *Runner) run(ctx context.Context, p server.ReleasePlan) error {
	mine, err := r.Service.LeasePlan(ctx, p.ID, r.Owner, r.lease())
	if err != nil || !mine {
		return err
	}
	r.held[p.ID] = true
	now := r.now()
	if p.State == server.PlanScheduled {
		if now.Before(p.StartAt) {
			return nil
		}
		_, err := r.Service.AdvancePlan(ctx, p.ID, 0, nil)
		r.logMove(ctx, p, err, "release plan started")
		return err
	}
	if p.State != server.PlanRunning || p.Step < 1 || p.Step > len(p.Steps) {
		return nil
	}
	var d Decision
	guarded := p.Guard != nil && r.Judge != nil
	if guarded {
		if d, err = r.Judge.Check(ctx, p, p.Step); err != nil {
			return err
		}
		r.judgedSet(p.ID, Judgment{Step: p.Step, Decision: d})
		if d.Verdict == Regressed {
			_, err := r.Service.RollBackPlan(ctx, p.ID, p.Step, d.Reason, d.Evidence)
			r.logMove(ctx, p, err, "release plan rolled back", "reason", d.Reason)
			return err
		}
	}
	if now.Before(p.StepStartedAt.Add(p.Steps[p.Step-1].Hold)) || guarded && d.Verdict != Passing {
		return nil
	}
	if p.Step < len(p.Steps) {
		_, err = r.Service.AdvancePlan(ctx, p.ID, p.Step, d.Evidence)
		r.logMove(ctx, p, err, "release plan advanced", "step", p.Step+1)
		return err
	}
	_, err = r.Service.CompletePlan(ctx, p.ID, d.Evidence)
	r.logMove(ctx, p, err, "release plan completed")
	return err
}

func (r *Runner) logMove(ctx context.Context, p server.ReleasePlan, err error, msg string, args ...any) {
	if err != nil {
		return
	}
	r.log().InfoContext(ctx, msg, append([]any{"plan", p.Name(), "flag", p.FlagKey, "environment", p.Environment}, args...)...)
}
