package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runMainEnv makes the test binary run guarded-shop's main instead of the
// tests, so demo.sh can run it without a build of its own.
const runMainEnv = "GUARDED_SHOP_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestDemo runs demo.sh with short holds against a real `flagpole serve`
// and real service instances: the faulty release must roll itself back
// (release start --wait exits 5, with the evidence) and the fixed one must
// complete. The service has no base errors here, so the fixed release
// cannot be rolled back by chance (at 1% it could, with probability at
// most the guard's alpha).
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds flagpole and runs two releases (about a minute)")
	}
	bin := filepath.Join(t.TempDir(), "flagpole")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/flagpole/flagpole/cmd/flagpole").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/flagpole: %v\n%s", err, out)
	}
	cmd := exec.Command("bash", "demo.sh")
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "FLAGPOLE="+bin, "SHOP="+os.Args[0],
		"INSTANCES=3", "RPS=100", "HOLD=2s", "MIN_SAMPLES=100", "BASE_ERRORS=0", "TRACK_INTERVAL=200ms")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("demo.sh:\n%s", out.String())
	if err != nil {
		t.Fatalf("demo.sh: %v", err)
	}
	for _, want := range []string{"release start exited 5", "rolled back at step 1/3: regressed", "release.rollback",
		"release start exited 0", "completed at step 3/3", "new flow fault 0.3"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo.sh output lacks %q", want)
		}
	}
}

func TestCommandLine(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &out, &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, args := range [][]string{{"--instances", "0"}, {"--fault", "2"}, {"--nope"}, {"extra"}} {
		if err := run(context.Background(), args, &out, &out); !errors.Is(err, errUsage) {
			t.Errorf("%v: %v; want a usage error", args, err)
		}
	}
}
