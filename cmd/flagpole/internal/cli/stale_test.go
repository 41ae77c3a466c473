package cli_test

import "testing"

// TestFlagListStale: with a stale period of a millisecond, a flag nobody
// evaluates is listed by `flag list --stale` as never evaluated.
func TestFlagListStale(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--stale-after", "1ms")
	s.ok(t, "flag", "create", "forgotten", "--type", "boolean")
	var list []struct {
		Key   string            `json:"key"`
		Stale map[string]string `json:"stale"`
	}
	s.json(t, &list, "flag", "list", "--stale", "--env", "production")
	if len(list) != 1 || list[0].Key != "forgotten" || list[0].Stale["production"] != "never_evaluated" || len(list[0].Stale) != 1 {
		t.Fatalf("flag list --stale --env production = %+v", list)
	}
	list = nil
	s.json(t, &list, "flag", "list", "--stale")
	if len(list) != 1 || len(list[0].Stale) != 3 {
		t.Fatalf("flag list --stale = %+v, want the flag stale in all 3 environments", list)
	}
}
