package server

// Access is what a method requires of its caller.
type Access int

// Access levels, from open to closed.
const (
	// AccessPublic needs no credential (health checks, signing in).
	AccessPublic Access = iota + 1
	// AccessAuthenticated admits every valid credential, sdk tokens included.
	AccessAuthenticated
	// AccessRead admits users of every role and ci and admin tokens: not sdk tokens.
	AccessRead
	// AccessEvaluate admits readers and sdk tokens of the request's environment.
	AccessEvaluate
	// AccessConfigure changes one environment's flag configuration: ci tokens
	// that list it, editors unless it is protected, admins.
	AccessConfigure
	// AccessDefine changes what every environment shares (flag definitions,
	// segments): editors and admins.
	AccessDefine
	// AccessAdminister is for admins only: environments, tokens, users.
	AccessAdminister
	// AccessSelf admits admins and the user the request names (own password).
	AccessSelf
)

var accessNames = map[Access]string{
	AccessPublic: "public", AccessAuthenticated: "authenticated", AccessRead: "read", AccessEvaluate: "evaluate",
	AccessConfigure: "configure", AccessDefine: "define", AccessAdminister: "administer", AccessSelf: "self",
}

func (a Access) String() string { return accessNames[a] }

// Permission is the access a call needs and where its request names the
// environment it targets (server/auth reads the fields named here from the
// decoded request).
type Permission struct {
	Access Access
	// Env is the request field that names the environment the call
	// targets, as a dotted path of protobuf field names ("environment",
	// "config.environment"), or EnvStream for a stream, whose metadata
	// names it; "" for none.
	Env string
	// Changes marks a change set (its repeated "changes" field) that may
	// span several environments: each change that replaces a
	// configuration ("replace_config") needs Access in the configuration's
	// environment; any other change alters what all environments share
	// (definitions, segments) and needs AccessDefine as well, as does a change
	// set that names no environment.
	Changes bool
	// CheckOnly names a boolean request field that, when true, makes the
	// call a dry run ("validate_only"), which reveals only what reading
	// does and so needs no more than AccessRead.
	CheckOnly string
}

// EnvStream is Permission.Env of a stream: its environment is the one its
// metadata names.
const EnvStream = "(stream)"

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

// Permissions is the one permission table: every gRPC method (by its full
// name), and every HTTP route by the gRPC method it serves (or by its
// HTTP-only key), maps to the access it needs. A method without a
// permission is refused.
var Permissions = map[string]Permission{
	"/grpc.health.v1.Health/Check": {Access: AccessPublic},
	"/grpc.health.v1.Health/Watch": {Access: AccessPublic},
	"/grpc.health.v1.Health/List":  {Access: AccessPublic},
	MethodSignIn:                   {Access: AccessPublic},
	MethodHealth:                   {Access: AccessPublic},
	MethodReady:                    {Access: AccessPublic},
	MethodUI:                       {Access: AccessPublic},
	MethodSignOut:                  {Access: AccessAuthenticated},
	MethodMetrics:                  {Access: AccessRead},
	MethodOpenAPI:                  {Access: AccessAuthenticated},

	"/flagpole.v1.AuthService/WhoAmI": {Access: AccessAuthenticated},

	"/flagpole.v1.EnvironmentService/ListEnvironments":  {Access: AccessRead},
	"/flagpole.v1.EnvironmentService/GetEnvironment":    {Access: AccessRead},
	"/flagpole.v1.EnvironmentService/CreateEnvironment": {Access: AccessAdminister},
	"/flagpole.v1.EnvironmentService/UpdateEnvironment": {Access: AccessAdminister},
	"/flagpole.v1.EnvironmentService/DeleteEnvironment": {Access: AccessAdminister},

	"/flagpole.v1.FlagService/GetFlag":           {Access: AccessRead},
	"/flagpole.v1.FlagService/ListFlags":         {Access: AccessRead},
	"/flagpole.v1.FlagService/GetFlagConfig":     {Access: AccessRead},
	"/flagpole.v1.FlagService/CreateFlag":        {Access: AccessDefine},
	"/flagpole.v1.FlagService/UpdateFlag":        {Access: AccessDefine},
	"/flagpole.v1.FlagService/ArchiveFlag":       {Access: AccessDefine},
	"/flagpole.v1.FlagService/DeleteFlag":        {Access: AccessDefine},
	"/flagpole.v1.FlagService/ReplaceFlagConfig": {Access: AccessConfigure, Env: "config.environment"},
	"/flagpole.v1.FlagService/SetEnabled":        {Access: AccessConfigure, Env: "environment"},
	"/flagpole.v1.FlagService/SetRollout":        {Access: AccessConfigure, Env: "environment"},
	"/flagpole.v1.FlagService/ApplyChanges":      {Access: AccessConfigure, Changes: true, CheckOnly: "validate_only"},

	"/flagpole.v1.SegmentService/GetSegment":    {Access: AccessRead},
	"/flagpole.v1.SegmentService/ListSegments":  {Access: AccessRead},
	"/flagpole.v1.SegmentService/CreateSegment": {Access: AccessDefine},
	"/flagpole.v1.SegmentService/UpdateSegment": {Access: AccessDefine},
	"/flagpole.v1.SegmentService/DeleteSegment": {Access: AccessDefine},

	"/flagpole.v1.AuditService/ListAuditEntries": {Access: AccessRead},

	"/flagpole.v1.EvaluationService/Evaluate":    {Access: AccessEvaluate, Env: "environment"},
	"/flagpole.v1.EvaluationService/EvaluateAll": {Access: AccessEvaluate, Env: "environment"},

	"/flagpole.v1.SyncService/Sync":         {Access: AccessEvaluate, Env: EnvStream},
	"/flagpole.v1.SyncService/ListClients":  {Access: AccessRead},
	"/flagpole.v1.SyncService/WatchClients": {Access: AccessRead},

	"/flagpole.v1.TokenService/CreateToken": {Access: AccessAdminister},
	"/flagpole.v1.TokenService/ListTokens":  {Access: AccessAdminister},
	"/flagpole.v1.TokenService/RevokeToken": {Access: AccessAdminister},
	"/flagpole.v1.TokenService/DeleteToken": {Access: AccessAdminister},

	"/flagpole.v1.WebhookService/CreateWebhook":  {Access: AccessAdminister},
	"/flagpole.v1.WebhookService/ListWebhooks":   {Access: AccessAdminister},
	"/flagpole.v1.WebhookService/DeleteWebhook":  {Access: AccessAdminister},
	"/flagpole.v1.WebhookService/TestWebhook":    {Access: AccessAdminister},
	"/flagpole.v1.WebhookService/ListDeliveries": {Access: AccessAdminister},

	"/flagpole.v1.UserService/CreateUser":  {Access: AccessAdminister},
	"/flagpole.v1.UserService/ListUsers":   {Access: AccessAdminister},
	"/flagpole.v1.UserService/DeleteUser":  {Access: AccessAdminister},
	"/flagpole.v1.UserService/SetRole":     {Access: AccessAdminister},
	"/flagpole.v1.UserService/SetPassword": {Access: AccessSelf},

	"/flagpole.v1.UsageService/ListFlagUsage": {Access: AccessRead},
	"/flagpole.v1.UsageService/GetFlagUsage":  {Access: AccessRead},

	"/flagpole.v1.SignalService/ListSignals": {Access: AccessRead},

	// Release plans: viewers read; whoever may configure the plan's
	// environment (ci tokens that list it, editors unless it is protected,
	// admins) starts and stops its plans.
	"/flagpole.v1.ReleaseService/GetReleasePlan":    {Access: AccessRead},
	"/flagpole.v1.ReleaseService/ListReleasePlans":  {Access: AccessRead},
	"/flagpole.v1.ReleaseService/CreateReleasePlan": {Access: AccessConfigure, Env: "environment"},
	"/flagpole.v1.ReleaseService/PauseReleasePlan":  {Access: AccessConfigure, Env: "environment"},
	"/flagpole.v1.ReleaseService/ResumeReleasePlan": {Access: AccessConfigure, Env: "environment"},
	"/flagpole.v1.ReleaseService/CancelReleasePlan": {Access: AccessConfigure, Env: "environment"},

	// Reflection describes the API (no data): readers may use it (grpcurl).
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      {Access: AccessRead},
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": {Access: AccessRead},
}
