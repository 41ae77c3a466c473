package cli_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flagpole/flagpole/server/testkit"
	"github.com/flagpole/flagpole/server/webhook"
)

// serveProcess runs `flagpole serve` on dbPath and returns it with its
// gRPC address; the caller ends it (the test kills it with SIGKILL).
func serveProcess(t *testing.T, dbPath string, extra ...string) (*exec.Cmd, *server) {
	t.Helper()
	cmd := exec.Command(flagpoleBin(t), append([]string{"serve", "--db", dbPath,
		"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--log-format", "json"}, extra...)...)
	cmd.Env = append(cleanEnv(), "FLAGPOLE_ADMIN_TOKEN="+adminToken)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{log: &testkit.Buffer{}}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.log.Write(append(sc.Bytes(), '\n'))
			var rec struct{ Msg, GRPC string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "flagpole serving" {
				addrc <- rec.GRPC
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", s.log.String())
		}
	})
	select {
	case s.addr = <-addrc:
	case <-time.After(30 * time.Second):
		t.Fatalf("flagpole serve did not report its address; log:\n%s", s.log.String())
	}
	return cmd, s
}

// countingReceiver counts deliveries by id and checks their signatures.
type countingReceiver struct {
	mu     sync.Mutex
	secret string
	ids    map[string]int
	bad    []string
}

func (c *countingReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := webhook.Verify(c.secret, r.Header.Get(webhook.SignatureHeader), b, time.Now(), 5*time.Minute); err != nil {
		c.bad = append(c.bad, err.Error())
	}
	var ev webhook.Event
	_ = json.Unmarshal(b, &ev)
	if ev.ID != r.Header.Get("Flagpole-Delivery") {
		c.bad = append(c.bad, "body id "+ev.ID+" differs from header")
	}
	c.ids[ev.ID]++
}

func (c *countingReceiver) snapshot() (map[string]int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := map[string]int{}
	for k, v := range c.ids {
		ids[k] = v
	}
	return ids, append([]string(nil), c.bad...)
}

type deliveryJSON struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Attempts int    `json:"attempts"`
}

// TestWebhookKilledServerDeliversAfterRestart commits changes while the
// receiver is down, kills the server with SIGKILL once every delivery has
// failed an attempt (committed, not delivered), starts the receiver and
// the server again on the same database, and counts ids at the receiver:
// each delivery arrives exactly once.
func TestWebhookKilledServerDeliversAfterRestart(t *testing.T) {
	t.Parallel()
	dbPath := filepath.Join(t.TempDir(), "flagpole.db")
	flags := []string{"--webhook-backoff", "300ms", "--webhook-attempts", "50"}
	// A port nobody listens on yet: the receiver is down.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	cmd, s := serveProcess(t, dbPath, flags...)
	out := s.ok(t, "webhook", "create", "http://"+addr+"/hook", "--event", "flag.changed,config.changed")
	lines := strings.Fields(out)
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "wh_") || !strings.HasPrefix(lines[1], "whsec_") {
		t.Fatalf("webhook create printed %q, want id and secret", out)
	}
	rec := &countingReceiver{secret: lines[1], ids: map[string]int{}}
	const flags0 = 5
	for i := range flags0 {
		key := "killed-" + string(rune('a'+i))
		s.ok(t, "flag", "create", key, "--type", "boolean")
		s.ok(t, "flag", "enable", key, "--env", "development")
	}
	var before []deliveryJSON
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.json(t, &before, "webhook", "deliveries")
		tried := 0
		for _, d := range before {
			if d.State == "pending" && d.Attempts >= 1 {
				tried++
			}
		}
		if len(before) == 2*flags0 && tried == len(before) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries before the kill: %+v", before)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("receiver on %s: %v", addr, err)
	}
	hs := &http.Server{Handler: rec}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	_, s = serveProcess(t, dbPath, flags...)
	deadline = time.Now().Add(30 * time.Second)
	for {
		var after []deliveryJSON
		s.json(t, &after, "webhook", "deliveries", "--state", "delivered")
		if len(after) == len(before) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart %d of %d delivered", len(after), len(before))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // room for a duplicate to show up
	ids, bad := rec.snapshot()
	if len(bad) > 0 {
		t.Errorf("receiver refused: %v", bad)
	}
	if len(ids) != len(before) {
		t.Errorf("receiver got %d distinct ids, want %d", len(ids), len(before))
	}
	for _, d := range before {
		if ids[d.ID] != 1 {
			t.Errorf("delivery %s arrived %d times, want exactly once", d.ID, ids[d.ID])
		}
	}
	t.Logf("%d deliveries committed before SIGKILL, each delivered once after the restart", len(before))
	failed := s.ok(t, "webhook", "deliveries", "--failed")
	if strings.Count(failed, "\n") != 1 {
		t.Errorf("webhook deliveries --failed printed\n%s\nwant only the header", failed)
	}
}
