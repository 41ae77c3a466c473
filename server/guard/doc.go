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
// A Guard holds the tolerance (MaxRatio × control, control + MaxDiff; either
// may be unset), MinSamples per variant and Alpha. Judge takes per-variant
// exposures and event counts (rate signals such as `error`): the new rate
// must stay within both limits (the smaller is tolerated). JudgeNumeric
// takes count, sum and sum of squares (mean signals such as latency): the
// new mean too must stay within both limits, so one guard syntax means one
// thing for both measures ("1.2x,+0.05": at most 20% and at most 50 ms
// slower). The Decision is Waiting until every variant has
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
//   - Means (numeric signals): the same normal mixture on the difference of
//     means at the null's boundary, m1 − r·m0 (variance s1²/n1 + r²·s0²/n0)
//     or m1 − m0 − d (s1²/n1 + s0²/n0), with the sample variances from the
//     sums of squares (plug-in; the normal approximation of the means, so
//     asymptotic like the rate difference test). With both tolerances set
//     the null "m1 ≤ min(r·m0, m0 + d)" is the intersection of the two
//     one-sided nulls: either test rejecting is a regression, so Alpha is
//     split between them as for rates, and the Decision reports the more
//     significant one. Mixture time u = min(n0, n1) /
//     MinSamples as above. A sum of squares that cannot belong to the
//     values, n·Σx² < (Σx)² (SDKs that predate sum_squares send 0), is not
//     judged: the Decision is Waiting and its Reason says so.
//
// # The last step (100%)
//
// At 100% no control group is left. JudgeBaseline (JudgeNumericBaseline)
// compares the new variant's window at 100% with the control counts recorded
// over the step before, a fixed baseline (for a mean, its n, mean and
// standard deviation). Half of Alpha buys a one-sided
// upper confidence bound U on the baseline rate (a fixed-sample Poisson score
// bound: the baseline no longer grows); the other half runs a sequential test
// of the new rate against the known limit min(r·U, U + d): for rates the
// exact Poisson mixture of m^x·exp(−(m−1)·n·limit) over the same grid, for
// numeric signals the normal mixture. By the union bound the step's false
// regression probability stays within Alpha. The cost is a slightly wider
// tolerance: with a 50,000-exposure baseline at 1%, "1.2×" becomes 1.31%.
// For a mean the bound is mean + z·s/√n, with the same limit.
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
// Mean (latency) guards through the realistic plan above, a report of 500
// latencies every 5 s, guard "mean ≤ 1.2× control", MinSamples 500, Alpha
// 0.05 for the plan; latencies log-normal with median 100 ms and log-σ 0.5
// (CV 0.53), 1 (CV 1.31, heavy-tailed) and 1.5 (CV 2.9); 1,000 plans per
// case (go test -run TestSimulationLatency -v ./server/guard/, 4 s):
//
//   - A/A, whole plan: 0 of 1,000 rolled back at every σ.
//   - New exactly at 1.2× control, one 30-minute step, Alpha 0.05: σ 0.5:
//     1.9% (5%/95%) and 2.8% (50%/50%); σ 1: 1.0% and 2.0%; σ 1.5: 0.3%
//     and 2.2% (the bound is 5%). Guard "2x,+0.05", new exactly 50 ms
//     above control (the smaller limit; each test at Alpha/2): σ 0.5: 0.7%
//     and 1.5%; σ 1: 0.5% and 1.2%; σ 1.5: 0.2% and 0.7%.
//     The normal approximation is closest to the bound at equal splits,
//     where the skewed control's mean and variance move together.
//   - 1.5× slower: 1,000 of 1,000 rolled back before completing at every σ;
//     new-variant latencies in the detecting step's window, median (95th
//     percentile): σ 0.5: 502 (507), at the first judgement of the 1% step;
//     σ 1: 576 (998), since the plan began 1,136 (1,599); σ 1.5: 2,063
//     (3,745), since the plan began 2,788 (7,335), in the 5% and 25% steps.
//   - 2× slower: 1,000 of 1,000; σ 0.5 and 1: at the first judgement
//     (about 500 latencies); σ 1.5: median 550, 95th percentile 972.
//
// The latencies are drawn as runs of a pooled population of 2^20 draws
// (O(1) per report from prefix sums), so the run takes seconds even under
// the race detector.
//
// A Judge call costs about 1.5 µs with both tolerances (go test -bench .).
//
// The tests assert the bounds the issue sets (A/A at most 1%, 2× detected in
// at least 95% before the plan completes, the null boundary within Alpha)
// with fixed seeds; under -short or the race detector they run 200 plans
// instead of 1,000.
package guard
