package guard

import "testing"

// BenchmarkJudge is the cost of one judgement of a rate guard with both
// tolerances set (two contrasts), the runner's call every few seconds.
func BenchmarkJudge(b *testing.B) {
	g := Guard{MaxRatio: 1.2, MaxDiff: 0.005, MinSamples: 500}
	c, t := Rates{Exposures: 95_000, Events: 950}, Rates{Exposures: 5_000, Events: 61}
	b.ReportAllocs()
	for b.Loop() {
		_ = g.Judge(c, t)
	}
}

// BenchmarkJudgeNumeric is the same for a latency guard.
func BenchmarkJudgeNumeric(b *testing.B) {
	g := Guard{MaxRatio: 1.1, MinSamples: 500}
	c := Numeric{N: 95_000, Sum: 95_000 * 120, SumSq: 95_000 * (120*120 + 30*30)}
	t := Numeric{N: 5_000, Sum: 5_000 * 125, SumSq: 5_000 * (125*125 + 32*32)}
	b.ReportAllocs()
	for b.Loop() {
		_ = g.JudgeNumeric(c, t)
	}
}
