package guard

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Rates is one variant's count signal over the judged window: how many
// exposures (evaluations served that variant) and how many events of the
// guard's kind were attributed to it. Events may exceed Exposures (a request
// can fail twice); the rate is events per exposure.
type Rates struct {
	Exposures int64 `json:"exposures"`
	Events    int64 `json:"events"`
}

// Numeric is one variant's numeric signal (e.g. latency in ms) over the
// judged window: the number of observations, their sum and their sum of
// squares, which is what the SDKs report.
type Numeric struct {
	N     int64   `json:"n"`
	Sum   float64 `json:"sum"`
	SumSq float64 `json:"sum_sq"`
}

// Guard is the tolerance a release step must stay within. For a rate
// (Judge) the new variant regresses when its rate is above MaxRatio ×
// control's OR above control's + MaxDiff: the tolerated rate is the smaller
// of the two. For a mean (JudgeNumeric, e.g. latency) it regresses only when
// its mean is above MaxRatio × control's AND above control's + MaxDiff: the
// tolerated mean is the larger of the two, so MaxDiff is a floor under the
// ratio ("at most 1.2× control, but +50 ms is always fine") that keeps a
// fast endpoint's noise from rolling a release back. At least one of the two
// must be set.
type Guard struct {
	// MaxRatio is the highest tolerated ratio new/control, e.g. 1.2; 0 means
	// no relative limit. 1 means "no worse than control".
	MaxRatio float64 `json:"max_ratio,omitempty"`
	// MaxDiff is the highest tolerated excess new − control in the signal's
	// units: a rate difference for Rates (0.005 is +0.5 percentage points),
	// the signal's unit for Numeric (e.g. ms). 0 means no absolute limit.
	MaxDiff float64 `json:"max_diff,omitempty"`
	// MinSamples is the sample every variant needs before anything is
	// decided; it also tunes the test, whose boundary is tightest from about
	// MinSamples to a few hundred times that.
	MinSamples int64 `json:"min_samples"`
	// Alpha bounds the probability that a step whose new variant is within
	// the tolerance is ever judged Regressed, however often it is judged. 0
	// means DefaultAlpha.
	Alpha float64 `json:"alpha,omitempty"`
}

// DefaultAlpha is the false-regression bound of a Guard whose Alpha is 0.
const DefaultAlpha = 0.05

// FieldError is a Guard that fails Validate: the field and what is wrong.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return "guard: " + e.Field + " " + e.Message }

// Validate reports the first field of g that is out of range, as a
// *FieldError.
func (g Guard) Validate() error {
	switch {
	case math.IsNaN(g.MaxRatio) || math.IsInf(g.MaxRatio, 0) || g.MaxRatio < 0 || (g.MaxRatio > 0 && g.MaxRatio < 1):
		return &FieldError{"MaxRatio", fmt.Sprintf("must be at least 1 when set (0 = unset), got %g", g.MaxRatio)}
	case math.IsNaN(g.MaxDiff) || math.IsInf(g.MaxDiff, 0) || g.MaxDiff < 0:
		return &FieldError{"MaxDiff", fmt.Sprintf("must be 0 (unset) or positive, got %g", g.MaxDiff)}
	case g.MaxRatio == 0 && g.MaxDiff == 0:
		return &FieldError{"MaxRatio", "or MaxDiff must be set"}
	case g.MinSamples < 1:
		return &FieldError{"MinSamples", fmt.Sprintf("must be at least 1, got %d", g.MinSamples)}
	case math.IsNaN(g.Alpha) || g.Alpha < 0 || g.Alpha > 0.5:
		return &FieldError{"Alpha", fmt.Sprintf("must be in (0, 0.5] (0 = %g), got %g", DefaultAlpha, g.Alpha)}
	}
	return nil
}

// ForSteps returns g with Alpha divided among the guarded steps of a plan
// (Bonferroni), so that the whole plan rolls back a harmless release with
// probability at most g's Alpha. Judge each step on that step's own window.
func (g Guard) ForSteps(steps int) Guard {
	if steps > 1 {
		if g.Alpha == 0 {
			g.Alpha = DefaultAlpha
		}
		g.Alpha /= float64(steps)
	}
	return g
}

// Verdict is what a Decision concludes.
type Verdict int

const (
	// Waiting: a variant has fewer than MinSamples (or the input is
	// unusable, see Reason); nothing can be concluded yet.
	Waiting Verdict = iota
	// Passing: enough samples and no regression detected so far. A step
	// whose hold ends Passing may advance.
	Passing
	// Regressed: the new variant is worse than the tolerance, with the
	// guard's error bound; roll back.
	Regressed
)

var verdictNames = [...]string{"waiting", "passing", "regressed"}

func (v Verdict) String() string {
	if v >= 0 && int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// MarshalText writes the verdict's name.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText reads a verdict's name.
func (v *Verdict) UnmarshalText(b []byte) error {
	for i, n := range verdictNames {
		if string(b) == n {
			*v = Verdict(i)
			return nil
		}
	}
	return fmt.Errorf("guard: unknown verdict %q", b)
}

// Arm is one variant's evidence in a Decision.
type Arm struct {
	Samples int64 `json:"samples"`
	// Events is the event count (rate signals).
	Events int64 `json:"events,omitempty"`
	// Rate is events per exposure for a rate signal, the mean for a numeric
	// one (also in Mean).
	Rate float64 `json:"rate"`
	// Mean and StdDev are the mean and the sample standard deviation of
	// the values (numeric signals).
	Mean   float64 `json:"mean,omitempty"`
	StdDev float64 `json:"stddev,omitempty"`
}

// Decision is a verdict with the evidence behind it, meant to be stored in an
// audit entry and shown to a person. All numbers are finite.
type Decision struct {
	Verdict Verdict `json:"verdict"`
	// Reason says the verdict in words and numbers.
	Reason string `json:"reason"`
	// Signal is "rate" or "numeric".
	Signal string `json:"signal"`
	// Test is the comparison the statistic belongs to: "ratio" (new against
	// MaxRatio × control), "diff" (new against control + MaxDiff) or
	// "baseline" (the last step, new against a recorded baseline).
	Test string `json:"test,omitempty"`
	// Statistic is the log of the test's mixture likelihood ratio, the
	// evidence that the new variant is worse than the tolerance; Threshold is
	// log(1/Alpha). Regressed means Statistic ≥ Threshold.
	Statistic float64 `json:"statistic"`
	Threshold float64 `json:"threshold"`
	// PValue is the always-valid p-value exp(−Statistic) capped at 1: valid
	// whenever it is looked at, unlike a fixed-sample p-value.
	PValue float64 `json:"p_value"`
	// Z is the z-score of the new variant's excess over the tolerated value
	// (for people; the verdict comes from Statistic).
	Z float64 `json:"z"`
	// Alpha is the error bound this test spends (half of the Guard's Alpha
	// when two tests share it).
	Alpha float64 `json:"alpha"`
	// Control is the control variant, or the baseline when Baseline is set.
	Control  Arm  `json:"control"`
	New      Arm  `json:"new"`
	Baseline bool `json:"baseline,omitempty"`
	// Limit is the highest new rate (or mean) the guard tolerates given the
	// control estimate (for a baseline, given its upper confidence bound).
	Limit float64 `json:"limit"`
}

// String is the decision as JSON.
func (d Decision) String() string {
	b, _ := json.Marshal(d)
	return string(b)
}

// test is one comparison's outcome: its name, the z-score of the excess over
// the tolerated value and the log of its mixture likelihood ratio.
type test struct {
	name string
	z    float64
	logM float64
}

// normalTest is the normal-mixture test of the excess est (variance v) at
// mixture time u.
func normalTest(name string, est, v, u float64) test {
	z := zscore(est, v)
	return test{name, z, logMixture(z, u)}
}

// Judge decides a release step from the two variants' counts over the step's
// window (since the step began, not cumulative over earlier steps with other
// splits). Counts are treated as Poisson per exposure; see the package doc.
// A Guard that fails Validate judges nothing: the Decision is Waiting with the
// error as Reason.
func (g Guard) Judge(control, treatment Rates) Decision {
	d := Decision{Signal: "rate", Control: rateArm(control), New: rateArm(treatment)}
	if err := g.Validate(); err != nil {
		return waiting(d, err.Error())
	}
	if control.Exposures < 0 || control.Events < 0 || treatment.Exposures < 0 || treatment.Events < 0 {
		return waiting(d, "negative counts")
	}
	if control.Exposures < g.MinSamples || treatment.Exposures < g.MinSamples {
		return waiting(d, fmt.Sprintf("waiting for %d exposures per variant (control %d, new %d)",
			g.MinSamples, control.Exposures, treatment.Exposures))
	}
	n0, n1 := float64(control.Exposures), float64(treatment.Exposures)
	x0, x1 := float64(control.Events), float64(treatment.Events)
	l0, l1 := x0/n0, x1/n1
	var ts []test
	if r := g.MaxRatio; r > 0 {
		// Poisson MLE under λ1 = r·λ0 (the null's boundary), whose variance
		// the score z uses; the verdict is the exact conditional test.
		t0 := (x0 + x1) / (n0 + r*n1)
		ts = append(ts, test{"ratio", zscore(l1-r*l0, r*t0/n1+r*r*t0/n0), logRatioMixture(x0, x1, n0, n1, r)})
	}
	if dd := g.MaxDiff; dd > 0 {
		// Poisson MLE under λ1 = λ0 + d: the positive root of
		// N·λ² + (N·d − X)·λ − x0·d = 0.
		N, X := n0+n1, x0+x1
		b := N*dd - X
		t0 := (-b + math.Sqrt(b*b+4*N*x0*dd)) / (2 * N)
		ts = append(ts, normalTest("diff", l1-l0-dd, (t0+dd)/n1+t0/n0, min(n0, n1)/float64(g.MinSamples)))
	}
	d.Limit = g.limit(l0)
	return g.decide(d, ts, true)
}

// JudgeNumeric decides a release step from a numeric signal (e.g. latency):
// whether the new variant's mean is above MaxRatio × control's or above
// control's + MaxDiff (the new mean must stay within both, as a rate must in
// Judge), with the variances the sums of squares give. Each set tolerance
// has its own normal-mixture test of the difference of means at the null's
// boundary (m1 − r·m0 and m1 − m0 − d); with both set, Alpha is split
// between them, as in Judge. A variant whose sum of squares is impossibly
// small (n·Σx² < (Σx)², as SDKs that predate it report 0) is not judged: the
// Decision is Waiting and its Reason says why.
func (g Guard) JudgeNumeric(control, treatment Numeric) Decision {
	d := Decision{Signal: "numeric", Control: numericArm(control), New: numericArm(treatment)}
	if err := g.Validate(); err != nil {
		return waiting(d, err.Error())
	}
	if why := unusable("control", control, "new", treatment); why != "" {
		return waiting(d, why)
	}
	need := max(g.MinSamples, 2)
	if control.N < need || treatment.N < need {
		return waiting(d, fmt.Sprintf("waiting for %d observations per variant (control %d, new %d)",
			need, control.N, treatment.N))
	}
	n0, n1 := float64(control.N), float64(treatment.N)
	m0, m1 := d.Control.Mean, d.New.Mean
	v0, v1 := d.Control.StdDev*d.Control.StdDev/n0, d.New.StdDev*d.New.StdDev/n1
	u := min(n0, n1) / float64(g.MinSamples)
	var ts []test
	if r := g.MaxRatio; r > 0 {
		ts = append(ts, normalTest("ratio", m1-r*m0, v1+r*r*v0, u))
	}
	if dd := g.MaxDiff; dd > 0 {
		ts = append(ts, normalTest("diff", m1-m0-dd, v1+v0, u))
	}
	d.Limit = g.limit(m0)
	return g.decide(d, ts, false)
}

// JudgeBaseline decides the last step (100%, no control group left): the new
// variant's window against the control counts recorded over the step before,
// a fixed baseline. Half of Alpha buys a one-sided upper confidence bound on
// the baseline rate (a fixed-sample score bound, the baseline no longer
// grows); the other half runs the same sequential test as Judge of the new
// rate against the limit that bound implies, min(MaxRatio × bound, bound +
// MaxDiff), as a known rate. Both variants need MinSamples.
func (g Guard) JudgeBaseline(baseline, treatment Rates) Decision {
	d := Decision{Signal: "rate", Control: rateArm(baseline), New: rateArm(treatment), Baseline: true}
	if err := g.Validate(); err != nil {
		return waiting(d, err.Error())
	}
	if baseline.Exposures < 0 || baseline.Events < 0 || treatment.Exposures < 0 || treatment.Events < 0 {
		return waiting(d, "negative counts")
	}
	if baseline.Exposures < g.MinSamples || treatment.Exposures < g.MinSamples {
		return waiting(d, fmt.Sprintf("waiting for %d exposures (baseline %d, new %d)",
			g.MinSamples, baseline.Exposures, treatment.Exposures))
	}
	a := g.alpha() / 2
	nb, n1 := float64(baseline.Exposures), float64(treatment.Exposures)
	lb := float64(baseline.Events) / nb
	// Score (Wilson-type) upper bound for a Poisson rate:
	// (λ − λ̂)² = z²·λ/n solved for the larger root.
	z := normalQuantile(1 - a)
	upper := lb + z*z/(2*nb) + z*math.Sqrt(lb/nb+z*z/(4*nb*nb))
	d.Limit = g.limit(upper)
	x1 := float64(treatment.Events)
	t := test{"baseline", zscore(x1/n1-d.Limit, d.Limit/n1), logPoissonMixture(x1, n1*d.Limit)}
	return g.decideAt(d, []test{t}, a, true)
}

// JudgeNumericBaseline is JudgeBaseline for a numeric signal: half of
// Alpha buys the upper confidence bound mean + z·s/√n on the baseline mean
// U, the other half the normal-mixture test of the new mean against the
// known limit min(MaxRatio × U, U + MaxDiff).
func (g Guard) JudgeNumericBaseline(baseline, treatment Numeric) Decision {
	d := Decision{Signal: "numeric", Control: numericArm(baseline), New: numericArm(treatment), Baseline: true}
	if err := g.Validate(); err != nil {
		return waiting(d, err.Error())
	}
	if why := unusable("baseline", baseline, "new", treatment); why != "" {
		return waiting(d, why)
	}
	need := max(g.MinSamples, 2)
	if baseline.N < need || treatment.N < need {
		return waiting(d, fmt.Sprintf("waiting for %d observations (baseline %d, new %d)",
			need, baseline.N, treatment.N))
	}
	a := g.alpha() / 2
	nb, n1 := float64(baseline.N), float64(treatment.N)
	upper := d.Control.Mean + normalQuantile(1-a)*d.Control.StdDev/math.Sqrt(nb)
	d.Limit = g.limit(upper)
	t := normalTest("baseline", d.New.Mean-d.Limit, d.New.StdDev*d.New.StdDev/n1, n1/float64(g.MinSamples))
	return g.decideAt(d, []test{t}, a, false)
}

func (g Guard) alpha() float64 {
	if g.Alpha == 0 {
		return DefaultAlpha
	}
	return g.Alpha
}

// limit is the highest tolerated new value given the control value c.
func (g Guard) limit(c float64) float64 {
	l := math.Inf(1)
	if g.MaxRatio > 0 {
		l = g.MaxRatio * c
	}
	if g.MaxDiff > 0 {
		l = min(l, c+g.MaxDiff)
	}
	return l
}

// decide runs the two-sample tests, splitting Alpha between them.
func (g Guard) decide(d Decision, ts []test, rate bool) Decision {
	a := g.alpha()
	if len(ts) > 1 {
		a /= float64(len(ts))
	}
	return g.decideAt(d, ts, a, rate)
}

// decideAt judges each test at level a and reports the one with the most
// evidence of regression.
func (g Guard) decideAt(d Decision, ts []test, a float64, rate bool) Decision {
	best := ts[0]
	for _, t := range ts[1:] {
		if t.logM > best.logM {
			best = t
		}
	}
	// log M is finite: the mixtures are sums of finite terms and z is capped.
	d.Test, d.Z, d.Statistic = best.name, best.z, best.logM
	d.Threshold, d.Alpha = -math.Log(a), a
	d.PValue = math.Min(1, math.Exp(-best.logM))
	if d.Statistic >= d.Threshold {
		d.Verdict = Regressed
	} else {
		d.Verdict = Passing
	}
	d.Reason = reason(d, g, rate)
	return d
}

// maxZ caps the statistic so that the Decision stays finite (JSON has no
// infinities): a zero-variance excess, e.g. constant latencies.
const maxZ = 1e6

func zscore(est, v float64) float64 {
	if !(v > 0) {
		switch {
		case est > 0:
			return maxZ
		case est < 0:
			return -maxZ
		}
		return 0
	}
	return max(-maxZ, min(maxZ, est/math.Sqrt(v)))
}

// reason writes the decision in words; built with strconv into one buffer,
// because the simulation judges millions of times.
func reason(d Decision, g Guard, rate bool) string {
	b := make([]byte, 0, 256)
	val := func(x float64) {
		if rate {
			b = strconv.AppendFloat(b, 100*x, 'g', 3, 64)
			b = append(b, '%')
		} else {
			b = strconv.AppendFloat(b, x, 'g', 4, 64)
		}
	}
	num := func(x float64, prec int) { b = strconv.AppendFloat(b, x, 'f', prec, 64) }
	if d.Verdict == Regressed {
		b = append(b, "regressed: new "...)
	} else {
		b = append(b, "no regression so far: new "...)
	}
	val(d.New.Rate)
	b = append(b, " ("...)
	b = strconv.AppendInt(b, d.New.Samples, 10)
	ctl := " samples) vs control "
	if d.Baseline {
		ctl = " samples) vs baseline "
	}
	b = append(b, ctl...)
	val(d.Control.Rate)
	b = append(b, " ("...)
	b = strconv.AppendInt(b, d.Control.Samples, 10)
	b = append(b, " samples), tolerated "...)
	if g.MaxRatio > 0 && g.MaxDiff > 0 {
		b = append(b, "min("...)
	}
	if g.MaxRatio > 0 {
		b = strconv.AppendFloat(b, g.MaxRatio, 'g', -1, 64)
		b = append(b, "× control"...)
		if g.MaxDiff > 0 {
			b = append(b, ", "...)
		}
	}
	if g.MaxDiff > 0 {
		b = append(b, "control + "...)
		if rate {
			b = strconv.AppendFloat(b, 100*g.MaxDiff, 'g', 3, 64)
			b = append(b, " points"...)
		} else {
			b = strconv.AppendFloat(b, g.MaxDiff, 'g', -1, 64)
		}
		if g.MaxRatio > 0 {
			b = append(b, ')')
		}
	}
	if d.Baseline {
		b = append(b, " at the baseline's upper bound"...)
	}
	b = append(b, " = "...)
	val(d.Limit)
	b = append(b, "; "...)
	b = append(b, d.Test...)
	b = append(b, " test: z = "...)
	num(d.Z, 2)
	b = append(b, ", always-valid p = "...)
	b = strconv.AppendFloat(b, d.PValue, 'g', 3, 64)
	if d.Verdict == Regressed {
		b = append(b, " ≤ alpha "...)
	} else {
		b = append(b, " > alpha "...)
	}
	b = strconv.AppendFloat(b, d.Alpha, 'g', 3, 64)
	return string(b)
}

func waiting(d Decision, why string) Decision {
	d.Verdict, d.Reason = Waiting, why
	return d
}

func rateArm(r Rates) Arm {
	a := Arm{Samples: r.Exposures, Events: r.Events}
	if r.Exposures > 0 && r.Events >= 0 {
		a.Rate = float64(r.Events) / float64(r.Exposures)
	}
	return a
}

func badNumeric(x Numeric) bool {
	return x.N < 0 || math.IsNaN(x.Sum) || math.IsInf(x.Sum, 0) || math.IsNaN(x.SumSq) || math.IsInf(x.SumSq, 0) || x.SumSq < 0
}

func numericArm(x Numeric) Arm {
	a := Arm{Samples: x.N}
	if x.N <= 0 || badNumeric(x) {
		return a
	}
	n := float64(x.N)
	a.Rate = x.Sum / n
	a.Mean = a.Rate
	if x.N > 1 && sumSquaresValid(x) {
		// Sum of squared deviations, clamped: rounding can make it negative.
		ss := max(0, x.SumSq-x.Sum*a.Rate)
		a.StdDev = math.Sqrt(ss / (n - 1))
	}
	return a
}

// sumSquaresValid reports whether x's sum of squares can belong to its
// values: n·Σx² ≥ (Σx)² (Cauchy–Schwarz), up to rounding.
func sumSquaresValid(x Numeric) bool {
	return float64(x.N)*x.SumSq >= x.Sum*x.Sum*(1-1e-9)
}

// unusable says why two numeric arms cannot be judged, or "".
func unusable(name0 string, x0 Numeric, name1 string, x1 Numeric) string {
	if badNumeric(x0) || badNumeric(x1) {
		return "negative count or non-finite sums"
	}
	for _, a := range []struct {
		name string
		x    Numeric
	}{{name0, x0}, {name1, x1}} {
		if a.x.N > 0 && !sumSquaresValid(a.x) {
			return fmt.Sprintf("not judged: the sum of squares of the %s variant's values is impossibly small "+
				"(n·Σx² = %.4g < (Σx)² = %.4g): SDKs that predate sum_squares report 0; waiting for SDKs that send it",
				a.name, float64(a.x.N)*a.x.SumSq, a.x.Sum*a.x.Sum)
		}
	}
	return ""
}
