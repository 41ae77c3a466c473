package daemon_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/daemon"
	"github.com/flagpole/flagpole/server/grpcapi"
	"github.com/flagpole/flagpole/server/testkit"
	"github.com/flagpole/flagpole/server/webhook"
)

// received is one request a receiver got.
type received struct {
	id, kind, sig string
	body          []byte
	at            time.Time
}

// verify checks a request's signature with the secret the receiver knows
// now: a webhook's first delivery can arrive before CreateWebhook has
// returned its secret to the test.
func (r *receiver) verify(req received) error {
	r.mu.Lock()
	secret := r.secret
	r.mu.Unlock()
	return webhook.Verify(secret, req.sig, req.body, req.at, 5*time.Minute)
}

// receiver is a real HTTP receiver on 127.0.0.1 that verifies signatures
// with the secret it is given and answers with status(n) for its n-th
// request (0-based).
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret string
	got    []received
	status func(n int) int
	block  chan struct{} // when set, requests hang until it closes
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	r := &receiver{status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.block != nil {
			select {
			case <-r.block:
			case <-req.Context().Done():
			}
			return
		}
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.got)
		r.got = append(r.got, received{id: req.Header.Get("Flagpole-Delivery"), kind: req.Header.Get("Flagpole-Event"), body: b,
			sig: req.Header.Get(webhook.SignatureHeader), at: time.Now()})
		code := http.StatusOK
		if r.status != nil {
			code = r.status(n)
		}
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(func() {
		if r.block != nil {
			close(r.block)
		}
		r.srv.Close()
	})
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func webhookServer(t *testing.T, opts webhook.Options) (*daemon.Server, clients, pb.WebhookServiceClient) {
	srv, conn := webhookServerConn(t, opts)
	return srv, clientsOf(conn), pb.NewWebhookServiceClient(conn)
}

func webhookServerConn(t *testing.T, opts webhook.Options) (*daemon.Server, *grpc.ClientConn) {
	t.Helper()
	cfg := config(filepath.Join(t.TempDir(), "flagpole.db"))
	opts.Poll = 20 * time.Millisecond
	cfg.Webhooks = opts
	srv := daemon.New(cfg)
	return srv, start(t, srv)
}

func createWebhook(t *testing.T, hooks pb.WebhookServiceClient, r *receiver, req *pb.CreateWebhookRequest) *pb.Webhook {
	t.Helper()
	req.Url = r.srv.URL + "/hook"
	res := testkit.Must(hooks.CreateWebhook(context.Background(), req))(t)
	r.mu.Lock()
	r.secret = res.GetSecret()
	r.mu.Unlock()
	if !strings.HasPrefix(res.GetSecret(), "whsec_") {
		t.Fatalf("secret %q", res.GetSecret())
	}
	return res.GetWebhook()
}

// TestWebhooksEndToEnd makes a change of every kind and checks that a
// real receiver gets each one, signed, with its audit entry; that an
// environment filter and Slack mode shape what other receivers get.
func TestWebhooksEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, conn := webhookServerConn(t, webhook.Options{Backoff: 20 * time.Millisecond})
	c, hooks := clientsOf(conn), pb.NewWebhookServiceClient(conn)
	all, staging, slack := newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)
	createWebhook(t, hooks, all, &pb.CreateWebhookRequest{Events: webhook.Kinds})
	createWebhook(t, hooks, staging, &pb.CreateWebhookRequest{Events: []string{webhook.KindConfig, webhook.KindFlag}, Environments: []string{"staging"}})
	createWebhook(t, hooks, slack, &pb.CreateWebhookRequest{Events: []string{webhook.KindConfig}, Slack: true})

	testkit.Must(c.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "checkout", Type: "boolean"}}))(t)
	testkit.Must(c.flags.UpdateFlag(ctx, &pb.UpdateFlagRequest{Flag: &syncpb.Flag{Key: "checkout", Type: "boolean", Description: "new"}}))(t)
	testkit.Must(c.flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "checkout", Environment: "staging", Enabled: true}))(t)
	testkit.Must(c.flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "checkout", Environment: "development", Enabled: true}))(t)
	testkit.Must(c.segs.CreateSegment(ctx, &pb.CreateSegmentRequest{Segment: &syncpb.Segment{Key: "staff", Match: "any"}}))(t)
	testkit.Must(c.envs.CreateEnvironment(ctx, &pb.CreateEnvironmentRequest{Environment: &pb.Environment{Name: "qa"}}))(t)
	tokens, users := pb.NewTokenServiceClient(conn), pb.NewUserServiceClient(conn)
	testkit.Must(tokens.CreateToken(ctx, &pb.CreateTokenRequest{Name: "deploy", Scope: "ci", Environments: []string{"staging"}}))(t)
	testkit.Must(users.CreateUser(ctx, &pb.CreateUserRequest{Username: "vi", Password: "a-long-password-1", Role: "editor"}))(t)
	for _, kind := range []string{webhook.KindReleaseStep, webhook.KindReleaseDone, webhook.KindReleaseRolled} {
		if err := srv.Service.AuditRelease(ctx, kind, "checkout", "staging", map[string]int{"percent": 10}, map[string]int{"percent": 50}); err != nil {
			t.Fatalf("AuditRelease(%s): %v", kind, err)
		}
	}
	testkit.Must(c.flags.ArchiveFlag(ctx, &pb.ArchiveFlagRequest{Key: "checkout", Archived: true}))(t)
	testkit.Must(c.flags.DeleteFlag(ctx, &pb.DeleteFlagRequest{Key: "checkout"}))(t)

	wantActions := []string{"flag.create", "flag.update", "config.set_enabled", "config.set_enabled", "segment.create",
		"environment.create", "token.create", "user.create", "release.step", "release.completed", "release.rolled_back",
		"flag.archive", "flag.delete"}
	waitFor(t, "every change at the receiver", func() bool { return len(all.requests()) >= len(wantActions)+3 }) // and 3 webhook.create
	kinds := map[string]bool{}
	var actions []string
	for _, r := range all.requests() {
		if err := all.verify(r); err != nil {
			t.Errorf("delivery %s: %v", r.id, err)
		}
		var ev webhook.Event
		if err := json.Unmarshal(r.body, &ev); err != nil {
			t.Fatalf("body %s: %v", r.body, err)
		}
		if ev.ID != r.id || ev.Kind != r.kind || ev.Entry.Actor.Name == "" || ev.Entry.Actor.Source == "" {
			t.Errorf("event %+v with headers id %s kind %s", ev, r.id, r.kind)
		}
		if ev.Entry.Action == "flag.update" && (string(ev.Entry.Before) == "null" || string(ev.Entry.After) == "null") {
			t.Errorf("flag.update without before and after: %s", r.body)
		}
		kinds[ev.Kind] = true
		actions = append(actions, ev.Entry.Action)
	}
	for _, k := range []string{webhook.KindFlag, webhook.KindConfig, webhook.KindSegment, webhook.KindEnvironment, webhook.KindToken,
		webhook.KindUser, webhook.KindWebhook, webhook.KindReleaseStep, webhook.KindReleaseDone, webhook.KindReleaseRolled} {
		if !kinds[k] {
			t.Errorf("no %s event delivered; got kinds %v", k, kinds)
		}
	}
	for _, a := range wantActions {
		if !slices.Contains(actions, a) {
			t.Errorf("no event of action %s; got %v", a, actions)
		}
	}

	// The staging webhook: flag changes (no environment) and staging configs only.
	waitFor(t, "the staging receiver", func() bool { return len(staging.requests()) >= 5 })
	time.Sleep(100 * time.Millisecond)
	var envs []string
	for _, r := range staging.requests() {
		var ev webhook.Event
		_ = json.Unmarshal(r.body, &ev)
		envs = append(envs, ev.Entry.Action+"@"+ev.Entry.Environment)
	}
	sort.Strings(envs)
	want := []string{"config.set_enabled@staging", "flag.archive@", "flag.create@", "flag.delete@", "flag.update@"}
	if !slices.Equal(envs, want) {
		t.Errorf("staging receiver got %v, want %v", envs, want)
	}
	waitFor(t, "the slack receiver", func() bool { return len(slack.requests()) >= 2 })
	var text struct{ Text string }
	if err := json.Unmarshal(slack.requests()[0].body, &text); err != nil || !strings.Contains(text.Text, "config.set_enabled `checkout`") {
		t.Errorf("slack body %s (%v), want a text naming the change", slack.requests()[0].body, err)
	}
	waitFor(t, "no pending deliveries", func() bool {
		ds := testkit.Must(hooks.ListDeliveries(ctx, &pb.ListDeliveriesRequest{State: "pending"}))(t)
		return len(ds.GetDeliveries()) == 0
	})
}

// TestWebhookRetried: a receiver answering 500 then 200 gets the same
// delivery id twice; the delivery ends delivered after 2 attempts.
func TestWebhookRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, c, hooks := webhookServer(t, webhook.Options{Backoff: 50 * time.Millisecond})
	r := newReceiver(t, func(n int) int {
		if n == 0 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	createWebhook(t, hooks, r, &pb.CreateWebhookRequest{Events: []string{webhook.KindFlag}})
	testkit.Must(c.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "retry-me", Type: "boolean"}}))(t)
	waitFor(t, "two attempts", func() bool { return len(r.requests()) >= 2 })
	got := r.requests()
	if got[0].id != got[1].id || r.verify(got[0]) != nil || r.verify(got[1]) != nil {
		t.Errorf("attempts %+v, want the same id twice, both signed", got)
	}
	waitFor(t, "delivered", func() bool {
		ds := testkit.Must(hooks.ListDeliveries(ctx, &pb.ListDeliveriesRequest{}))(t).GetDeliveries()
		return len(ds) == 1 && ds[0].GetState() == "delivered" && ds[0].GetAttempts() == 2 && ds[0].GetLastStatus() == 200
	})
}

// TestWebhookFailedAfterAttempts: a receiver that always fails gets the
// configured attempts, then the delivery is failed, listed as such and
// counted by the metric.
func TestWebhookFailedAfterAttempts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, c, hooks := webhookServer(t, webhook.Options{Attempts: 3, Backoff: 10 * time.Millisecond})
	r := newReceiver(t, func(int) int { return http.StatusServiceUnavailable })
	createWebhook(t, hooks, r, &pb.CreateWebhookRequest{Events: []string{webhook.KindFlag}})
	testkit.Must(c.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "doomed", Type: "boolean"}}))(t)
	waitFor(t, "a failed delivery", func() bool {
		return len(testkit.Must(hooks.ListDeliveries(ctx, &pb.ListDeliveriesRequest{State: "failed"}))(t).GetDeliveries()) == 1
	})
	d := testkit.Must(hooks.ListDeliveries(ctx, &pb.ListDeliveriesRequest{State: "failed"}))(t).GetDeliveries()[0]
	if d.GetAttempts() != 3 || d.GetLastStatus() != 503 || !strings.Contains(d.GetLastError(), "503") || len(r.requests()) != 3 {
		t.Errorf("failed delivery %+v after %d requests, want 3 attempts ending in 503", d, len(r.requests()))
	}
	metrics := scrape(t, "http://"+srv.HTTPAddr().String()+"/metrics")
	for _, want := range []string{`flagpole_webhook_deliveries{state="failed"} 1`, `flagpole_webhook_delivery_attempts_total{result="failed"} 1`,
		`flagpole_webhook_delivery_attempts_total{result="retry"} 2`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestWebhookHangingReceiverDoesNotDelayChanges times n changes with no
// webhook, then with a receiver that never answers (each attempt waits out
// the 2s client timeout). Sends happen outside the changes' transactions,
// so no change waits for them; the numbers are logged.
func TestWebhookHangingReceiverDoesNotDelayChanges(t *testing.T) {
	ctx := context.Background()
	_, c, hooks := webhookServer(t, webhook.Options{Timeout: 2 * time.Second, Backoff: 10 * time.Millisecond})
	testkit.Must(c.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "toggle", Type: "boolean"}}))(t)
	const n = 100
	toggle := func() (total, worst time.Duration) {
		for i := range n {
			start := time.Now()
			testkit.Must(c.flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "toggle", Environment: "development", Enabled: i%2 == 0}))(t)
			d := time.Since(start)
			total += d
			worst = max(worst, d)
		}
		return total, worst
	}
	toggle() // warm up: connections, statement caches
	baseTotal, baseWorst := toggle()
	r := newReceiver(t, nil)
	r.block = make(chan struct{})
	createWebhook(t, hooks, r, &pb.CreateWebhookRequest{Events: []string{webhook.KindConfig}})
	hangTotal, hangWorst := toggle()
	t.Logf("%d changes: without webhook %s total (%s per change, worst %s); with a hanging receiver %s total (%s per change, worst %s)",
		n, baseTotal, baseTotal/n, baseWorst, hangTotal, hangTotal/n, hangWorst)
	// A change that waited for a send would take at least the 2s timeout.
	if hangWorst >= time.Second {
		t.Errorf("worst change with a hanging receiver took %s, want well under the 2s send timeout", hangWorst)
	}
}

// TestWebhookCreateRefusals: a metadata address is refused at creation
// unless allow-listed; bad kinds name the field; non-admins are denied.
func TestWebhookCreateRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, conn := webhookServerConn(t, webhook.Options{})
	hooks := pb.NewWebhookServiceClient(conn)
	_, err := hooks.CreateWebhook(ctx, &pb.CreateWebhookRequest{Url: "http://169.254.169.254/latest/meta-data/", Events: []string{webhook.KindFlag}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "169.254.169.254 is refused") {
		t.Errorf("create to the metadata address: %v, want InvalidArgument naming it", err)
	}
	_, err = hooks.CreateWebhook(ctx, &pb.CreateWebhookRequest{Url: "http://127.0.0.1:9/", Events: []string{"flag.exploded"}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "events") {
		t.Errorf("create with an unknown kind: %v, want InvalidArgument on events", err)
	}
	secret := testkit.Must(pb.NewTokenServiceClient(conn).CreateToken(ctx, &pb.CreateTokenRequest{Name: "ci", Scope: "ci", Environments: []string{"staging"}}))(t).GetSecret()
	ci, err := grpc.NewClient(conn.Target(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(grpcapi.TokenCredentials{Token: secret, Insecure: true}))
	if err != nil {
		t.Fatal(err)
	}
	defer ci.Close()
	if _, err := pb.NewWebhookServiceClient(ci).ListWebhooks(ctx, &pb.ListWebhooksRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("ListWebhooks with a ci token: %v, want PermissionDenied", err)
	}

	cfg := config(filepath.Join(t.TempDir(), "flagpole.db"))
	cfg.WebhookAllow = []netip.Prefix{netip.MustParsePrefix("169.254.169.254/32")}
	allowed := pb.NewWebhookServiceClient(start(t, daemon.New(cfg)))
	if _, err := allowed.CreateWebhook(ctx, &pb.CreateWebhookRequest{Url: "http://169.254.169.254/hook", Events: []string{webhook.KindFlag}}); err != nil {
		t.Errorf("create to an allow-listed address: %v", err)
	}
}
