// Package testkit holds what the tests of this module share, so that no test
// package keeps its own copy: a log buffer that goroutines may write while a
// test reads it, a helper that fails a test on an error, and the flagpole
// binary (or any other command of the module) built once per test run.
//
// Only tests import it.
package testkit

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// Buffer collects what a logger or a child process writes while the test
// reads it. The zero value is ready to use; it is safe for concurrent use.
type Buffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{} // closed and replaced on every write
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.written != nil {
		close(b.written)
		b.written = nil
	}
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WaitFor waits until the buffer contains substr, woken by each write
// rather than polling, and fails the test when timeout passes first.
func (b *Buffer) WaitFor(tb testing.TB, substr string, timeout time.Duration) {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		if strings.Contains(b.buf.String(), substr) {
			b.mu.Unlock()
			return
		}
		if b.written == nil {
			b.written = make(chan struct{})
		}
		written := b.written
		b.mu.Unlock()
		select {
		case <-written:
		case <-deadline.C:
			tb.Fatalf("after %v the output does not contain %q:\n%s", timeout, substr, b.String())
		}
	}
}

// Must returns v, failing the test when err is not nil. It reads as
// testkit.Must(f())(t), so the type of v is inferred from f.
func Must[T any](v T, err error) func(tb testing.TB) T {
	return func(tb testing.TB) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}
}
