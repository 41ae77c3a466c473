package cli_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk/openfeature"

	"github.com/flagpole/flagpole/sdk"
	"github.com/flagpole/flagpole/server/testkit"
)

func TestClientsAndWait(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok(t, "flag", "create", "w", "--type", "boolean")
	s.ok(t, "flag", "default", "w", "--env", "production", "--variant", "on")
	sdk1 := s.connectSDK(t, "production", "ok-1")
	sdk2 := s.connectSDK(t, "production", "ok-2")

	r := s.expectCode(t, 0, "flag", "enable", "w", "--env", "production", "--wait=20s")
	if !strings.Contains(r.stdout, "applied by 2/2 instance(s)") {
		t.Errorf("enable --wait output lacks the count:\n%s", r.stdout)
	}
	// --wait returned: both SDKs serve the change without any further wait.
	for _, p := range []*sdk.Provider{sdk1, sdk2} {
		if d := p.BooleanEvaluation(context.Background(), "w", false, openfeature.FlattenedContext{"targetingKey": "u1"}); !d.Value {
			t.Errorf("SDK serves %v right after enable --wait returned, want true", d.Value)
		}
	}
	var cl struct {
		Revision int64 `json:"revision"`
		Clients  []struct {
			InstanceID      string `json:"instanceId"`
			ServiceName     string `json:"serviceName"`
			AppliedRevision int64  `json:"appliedRevision"`
			UpToDate        bool   `json:"upToDate"`
		} `json:"clients"`
	}
	s.json(t, &cl, "clients", "--env", "production")
	if len(cl.Clients) != 2 {
		t.Fatalf("clients --env production = %+v, want 2 instances", cl)
	}
	for _, c := range cl.Clients {
		if !c.UpToDate || c.AppliedRevision != cl.Revision || c.ServiceName != "checkout" {
			t.Errorf("client %+v after --wait, want applied revision %d", c, cl.Revision)
		}
	}
	// -o json keeps stdout one document; the wait report goes to stderr.
	var cfg configJSON
	s.json(t, &cfg, "flag", "rollout", "w", "--env", "production", "--percent", "50", "--wait")

	s.connectStuck(t, "production", "stuck-1")
	r = s.expectCode(t, 4, "flag", "disable", "w", "--env", "production", "--wait=1s")
	if !strings.Contains(r.stderr, "stuck-1") || strings.Contains(r.stderr, "ok-1") {
		t.Errorf("wait timeout should name stuck-1 only:\n%s", r.stderr)
	}
	// The change itself committed: only the wait failed.
	if ev := s.eval(t, "w", "production"); ev["reason"] != "DISABLED" {
		t.Errorf("after the timed-out wait the flag serves %v, want DISABLED", ev)
	}
	// Another environment's instances are not waited for.
	s.expectCode(t, 0, "flag", "enable", "w", "--env", "staging", "--wait=5s")
}

func TestApplyWait(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.connectSDK(t, "production", "svc-1")
	file := writeFile(t, "f.yaml", applyFile)
	r := s.expectCode(t, 0, "apply", "-f", file, "--wait=20s")
	if !strings.Contains(r.stdout, "production: revision") || !strings.Contains(r.stdout, "1/1 instance(s)") {
		t.Errorf("apply --wait output:\n%s", r.stdout)
	}
}

func TestReleaseScript(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.ok(t, "flag", "create", "new-checkout", "--type", "boolean")
	s.ok(t, "flag", "default", "new-checkout", "--env", "production", "--variant", "on")
	s.connectSDK(t, "production", "checkout-1")
	script, err := filepath.Abs("../../../../examples/release/release.sh")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"FLAGPOLE=" + flagpoleBin(t), "FLAGPOLE_ADDR=" + s.addr, "FLAGPOLE_TOKEN=" + adminToken,
		"WAIT=20s", "HEALTH_RETRIES=2", "HEALTH_INTERVAL=0"}

	// A failing health check rolls the release back.
	r := runScript(t, script, append(env, "HEALTH_CMD=false"), "new-checkout", "production")
	if r.code == 0 || !strings.Contains(r.stdout+r.stderr, "rolling back") {
		t.Errorf("release with a failing check: %s", r)
	}
	if ev := s.eval(t, "new-checkout", "production"); ev["reason"] != "DISABLED" {
		t.Errorf("after rollback the flag serves %v, want DISABLED", ev)
	}
	// A passing check leaves it released.
	r = runScript(t, script, append(env, "HEALTH_CMD=true"), "new-checkout", "production")
	if r.code != 0 || !strings.Contains(r.stdout, "1/1 instance(s)") {
		t.Errorf("release with a passing check: %s", r)
	}
	if ev := s.eval(t, "new-checkout", "production"); ev["value"] != true {
		t.Errorf("after release the flag serves %v, want true", ev)
	}
	// Run again on the released flag with a failing check: it was on
	// before this run, so the script reports the failure and leaves it on.
	r = runScript(t, script, append(env, "HEALTH_CMD=false"), "new-checkout", "production")
	if r.code == 0 || strings.Contains(r.stdout, "rolling back") || !strings.Contains(r.stderr, "before this release") {
		t.Errorf("failing check on a flag enabled before the run: %s", r)
	}
	if ev := s.eval(t, "new-checkout", "production"); ev["value"] != true {
		t.Errorf("the flag enabled before the run serves %v, want still true", ev)
	}
}

// runScript runs a shell script with the given environment.
func runScript(t *testing.T, script string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	cmd.Env = append(cleanEnv(), env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// TestQuickstart follows the README quickstart: the example service gated
// by a flag changes behaviour when the CLI flips the flag, with no restart.
func TestQuickstart(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	svcBin := testkit.Binary(t, "github.com/flagpole/flagpole/examples/flagged-service")
	s.ok(t, "flag", "create", "new-checkout", "--type", "boolean", "--description", "New checkout flow")
	s.ok(t, "flag", "default", "new-checkout", "--env", "production", "--variant", "on")

	httpAddr := freePort(t)
	svc := exec.Command(svcBin)
	svc.Env = append(cleanEnv(), "FLAGPOLE_ADDR="+s.addr, "FLAGPOLE_TOKEN="+s.sdkToken(t, "production"),
		"FLAGPOLE_ENV=production", "FLAGPOLE_CACHE="+filepath.Join(t.TempDir(), "flags.cache"), "ADDR="+httpAddr)
	var svcLog testkit.Buffer
	svc.Stdout, svc.Stderr = &svcLog, &svcLog
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = svc.Process.Signal(os.Interrupt)
		_ = svc.Wait()
		if t.Failed() {
			t.Logf("flagged-service log:\n%s", svcLog.String())
		}
	})
	checkout := func() string {
		resp, err := http.Get("http://" + httpAddr + "/checkout?user=alice")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b))
	}
	deadline := time.Now().Add(20 * time.Second)
	for checkout() == "" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := checkout(); got != "old checkout for alice" {
		t.Fatalf("before the release: %q", got)
	}
	r := s.expectCode(t, 0, "flag", "enable", "new-checkout", "--env", "production", "--wait=20s")
	if !strings.Contains(r.stdout, "1/1 instance(s)") {
		t.Errorf("enable --wait: %s", r)
	}
	// --wait returned, so the running service already serves the change.
	if got := checkout(); got != "new checkout for alice" {
		t.Errorf("right after enable --wait: %q", got)
	}
	if out := s.ok(t, "clients", "--env", "production"); !strings.Contains(out, "flagged-service") {
		t.Errorf("clients lacks the service:\n%s", out)
	}
	s.ok(t, "flag", "disable", "new-checkout", "--env", "production", "--wait=20s")
	if got := checkout(); got != "old checkout for alice" {
		t.Errorf("after the kill switch: %q", got)
	}
}
