package auth

import (
	"context"

	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/proto"

	v1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
)

// Access is what a method requires of its caller.
type Access int

// Access levels, from open to closed.
const (
	// Public needs no credential (health checks, signing in).
	Public Access = iota + 1
	// Authenticated admits every valid credential, sdk tokens included.
	Authenticated
	// Read admits users of every role and ci and admin tokens: not sdk tokens.
	Read
	// Evaluate admits readers and sdk tokens of the request's environment.
	Evaluate
	// Configure changes one environment's flag configuration: ci tokens
	// that list it, editors unless it is protected, admins.
	Configure
	// Define changes what every environment shares (flag definitions,
	// segments): editors and admins.
	Define
	// Administer is for admins only: environments, tokens, users.
	Administer
	// Self admits admins and the user the request names (own password).
	Self
)

var accessNames = map[Access]string{
	Public: "public", Authenticated: "authenticated", Read: "read", Evaluate: "evaluate",
	Configure: "configure", Define: "define", Administer: "administer", Self: "self",
}

func (a Access) String() string { return accessNames[a] }

// Rule is the access a method needs and where its environment comes from.
type Rule struct {
	Access Access
	// Env returns the environment the request targets ("" for none). req
	// is the decoded request message, nil for a stream, whose environment
	// comes from the metadata in ctx.
	Env func(ctx context.Context, req proto.Message) string
	// Envs is for a request that spans several environments (a change
	// set): it returns every environment whose configuration the request
	// changes, each of which needs Access, and whether it also changes
	// what all environments share (definitions, segments), which needs
	// Define as well. A request that names no environment needs Define.
	Envs func(req proto.Message) (envs []string, define bool)
	// CheckOnly reports whether a request only checks what it would do
	// (a dry run) and so needs no more than Read.
	CheckOnly func(req proto.Message) bool
}

// HTTP-only routes have no gRPC method; the HTTP server names them with
// these keys of the same table.
const (
	MethodSignIn  = "HTTP /api/v1/auth/sign-in"
	MethodSignOut = "HTTP /api/v1/auth/sign-out"
	MethodHealth  = "HTTP /healthz"
	MethodReady   = "HTTP /readyz"
	MethodMetrics = "HTTP /metrics"
	MethodUI      = "HTTP /ui"
	MethodOpenAPI = "HTTP /api/v1/openapi.json"
)

// field adapts a typed getter to a Rule's Env.
func field[T proto.Message](get func(T) string) func(context.Context, proto.Message) string {
	return func(_ context.Context, req proto.Message) string {
		if r, ok := req.(T); ok {
			return get(r)
		}
		return ""
	}
}

// streamEnv reads the environment of a stream from its metadata.
func streamEnv(ctx context.Context, _ proto.Message) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(EnvironmentHeader); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Rules is the one permission table: every gRPC method, and every HTTP
// route by the gRPC method it serves (or by its HTTP-only key), maps to the
// access it needs. A method without a rule is refused.
var Rules = map[string]Rule{
	grpc_health_v1.Health_Check_FullMethodName: {Access: Public},
	grpc_health_v1.Health_Watch_FullMethodName: {Access: Public},
	grpc_health_v1.Health_List_FullMethodName:  {Access: Public},
	MethodSignIn:  {Access: Public},
	MethodHealth:  {Access: Public},
	MethodReady:   {Access: Public},
	MethodUI:      {Access: Public},
	MethodSignOut: {Access: Authenticated},
	MethodMetrics: {Access: Read},
	MethodOpenAPI: {Access: Authenticated},

	v1.AuthService_WhoAmI_FullMethodName: {Access: Authenticated},

	v1.EnvironmentService_ListEnvironments_FullMethodName:  {Access: Read},
	v1.EnvironmentService_GetEnvironment_FullMethodName:    {Access: Read},
	v1.EnvironmentService_CreateEnvironment_FullMethodName: {Access: Administer},
	v1.EnvironmentService_UpdateEnvironment_FullMethodName: {Access: Administer},
	v1.EnvironmentService_DeleteEnvironment_FullMethodName: {Access: Administer},

	v1.FlagService_GetFlag_FullMethodName:       {Access: Read},
	v1.FlagService_ListFlags_FullMethodName:     {Access: Read},
	v1.FlagService_GetFlagConfig_FullMethodName: {Access: Read},
	v1.FlagService_CreateFlag_FullMethodName:    {Access: Define},
	v1.FlagService_UpdateFlag_FullMethodName:    {Access: Define},
	v1.FlagService_ArchiveFlag_FullMethodName:   {Access: Define},
	v1.FlagService_DeleteFlag_FullMethodName:    {Access: Define},
	v1.FlagService_ReplaceFlagConfig_FullMethodName: {Access: Configure,
		Env: field(func(r *v1.ReplaceFlagConfigRequest) string { return r.GetConfig().GetEnvironment() })},
	v1.FlagService_SetEnabled_FullMethodName: {Access: Configure,
		Env: field(func(r *v1.SetEnabledRequest) string { return r.GetEnvironment() })},
	v1.FlagService_SetRollout_FullMethodName: {Access: Configure,
		Env: field(func(r *v1.SetRolloutRequest) string { return r.GetEnvironment() })},
	v1.FlagService_ApplyChanges_FullMethodName: {Access: Configure, Envs: applyEnvs, CheckOnly: func(req proto.Message) bool {
		r, ok := req.(*v1.ApplyChangesRequest)
		return ok && r.GetValidateOnly()
	}},

	v1.SegmentService_GetSegment_FullMethodName:    {Access: Read},
	v1.SegmentService_ListSegments_FullMethodName:  {Access: Read},
	v1.SegmentService_CreateSegment_FullMethodName: {Access: Define},
	v1.SegmentService_UpdateSegment_FullMethodName: {Access: Define},
	v1.SegmentService_DeleteSegment_FullMethodName: {Access: Define},

	v1.AuditService_ListAuditEntries_FullMethodName: {Access: Read},

	v1.EvaluationService_Evaluate_FullMethodName: {Access: Evaluate,
		Env: field(func(r *v1.EvaluateRequest) string { return r.GetEnvironment() })},
	v1.EvaluationService_EvaluateAll_FullMethodName: {Access: Evaluate,
		Env: field(func(r *v1.EvaluateAllRequest) string { return r.GetEnvironment() })},

	v1.SyncService_Sync_FullMethodName:         {Access: Evaluate, Env: streamEnv},
	v1.SyncService_ListClients_FullMethodName:  {Access: Read},
	v1.SyncService_WatchClients_FullMethodName: {Access: Read},

	v1.TokenService_CreateToken_FullMethodName: {Access: Administer},
	v1.TokenService_ListTokens_FullMethodName:  {Access: Administer},
	v1.TokenService_RevokeToken_FullMethodName: {Access: Administer},
	v1.TokenService_DeleteToken_FullMethodName: {Access: Administer},

	v1.WebhookService_CreateWebhook_FullMethodName:  {Access: Administer},
	v1.WebhookService_ListWebhooks_FullMethodName:   {Access: Administer},
	v1.WebhookService_DeleteWebhook_FullMethodName:  {Access: Administer},
	v1.WebhookService_TestWebhook_FullMethodName:    {Access: Administer},
	v1.WebhookService_ListDeliveries_FullMethodName: {Access: Administer},

	v1.UserService_CreateUser_FullMethodName:  {Access: Administer},
	v1.UserService_ListUsers_FullMethodName:   {Access: Administer},
	v1.UserService_DeleteUser_FullMethodName:  {Access: Administer},
	v1.UserService_SetRole_FullMethodName:     {Access: Administer},
	v1.UserService_SetPassword_FullMethodName: {Access: Self},

	v1.UsageService_ListFlagUsage_FullMethodName: {Access: Read},
	v1.UsageService_GetFlagUsage_FullMethodName:  {Access: Read},

	v1.SignalService_ListSignals_FullMethodName: {Access: Read},

	// Release plans: viewers read; whoever may configure the plan's
	// environment (ci tokens that list it, editors unless it is protected,
	// admins) starts and stops its plans.
	v1.ReleaseService_GetReleasePlan_FullMethodName:   {Access: Read},
	v1.ReleaseService_ListReleasePlans_FullMethodName: {Access: Read},
	v1.ReleaseService_CreateReleasePlan_FullMethodName: {Access: Configure,
		Env: field(func(r *v1.CreateReleasePlanRequest) string { return r.GetEnvironment() })},
	v1.ReleaseService_PauseReleasePlan_FullMethodName: {Access: Configure,
		Env: field(func(r *v1.PauseReleasePlanRequest) string { return r.GetEnvironment() })},
	v1.ReleaseService_ResumeReleasePlan_FullMethodName: {Access: Configure,
		Env: field(func(r *v1.ResumeReleasePlanRequest) string { return r.GetEnvironment() })},
	v1.ReleaseService_CancelReleasePlan_FullMethodName: {Access: Configure,
		Env: field(func(r *v1.CancelReleasePlanRequest) string { return r.GetEnvironment() })},

	// Reflection describes the API (no data): readers may use it (grpcurl).
	reflectionv1.ServerReflection_ServerReflectionInfo_FullMethodName:      {Access: Read},
	reflectionv1alpha.ServerReflection_ServerReflectionInfo_FullMethodName: {Access: Read},
}

// applyEnvs lists the environments whose configuration an ApplyChanges
// request replaces, and says whether it changes definitions too.
func applyEnvs(req proto.Message) (envs []string, define bool) {
	r, ok := req.(*v1.ApplyChangesRequest)
	if !ok {
		return nil, true
	}
	seen := map[string]bool{}
	for _, c := range r.GetChanges() {
		cfg := c.GetReplaceConfig()
		if cfg == nil {
			define = true
			continue
		}
		if env := cfg.GetEnvironment(); !seen[env] {
			seen[env] = true
			envs = append(envs, env)
		}
	}
	return envs, define
}

// selfUser is the user a Self request names.
func selfUser(req proto.Message) string {
	if r, ok := req.(*v1.SetPasswordRequest); ok {
		return r.GetUsername()
	}
	return ""
}
