package guard

import "math"

// The one-sided normal-mixture martingale, used for the differences and the
// numeric signals (Robbins 1970; Howard, Ramdas,
// McAuliffe and Sekhon 2021, "Time-uniform, nonparametric, nonasymptotic
// confidence sequences", the one-sided normal mixture; Johari, Pekelis and
// Walsh 2017, "Always valid inference", the mSPRT).
//
// For a process S that is (approximately) Brownian motion with drift θ in
// information time I, the likelihood ratio of drift λ against drift 0 is
// exp(λS − λ²I/2). Mixing λ over a half-normal with variance 1/ρ on λ ≥ 0
// gives
//
//	M = 2·sqrt(ρ/(I+ρ)) · exp(S²/(2(I+ρ))) · Φ(S/sqrt(I+ρ)),
//
// a nonnegative supermartingale under every θ ≤ 0, so by Ville's inequality
// P(sup M ≥ 1/α) ≤ α however often it is looked at. Written with the
// z-statistic z = S/sqrt(I) and u = I/ρ:
//
//	log M = log 2 − ½·log(1+u) + w²/2 + log Φ(w),  w = z·sqrt(u/(1+u)).
//
// u only needs to be proportional to information: within a step the traffic
// split is fixed, so information grows in proportion to the exposures and
// u = n/n* for a fixed n* is I/ρ for a fixed (if unknown) ρ.

// logMixture returns log M for the statistic z at mixture time u > 0.
func logMixture(z, u float64) float64 {
	k := math.Sqrt(u / (1 + u))
	w := z * k
	return math.Ln2 - 0.5*math.Log1p(u) + w*w/2 + logPhi(w)
}

// logPhi is log Φ(w), the log of the standard normal distribution function,
// accurate in the far lower tail.
func logPhi(w float64) float64 {
	if w > -30 {
		return math.Log(0.5 * math.Erfc(-w/math.Sqrt2))
	}
	// Mills ratio: Φ(w) ≈ φ(w)/|w| · (1 − 1/w²).
	return -w*w/2 - math.Log(-w) - 0.5*math.Log(2*math.Pi) + math.Log1p(-1/(w*w))
}

// The count tests mix over a fixed grid of alternatives instead: each term
// below is a likelihood ratio that is a nonnegative supermartingale under
// every rate within the tolerance, so is their average, exactly (no normal
// approximation; only the Poisson model of the counts). The grid is the
// excess over the tolerated rate, as a factor: 1.1× to 10× in 12 geometric
// steps, equally weighted.
var excessGrid = func() [12]float64 {
	var g [12]float64
	for i := range g {
		g[i] = 1.1 * math.Pow(10/1.1, float64(i)/float64(len(g)-1))
	}
	return g
}()

// logRatioMixture is log M for "λ1 ≤ r·λ0" from Poisson counts x0, x1 over
// exposures n0, n1. Conditional on the number of events, each event is the
// new variant's with probability π = n1·λ1/(n1·λ1 + n0·λ0), at most
// π0 = r·n1/(r·n1 + n0) under the null; the product of
// (π_m/π0)^[new] · ((1−π_m)/(1−π0))^[control] over the events is a test
// supermartingale for each alternative π_m = m·r·n1/(m·r·n1 + n0), m > 1.
func logRatioMixture(x0, x1, n0, n1, r float64) float64 {
	p0 := r * n1 / (r*n1 + n0)
	var terms [len(excessGrid)]float64
	for i, m := range excessGrid {
		p := m * r * n1 / (m*r*n1 + n0)
		terms[i] = x1*math.Log(p/p0) + x0*math.Log((1-p)/(1-p0))
	}
	return logMean(terms[:])
}

// logPoissonMixture is log M for "λ ≤ λ0" from a Poisson count x with mean
// mu0 = n·λ0 at the null's boundary: m^x · exp(−(m−1)·mu0) for each excess
// factor m.
func logPoissonMixture(x, mu0 float64) float64 {
	var terms [len(excessGrid)]float64
	for i, m := range excessGrid {
		terms[i] = x*math.Log(m) - (m-1)*mu0
	}
	return logMean(terms[:])
}

// logMean is log(mean(exp(t))) without overflow.
func logMean(t []float64) float64 {
	hi := math.Inf(-1)
	for _, v := range t {
		hi = max(hi, v)
	}
	var s float64
	for _, v := range t {
		s += math.Exp(v - hi)
	}
	return hi + math.Log(s/float64(len(t)))
}

// normalQuantile returns Φ⁻¹(p) for p in (0, 1).
func normalQuantile(p float64) float64 {
	return math.Sqrt2 * math.Erfinv(2*p-1)
}
