package testkit

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestBufferWaitForWakesOnWrite(t *testing.T) {
	t.Parallel()
	var b Buffer
	go func() {
		b.Write([]byte("starting\n"))
		b.Write([]byte("flagpole serving\n"))
	}()
	b.WaitFor(t, "flagpole serving", 10*time.Second)
	if got := b.String(); got != "starting\nflagpole serving\n" {
		t.Errorf("String() = %q", got)
	}
}

func TestMust(t *testing.T) {
	t.Parallel()
	if got := Must(42, nil)(t); got != 42 {
		t.Errorf("Must(42, nil) = %d", got)
	}
	failed := false
	ft := &fatalRecorder{TB: t, fatal: func() { failed = true }}
	Must(0, errors.New("boom"))(ft)
	if !failed {
		t.Error("Must with an error did not fail the test")
	}
}

// fatalRecorder records Fatal instead of stopping the test.
type fatalRecorder struct {
	testing.TB
	fatal func()
}

func (r *fatalRecorder) Fatal(...any) { r.fatal() }
func (r *fatalRecorder) Helper()      {}

func TestSourceKeyFollowsSources(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	key := func() string { return Must(sourceKey(root, "example.com/m/cmd/x"))(t) }
	write("go.mod", "module example.com/m\n")
	write("cmd/x/main.go", "package main\nfunc main() {}\n")
	write("static/app.js", "1")
	first := key()
	for _, name := range []string{"cmd/x/main_test.go", "README.md", "cmd/x/testdata/in.json", "shot.png", ".git/HEAD", "flagpole.db", "flagpole"} {
		write(name, "anything")
		if key() != first {
			t.Errorf("writing %s changed the key; it is not part of a build", name)
		}
	}
	write("server/migrations/0001.sql", "create table t (x int);")
	if key() == first {
		t.Error("a migration was added and the key did not change")
	}
	first = key()
	write("static/app.js", "2")
	if key() == first {
		t.Error("an embedded asset changed and the key did not")
	}
	second := key()
	write("cmd/x/main.go", "package main\nfunc main() { println() }\n")
	if key() == second {
		t.Error("a Go source changed and the key did not")
	}
}
