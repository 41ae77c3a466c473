package main

import (
	"context"
	"testing"
	"time"
)

// TestRollbackReachesEveryInstance is the measurement at 20 instances, end
// to end over real sockets: a new variant failing 5% of requests against
// the control's 1% at a 20% step is rolled back by its guard, and the
// rollback reaches every instance; the times are logged.
func TestRollbackReachesEveryInstance(t *testing.T) {
	p := params{Instances: 20, RPS: 20, Percent: 20, BaseErrors: 0.01, Fault: 1 - 0.95/0.99,
		MaxRatio: 1.2, MinSamples: 300, Timeout: 2 * time.Minute}
	r, err := measure(context.Background(), p, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r)
	if r.Commit <= 0 || r.ReachMax < r.Commit || r.ReachP50 > r.ReachMax || r.NewSamples < p.MinSamples {
		t.Errorf("%v: want the rollback committed after the fault, reaching the instances after the commit, on at least %d samples", r, p.MinSamples)
	}
}
