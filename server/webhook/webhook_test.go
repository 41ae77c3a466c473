package webhook

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/flagpole/flagpole/server"
)

// TestGuardRefusesMetadata: the cloud metadata address is refused at send
// time by the dialer, before any connection, unless allow-listed; loopback
// and private addresses pass.
func TestGuardRefusesMetadata(t *testing.T) {
	s := Subscription{ID: "wh_1", URL: "http://169.254.169.254/latest/meta-data/", Secret: "k"}
	_, err := Send(context.Background(), NewClient(Guard{}, time.Second), s, "dlv_1", KindFlag, []byte("{}"))
	if err == nil || !strings.Contains(err.Error(), "169.254.169.254 is refused") {
		t.Errorf("Send to the metadata address: %v, want refused", err)
	}
	for _, ip := range []string{"169.254.169.254", "fe80::1", "::ffff:169.254.169.254", "fd00:ec2::254", "100.100.100.200", "0.0.0.0"} {
		if err := (Guard{}).Check(netip.MustParseAddr(ip)); err == nil {
			t.Errorf("Check(%s) passed, want refused", ip)
		}
	}
	for _, ip := range []string{"127.0.0.1", "::1", "10.1.2.3", "192.168.1.10", "172.16.0.1", "93.184.216.34"} {
		if err := (Guard{}).Check(netip.MustParseAddr(ip)); err != nil {
			t.Errorf("Check(%s) = %v, want allowed", ip, err)
		}
	}
	allow := Guard{Allow: []netip.Prefix{netip.MustParsePrefix("169.254.169.254/32")}}
	if err := allow.Check(netip.MustParseAddr("169.254.169.254")); err != nil {
		t.Errorf("allow-listed Check = %v", err)
	}
	if err := allow.Check(netip.MustParseAddr("169.254.1.1")); err == nil {
		t.Error("Check of a link-local address outside the allow-list passed")
	}
}

// TestGuardChecksResolvedAddress: the check runs on the address a name
// resolves to, so a name cannot smuggle a refused address past it. Here
// loopback is refused for the test by an extra blocked prefix, and the
// name "localhost" is sent to.
func TestGuardChecksResolvedAddress(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	saved := Blocked
	Blocked = append(Blocked, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
	defer func() { Blocked = saved }()
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	_, err := Send(context.Background(), NewClient(Guard{}, time.Second), Subscription{URL: url, Secret: "k"}, "d", KindFlag, nil)
	if err == nil || !strings.Contains(err.Error(), "is refused") {
		t.Errorf("Send to a name resolving to a refused address: %v, want refused", err)
	}
}

func TestSignVerify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"id":"dlv_1"}`)
	h := Sign("secret", now, body)
	if !strings.HasPrefix(h, "t=1700000000,v1=") {
		t.Fatalf("Sign = %s", h)
	}
	if err := Verify("secret", h, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("Verify = %v", err)
	}
	if err := Verify("other", h, body, now, 5*time.Minute); err == nil {
		t.Error("Verify with another secret passed")
	}
	if err := Verify("secret", h, []byte(`{"id":"dlv_2"}`), now, 5*time.Minute); err == nil {
		t.Error("Verify of another body passed")
	}
	if err := Verify("secret", h, body, now.Add(10*time.Minute), 5*time.Minute); err == nil || !strings.Contains(err.Error(), "beyond") {
		t.Errorf("Verify of a replay 10 minutes later = %v, want refused", err)
	}
}

func TestKindOf(t *testing.T) {
	for resource, want := range map[string]string{"flag": KindFlag, "config": KindConfig, "token": KindToken, "user": KindUser,
		"environment": KindEnvironment, "segment": KindSegment, "webhook": KindWebhook, "session": ""} {
		if got := KindOf(auditEntry(resource, resource+".x")); got != want {
			t.Errorf("KindOf(%s) = %q, want %q", resource, got, want)
		}
	}
	if got := KindOf(auditEntry("release", KindReleaseRolled)); got != KindReleaseRolled {
		t.Errorf("KindOf(release rolled back) = %q", got)
	}
	// A plan's own entries (server/service) map to release events; the
	// configuration changes of its steps stay config.changed.
	for _, c := range []struct{ resource, action, want string }{
		{"release_plan", "release.start", KindReleaseStep},
		{"release_plan", "release.advance", KindReleaseStep},
		{"release_plan", "release.complete", KindReleaseDone},
		{"release_plan", "release.rollback", KindReleaseRolled},
		{"release_plan", "release.create", ""},
		{"release_plan", "release.pause", ""},
		{"release_plan", "release.cancel", ""},
		{"config", "release.step", KindConfig},
		{"config", "release.rollback", KindConfig},
		{"release", "release.x", ""},
	} {
		if got := KindOf(auditEntry(c.resource, c.action)); got != c.want {
			t.Errorf("KindOf(%s %s) = %q, want %q", c.resource, c.action, got, c.want)
		}
	}
}

func auditEntry(resource, action string) server.AuditEntry {
	return server.AuditEntry{Resource: resource, Action: action}
}

// TestBodyCarriesComment: the JSON event carries the entry's comment, and
// Slack's text quotes it with its markup characters escaped.
func TestBodyCarriesComment(t *testing.T) {
	e := server.AuditEntry{Actor: server.Actor{Kind: "user", Name: "ada", Source: "ui"}, Action: "config.set_enabled",
		Resource: "config", Key: "beta", Environment: "production", Comment: "INC-7 <fixed> & verified\nby QA"}
	b, err := body(Subscription{ID: "wh_1"}, "dlv_1", KindConfig, e)
	if err != nil || !strings.Contains(string(b), `"comment":"INC-7 \u003cfixed\u003e \u0026 verified\nby QA"`) {
		t.Errorf("JSON body %s (%v), want the comment", b, err)
	}
	b, err = body(Subscription{ID: "wh_2", Slack: true}, "dlv_2", KindConfig, e)
	if err != nil || !strings.Contains(string(b), `\n\u003e INC-7 \u0026lt;fixed\u0026gt; \u0026amp; verified\n\u003e by QA`) {
		t.Errorf("Slack body %s (%v), want the comment quoted and escaped", b, err)
	}
}
