package auth

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	v1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/sdk/syncpb"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/passhash"
)

func testAuthenticator(t testing.TB, opts ...Option) (*Authenticator, *memStore) {
	t.Helper()
	st := newMemStore()
	opts = append([]Option{WithPasswordParams(passhash.Params{Time: 1, Memory: 64, Threads: 1})}, opts...)
	return New(st, opts...), st
}

var (
	adminUser  = Principal{Kind: server.KindUser, Name: "ada", Role: server.RoleAdmin}
	editorUser = Principal{Kind: server.KindUser, Name: "ed", Role: server.RoleEditor}
	viewerUser = Principal{Kind: server.KindUser, Name: "vi", Role: server.RoleViewer}
	adminTok   = Principal{Kind: server.KindToken, Name: "root", Scope: server.ScopeAdmin}
	ciStaging  = Principal{Kind: server.KindToken, Name: "deploy", Scope: server.ScopeCI, Environments: []string{"staging"}}
	sdkStaging = Principal{Kind: server.KindToken, Name: "svc", Scope: server.ScopeSDK, Environments: []string{"staging"}}
)

func TestAuthorizeMatrix(t *testing.T) {
	a, _ := testAuthenticator(t)
	setEnabled := func(env string) proto.Message {
		return &v1.SetEnabledRequest{FlagKey: "f", Environment: env}
	}
	apply := func(define bool, envs ...string) proto.Message {
		r := &v1.ApplyChangesRequest{}
		if define {
			r.Changes = append(r.Changes, &v1.ApplyChange{Change: &v1.ApplyChange_CreateFlag{CreateFlag: &syncpb.Flag{Key: "f"}}})
		}
		for _, env := range envs {
			r.Changes = append(r.Changes, &v1.ApplyChange{Change: &v1.ApplyChange_ReplaceConfig{
				ReplaceConfig: &syncpb.FlagConfig{FlagKey: "f", Environment: env}}})
		}
		return r
	}
	eval := func(env string) proto.Message { return &v1.EvaluateRequest{FlagKey: "f", Environment: env} }
	tests := []struct {
		name   string
		p      *Principal
		method string
		req    proto.Message
		want   string // "" allowed, else the error code
	}{
		{"nobody reads", nil, v1.FlagService_ListFlags_FullMethodName, &v1.ListFlagsRequest{}, server.EUNAUTHORIZED},
		{"nobody checks health", nil, "/grpc.health.v1.Health/Check", nil, ""},
		{"unknown method", &adminTok, "/flagpole.v1.FlagService/Nope", nil, server.EFORBIDDEN},
		{"viewer reads", &viewerUser, v1.FlagService_ListFlags_FullMethodName, &v1.ListFlagsRequest{}, ""},
		{"viewer toggles", &viewerUser, v1.FlagService_SetEnabled_FullMethodName, setEnabled("staging"), server.EFORBIDDEN},
		{"viewer defines", &viewerUser, v1.FlagService_CreateFlag_FullMethodName, &v1.CreateFlagRequest{}, server.EFORBIDDEN},
		{"editor toggles staging", &editorUser, v1.FlagService_SetEnabled_FullMethodName, setEnabled("staging"), ""},
		{"editor toggles production", &editorUser, v1.FlagService_SetEnabled_FullMethodName, setEnabled("production"), server.EFORBIDDEN},
		{"editor replaces production config", &editorUser, v1.FlagService_ReplaceFlagConfig_FullMethodName,
			&v1.ReplaceFlagConfigRequest{Config: &syncpb.FlagConfig{Environment: "production"}}, server.EFORBIDDEN},
		{"editor toggles unknown env", &editorUser, v1.FlagService_SetEnabled_FullMethodName, setEnabled("nowhere"), ""},
		{"editor defines", &editorUser, v1.FlagService_CreateFlag_FullMethodName, &v1.CreateFlagRequest{}, ""},
		{"editor makes env", &editorUser, v1.EnvironmentService_CreateEnvironment_FullMethodName, &v1.CreateEnvironmentRequest{}, server.EFORBIDDEN},
		{"editor makes token", &editorUser, v1.TokenService_CreateToken_FullMethodName, &v1.CreateTokenRequest{}, server.EFORBIDDEN},
		{"admin toggles production", &adminUser, v1.FlagService_SetEnabled_FullMethodName, setEnabled("production"), ""},
		{"admin makes user", &adminUser, v1.UserService_CreateUser_FullMethodName, &v1.CreateUserRequest{}, ""},
		{"admin token toggles production", &adminTok, v1.FlagService_SetEnabled_FullMethodName, setEnabled("production"), ""},
		{"ci reads", &ciStaging, v1.AuditService_ListAuditEntries_FullMethodName, &v1.ListAuditEntriesRequest{}, ""},
		{"ci toggles its env", &ciStaging, v1.FlagService_SetEnabled_FullMethodName, setEnabled("staging"), ""},
		{"ci rolls out its env", &ciStaging, v1.FlagService_SetRollout_FullMethodName,
			&v1.SetRolloutRequest{Environment: "staging"}, ""},
		{"ci toggles other env", &ciStaging, v1.FlagService_SetEnabled_FullMethodName, setEnabled("production"), server.EFORBIDDEN},
		{"ci toggles no env", &ciStaging, v1.FlagService_SetEnabled_FullMethodName, setEnabled(""), server.EFORBIDDEN},
		{"ci defines", &ciStaging, v1.FlagService_CreateFlag_FullMethodName, &v1.CreateFlagRequest{}, server.EFORBIDDEN},
		{"ci makes token", &ciStaging, v1.TokenService_CreateToken_FullMethodName, &v1.CreateTokenRequest{}, server.EFORBIDDEN},
		{"editor applies to staging", &editorUser, v1.FlagService_ApplyChanges_FullMethodName, apply(true, "staging", "development"), ""},
		{"editor applies to production", &editorUser, v1.FlagService_ApplyChanges_FullMethodName, apply(false, "staging", "production"), server.EFORBIDDEN},
		{"viewer applies", &viewerUser, v1.FlagService_ApplyChanges_FullMethodName, apply(false, "staging"), server.EFORBIDDEN},
		{"admin applies to production", &adminUser, v1.FlagService_ApplyChanges_FullMethodName, apply(true, "staging", "production"), ""},
		{"ci applies configs of its env", &ciStaging, v1.FlagService_ApplyChanges_FullMethodName, apply(false, "staging"), ""},
		{"ci applies to another env too", &ciStaging, v1.FlagService_ApplyChanges_FullMethodName, apply(false, "staging", "production"), server.EFORBIDDEN},
		{"ci applies definitions", &ciStaging, v1.FlagService_ApplyChanges_FullMethodName, apply(true, "staging"), server.EFORBIDDEN},
		{"ci applies an empty set", &ciStaging, v1.FlagService_ApplyChanges_FullMethodName, apply(false), server.EFORBIDDEN},
		{"sdk applies", &sdkStaging, v1.FlagService_ApplyChanges_FullMethodName, apply(false, "staging"), server.EFORBIDDEN},
		{"sdk evaluates its env", &sdkStaging, v1.EvaluationService_Evaluate_FullMethodName, eval("staging"), ""},
		{"sdk evaluates no env", &sdkStaging, v1.EvaluationService_Evaluate_FullMethodName, eval(""), ""},
		{"sdk evaluates other env", &sdkStaging, v1.EvaluationService_Evaluate_FullMethodName, eval("production"), server.EFORBIDDEN},
		{"sdk reads flags", &sdkStaging, v1.FlagService_ListFlags_FullMethodName, &v1.ListFlagsRequest{}, server.EFORBIDDEN},
		{"sdk toggles", &sdkStaging, v1.FlagService_SetEnabled_FullMethodName, setEnabled("staging"), server.EFORBIDDEN},
		{"sdk whoami", &sdkStaging, v1.AuthService_WhoAmI_FullMethodName, &v1.WhoAmIRequest{}, ""},
		{"viewer own password", &viewerUser, v1.UserService_SetPassword_FullMethodName,
			&v1.SetPasswordRequest{Username: "vi"}, ""},
		{"viewer other's password", &viewerUser, v1.UserService_SetPassword_FullMethodName,
			&v1.SetPasswordRequest{Username: "ada"}, server.EFORBIDDEN},
		{"ci token sets password", &ciStaging, v1.UserService_SetPassword_FullMethodName,
			&v1.SetPasswordRequest{Username: "deploy"}, server.EFORBIDDEN},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.p != nil {
				ctx = NewContext(ctx, *tc.p)
			}
			err := a.Authorize(ctx, tc.method, tc.req)
			if got := server.ErrorCode(err); got != tc.want {
				t.Fatalf("Authorize = %v (code %q), want code %q", err, got, tc.want)
			}
		})
	}
}

func TestSDKEvaluateGetsTokenEnvironment(t *testing.T) {
	a, _ := testAuthenticator(t)
	req := &v1.EvaluateAllRequest{}
	if err := a.Authorize(NewContext(context.Background(), sdkStaging), v1.EvaluationService_EvaluateAll_FullMethodName, req); err != nil {
		t.Fatal(err)
	}
	if req.Environment != "staging" {
		t.Fatalf("environment = %q, want the token's staging", req.Environment)
	}
}

// TestForbiddenMessagesAreWhole (issue 12): a refusal says what the caller
// tried and who may do it, not "... may not define".
func TestForbiddenMessagesAreWhole(t *testing.T) {
	a, _ := testAuthenticator(t)
	for _, tc := range []struct {
		p      Principal
		method string
		req    proto.Message
		want   []string
	}{
		{ciStaging, v1.FlagService_CreateFlag_FullMethodName, &v1.CreateFlagRequest{},
			[]string{`ci token "deploy" may not call FlagService.CreateFlag`, "flag definitions and segments", "editors and admins"}},
		{viewerUser, v1.FlagService_SetEnabled_FullMethodName, &v1.SetEnabledRequest{FlagKey: "f", Environment: "staging"},
			[]string{`user "vi" (viewer) may not call FlagService.SetEnabled`, "flag configurations", "admins"}},
		{editorUser, v1.TokenService_CreateToken_FullMethodName, &v1.CreateTokenRequest{},
			[]string{`user "ed" (editor) may not call TokenService.CreateToken`, "admins only"}},
	} {
		err := a.Authorize(NewContext(context.Background(), tc.p), tc.method, tc.req)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s by %s: %v, want it to say %q", tc.method, tc.p.Name, err, w)
			}
		}
	}
}
