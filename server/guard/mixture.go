package guard

import "math"

// The one-sided normal-mixture martingale (Robbins 1970; Howard, Ramdas,
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

// boundary returns the z that the mixture needs at time u to reach 1/α: the
// always-valid critical value reported as the Decision's Threshold. log M is
// increasing in z, so a safeguarded Newton iteration finds it.
func boundary(u, alpha float64) float64 {
	target := -math.Log(alpha)
	k := math.Sqrt(u / (1 + u))
	// log M ≥ −½log(1+u) + w²/2 for w ≥ 0, so this w is past the root.
	hi := math.Sqrt(2*(target+0.5*math.Log1p(u))) / k
	lo := 0.0
	// Where Φ(w) ≈ 1 (always, at useful α) log M = log 2 − ½log(1+u) + w²/2,
	// which puts the start within a hair of the root.
	z := math.Sqrt(max(0, 2*(target-math.Ln2)+math.Log1p(u))) / k
	if !(z > lo && z < hi) {
		z = hi / 2
	}
	for range 60 {
		f := logMixture(z, u) - target
		if math.Abs(f) < 1e-10 {
			return z
		}
		if f > 0 {
			hi = z
		} else {
			lo = z
		}
		w := z * k
		// d/dz log M = k·(w + φ(w)/Φ(w)).
		d := k * (w + math.Exp(-w*w/2-0.5*math.Log(2*math.Pi)-logPhi(w)))
		next := z - f/d
		if !(next > lo && next < hi) || d <= 0 {
			next = (lo + hi) / 2
		}
		if hi-lo < 1e-9 {
			return next
		}
		z = next
	}
	return z
}

// normalQuantile returns Φ⁻¹(p) for p in (0, 1).
func normalQuantile(p float64) float64 {
	return math.Sqrt2 * math.Erfinv(2*p-1)
}
