package guard

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestValidateNamesTheField(t *testing.T) {
	for _, c := range []struct {
		g     Guard
		field string
	}{
		{Guard{MaxRatio: 0.9, MinSamples: 1}, "MaxRatio"},
		{Guard{MaxRatio: math.NaN(), MinSamples: 1}, "MaxRatio"},
		{Guard{MaxRatio: math.Inf(1), MinSamples: 1}, "MaxRatio"},
		{Guard{MaxDiff: -0.1, MinSamples: 1}, "MaxDiff"},
		{Guard{MinSamples: 1}, "MaxRatio"}, // neither tolerance set
		{Guard{MaxRatio: 1.2}, "MinSamples"},
		{Guard{MaxRatio: 1.2, MinSamples: 1, Alpha: 0.6}, "Alpha"},
		{Guard{MaxRatio: 1.2, MinSamples: 1, Alpha: -0.01}, "Alpha"},
	} {
		err := c.g.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%+v: Validate() = %v, want a FieldError naming %s", c.g, err, c.field)
		}
	}
	for _, g := range []Guard{
		{MaxRatio: 1, MinSamples: 1},
		{MaxDiff: 0.005, MinSamples: 500, Alpha: 0.5},
		{MaxRatio: 1.2, MaxDiff: 0.005, MinSamples: 500, Alpha: 0.01},
	} {
		if err := g.Validate(); err != nil {
			t.Errorf("%+v: Validate() = %v", g, err)
		}
	}
	// An invalid guard never judges.
	d := Guard{MaxRatio: 0.5, MinSamples: 1}.Judge(Rates{1000, 0}, Rates{1000, 1000})
	if d.Verdict != Waiting || !strings.Contains(d.Reason, "MaxRatio") {
		t.Errorf("invalid guard judged: %v", d)
	}
}

func TestForSteps(t *testing.T) {
	if a := (Guard{}).ForSteps(5).Alpha; math.Abs(a-0.01) > 1e-12 {
		t.Errorf("default alpha over 5 steps = %g, want 0.01", a)
	}
	if a := (Guard{Alpha: 0.1}).ForSteps(1).Alpha; a != 0.1 {
		t.Errorf("one step changed alpha to %g", a)
	}
}

func TestJudgeRates(t *testing.T) {
	g := Guard{MaxRatio: 1.2, MinSamples: 500}
	// Below the minimum sample: waiting, whatever the counts say.
	if d := g.Judge(Rates{10_000, 100}, Rates{499, 400}); d.Verdict != Waiting {
		t.Errorf("499 samples: %v", d)
	}
	if d := g.Judge(Rates{10_000, -1}, Rates{1000, 1}); d.Verdict != Waiting {
		t.Errorf("negative counts: %v", d)
	}
	// Same rates: passing.
	d := g.Judge(Rates{95_000, 950}, Rates{5_000, 50})
	if d.Verdict != Passing || d.Test != "ratio" || d.Statistic >= d.Threshold || d.PValue < 0.05 {
		t.Errorf("equal rates: %v", d)
	}
	if math.Abs(d.Limit-0.012) > 1e-12 || d.Control.Rate != 0.01 || d.New.Rate != 0.01 {
		t.Errorf("equal rates evidence: %v", d)
	}
	// 3% against 1%: regressed, with the evidence.
	d = g.Judge(Rates{95_000, 950}, Rates{5_000, 150})
	if d.Verdict != Regressed || d.Statistic < d.Threshold || d.PValue > d.Alpha || d.Z < 3 {
		t.Errorf("3× rates: %v", d)
	}
	if !strings.HasPrefix(d.Reason, "regressed: new 3% (5000 samples) vs control 1% (95000 samples), tolerated 1.2× control = 1.2%; ratio test") {
		t.Errorf("reason: %s", d.Reason)
	}
	// Within tolerance in ratio but not in difference.
	g2 := Guard{MaxRatio: 3, MaxDiff: 0.005, MinSamples: 500}
	d = g2.Judge(Rates{50_000, 5_000}, Rates{50_000, 6_000})
	if d.Verdict != Regressed || d.Test != "diff" || d.Alpha != 0.025 {
		t.Errorf("12%% vs 10%% with +0.5 points: %v", d)
	}
	if math.Abs(d.Limit-0.105) > 1e-12 {
		t.Errorf("limit %g, want min(3×10%%, 10%%+0.5) = 10.5%%", d.Limit)
	}
	// No events at all: passing, finite.
	d = g2.Judge(Rates{1000, 0}, Rates{1000, 0})
	if d.Verdict != Passing || math.IsNaN(d.Statistic) || math.IsNaN(d.Z) {
		t.Errorf("no events: %v", d)
	}
}

func TestJudgeNumeric(t *testing.T) {
	g := Guard{MaxRatio: 1.1, MaxDiff: 20, MinSamples: 100}
	mk := func(n int64, mean, sd float64) Numeric {
		return Numeric{N: n, Sum: float64(n) * mean, SumSq: float64(n-1)*sd*sd + float64(n)*mean*mean}
	}
	d := g.JudgeNumeric(mk(10_000, 100, 30), mk(10_000, 101, 30))
	if d.Verdict != Passing || math.Abs(d.New.StdDev-30) > 1e-6 {
		t.Errorf("equal latency: %v", d)
	}
	// A mean guard, like a rate guard, tolerates the smaller limit,
	// min(1.1×100, 100+20) = 110: +15% is within +20 but above 1.1×, so it
	// regresses on the ratio test, each test at half of Alpha.
	d = g.JudgeNumeric(mk(10_000, 100, 30), mk(10_000, 115, 30))
	if d.Verdict != Regressed || math.Abs(d.Limit-110) > 1e-9 || d.Test != "ratio" || d.Alpha != 0.025 {
		t.Errorf("+15%% latency, above 1.1× though within +20: %v", d)
	}
	d = g.JudgeNumeric(mk(10_000, 100, 30), mk(10_000, 130, 30))
	if d.Verdict != Regressed || math.Abs(d.Limit-110) > 1e-9 || d.Alpha != 0.025 {
		t.Errorf("+30%% latency: %v", d)
	}
	if d.Control.Mean != 100 || d.New.Mean != 130 || math.Abs(d.New.StdDev-30) > 1e-6 || d.New.Samples != 10_000 {
		t.Errorf("+30%% latency evidence: %+v", d)
	}
	if !strings.HasPrefix(d.Reason, "regressed: new 130 (10000 samples) vs control 100 (10000 samples), tolerated min(1.1× control, control + 20) = 110; ratio test") {
		t.Errorf("reason: %s", d.Reason)
	}
	// The one-sided hypotheses sit at the tolerance: a new mean exactly at
	// 1.1× control has z ≈ 0 for the ratio test.
	if d := (Guard{MaxRatio: 1.1, MinSamples: 100}).JudgeNumeric(mk(10_000, 100, 30), mk(10_000, 110, 30)); d.Verdict != Passing || math.Abs(d.Z) > 1e-6 {
		t.Errorf("at the ratio boundary: %v", d)
	}
	// An impossibly small sum of squares (an SDK that sends none): waiting,
	// and the reason says why.
	old := Numeric{N: 10_000, Sum: 10_000 * 130}
	for _, d := range []Decision{g.JudgeNumeric(mk(10_000, 100, 30), old), g.JudgeNumericBaseline(old, mk(10_000, 100, 30))} {
		if d.Verdict != Waiting || !strings.Contains(d.Reason, "sum of squares") || d.New.StdDev != 0 && d.Control.StdDev != 0 {
			t.Errorf("no sum of squares: %v", d)
		}
	}
	// Constant values (zero variance) keep the decision finite.
	d = g.JudgeNumeric(mk(1000, 100, 0), mk(1000, 200, 0))
	if d.Verdict != Regressed || math.IsInf(d.Statistic, 0) || math.IsInf(d.Z, 0) {
		t.Errorf("constant latencies: %v", d)
	}
	if _, err := json.Marshal(d); err != nil {
		t.Errorf("marshal: %v", err)
	}
	if d := g.JudgeNumeric(mk(1000, 100, 1), Numeric{N: 1000, Sum: math.NaN()}); d.Verdict != Waiting {
		t.Errorf("NaN sum: %v", d)
	}
}

func TestJudgeBaseline(t *testing.T) {
	g := Guard{MaxRatio: 1.2, MinSamples: 500}
	base := Rates{50_000, 500} // the 50% step's control
	if d := g.JudgeBaseline(base, Rates{100_000, 1_000}); d.Verdict != Passing || !d.Baseline || d.Test != "baseline" {
		t.Errorf("same rate as the baseline: %v", d)
	}
	d := g.JudgeBaseline(base, Rates{20_000, 400})
	if d.Verdict != Regressed || d.Alpha != 0.025 {
		t.Errorf("2× the baseline: %v", d)
	}
	// The limit is 1.2× the baseline's 97.5% upper bound, 1% + 1.96·√(1%/50000)
	// ≈ 1.09%, so about 1.31%.
	if d.Limit < 0.0130 || d.Limit > 0.0132 {
		t.Errorf("limit %g", d.Limit)
	}
	if !strings.Contains(d.Reason, "vs baseline 1%") {
		t.Errorf("reason: %s", d.Reason)
	}
	gn := Guard{MaxDiff: 10, MinSamples: 100}
	mk := func(n int64, mean, sd float64) Numeric {
		return Numeric{N: n, Sum: float64(n) * mean, SumSq: float64(n-1)*sd*sd + float64(n)*mean*mean}
	}
	if d := gn.JudgeNumericBaseline(mk(5000, 100, 30), mk(5000, 102, 30)); d.Verdict != Passing {
		t.Errorf("numeric baseline, +2 ms: %v", d)
	}
	if d := gn.JudgeNumericBaseline(mk(5000, 100, 30), mk(5000, 120, 30)); d.Verdict != Regressed {
		t.Errorf("numeric baseline, +20 ms: %v", d)
	}
}

func TestDecisionJSON(t *testing.T) {
	d := Guard{MaxRatio: 1.2, MinSamples: 500}.Judge(Rates{95_000, 950}, Rates{5_000, 150})
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"verdict":"regressed"`, `"statistic":`, `"threshold":`, `"p_value":`, `"control":{"samples":95000,"events":950,"rate":0.01}`, `"limit":`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON lacks %s: %s", k, b)
		}
	}
	var back Decision
	if err := json.Unmarshal(b, &back); err != nil || back != d {
		t.Errorf("round trip: %v, %+v", err, back)
	}
	if err := json.Unmarshal([]byte(`{"verdict":"maybe"}`), &back); err == nil {
		t.Error("unknown verdict accepted")
	}
}

// TestMixtures checks the test martingales at points with known answers.
func TestMixtures(t *testing.T) {
	// No evidence at z = 0: log M = −½·log(1+u) (the half-normal mixture at
	// its centre), below 0.
	if got, want := logMixture(0, 3), -0.5*math.Log(4); math.Abs(got-want) > 1e-12 {
		t.Errorf("logMixture(0, 3) = %g, want %g", got, want)
	}
	// Monotone in z, and finite far in both tails.
	prev := math.Inf(-1)
	for z := -50.0; z <= 50; z += 0.5 {
		v := logMixture(z, 10)
		if !(v > prev) || math.IsInf(v, 0) || math.IsNaN(v) {
			t.Fatalf("logMixture(%g, 10) = %g after %g", z, v, prev)
		}
		prev = v
	}
	// The Poisson mixture at x = mu0 = 0 is log(1) = 0, and decreases in
	// the mean under the null.
	if v := logPoissonMixture(0, 0); math.Abs(v) > 1e-12 {
		t.Errorf("logPoissonMixture(0, 0) = %g", v)
	}
	if logPoissonMixture(10, 10) >= logPoissonMixture(20, 10) {
		t.Error("Poisson mixture not increasing in the count")
	}
	// Ratio mixture: a supermartingale means E[M] ≤ 1 under the null; at the
	// boundary with K events, E[M] = 1 exactly (sum over the binomial).
	n0, n1, r := 9500.0, 500.0, 1.2
	p0 := r * n1 / (r*n1 + n0)
	for _, k := range []int{1, 7, 40} {
		var e float64
		for x1 := 0; x1 <= k; x1++ {
			lp := lgammaInt(k) - lgammaInt(x1) - lgammaInt(k-x1) + float64(x1)*math.Log(p0) + float64(k-x1)*math.Log(1-p0)
			e += math.Exp(lp + logRatioMixture(float64(k-x1), float64(x1), n0, n1, r))
		}
		if math.Abs(e-1) > 1e-9 {
			t.Errorf("E[M] with %d events = %g, want 1", k, e)
		}
	}
}

func lgammaInt(n int) float64 {
	v, _ := math.Lgamma(float64(n + 1))
	return v
}
