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
// They come from a pool of 2^20 draws per σ, the population the variants
// sample (so "1.2× control" is exact): a report's k latencies are a run of k
// consecutive pool entries from a random start, summed in O(1) from prefix
// sums, so that a plan costs microseconds per report even under the race
// detector. Two runs of one plan overlap with probability about k/2^19.

const poolBits = 20

type latencyPool struct {
	sum, sq []float64 // prefix sums of the values and their squares, over the pool twice
}

var latencyPools = map[float64]*latencyPool{}

func poolFor(sigma float64) *latencyPool {
	if p := latencyPools[sigma]; p != nil {
		return p
	}
	r := rand.New(rand.NewPCG(uint64(sigma*1000), 99))
	n := 1 << poolBits
	v := make([]float64, n)
	for i := range v {
		v[i] = 0.1 * math.Exp(sigma*r.NormFloat64())
	}
	p := &latencyPool{make([]float64, 2*n+1), make([]float64, 2*n+1)}
	for i := range 2 * n {
		x := v[i%n]
		p.sum[i+1] = p.sum[i] + x
		p.sq[i+1] = p.sq[i] + x*x
	}
	latencyPools[sigma] = p
	return p
}

// draw adds k latencies (k at most the pool's size) to x, each v of the
// pool as factor·v + shift.
func (p *latencyPool) draw(r *rand.Rand, x *Numeric, k int64, factor, shift float64) {
	if k <= 0 {
		return
	}
	i := r.Uint64() & (1<<poolBits - 1)
	s := factor * (p.sum[i+uint64(k)] - p.sum[i])
	x.N += k
	x.Sum += s + float64(k)*shift
	x.SumSq += factor*factor*(p.sq[i+uint64(k)]-p.sq[i]) + 2*shift*s + float64(k)*shift*shift
}

// latencyPlan is a simulated release with a latency guard.
type latencyPlan struct {
	perTick int64
	steps   []step
	pool    *latencyPool
	factor  float64 // the new variant's latencies are the control's × factor
	shift   float64 // ... + shift
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
			p.pool.draw(r, &t, nn, p.factor, p.shift)
			p.pool.draw(r, &c, p.perTick-nn, 1, 0)
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
//   - the new variant exactly at the tolerance (1.2×; and, for the guard
//     "2x,+0.05", exactly control + 50 ms), one 30-minute step at Alpha
//     0.05, at 5%/95% and 50%/50%: at most 5%;
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
			res := simulateLatency(100+uint64(10*sigma), n, latencyPlan{perTick, realisticSteps, pool, 1, 0}, plan)
			t.Logf("log-normal σ=%g, A/A whole plan: %s rolled back, by step %v", sigma, pctOf(res.regressed, n), res.byStep)
			if res.regressed > n/100 {
				t.Errorf("A/A plans rolled back %d of %d, want at most 1%%", res.regressed, n)
			}
			g := Guard{MaxRatio: 1.2, MinSamples: 500, Alpha: 0.05}
			for i, share := range []float64{0.05, 0.5} {
				res := simulateLatency(200+uint64(10*sigma)+uint64(i), n, latencyPlan{perTick, []step{{share, 360}}, pool, 1.2, 0}, g)
				t.Logf("log-normal σ=%g, new exactly 1.2× control, one 30-minute step at new %.0f%%, alpha 0.05: %s rolled back",
					sigma, 100*share, pctOf(res.regressed, n))
				if res.regressed > n*5/100 {
					t.Errorf("null boundary at %.0f%%: rolled back %d of %d, want at most 5%%", 100*share, res.regressed, n)
				}
				// "2x,+0.05": the smaller limit is control + 50 ms (the
				// means are 113, 165 and 308 ms); the new variant exactly
				// there.
				gd := Guard{MaxRatio: 2, MaxDiff: 0.05, MinSamples: 500, Alpha: 0.05}
				res = simulateLatency(250+uint64(10*sigma)+uint64(i), n, latencyPlan{perTick, []step{{share, 360}}, pool, 1, 0.05}, gd)
				t.Logf("log-normal σ=%g, guard 2x,+0.05, new exactly control + 50 ms, one 30-minute step at new %.0f%%, alpha 0.05: %s rolled back",
					sigma, 100*share, pctOf(res.regressed, n))
				// The normal approximation sits closer to the bound at
				// 50%/50% (the control's mean and variance move together in
				// a skewed sample): at 200 plans (race detector, -short) the
				// bound allows two binomial standard deviations of sampling
				// noise.
				bound := n * 5 / 100
				if n < 1000 {
					bound += int(2 * math.Sqrt(float64(n)*0.05*0.95))
				}
				if res.regressed > bound {
					t.Errorf("absolute null boundary at %.0f%%: rolled back %d of %d, want at most %d", 100*share, res.regressed, n, bound)
				}
			}
			for _, factor := range []float64{1.5, 2} {
				res := simulateLatency(300+uint64(10*sigma)+uint64(10*factor), n, latencyPlan{perTick, realisticSteps, pool, factor, 0}, plan)
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
