package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
)

// ExitRolledBack is the exit code of `release start --wait` when the plan's
// guard rolled it back.
const ExitRolledBack = 5

// RolledBackError says a waited-for release plan was rolled back. It maps
// to exit code 5.
type RolledBackError struct {
	ID     int64
	Reason string
}

func (e *RolledBackError) Error() string {
	return fmt.Sprintf("release plan %d rolled back: %s", e.ID, e.Reason)
}

// planWaitInterval is how often `release start --wait` reads the plan.
var planWaitInterval = 500 * time.Millisecond

// planView is a release plan as the CLI prints it.
type planView struct {
	ID            int64      `json:"id"`
	FlagKey       string     `json:"flagKey"`
	Environment   string     `json:"environment"`
	Kind          string     `json:"kind"`
	Action        string     `json:"action,omitempty"`
	Steps         []stepView `json:"steps"`
	Variant       string     `json:"variant,omitempty"`
	Control       string     `json:"control,omitempty"`
	Guard         *guardView `json:"guard,omitempty"`
	OnRegression  string     `json:"onRegression,omitempty"`
	StartTime     *time.Time `json:"startTime,omitempty"`
	State         string     `json:"state"`
	Step          int        `json:"step"`
	StepStartTime *time.Time `json:"stepStartTime,omitempty"`
	StartedTime   *time.Time `json:"startedTime,omitempty"`
	EndTime       *time.Time `json:"endTime,omitempty"`
	Reason        string     `json:"reason,omitempty"`
	Evidence      any        `json:"evidence,omitempty"`
	CreatedBy     string     `json:"createdBy,omitempty"`
	Revision      int64      `json:"revision"`
}

type stepView struct {
	Percent int    `json:"percent"`
	Hold    string `json:"hold"`
}

type guardView struct {
	Event      string  `json:"event"`
	Measure    string  `json:"measure"`
	MaxRatio   float64 `json:"maxRatio,omitempty"`
	MaxDiff    float64 `json:"maxDiff,omitempty"`
	MinSamples int64   `json:"minSamples"`
}

func planViewOf(p *flagpolev1.ReleasePlan) planView {
	v := planView{ID: p.GetId(), FlagKey: p.GetFlagKey(), Environment: p.GetEnvironment(), Kind: p.GetKind(),
		Action: p.GetAction(), Steps: []stepView{}, Variant: p.GetVariant(), Control: p.GetControl(),
		OnRegression: p.GetOnRegression(), StartTime: timeOf(p.GetStartTime()), State: p.GetState(), Step: int(p.GetStep()),
		StepStartTime: timeOf(p.GetStepStartTime()), StartedTime: timeOf(p.GetStartedTime()), EndTime: timeOf(p.GetEndTime()),
		Reason: p.GetReason(), CreatedBy: p.GetCreatedBy(), Revision: p.GetRevision()}
	for _, s := range p.GetSteps() {
		v.Steps = append(v.Steps, stepView{Percent: int(s.GetPercent()), Hold: s.GetHold().AsDuration().String()})
	}
	if g := p.GetGuard(); g != nil {
		v.Guard = &guardView{Event: g.GetEvent(), Measure: "rate", MaxRatio: g.GetMaxRatio(), MaxDiff: g.GetMaxDiff(), MinSamples: g.GetMinSamples()}
		if g.GetMeasure() == flagpolev1.GuardMeasure_GUARD_MEASURE_MEAN {
			v.Guard.Measure = "mean"
		}
	}
	if e := p.GetEvidence(); e != nil {
		v.Evidence = e.AsInterface()
	}
	return v
}

// what says what the plan does, in words.
func (v planView) what() string {
	if v.Kind == "schedule" {
		if v.Action == "serve" {
			return "serve " + v.Variant
		}
		return v.Action
	}
	pcts := make([]string, len(v.Steps))
	for i, s := range v.Steps {
		pcts[i] = strconv.Itoa(s.Percent)
	}
	s := fmt.Sprintf("%s (control %s) at %s%%", v.Variant, v.Control, strings.Join(pcts, ","))
	if v.Guard != nil {
		s += ", guard " + v.Guard.text()
	}
	return s
}

func (g guardView) text() string {
	var limits []string
	if g.MaxRatio > 0 {
		limits = append(limits, strconv.FormatFloat(g.MaxRatio, 'f', -1, 64)+"x")
	}
	if g.Measure == "mean" {
		if g.MaxDiff > 0 {
			limits = append(limits, "+"+strconv.FormatFloat(g.MaxDiff, 'f', -1, 64))
		}
		return fmt.Sprintf("mean(%s)<=%s (min %d values)", g.Event, strings.Join(limits, ","), g.MinSamples)
	}
	if g.MaxDiff > 0 {
		limits = append(limits, "+"+strconv.FormatFloat(g.MaxDiff*100, 'f', -1, 64)+"%")
	}
	return fmt.Sprintf("%s<=%s (min %d samples)", g.Event, strings.Join(limits, ","), g.MinSamples)
}

// where says where the plan stands.
func (v planView) where() string {
	switch {
	case v.State == "scheduled" && v.StartTime != nil:
		return "scheduled for " + fmtTime(v.StartTime)
	case v.Step > 0 && v.Step <= len(v.Steps):
		return fmt.Sprintf("%s at step %d/%d (%d%%)", v.State, v.Step, len(v.Steps), v.Steps[v.Step-1].Percent)
	}
	return v.State
}

func printPlan(t *tabwriter.Writer, v planView) {
	row(t, "Plan:", fmt.Sprintf("%d (%s)", v.ID, v.Kind))
	row(t, "Flag:", v.FlagKey+" in "+v.Environment)
	row(t, "Does:", v.what())
	row(t, "State:", v.where())
	if v.Reason != "" {
		row(t, "Reason:", v.Reason)
	}
	if v.Evidence != nil {
		if w := evidenceWords(v.Evidence); w != "" {
			row(t, "Judged:", w)
		}
		row(t, "Evidence:", compact(v.Evidence))
	}
	for i, s := range v.Steps {
		mark := " "
		if i+1 == v.Step {
			mark = ">"
		}
		if v.Kind == "release" {
			row(t, "", fmt.Sprintf("%s step %d: %d%% for %s", mark, i+1, s.Percent, s.Hold))
		}
	}
}

func (a *app) releaseCmd() *cobra.Command {
	cmd := group("release", "Roll a flag out in steps, watched by a guard, rolled back on a regression",
		`A release plan rolls a flag's new variant out in one environment in steps
(a percentage of contexts, each held for a time), started now or at a
time. With a guard, the server compares the new variant's rate of an event
(reported by the SDKs) with the control's after every report and rolls back
at once on a regression, recording the evidence. Every step is an ordinary
configuration change by the plan: audited, published, visible to --wait.
A person's change of the flag's configuration in that environment pauses
the plan; resume re-applies the current step and restarts its hold.`)
	cmd.AddCommand(a.releaseStartCmd(), a.releaseStatusCmd(), a.releaseListCmd(),
		a.releaseMoveCmd("pause"), a.releaseMoveCmd("resume"), a.releaseMoveCmd("cancel"))
	return cmd
}

func (a *app) releaseStartCmd() *cobra.Command {
	var env, stepsFlag, guard, startAt, variant, control, onRegression string
	var hold, wait time.Duration
	var minSamples int64
	cmd := &cobra.Command{
		Use:   "start KEY --env E --steps 1,5,25,50,100 --hold 10m [--guard 'error<=1.2x'] [--wait]",
		Short: "Start a release plan for a flag in an environment",
		Long: `Start a release plan. --steps are the percentages of contexts served the new
variant, strictly increasing, the last 100; each is held for --hold. For a
boolean flag the new variant is on and the control off unless --variant /
--control say otherwise.

--guard EVENT<=LIMITS (or rate(EVENT)<=LIMITS) watches EVENT's rate per
exposure: LIMITS is a ratio to the control's rate (1.2x), a difference in
percentage points (+0.5%), or both separated by a comma (error<=1.2x,+0.5%:
the new rate must stay within both). A step advances once its hold has
passed and every variant has --min-samples exposures without a regression.

--guard 'mean(EVENT)<=LIMITS' watches the mean of EVENT's values, e.g. the
request latency in seconds that the SDK's net/http middleware tracks as
http.server.request.duration: LIMITS is a ratio to the control's mean
(1.2x), an absolute excess in the values' unit (+0.05), or both; as for a
rate, the new mean must stay within both (mean(http.server.request.duration)
<=1.2x,+0.05: at most 20% and at most 50 ms slower). Every variant needs
--min-samples values.

--wait follows the plan until it ends: exit 0 when it completes, exit 5
when it is rolled back (the evidence is printed), exit 1 when it is
cancelled; --wait=2h gives up after 2h with exit 4.`,
		Example: `  flagpole release start new-checkout --env production --steps 1,5,25,50,100 --hold 10m \
      --guard 'error<=1.2x' --min-samples 500 --wait
  flagpole release start new-checkout --env production --steps 1,5,25,50,100 --hold 10m \
      --guard 'mean(http.server.request.duration)<=1.2x,+0.05' --wait
  flagpole release start new-checkout --env production --steps 10,100 --hold 1h --start-at 2026-12-04T09:00:00Z`,
		Args: exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag("env", env); err != nil {
				return err
			}
			req := &flagpolev1.CreateReleasePlanRequest{FlagKey: args[0], Environment: env, Kind: "release",
				Variant: variant, Control: control, OnRegression: onRegression}
			steps, err := parseSteps(stepsFlag, hold)
			if err != nil {
				return err
			}
			req.Steps = steps
			if req.StartTime, err = parseStartAt("start-at", startAt, time.Now()); err != nil {
				return err
			}
			if guard != "" {
				if req.Guard, err = parseGuard(guard); err != nil {
					return err
				}
				req.Guard.MinSamples = minSamples
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				return a.createPlan(ctx, cmd, c, req, wait)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&env, "env", "", "environment (required)")
	f.StringVar(&stepsFlag, "steps", "", "percentages of the steps, e.g. 1,5,25,50,100 (required; the last is 100)")
	f.DurationVar(&hold, "hold", 10*time.Minute, "how long each step is held (at least 1s)")
	f.StringVar(&guard, "guard", "", "guard: EVENT<=RATIOx and/or EVENT<=+POINTS%, e.g. 'error<=1.2x'; mean(EVENT)<=RATIOx,+EXCESS for a mean, e.g. 'mean(http.server.request.duration)<=1.2x,+0.05'")
	f.Int64Var(&minSamples, "min-samples", 500, "exposures (rate) or values (mean) every variant needs before the guard decides")
	f.StringVar(&startAt, "start-at", "", "start at this time (RFC 3339, or +DURATION from now); default now")
	f.StringVar(&variant, "variant", "", "the new variant (default: on for a boolean flag)")
	f.StringVar(&control, "control", "", "the control variant (default: off for a boolean flag, else the off variant)")
	f.StringVar(&onRegression, "on-regression", "control", "on a regression serve the control to everyone (control) or disable the flag (disable)")
	addPlanWaitFlag(cmd, &wait)
	return cmd
}

func addPlanWaitFlag(cmd *cobra.Command, wait *time.Duration) {
	cmd.Flags().DurationVar(wait, "wait", 0,
		"follow the plan until it ends (exit 0 completed, 5 rolled back, 1 cancelled); --wait=2h gives up after 2h (exit 4)")
	cmd.Flags().Lookup("wait").NoOptDefVal = "876000h"
}

// createPlan creates the plan, prints it and, with wait, follows it.
func (a *app) createPlan(ctx context.Context, cmd *cobra.Command, c *clients, req *flagpolev1.CreateReleasePlanRequest, wait time.Duration) error {
	res, err := c.release.CreateReleasePlan(ctx, req)
	if err != nil {
		return fmt.Errorf("start release plan of %s in %s: %w", req.GetFlagKey(), req.GetEnvironment(), err)
	}
	v := planViewOf(res.GetPlan())
	if wait <= 0 {
		return a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) {
			row(t, fmt.Sprintf("Created release plan %d of %s in %s: %s; %s.", v.ID, v.FlagKey, v.Environment, v.what(), v.where()))
		})
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Created release plan %d of %s in %s: %s.\n", v.ID, v.FlagKey, v.Environment, v.what())
	final, err := a.followPlan(ctx, cmd.ErrOrStderr(), c, v, wait)
	if err != nil {
		return err
	}
	if err := a.printer(cmd.OutOrStdout()).emit(final, func(t *tabwriter.Writer) { printPlan(t, final) }); err != nil {
		return err
	}
	switch final.State {
	case "completed":
		return nil
	case "rolled_back":
		return &RolledBackError{ID: final.ID, Reason: final.Reason}
	}
	return fmt.Errorf("release plan %d ended %s: %s", final.ID, final.State, final.Reason)
}

// followPlan polls the plan until it ends, reporting each move to progress.
func (a *app) followPlan(ctx context.Context, progress io.Writer, c *clients, v planView, wait time.Duration) (planView, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	last := ""
	for {
		if where := v.where(); where != last {
			fmt.Fprintf(progress, "%s  plan %d: %s\n", time.Now().UTC().Format(time.TimeOnly), v.ID, where)
			last = where
		}
		switch v.State {
		case "completed", "rolled_back", "cancelled":
			return v, nil
		}
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return v, &PlanWaitTimeoutError{ID: v.ID, State: v.where()}
			}
			return v, ctx.Err()
		case <-time.After(planWaitInterval):
		}
		res, err := c.release.GetReleasePlan(ctx, &flagpolev1.GetReleasePlanRequest{Environment: v.Environment, Id: v.ID})
		if err != nil {
			if ctx.Err() == context.DeadlineExceeded {
				return v, &PlanWaitTimeoutError{ID: v.ID, State: v.where()}
			}
			return v, fmt.Errorf("release plan %d: %w", v.ID, err)
		}
		v = planViewOf(res.GetPlan())
	}
}

// PlanWaitTimeoutError says `release start --wait=T` gave up before the
// plan ended. It maps to exit code 4, like any --wait timeout.
type PlanWaitTimeoutError struct {
	ID    int64
	State string
}

func (e *PlanWaitTimeoutError) Error() string {
	return fmt.Sprintf("wait: timed out: release plan %d is still %s", e.ID, e.State)
}

// parseSteps reads --steps "1,5,25,50,100", each held for hold. The server
// checks the rest (increasing, last 100, hold at least 1s).
func parseSteps(s string, hold time.Duration) ([]*flagpolev1.ReleaseStep, error) {
	if s == "" {
		return nil, usagef("--steps is required, e.g. --steps 1,5,25,50,100")
	}
	var steps []*flagpolev1.ReleaseStep
	for _, part := range strings.Split(s, ",") {
		p, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(part), "%"))
		if err != nil {
			return nil, usagef("--steps %q: %q is not a whole percentage", s, part)
		}
		steps = append(steps, &flagpolev1.ReleaseStep{Percent: int32(p), Hold: durationpb.New(hold)})
	}
	return steps, nil
}

// parseGuard reads a guard: EVENT<=LIMIT[,LIMIT] or rate(EVENT)<=... for a
// rate, limits a ratio "1.2x" or a difference in percentage points "+0.5%";
// mean(EVENT)<=... for the mean of the event's values, limits a ratio
// "1.2x" or an excess in the values' unit "+0.05".
func parseGuard(s string) (*flagpolev1.ReleaseGuard, error) {
	const want = "want EVENT<=RATIOx, EVENT<=+POINTS%% or mean(EVENT)<=RATIOx,+EXCESS, e.g. 'error<=1.2x' or 'mean(http.server.request.duration)<=1.2x,+0.05'"
	event, limits, ok := strings.Cut(s, "<=")
	event = strings.TrimSpace(event)
	g := &flagpolev1.ReleaseGuard{}
	for _, m := range []struct {
		prefix  string
		measure flagpolev1.GuardMeasure
	}{{"mean(", flagpolev1.GuardMeasure_GUARD_MEASURE_MEAN}, {"rate(", flagpolev1.GuardMeasure_GUARD_MEASURE_RATE}} {
		if inner, found := strings.CutPrefix(event, m.prefix); found {
			if inner, found = strings.CutSuffix(inner, ")"); !found {
				return nil, usagef("--guard %q: %s without its closing parenthesis; "+want, s, strings.TrimSuffix(m.prefix, "("))
			}
			event, g.Measure = strings.TrimSpace(inner), m.measure
		}
	}
	if !ok || event == "" || strings.ContainsAny(event, "()") || strings.TrimSpace(limits) == "" {
		return nil, usagef("--guard %q: "+want, s)
	}
	g.Event = event
	mean := g.Measure == flagpolev1.GuardMeasure_GUARD_MEASURE_MEAN
	for _, l := range strings.Split(limits, ",") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasSuffix(l, "x"):
			r, err := strconv.ParseFloat(strings.TrimSuffix(l, "x"), 64)
			if err != nil {
				return nil, usagef("--guard %q: ratio %q is not a number", s, l)
			}
			g.MaxRatio = r
		case mean && strings.HasPrefix(l, "+") && strings.HasSuffix(l, "%"):
			return nil, usagef("--guard %q: a mean's excess %q is in the values' unit (+0.05 for 50 ms of a latency in seconds), not a percentage; for 5%% write 1.05x", s, l)
		case mean && strings.HasPrefix(l, "+"):
			d, err := strconv.ParseFloat(strings.TrimPrefix(l, "+"), 64)
			if err != nil {
				return nil, usagef("--guard %q: excess %q is not a number", s, l)
			}
			g.MaxDiff = d
		case strings.HasPrefix(l, "+") && strings.HasSuffix(l, "%"):
			d, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(l, "+"), "%"), 64)
			if err != nil {
				return nil, usagef("--guard %q: difference %q is not a number", s, l)
			}
			g.MaxDiff = d / 100
		case mean:
			return nil, usagef("--guard %q: limit %q is neither a ratio (1.2x) nor an excess (+0.05)", s, l)
		default:
			return nil, usagef("--guard %q: limit %q is neither a ratio (1.2x) nor a difference in points (+0.5%%)", s, l)
		}
	}
	return g, nil
}

// parseStartAt reads a time: RFC 3339, or +DURATION from now. "" is nil.
func parseStartAt(flag, s string, now time.Time) (*timestamppb.Timestamp, error) {
	if s == "" {
		return nil, nil
	}
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return nil, usagef("--%s %q: %v", flag, s, err)
		}
		return timestamppb.New(now.Add(d)), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, usagef("--%s %q: want an RFC 3339 time (2026-12-04T09:00:00Z) or +DURATION", flag, s)
	}
	return timestamppb.New(t), nil
}

func (a *app) releaseStatusCmd() *cobra.Command {
	var env string
	var id int64
	cmd := &cobra.Command{
		Use:   "status KEY --env E [--id N]",
		Short: "Show the flag's latest release plan in an environment (or plan --id)",
		Args:  exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag("env", env); err != nil {
				return err
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				p, err := a.findPlan(ctx, c, args[0], env, id, false)
				if err != nil {
					return err
				}
				v := planViewOf(p)
				return a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) { printPlan(t, v) })
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment (required)")
	cmd.Flags().Int64Var(&id, "id", 0, "a plan ID (default: the flag's newest plan in the environment)")
	return cmd
}

// findPlan returns plan id, or the flag's newest (active, if active) plan
// in env.
func (a *app) findPlan(ctx context.Context, c *clients, key, env string, id int64, active bool) (*flagpolev1.ReleasePlan, error) {
	if id != 0 {
		res, err := c.release.GetReleasePlan(ctx, &flagpolev1.GetReleasePlanRequest{Environment: env, Id: id})
		if err != nil {
			return nil, fmt.Errorf("release plan %d: %w", id, err)
		}
		if res.GetPlan().GetFlagKey() != key {
			return nil, fmt.Errorf("release plan %d is of flag %s, not %s", id, res.GetPlan().GetFlagKey(), key)
		}
		return res.GetPlan(), nil
	}
	res, err := c.release.ListReleasePlans(ctx, &flagpolev1.ListReleasePlansRequest{Environment: env, FlagKey: key, ActiveOnly: active})
	if err != nil {
		return nil, fmt.Errorf("release plans of %s in %s: %w", key, env, err)
	}
	if len(res.GetPlans()) == 0 {
		what := "no release plan"
		if active {
			what = "no active release plan"
		}
		return nil, fmt.Errorf("flag %s has %s in %s", key, what, env)
	}
	return res.GetPlans()[0], nil
}

func (a *app) releaseListCmd() *cobra.Command {
	var env, flagKey string
	var active bool
	cmd := &cobra.Command{
		Use:   "list [--env E] [--flag KEY] [--active]",
		Short: "List release plans and scheduled changes, newest first",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				res, err := c.release.ListReleasePlans(ctx, &flagpolev1.ListReleasePlansRequest{Environment: env, FlagKey: flagKey, ActiveOnly: active})
				if err != nil {
					return fmt.Errorf("list release plans: %w", err)
				}
				views := []planView{}
				for _, p := range res.GetPlans() {
					views = append(views, planViewOf(p))
				}
				return a.printer(cmd.OutOrStdout()).emit(views, func(t *tabwriter.Writer) {
					row(t, "ID", "FLAG", "ENVIRONMENT", "KIND", "STATE", "DOES")
					for _, v := range views {
						row(t, v.ID, v.FlagKey, v.Environment, v.Kind, v.where(), v.what())
					}
				})
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "only plans of this environment")
	cmd.Flags().StringVar(&flagKey, "flag", "", "only plans of this flag")
	cmd.Flags().BoolVar(&active, "active", false, "only scheduled, running and paused plans")
	return cmd
}

// releaseMoveCmd is pause, resume or cancel of a flag's active plan.
func (a *app) releaseMoveCmd(verb string) *cobra.Command {
	var env string
	var id int64
	short := map[string]string{
		"pause":  "Pause the flag's active release plan where it is",
		"resume": "Resume a paused plan: re-apply its current step and restart that step's hold",
		"cancel": "Cancel the flag's active release plan, leaving the configuration as it is",
	}[verb]
	cmd := &cobra.Command{
		Use:   verb + " KEY --env E [--id N]",
		Short: short,
		Args:  exactArgs("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag("env", env); err != nil {
				return err
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				p, err := a.findPlan(ctx, c, args[0], env, id, true)
				if err != nil {
					return err
				}
				var moved *flagpolev1.ReleasePlan
				switch verb {
				case "pause":
					var res *flagpolev1.PauseReleasePlanResponse
					res, err = c.release.PauseReleasePlan(ctx, &flagpolev1.PauseReleasePlanRequest{Environment: env, Id: p.GetId()})
					moved = res.GetPlan()
				case "resume":
					var res *flagpolev1.ResumeReleasePlanResponse
					res, err = c.release.ResumeReleasePlan(ctx, &flagpolev1.ResumeReleasePlanRequest{Environment: env, Id: p.GetId()})
					moved = res.GetPlan()
				default:
					var res *flagpolev1.CancelReleasePlanResponse
					res, err = c.release.CancelReleasePlan(ctx, &flagpolev1.CancelReleasePlanRequest{Environment: env, Id: p.GetId()})
					moved = res.GetPlan()
				}
				if err != nil {
					return fmt.Errorf("%s release plan %d: %w", verb, p.GetId(), err)
				}
				v := planViewOf(moved)
				return a.printer(cmd.OutOrStdout()).emit(v, func(t *tabwriter.Writer) {
					row(t, fmt.Sprintf("Release plan %d of %s in %s: %s.", v.ID, v.FlagKey, v.Environment, v.where()))
				})
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment (required)")
	cmd.Flags().Int64Var(&id, "id", 0, "a plan ID (default: the flag's active plan in the environment)")
	return cmd
}

// flagScheduleCmd is `flag schedule`: a scheduled change, a plan of one step.
func (a *app) flagScheduleCmd() *cobra.Command {
	var env, at, variant string
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "schedule KEY [enable|disable] --env E --at TIME [--variant V]",
		Short: "Schedule a change: enable, disable or serve a variant at a time",
		Long: `Schedule a change of a flag in an environment: enable or disable it, or
(--variant V) serve V as its default and enable it, at --at (RFC 3339, or
+DURATION from now). It is a release plan of one step: list, cancel and
follow it with the release commands.`,
		Example: `  flagpole flag schedule new-checkout enable --env production --at 2026-12-04T09:00:00Z
  flagpole flag schedule theme --env production --at +2h --variant dark`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				return exactArgs("KEY", "ACTION")(cmd, args)
			}
			return exactArgs("KEY")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireFlag("env", env); err != nil {
				return err
			}
			if err := requireFlag("at", at); err != nil {
				return err
			}
			req := &flagpolev1.CreateReleasePlanRequest{FlagKey: args[0], Environment: env, Kind: "schedule", Variant: variant}
			switch {
			case len(args) == 2 && variant != "":
				return usagef("give either enable|disable or --variant, not both")
			case len(args) == 2 && (args[1] == "enable" || args[1] == "disable"):
				req.Action = args[1]
			case len(args) == 2:
				return usagef("action %q: want enable or disable (or --variant V)", args[1])
			case variant != "":
				req.Action = "serve"
			default:
				return usagef("say what to do: enable, disable or --variant V")
			}
			var err error
			if req.StartTime, err = parseStartAt("at", at, time.Now()); err != nil {
				return err
			}
			return a.run(cmd, func(ctx context.Context, c *clients) error {
				return a.createPlan(ctx, cmd, c, req, wait)
			})
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment (required)")
	cmd.Flags().StringVar(&at, "at", "", "when: RFC 3339 time or +DURATION from now (required)")
	cmd.Flags().StringVar(&variant, "variant", "", "serve this variant (and enable the flag)")
	addPlanWaitFlag(cmd, &wait)
	return cmd
}

// evidenceWords says a guard decision (a plan's evidence) in words: per
// variant the samples and the rate, or for a mean guard the mean and the
// standard deviation; the limit, the statistic and the threshold. "" when
// the evidence is not a judged decision.
func evidenceWords(ev any) string {
	m, _ := ev.(map[string]any)
	verdict, _ := m["verdict"].(string)
	if verdict == "" || verdict == "waiting" {
		return ""
	}
	num := func(v any) float64 { f, _ := v.(float64); return f }
	g := func(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) }
	mean := m["measure"] == "mean"
	arm := func(name string) string {
		a, _ := m[name].(map[string]any)
		if mean {
			return fmt.Sprintf("mean %s (n %d, stddev %s)", g(num(a["mean"])), int64(num(a["samples"])), g(num(a["stddev"])))
		}
		return fmt.Sprintf("%s%% (%d events of %d)", g(100*num(a["rate"])), int64(num(a["events"])), int64(num(a["samples"])))
	}
	what := "rate"
	if mean {
		what = "mean"
	}
	if e, _ := m["event"].(string); e != "" {
		what += " of " + e
	}
	against := "control"
	if m["baseline"] == true {
		against = "baseline (the step before)"
	}
	limit := g(num(m["limit"]))
	if !mean {
		limit = g(100*num(m["limit"])) + "%"
	}
	cmp := "<"
	if num(m["statistic"]) >= num(m["threshold"]) {
		cmp = "≥"
	}
	s := fmt.Sprintf("%s, %s: new %s vs %s %s; tolerated up to %s; statistic %s %s threshold %s",
		verdict, what, arm("new"), against, arm("control"), limit, g(num(m["statistic"])), cmp, g(num(m["threshold"])))
	if step := num(m["step"]); step > 0 {
		s += fmt.Sprintf(" (step %d)", int(step))
	}
	return s
}
