// Package guard decides guarded releases: during a release step it says
// whether the new variant is worse than the control by more than a guard's
// tolerance, from the per-variant counts the SDKs report.
//
// It exists as its own package, standard library only and importing nothing
// else of Flagpole, so that the decision can be tested by simulation in
// isolation and the release-plan runner, the API and the CLI can all call the
// same code. It keeps no state: the caller passes the counts of the judged
// window each time.
//
// # What is judged
//
// A Guard holds the tolerance ("new at most MaxRatio × control and at most
// control + MaxDiff"; either may be unset), MinSamples per variant and Alpha.
// Judge takes per-variant exposures and event counts (rate signals such as
// `error`), JudgeNumeric takes count, sum and sum of squares (numeric signals
// such as latency). The Decision is Waiting until every variant has
// MinSamples, then Passing or Regressed, and carries the evidence (samples,
// events, rates or means, the limit the guard tolerates, the test, its
// statistic, threshold, z-score and always-valid p-value) with JSON tags for
// the audit entry and a Reason in words.
//
// The runner should judge each step on that step's own window (counts since
// the step began: the traffic split is fixed within it) and spend the plan's
// Alpha across its guarded steps, Guard.ForSteps(k), so that a harmless
// release is rolled back with probability at most Alpha over the whole plan.
//
// # The test: sound under continuous monitoring
//
// The guard is checked every few seconds, so a fixed-sample test would be
// wrong: peeking at a 5% test after every report rolls back far more than 5%
// of harmless releases. Every test here is a test martingale M ≥ 0 with
// E[M] ≤ 1 under every point of the null ("new within the tolerance"); by
// Ville's inequality P(M ever ≥ 1/α) ≤ α, however often and for however long
// it is looked at, and 1/M is an always-valid p-value (Johari, Pekelis and
// Walsh, "Always valid inference: continuous monitoring of A/B tests", 2017;
// Howard, Ramdas, McAuliffe and Sekhon, "Time-uniform, nonparametric,
// nonasymptotic confidence sequences", Annals of Statistics 2021). A guard
// with both tolerances runs two tests at α/2 each and regresses if either
// rejects. Decision.Statistic is log M, Decision.Threshold is log(1/α).
//
//   - Rate, ratio tolerance ("new ≤ r × control"): counts are Poisson per
//     exposure. Given the number of events, each event belongs to the new
//     variant with probability π = n1·λ1/(n1·λ1 + n0·λ0), at most
//     π0 = r·n1/(r·n1 + n0) under the null, whatever the control rate is. M
//     is the average, over a grid of alternatives (the excess factor m from
//     1.1 to 10, 12 geometric steps), of the binomial likelihood ratios
//     (π_m/π0)^x1 · ((1−π_m)/(1−π0))^x0: exact, no normal approximation,
//     and free of the unknown control rate.
//   - Rate, difference tolerance ("new ≤ control + d"): the z-score of
//     λ̂1 − λ̂0 − d with the Poisson variance at the null's boundary
//     (constrained maximum likelihood), fed to the one-sided normal-mixture
//     martingale M = 2/√(1+u) · exp(w²/2) · Φ(w), w = z·√(u/(1+u)), with
//     mixture time u = min(n0, n1)/MinSamples (Howard et al.'s one-sided
//     normal mixture; Robbins 1970). Asymptotic: the normal approximation.
//   - Numeric signals: the same normal mixture on the difference of means,
//     m1 − r·m0 or m1 − m0 − d, with the variances from the sums of squares.
//
// # The last step (100%)
//
// At 100% no control group is left. JudgeBaseline (JudgeNumericBaseline)
// compares the new variant's window at 100% with the control counts recorded
// over the step before, a fixed baseline. Half of Alpha buys a one-sided
// upper confidence bound U on the baseline rate (a fixed-sample Poisson score
// bound: the baseline no longer grows); the other half runs a sequential test
// of the new rate against the known limit min(r·U, U + d): for rates the
// exact Poisson mixture of m^x·exp(−(m−1)·n·limit) over the same grid, for
// numeric signals the normal mixture. By the union bound the step's false
// regression probability stays within Alpha. The cost is a slightly wider
// tolerance: with a 50,000-exposure baseline at 1%, "1.2×" becomes 1.31%.
// The plan completes when this step's hold ends with the decision Passing.
//
// # Measured (seeded simulations in this package, go test -v -run Simulation)
//
// Data arrive in small increments and the real decision code is called after
// every increment. The realistic plan: 100 exposures/s, a report every 5 s
// (500 exposures per judgement), steps 1%, 5%, 25%, 50% held 10 minutes each,
// then 100% for 10 minutes against the 50% step's control; error rate 1%
// in control; guard "error ≤ 1.2× control", MinSamples 500, Alpha 0.05 for
// the plan (0.01 per step).
//
//   - A/A (1% in both), whole plan: 2 of 1,000 plans rolled back (0.2%).
//   - A/A, one 30-minute step at Alpha 0.05 (not split): 1 of 1,000 at
//     new 5% / control 95%, 2 of 1,000 at 50%/50%.
//   - The hardest harmless case, new exactly at the tolerance (1.2% vs 1%),
//     one 30-minute step, Alpha 0.05: 15 of 1,000 at 5%/95% and 15 of 1,000
//     at 50%/50% (1.5%; the bound is 5%). The difference test (normal
//     approximation), new exactly at control + 0.2 points, 5%/95%: 41 of
//     1,000 (4.1%), within the bound but closer to it; with few events in a
//     skewed split the normal tail is thin, so prefer a ratio tolerance.
//   - Power, 2% errors in the new variant against 1% (2×, tolerance 1.2×):
//     1,000 of 1,000 plans rolled back before completing (62 in the 1% step,
//     531 in the 5% step, 407 in the 25% step). New-variant exposures in the
//     detecting step's window: median 2,125, 95th percentile 7,352; since the
//     plan began: median 3,087, 95th percentile 10,987.
//   - Samples one step needs for that 2× regression at Alpha 0.01, with no
//     deadline: at 5%/95% median 2,779 and 95th percentile 6,716 new-variant
//     exposures; at 50%/50% median 6,261 and 95th percentile 14,132 per
//     variant (with equal splits the control's noise counts too).
//   - Latency, log-normal (median 100 ms, log-σ 0.5), 50%/50%, guard
//     "mean ≤ 1.1× control", Alpha 0.05, 200 plans of 300 judgements: A/A
//     0 rolled back; +20% caught in all, median 700 and 95th percentile
//     1,500 observations per variant.
//
// A Judge call costs about 1.5 µs with both tolerances (go test -bench .).
//
// The tests assert the bounds the issue sets (A/A at most 1%, 2× detected in
// at least 95% before the plan completes, the null boundary within Alpha)
// with fixed seeds; under -short or the race detector they run 200 plans
// instead of 1,000.
package guard
