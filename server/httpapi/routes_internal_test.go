package httpapi

import (
	"strings"
	"testing"
)

// TestRoutesRefuseBadRules: the table is built at init, so a rule that the
// server cannot serve as written stops it from starting instead of being
// skipped or served differently.
func TestRoutesRefuseBadRules(t *testing.T) {
	const head = "type: google.api.Service\nconfig_version: 3\nhttp:\n  rules:\n"
	for _, c := range []struct{ name, config, want string }{
		{"unknown method", head + "    - selector: flagpole.v1.SyncService.Nope\n      get: /x\n", "not a method"},
		{"annotated twice", head + "    - selector: flagpole.v1.FlagService.GetFlag\n      get: /x/{key}\n", "both"},
		{"streaming", head + "    - selector: flagpole.v1.SyncService.Sync\n      post: /sync\n      body: \"*\"\n", "streams"},
		{"unknown field", head + "    - selector: flagpole.v1.SyncService.ListClients\n      get: /api/v1/environments/{env}/clients\n", `no singular field "env"`},
		{"pattern variable", head + "    - selector: flagpole.v1.SyncService.ListClients\n      get: /api/v1/{environment=envs/*}/clients\n", "unsupported variable"},
		{"verb", head + "    - selector: flagpole.v1.SyncService.ListClients\n      get: /api/v1/environments/{environment}:list\n", "unsupported variable"},
		{"unknown key", head + "    - selector: flagpole.v1.SyncService.ListClients\n      gett: /x\n", "gett"},
		{"wrong type", "type: other\n", "google.api.Service"},
	} {
		_, err := routes([]byte(c.config))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	rs, err := routes(syncHTTP)
	if err != nil || len(rs) != len(Routes) {
		t.Fatalf("the embedded configuration: %d routes, %v", len(rs), err)
	}
}

// TestMuxPathNamesWildcardsAfterFields: variables become ServeMux
// wildcards named after the JSON name of the field they set, and nested
// field paths are kept for decoding.
func TestMuxPathNamesWildcardsAfterFields(t *testing.T) {
	for _, rt := range Routes {
		switch rt.RPC {
		case "/flagpole.v1.FlagService/ReplaceFlagConfig":
			if rt.Path != "/api/v1/flags/{flagKey}/environments/{environment}" || rt.Params["flagKey"] != "config.flag_key" || rt.Params["environment"] != "config.environment" {
				t.Errorf("ReplaceFlagConfig: %s %v", rt.Path, rt.Params)
			}
		case "/flagpole.v1.FlagService/UpdateFlag":
			if rt.Pattern() != "PUT /api/v1/flags/{key}" || rt.Params["key"] != "flag.key" || rt.Body != "flag" {
				t.Errorf("UpdateFlag: %s %v body %q", rt.Pattern(), rt.Params, rt.Body)
			}
		}
	}
}
