package daemon_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/testkit"
	"github.com/flagpole/flagpole/server/webhook"
)

// TestChangeCommentsEndToEnd: over the real server, a change's comment
// travels in the x-flagpole-comment metadata (gRPC) or header (HTTP),
// percent-encoded; it is stored in the audit entry, listed (also by actor)
// and delivered with the webhook event. Production set to require comments
// refuses a change without one on both transports, as InvalidArgument / 400
// naming the field comment and the environment; a bad comment is refused
// the same way before anything runs.
func TestChangeCommentsEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, conn := webhookServerConn(t, webhook.Options{Backoff: 20 * time.Millisecond})
	c, hooks := clientsOf(conn), pb.NewWebhookServiceClient(conn)
	rcv := newReceiver(t, nil)
	createWebhook(t, hooks, rcv, &pb.CreateWebhookRequest{Events: []string{webhook.KindConfig}})
	commented := func(comment string) context.Context {
		return metadata.AppendToOutgoingContext(ctx, server.CommentHeader, url.PathEscape(comment))
	}

	testkit.Must(c.flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "checkout", Type: "boolean"}}))(t)
	prod := testkit.Must(c.envs.GetEnvironment(ctx, &pb.GetEnvironmentRequest{Name: "production"}))(t).GetEnvironment()
	prod.RequireComment = true
	_, err := c.envs.UpdateEnvironment(ctx, &pb.UpdateEnvironmentRequest{Environment: prod})
	wantCommentRefused(t, "requiring comments without one", err, `"production"`)
	got := testkit.Must(c.envs.UpdateEnvironment(commented("SOX: every production change says why"), &pb.UpdateEnvironmentRequest{Environment: prod}))(t)
	if !got.GetEnvironment().GetRequireComment() {
		t.Fatalf("UpdateEnvironment returned %v, want require_comment set", got.GetEnvironment())
	}

	_, err = c.flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "checkout", Environment: "production", Enabled: true})
	wantCommentRefused(t, "gRPC toggle without a comment", err, `"production"`)
	_, err = c.flags.SetEnabled(commented(strings.Repeat("x", server.MaxCommentLength+1)), &pb.SetEnabledRequest{FlagKey: "checkout", Environment: "production", Enabled: true})
	wantCommentRefused(t, "gRPC toggle with a comment too long", err, "the limit is 1000")
	const why = "INC-4711: ramp 50% — café ✓"
	testkit.Must(c.flags.SetEnabled(commented(why), &pb.SetEnabledRequest{FlagKey: "checkout", Environment: "production", Enabled: true}))(t)
	testkit.Must(c.flags.SetEnabled(ctx, &pb.SetEnabledRequest{FlagKey: "checkout", Environment: "staging", Enabled: true}))(t)

	// HTTP: the same header, the same refusal.
	base := "http://" + srv.HTTPAddr().String()
	post := func(comment *string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/api/v1/flags/checkout/environments/production/enabled", strings.NewReader(`{"enabled": false}`))
		req.Header = bearer(testAdminToken)
		req.Header.Set("Content-Type", "application/json")
		if comment != nil {
			req.Header.Set("X-Flagpole-Comment", *comment)
		}
		return doJSON(t, req)
	}
	code, body := post(nil)
	if code != 400 || !strings.Contains(body["message"].(string), `"production" requires a comment`) || !strings.Contains(string(mustJSON(body)), `"field":"comment"`) {
		t.Errorf("HTTP toggle without a comment: %d %v, want 400 naming field comment and production", code, body)
	}
	raw := "ramp to 50%"
	if code, body = post(&raw); code != 400 || !strings.Contains(body["message"].(string), "percent-encoded") {
		t.Errorf("HTTP toggle with an unencoded %%: %d %v, want 400 saying percent-encoded", code, body)
	}
	const rollback = "rollback: errors up"
	enc := url.PathEscape(rollback)
	if code, body = post(&enc); code != 200 {
		t.Fatalf("HTTP toggle with a comment: %d %v", code, body)
	}

	entries := testkit.Must(c.audit.ListAuditEntries(ctx, &pb.ListAuditEntriesRequest{FlagKey: "checkout", Environment: "production"}))(t).GetEntries()
	if len(entries) != 2 || entries[0].GetComment() != rollback || entries[1].GetComment() != why {
		t.Fatalf("production entries of checkout: %v, want the HTTP then the gRPC change with their comments", entries)
	}
	staging := testkit.Must(c.audit.ListAuditEntries(ctx, &pb.ListAuditEntriesRequest{FlagKey: "checkout", Environment: "staging"}))(t).GetEntries()
	if len(staging) != 1 || staging[0].GetComment() != "" {
		t.Errorf("staging entries: %v, want one without a comment", staging)
	}

	// The actor filter, on the server: the admin token made every change
	// here; nobody else made any.
	if n := len(testkit.Must(c.audit.ListAuditEntries(ctx, &pb.ListAuditEntriesRequest{Actor: "admin"}))(t).GetEntries()); n < 5 {
		t.Errorf("entries by actor admin: %d, want at least 5", n)
	}
	if e := testkit.Must(c.audit.ListAuditEntries(ctx, &pb.ListAuditEntriesRequest{Actor: "nobody"}))(t).GetEntries(); len(e) != 0 {
		t.Errorf("entries by actor nobody: %v, want none", e)
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/audit?actor=admin&environment=production&flagKey=checkout", nil)
	req.Header = bearer(testAdminToken)
	if code, body := doJSON(t, req); code != 200 || len(body["entries"].([]any)) != 2 ||
		body["entries"].([]any)[0].(map[string]any)["comment"] != rollback {
		t.Errorf("GET /api/v1/audit?actor=admin: %d %v, want the 2 production entries, newest with its comment", code, body)
	}

	// Token, user and webhook changes keep their comments too.
	testkit.Must(pb.NewTokenServiceClient(conn).CreateToken(commented("for the deploy job"), &pb.CreateTokenRequest{Name: "deploy", Scope: "ci", Environments: []string{"staging"}}))(t)
	if e := testkit.Must(c.audit.ListAuditEntries(ctx, &pb.ListAuditEntriesRequest{Resource: "token", Key: "deploy"}))(t).GetEntries(); len(e) != 1 || e[0].GetComment() != "for the deploy job" {
		t.Errorf("token entries: %v, want token.create with its comment", e)
	}

	// Webhook events carry the comment.
	waitFor(t, "the commented deliveries", func() bool { return len(rcv.requests()) >= 3 })
	comments := map[string]bool{}
	for _, r := range rcv.requests() {
		var ev webhook.Event
		if err := json.Unmarshal(r.body, &ev); err != nil {
			t.Fatal(err)
		}
		comments[ev.Entry.Comment] = true
	}
	if !comments[why] || !comments[rollback] || !comments[""] {
		t.Errorf("webhook events carried comments %v, want %q, %q and none", comments, why, rollback)
	}
}

// wantCommentRefused checks err is InvalidArgument with a field violation
// on "comment" whose text holds want.
func wantCommentRefused(t *testing.T, what string, err error, want string) {
	t.Helper()
	st := status.Convert(err)
	field := ""
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
			field = br.GetFieldViolations()[0].GetField()
		}
	}
	if st.Code() != codes.InvalidArgument || field != "comment" || !strings.Contains(st.Message(), want) {
		t.Errorf("%s: %v (field %q), want InvalidArgument on field comment saying %s", what, err, field, want)
	}
}

func doJSON(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
