package otelhook_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSDKDoesNotLinkOpenTelemetry: a service that imports the SDK without
// this package links no OpenTelemetry.
func TestSDKDoesNotLinkOpenTelemetry(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the dependency check needs the go tool: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/flagpole/flagpole/sdk").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 20 {
		t.Fatalf("go list returned only %d packages", len(deps))
	}
	for _, p := range deps {
		if strings.HasPrefix(p, "go.opentelemetry.io/") {
			t.Errorf("github.com/flagpole/flagpole/sdk depends on %s", p)
		}
	}
}
