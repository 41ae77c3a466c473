package guard

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The simulations run the real decision code with data arriving in small
// increments and a judgement after every increment (continuous peeking).
//
// The realistic plan: 100 exposures per second reach the flag, the SDKs report
// every 5 s (500 exposures per judgement), steps of 1%, 5%, 25% and 50% held
// 10 minutes each, then 100% for 10 minutes judged against the 50% step's
// control counts. Each step is judged on its own window; the guard is
// "error rate at most 1.2× control's", MinSamples 500, Alpha 0.05 for the
// whole plan (ForSteps(5): 0.01 per step).

const (
	perTick  = 500 // exposures between two judgements (5 s at 100/s)
	stepTick = 120 // judgements per 10-minute hold
)

var realisticSteps = []step{{0.01, stepTick}, {0.05, stepTick}, {0.25, stepTick}, {0.5, stepTick}, {1, stepTick}}

func planGuard() Guard {
	return Guard{MaxRatio: 1.2, MinSamples: 500, Alpha: 0.05}.ForSteps(len(realisticSteps))
}

// plans is how many plans a simulation runs: 1,000, or 200 under -short or
// the race detector (which is ten times slower); the bounds scale with it.
func plans() int {
	if testing.Short() || raceEnabled {
		return 200
	}
	return 1000
}

type simResult struct {
	regressed int
	n         []int64 // new variant's window sample at detection
	total     []int64 // new variant's sample since the plan began
	byStep    map[int]int
}

func simulate(seed uint64, count int, p plan, g Guard) simResult {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	res := simResult{byStep: map[int]int{}}
	for range count {
		o := p.run(r, g)
		if o.regressed {
			res.regressed++
			res.n = append(res.n, o.newN)
			res.total = append(res.total, o.newTotal)
			res.byStep[o.step]++
		}
	}
	return res
}

// TestSimulationAAPlans: no difference (1% errors in both variants) through
// the whole realistic plan, so through the 5%/95% and 50%/50% splits and the
// baseline-judged last step: at most 1% of plans roll back.
func TestSimulationAAPlans(t *testing.T) {
	n := plans()
	res := simulate(1, n, plan{perTick, realisticSteps, 0.01, 0.01}, planGuard())
	t.Logf("A/A plans: %d of %d rolled back (%.2f%%), by step %v", res.regressed, n, 100*float64(res.regressed)/float64(n), res.byStep)
	if res.regressed > n/100 {
		t.Errorf("A/A plans rolled back %d of %d, want at most 1%%", res.regressed, n)
	}
}

// TestSimulationAASplits: one long step (30 minutes, 360 judgements) at each
// split, judged with the full Alpha 0.05 rather than the per-step share: at
// most 1% roll back.
func TestSimulationAASplits(t *testing.T) {
	n := plans()
	g := Guard{MaxRatio: 1.2, MinSamples: 500, Alpha: 0.05}
	for i, share := range []float64{0.05, 0.5} {
		res := simulate(uint64(10+i), n, plan{perTick, []step{{share, 360}}, 0.01, 0.01}, g)
		t.Logf("A/A one step, new %.0f%%, alpha 0.05: %d of %d rolled back (%.2f%%)", 100*share, res.regressed, n, 100*float64(res.regressed)/float64(n))
		if res.regressed > n/100 {
			t.Errorf("A/A at %.0f%%: rolled back %d of %d, want at most 1%%", 100*share, res.regressed, n)
		}
	}
}

// TestSimulationNullBoundary: the hardest harmless case, the new variant
// exactly at the tolerance (1.2% against 1%), one long step at the skewed
// 5%/95% split where the normal approximation is weakest: the rollback rate
// stays within Alpha 0.05, the bound the test promises.
func TestSimulationNullBoundary(t *testing.T) {
	n := plans()
	g := Guard{MaxRatio: 1.2, MinSamples: 500, Alpha: 0.05}
	for i, share := range []float64{0.05, 0.5} {
		res := simulate(uint64(20+i), n, plan{perTick, []step{{share, 360}}, 0.01, 0.012}, g)
		t.Logf("new at exactly 1.2× (1.2%% vs 1%%), new %.0f%%, alpha 0.05: %d of %d rolled back (%.2f%%)", 100*share, res.regressed, n, 100*float64(res.regressed)/float64(n))
		if res.regressed > n*5/100 {
			t.Errorf("null boundary at %.0f%%: rolled back %d of %d, want at most 5%%", 100*share, res.regressed, n)
		}
	}
	// The difference tolerance (normal approximation): +0.2 points, new at
	// exactly 1.2% against 1%, at the skewed split.
	gd := Guard{MaxDiff: 0.002, MinSamples: 500, Alpha: 0.05}
	res := simulate(22, n, plan{perTick, []step{{0.05, 360}}, 0.01, 0.012}, gd)
	t.Logf("new at exactly control + 0.2 points (1.2%% vs 1%%), new 5%%, alpha 0.05: %d of %d rolled back (%.2f%%)", res.regressed, n, 100*float64(res.regressed)/float64(n))
	if res.regressed > n*5/100 {
		t.Errorf("difference null boundary: rolled back %d of %d, want at most 5%%", res.regressed, n)
	}
}

// TestSimulationPower: the new variant at 2% errors against control's 1%
// (tolerance 1.2×) is rolled back before the realistic plan completes in at
// least 95% of plans; the samples it takes are reported.
func TestSimulationPower(t *testing.T) {
	n := plans()
	res := simulate(2, n, plan{perTick, realisticSteps, 0.01, 0.02}, planGuard())
	t.Logf("2× errors, realistic plan: %d of %d rolled back (%.1f%%), by step %v; new-variant exposures at detection: in the step's window median %d, p95 %d; since the plan began median %d, p95 %d",
		res.regressed, n, 100*float64(res.regressed)/float64(n), res.byStep,
		quantile(res.n, 0.5), quantile(res.n, 0.95), quantile(res.total, 0.5), quantile(res.total, 0.95))
	if res.regressed < n*95/100 {
		t.Errorf("2× errors detected in %d of %d plans, want at least 95%%", res.regressed, n)
	}
	// The samples one step needs at each split, with no deadline.
	g := Guard{MaxRatio: 1.2, MinSamples: 500}.ForSteps(len(realisticSteps))
	for i, share := range []float64{0.05, 0.5} {
		res := simulate(uint64(30+i), n, plan{perTick, []step{{share, 100_000}}, 0.01, 0.02}, g)
		t.Logf("2× errors, one step at new %.0f%%, alpha %.3g: detected %d of %d; new-variant exposures needed: median %d, p95 %d",
			100*share, g.Alpha, res.regressed, n, quantile(res.n, 0.5), quantile(res.n, 0.95))
		if res.regressed != n {
			t.Errorf("one step at %.0f%%: detected %d of %d", 100*share, res.regressed, n)
		}
	}
}

// TestSimulationNumeric: a latency guard ("mean at most 1.1× control's") on
// skewed, log-normal latencies (median 100 ms, σ = 0.5 in log space) at
// 50%/50%, 100 observations per variant per judgement, 300 judgements: no
// difference rolls back at most 1% of plans; +20% latency is caught in at least 95%.
func TestSimulationNumeric(t *testing.T) {
	n := plans() / 5
	g := Guard{MaxRatio: 1.1, MinSamples: 500, Alpha: 0.05}
	run := func(seed uint64, factor float64) (rolled int, ns []int64) {
		r := rand.New(rand.NewPCG(seed, 7))
		draw := func(x *Numeric, k int, scale float64) {
			for range k {
				v := scale * 100 * math.Exp(0.5*r.NormFloat64())
				x.N++
				x.Sum += v
				x.SumSq += v * v
			}
		}
		for range n {
			var c, tr Numeric
			for range 300 {
				draw(&c, 100, 1)
				draw(&tr, 100, factor)
				if g.JudgeNumeric(c, tr).Verdict == Regressed {
					rolled++
					ns = append(ns, tr.N)
					break
				}
			}
		}
		return rolled, ns
	}
	aa, _ := run(40, 1)
	t.Logf("latency A/A: %d of %d rolled back", aa, n)
	if aa > n/100 {
		t.Errorf("latency A/A rolled back %d of %d, want at most 1%%", aa, n)
	}
	bad, ns := run(41, 1.2)
	t.Logf("latency +20%% (tolerance 1.1×): %d of %d rolled back; observations per variant median %d, p95 %d", bad, n, quantile(ns, 0.5), quantile(ns, 0.95))
	if bad < n*95/100 {
		t.Errorf("latency +20%% detected in %d of %d, want at least 95%%", bad, n)
	}
}
