package guard

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Latency (mean guard) simulations: the real decision code, JudgeNumeric
// and JudgeNumericBaseline, judged after every report.
//
// The realistic plan is the rate simulation's: 100 requests/s, a report
// every 5 s (500 latencies per judgement, split between the variants at
// the step's share), steps 1%, 5%, 25%, 50% held 10 minutes each, then 100%
// for 10 minutes judged against the 50% step's control. As the runner does,
// a step whose hold has passed while the guard still waits for MinSamples
// holds on until it can judge. Guard: "mean latency at most 1.2× control's",
// MinSamples 500, Alpha 0.05 for the plan (0.01 per step).
//
// Latencies are log-normal with a median of 100 ms: σ = 0.5 in log space
// (mean 113 ms, coefficient of variation 0.53) and the heavy-tailed σ = 1
// (mean 165 ms, CV 1.31: the slowest 1% above 1 s) and σ = 1.5 (CV 2.9).
// They are drawn from a pool of 2^20 draws per σ, so the simulation takes
// seconds; the pool is the population, so "1.2× control" is exact.

type latencyPool struct {
	sigma float64
	v     []float64
}

var latencyPools = map[float64]*latencyPool{}

func poolFor(sigma float64) *latencyPool {
	if p := latencyPools[sigma]; p != nil {
		return p
	}
	r := rand.New(rand.NewPCG(uint64(sigma*1000), 99))
	p := &latencyPool{sigma, make([]float64, 1<<20)}
	for i := range p.v {
		p.v[i] = 0.1 * math.Exp(sigma*r.NormFloat64())
	}
	latencyPools[sigma] = p
	return p
}

// draw adds k latencies, scaled by factor, to x.
func (p *latencyPool) draw(r *rand.Rand, x *Numeric, k int64, factor float64) {
	var s, ss float64
	for range k {
		v := factor * p.v[r.Uint64()&(1<<20-1)]
		s += v
		ss += v * v
	}
	x.N += k
	x.Sum += s
	x.SumSq += ss
}

// latencyPlan is a simulated release with a latency guard.
type latencyPlan struct {
	perTick int64
	steps   []step
	pool    *latencyPool
	factor  float64 // the new variant's latencies are the control's × factor
}

// run simulates one plan; a step past its hold waits while the guard waits
// (at most ten holds).
func (p latencyPlan) run(r *rand.Rand, g Guard) outcome {
	var total int64
	var baseline Numeric
	for i, s := range p.steps {
		var c, t Numeric
		for tick := 0; ; tick++ {
			nn := binomial(r, p.perTick, s.share)
			p.pool.draw(r, &t, nn, p.factor)
			p.pool.draw(r, &c, p.perTick-nn, 1)
			total += nn
			var d Decision
			if s.share >= 1 {
				d = g.JudgeNumericBaseline(baseline, t)
			} else {
				d = g.JudgeNumeric(c, t)
			}
			if d.Verdict == Regressed {
				return outcome{true, i, t.N, total}
			}
			if tick+1 >= s.ticks && (d.Verdict == Passing || tick+1 >= 10*s.ticks) {
				break
			}
		}
		baseline = c
	}
	return outcome{newTotal: total}
}

func simulateLatency(seed uint64, count int, p latencyPlan, g Guard) simResult {
	r := rand.New(rand.NewPCG(seed, 0x5851f42d4c957f2d))
	res := simResult{byStep: map[int]int{}}
	for range count {
		if o := p.run(r, g); o.regressed {
			res.regressed++
			res.n = append(res.n, o.newN)
			res.total = append(res.total, o.newTotal)
			res.byStep[o.step]++
		}
	}
	return res
}

func pctOf(k, n int) string { return fmt.Sprintf("%d of %d (%.1f%%)", k, n, 100*float64(k)/float64(n)) }

// TestSimulationLatency: a mean guard "latency ≤ 1.2× control" through the
// realistic plan and single steps, with log-normal latencies:
//   - A/A (no difference), whole plan: at most 1% of plans rolled back;
//   - the new variant exactly at the tolerance (1.2×), one 30-minute step at
//     Alpha 0.05, at 5%/95% and 50%/50%: at most 5%;
//   - 1.5× and 2× slower: rolled back before the plan completes in at least
//     95% of plans, with the samples it took.
//
// 1,000 plans per case, 200 under -short or the race detector.
func TestSimulationLatency(t *testing.T) {
	n := plans()
	plan := planGuard() // MaxRatio 1.2, MinSamples 500, Alpha 0.05 over 5 steps
	for _, sigma := range []float64{0.5, 1, 1.5} {
		pool := poolFor(sigma)
		t.Run(fmt.Sprintf("sigma=%g", sigma), func(t *testing.T) {
			res := simulateLatency(100+uint64(10*sigma), n, latencyPlan{perTick, realisticSteps, pool, 1}, plan)
			t.Logf("log-normal σ=%g, A/A whole plan: %s rolled back, by step %v", sigma, pctOf(res.regressed, n), res.byStep)
			if res.regressed > n/100 {
				t.Errorf("A/A plans rolled back %d of %d, want at most 1%%", res.regressed, n)
			}
			g := Guard{MaxRatio: 1.2, MinSamples: 500, Alpha: 0.05}
			for i, share := range []float64{0.05, 0.5} {
				res := simulateLatency(200+uint64(10*sigma)+uint64(i), n, latencyPlan{perTick, []step{{share, 360}}, pool, 1.2}, g)
				t.Logf("log-normal σ=%g, new exactly 1.2× control, one 30-minute step at new %.0f%%, alpha 0.05: %s rolled back",
					sigma, 100*share, pctOf(res.regressed, n))
				if res.regressed > n*5/100 {
					t.Errorf("null boundary at %.0f%%: rolled back %d of %d, want at most 5%%", 100*share, res.regressed, n)
				}
			}
			for _, factor := range []float64{1.5, 2} {
				res := simulateLatency(300+uint64(10*sigma)+uint64(10*factor), n, latencyPlan{perTick, realisticSteps, pool, factor}, plan)
				t.Logf("log-normal σ=%g, new %g× slower, whole plan: %s rolled back before completing, by step %v; new-variant latencies at detection: in the step's window median %d, p95 %d; since the plan began median %d, p95 %d",
					sigma, factor, pctOf(res.regressed, n), res.byStep,
					quantile(res.n, 0.5), quantile(res.n, 0.95), quantile(res.total, 0.5), quantile(res.total, 0.95))
				if res.regressed < n*95/100 {
					t.Errorf("%g× latency detected in %d of %d plans, want at least 95%%", factor, res.regressed, n)
				}
			}
		})
	}
}
