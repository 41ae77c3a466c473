package httpapi

// Route maps an HTTP method and path to one unary gRPC method. The request
// message is the method's input type: path wildcards fill the fields named in
// Params, the JSON body fills the field named by Body ("*" for the whole
// request), and for routes without a body the query parameters fill fields
// by their proto or JSON name.
type Route struct {
	Method string // HTTP method
	Path   string // net/http.ServeMux path pattern
	RPC    string // gRPC full method name; the permission table is keyed by it
	Body   string // "", "*" or a top-level message field name
	// Params maps a path wildcard to a request field path, e.g. "flag.key".
	Params map[string]string
}

// Pattern is the route's ServeMux pattern, e.g. "GET /api/v1/flags/{key}".
func (r Route) Pattern() string { return r.Method + " " + r.Path }

const v1 = "/flagpole.v1."

// Routes is the JSON API. Every admin and evaluation call of the gRPC API
// has exactly one route; streaming calls (Sync) have none.
var Routes = []Route{
	{"GET", "/api/v1/environments", v1 + "EnvironmentService/ListEnvironments", "", nil},
	{"POST", "/api/v1/environments", v1 + "EnvironmentService/CreateEnvironment", "environment", nil},
	{"GET", "/api/v1/environments/{env}", v1 + "EnvironmentService/GetEnvironment", "", p("env", "name")},
	{"PUT", "/api/v1/environments/{env}", v1 + "EnvironmentService/UpdateEnvironment", "environment", p("env", "environment.name")},
	{"DELETE", "/api/v1/environments/{env}", v1 + "EnvironmentService/DeleteEnvironment", "", p("env", "name")},

	{"GET", "/api/v1/flags", v1 + "FlagService/ListFlags", "", nil},
	{"POST", "/api/v1/flags", v1 + "FlagService/CreateFlag", "flag", nil},
	{"GET", "/api/v1/flags/{key}", v1 + "FlagService/GetFlag", "", p("key", "key")},
	{"PUT", "/api/v1/flags/{key}", v1 + "FlagService/UpdateFlag", "flag", p("key", "flag.key")},
	{"DELETE", "/api/v1/flags/{key}", v1 + "FlagService/DeleteFlag", "", p("key", "key")},
	{"POST", "/api/v1/flags/{key}/archive", v1 + "FlagService/ArchiveFlag", "*", p("key", "key")},
	{"GET", "/api/v1/flags/{key}/environments/{env}", v1 + "FlagService/GetFlagConfig", "", p("key", "flag_key", "env", "environment")},
	{"PUT", "/api/v1/flags/{key}/environments/{env}", v1 + "FlagService/ReplaceFlagConfig", "config", p("key", "config.flag_key", "env", "config.environment")},
	{"POST", "/api/v1/flags/{key}/environments/{env}/enabled", v1 + "FlagService/SetEnabled", "*", p("key", "flag_key", "env", "environment")},
	{"POST", "/api/v1/flags/{key}/environments/{env}/rollout", v1 + "FlagService/SetRollout", "*", p("key", "flag_key", "env", "environment")},
	{"POST", "/api/v1/apply", v1 + "FlagService/ApplyChanges", "*", nil},

	{"GET", "/api/v1/segments", v1 + "SegmentService/ListSegments", "", nil},
	{"POST", "/api/v1/segments", v1 + "SegmentService/CreateSegment", "segment", nil},
	{"GET", "/api/v1/segments/{key}", v1 + "SegmentService/GetSegment", "", p("key", "key")},
	{"PUT", "/api/v1/segments/{key}", v1 + "SegmentService/UpdateSegment", "segment", p("key", "segment.key")},
	{"DELETE", "/api/v1/segments/{key}", v1 + "SegmentService/DeleteSegment", "", p("key", "key")},

	{"GET", "/api/v1/audit", v1 + "AuditService/ListAuditEntries", "", nil},

	{"POST", "/api/v1/environments/{env}/flags/{key}/evaluate", v1 + "EvaluationService/Evaluate", "*", p("env", "environment", "key", "flag_key")},
	{"POST", "/api/v1/environments/{env}/evaluate", v1 + "EvaluationService/EvaluateAll", "*", p("env", "environment")},
	{"GET", "/api/v1/environments/{env}/clients", v1 + "SyncService/ListClients", "", p("env", "environment")},

	{"GET", "/api/v1/usage", v1 + "UsageService/ListFlagUsage", "", nil},
	{"GET", "/api/v1/flags/{key}/usage", v1 + "UsageService/GetFlagUsage", "", p("key", "flag_key")},
	{"GET", "/api/v1/flags/{key}/environments/{env}/signals", v1 + "SignalService/ListSignals", "", p("key", "flag_key", "env", "environment")},

	{"GET", "/api/v1/release-plans", v1 + "ReleaseService/ListReleasePlans", "", nil},
	{"POST", "/api/v1/release-plans", v1 + "ReleaseService/CreateReleasePlan", "*", nil},
	{"GET", "/api/v1/environments/{env}/release-plans/{id}", v1 + "ReleaseService/GetReleasePlan", "", p("env", "environment", "id", "id")},
	{"POST", "/api/v1/environments/{env}/release-plans/{id}/pause", v1 + "ReleaseService/PauseReleasePlan", "*", p("env", "environment", "id", "id")},
	{"POST", "/api/v1/environments/{env}/release-plans/{id}/resume", v1 + "ReleaseService/ResumeReleasePlan", "*", p("env", "environment", "id", "id")},
	{"POST", "/api/v1/environments/{env}/release-plans/{id}/cancel", v1 + "ReleaseService/CancelReleasePlan", "*", p("env", "environment", "id", "id")},

	{"GET", "/api/v1/tokens", v1 + "TokenService/ListTokens", "", nil},
	{"POST", "/api/v1/tokens", v1 + "TokenService/CreateToken", "*", nil},
	{"POST", "/api/v1/tokens/{name}/revoke", v1 + "TokenService/RevokeToken", "*", p("name", "name")},
	{"DELETE", "/api/v1/tokens/{name}", v1 + "TokenService/DeleteToken", "", p("name", "name")},

	{"GET", "/api/v1/users", v1 + "UserService/ListUsers", "", nil},
	{"POST", "/api/v1/users", v1 + "UserService/CreateUser", "*", nil},
	{"DELETE", "/api/v1/users/{username}", v1 + "UserService/DeleteUser", "", p("username", "username")},
	{"POST", "/api/v1/users/{username}/password", v1 + "UserService/SetPassword", "*", p("username", "username")},
	{"POST", "/api/v1/users/{username}/role", v1 + "UserService/SetRole", "*", p("username", "username")},

	{"GET", "/api/v1/whoami", v1 + "AuthService/WhoAmI", "", nil},

	{"GET", "/api/v1/webhooks", v1 + "WebhookService/ListWebhooks", "", nil},
	{"POST", "/api/v1/webhooks", v1 + "WebhookService/CreateWebhook", "*", nil},
	{"DELETE", "/api/v1/webhooks/{id}", v1 + "WebhookService/DeleteWebhook", "", p("id", "id")},
	{"POST", "/api/v1/webhooks/{id}/test", v1 + "WebhookService/TestWebhook", "", p("id", "id")},
	{"GET", "/api/v1/webhook-deliveries", v1 + "WebhookService/ListDeliveries", "", nil},
}

// p builds a Params map from wildcard, field pairs.
func p(pairs ...string) map[string]string {
	m := make(map[string]string, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i]] = pairs[i+1]
	}
	return m
}
