package daemon_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server/httpapi"
)

// TestEditorCannotChangeProtectedThroughSharedObjects: an editor has no
// rights on protected production, so a change to a shared object (a flag's
// definition, a segment) that would alter what production serves is refused
// with 403 and nothing is written; the same kind of change that leaves
// production's results alone goes through. Over the real server, as the UI
// makes it (session cookie and CSRF token).
func TestEditorCannotChangeProtectedThroughSharedObjects(t *testing.T) {
	t.Parallel()
	f := startAuthFixture(t)
	base := "http://" + f.srv.HTTPAddr().String()
	ctx := context.Background()
	flags := pb.NewFlagServiceClient(f.admin)
	if _, err := pb.NewUserServiceClient(f.admin).CreateUser(ctx, &pb.CreateUserRequest{Username: "ed", Password: "editor-password", Role: "editor"}); err != nil {
		t.Fatal(err)
	}
	// banner serves "hello" in production; variant "spare" is served nowhere.
	str := structpb.NewStringValue
	if _, err := flags.CreateFlag(ctx, &pb.CreateFlagRequest{Flag: &syncpb.Flag{Key: "banner", Type: "string",
		Variants: []*syncpb.Variant{{Key: "a", Value: str("hello")}, {Key: "off", Value: str("none")}, {Key: "spare", Value: str("unused")}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pb.NewSegmentServiceClient(f.admin).CreateSegment(ctx, &pb.CreateSegmentRequest{Segment: &syncpb.Segment{Key: "staff", Included: []string{"alice"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pb.NewSegmentServiceClient(f.admin).CreateSegment(ctx, &pb.CreateSegmentRequest{Segment: &syncpb.Segment{Key: "testers", Included: []string{"tina"}}}); err != nil {
		t.Fatal(err)
	}
	// production: banner enabled, staff get "a", everyone else "off".
	_, err := flags.ReplaceFlagConfig(ctx, &pb.ReplaceFlagConfigRequest{Config: &syncpb.FlagConfig{
		FlagKey: "banner", Environment: "production", Enabled: true, OffVariant: "off",
		Rules: []*syncpb.Rule{{Conditions: []*syncpb.Condition{{Attribute: "targetingKey", Operator: "in_segment", Values: []string{"staff"}}},
			Serve: &syncpb.Serve{Kind: &syncpb.Serve_Variant{Variant: "a"}}}},
		DefaultServe: &syncpb.Serve{Kind: &syncpb.Serve_Variant{Variant: "off"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	eval := func(key string) *pb.Evaluation {
		t.Helper()
		r, err := pb.NewEvaluationServiceClient(f.admin).Evaluate(ctx, &pb.EvaluateRequest{Environment: "production", FlagKey: "banner", TargetingKey: key})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetEvaluation()
	}
	wantServed := func(step string) {
		t.Helper()
		if v := eval("alice").GetValue().GetStringValue(); v != "hello" {
			t.Fatalf("%s: production serves alice %q, want hello", step, v)
		}
		if v := eval("bob").GetValue().GetStringValue(); v != "none" {
			t.Fatalf("%s: production serves bob %q, want none", step, v)
		}
	}
	wantServed("before")

	ed, csrf, code := signIn(t, base, "ed", "editor-password")
	if code != 200 {
		t.Fatalf("sign-in: %d", code)
	}
	send := func(method, path, body string) (int, string) {
		t.Helper()
		var r io.Reader
		if body != "" {
			r = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, base+path, r)
		req.Header.Set(httpapi.CSRFHeader, csrf)
		resp, err := ed.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	refused := []struct{ name, method, path, body string }{
		{"served variant's value", "PUT", "/api/v1/flags/banner",
			`{"key":"banner","type":"string","variants":[{"key":"a","value":"EVIL"},{"key":"off","value":"none"},{"key":"spare","value":"unused"}]}`},
		{"off variant's value", "PUT", "/api/v1/flags/banner",
			`{"key":"banner","type":"string","variants":[{"key":"a","value":"hello"},{"key":"off","value":"EVIL"},{"key":"spare","value":"unused"}]}`},
		{"archive", "POST", "/api/v1/flags/banner/archive", `{"archived":true}`},
		{"forced archive", "POST", "/api/v1/flags/banner/archive", `{"archived":true,"force":true}`},
		{"delete", "DELETE", "/api/v1/flags/banner", ""},
		{"forced delete", "DELETE", "/api/v1/flags/banner?force=true", ""},
		{"segment used in production", "PUT", "/api/v1/segments/staff", `{"key":"staff","included":["alice","mallory"]}`},
		{"apply with a production configuration", "POST", "/api/v1/apply",
			`{"changes":[{"replaceConfig":{"flagKey":"banner","environment":"staging","enabled":true}},{"replaceConfig":{"flagKey":"banner","environment":"production","enabled":false}}]}`},
		{"apply of a served variant's value", "POST", "/api/v1/apply",
			`{"changes":[{"replaceConfig":{"flagKey":"banner","environment":"staging","enabled":true}},{"updateFlag":{"key":"banner","type":"string","variants":[{"key":"a","value":"EVIL"},{"key":"off","value":"none"},{"key":"spare","value":"unused"}]}}]}`},
	}
	for _, c := range refused {
		got, body := send(c.method, c.path, c.body)
		if got != 403 || !strings.Contains(body, `protected environment \"production\"`) {
			t.Errorf("%s: %d %s, want 403 naming protected production", c.name, got, body)
		}
		wantServed(c.name)
	}
	// A refused set keeps none of its items, the staging ones included.
	if got, err := flags.GetFlagConfig(ctx, &pb.GetFlagConfigRequest{FlagKey: "banner", Environment: "staging"}); err != nil || got.GetConfig().GetEnabled() {
		t.Errorf("staging after refused apply sets: %v, %v; want disabled", got, err)
	}
	if e := eval("mallory").GetValue().GetStringValue(); e != "none" {
		t.Errorf("mallory served %q after a refused segment change, want none", e)
	}
	// What leaves production's results alone is an editor's to change.
	allowed := []struct{ name, method, path, body string }{
		{"description and an unserved variant", "PUT", "/api/v1/flags/banner",
			`{"key":"banner","type":"string","description":"top banner","variants":[{"key":"a","value":"hello"},{"key":"off","value":"none"},{"key":"spare","value":"changed"}]}`},
		{"segment production does not use", "PUT", "/api/v1/segments/testers", `{"key":"testers","included":["tina","tom"]}`},
		{"segment's description", "PUT", "/api/v1/segments/staff", `{"key":"staff","description":"employees","included":["alice"]}`},
	}
	for _, c := range allowed {
		if got, body := send(c.method, c.path, c.body); got != 200 {
			t.Errorf("%s: %d %s, want 200", c.name, got, body)
		}
		wantServed(c.name)
	}
	// The admin may: the rights of production.
	if _, err := flags.ArchiveFlag(ctx, &pb.ArchiveFlagRequest{Key: "banner", Archived: true, Force: true}); err != nil {
		t.Fatalf("admin archives: %v", err)
	}
}
