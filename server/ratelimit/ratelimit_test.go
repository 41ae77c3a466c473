package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

// TestLimiterBounded: 30,000 distinct keys keep the limiter at its cap.
func TestLimiterBounded(t *testing.T) {
	l := New(5, time.Minute)
	now := time.Now()
	for i := range 30000 {
		l.Take(fmt.Sprintf("user-%d", i), now.Add(time.Duration(i)))
	}
	if n := l.Size(); n > maxBuckets {
		t.Errorf("%d buckets after 30,000 keys, cap %d", n, maxBuckets)
	}
}
