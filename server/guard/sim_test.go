package guard

import (
	"math"
	"math/rand/v2"
	"slices"
)

// binomial draws Binomial(n, p) by inversion (exact; O(n·p) per draw, and the
// simulation keeps n·p small).
func binomial(r *rand.Rand, n int64, p float64) int64 {
	if n <= 0 || p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	if p > 0.5 {
		return n - binomial(r, n, 1-p)
	}
	q := 1 - p
	f := math.Pow(q, float64(n))
	if f < 1e-250 {
		// Too many expected successes for inversion; split the trials.
		h := n / 2
		return binomial(r, h, p) + binomial(r, n-h, p)
	}
	u := r.Float64()
	var k int64
	s := p / q
	for u > f && k < n {
		u -= f
		f *= s * float64(n-k) / float64(k+1)
		k++
	}
	return k
}

// step is one step of a simulated release plan: the share of traffic served
// the new variant and how many ticks (reports) it is held for.
type step struct {
	share float64
	ticks int
}

// plan is a simulated release: traffic per tick (exposures arriving between
// two judgements), the steps, the error rates of control and new.
type plan struct {
	perTick  int64
	steps    []step
	ctl, new float64
}

// outcome of one simulated plan.
type outcome struct {
	regressed bool
	step      int   // index of the step judged Regressed
	newN      int64 // new variant's exposures in that step's window at detection
	newTotal  int64 // new variant's exposures since the plan began
}

// run simulates the plan, judging after every tick, each step on its own
// window and the 100% step against the previous step's control counts.
func (p plan) run(r *rand.Rand, g Guard) outcome {
	var total int64
	var baseline Rates
	for i, s := range p.steps {
		var c, t Rates
		for range s.ticks {
			nn := binomial(r, p.perTick, s.share)
			nc := p.perTick - nn
			t.Exposures += nn
			t.Events += binomial(r, nn, p.new)
			c.Exposures += nc
			c.Events += binomial(r, nc, p.ctl)
			total += nn
			var d Decision
			if s.share >= 1 {
				d = g.JudgeBaseline(baseline, t)
			} else {
				d = g.Judge(c, t)
			}
			if d.Verdict == Regressed {
				return outcome{true, i, t.Exposures, total}
			}
		}
		baseline = c
	}
	return outcome{newTotal: total}
}

func quantile(xs []int64, q float64) int64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}
