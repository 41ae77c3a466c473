package sdk

import (
	"runtime/debug"
	"testing"
)

func TestModuleVersion(t *testing.T) {
	dep := func(path, version string, replace *debug.Module) *debug.Module {
		return &debug.Module{Path: path, Version: version, Replace: replace}
	}
	grpc := dep("google.golang.org/grpc", "v1.85.0", nil)
	for _, tc := range []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"required version", &debug.BuildInfo{Deps: []*debug.Module{grpc, dep(modulePath, "v1.4.0", nil)}}, "v1.4.0"},
		{"pseudo-version", &debug.BuildInfo{Deps: []*debug.Module{dep(modulePath, "v0.0.0-20261203221500-14c7be2aa0b1", nil)}}, "v0.0.0-20261203221500-14c7be2aa0b1"},
		{"replaced by a directory", &debug.BuildInfo{Deps: []*debug.Module{dep(modulePath, "v0.0.0-00010101000000-000000000000", dep("./sdk", "", nil))}}, develVersion},
		{"replaced by a fork's version", &debug.BuildInfo{Deps: []*debug.Module{dep(modulePath, "v1.4.0", dep("example.com/fork/sdk", "v1.4.1", nil))}}, "v1.4.1"},
		{"built inside its own module", &debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "(devel)"}, Deps: []*debug.Module{grpc}}, develVersion},
		{"no build information", nil, develVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := moduleVersion(func() (*debug.BuildInfo, bool) { return tc.info, tc.info != nil })
			if got != tc.want {
				t.Errorf("moduleVersion = %q; want %q", got, tc.want)
			}
		})
	}
}

// The tests build the SDK inside its own module (or, from the server's
// module, through its replace of ./sdk): a source tree, not a version.
func TestVersionOfSourceTree(t *testing.T) {
	if Version != develVersion {
		t.Errorf("Version = %q; want %q", Version, develVersion)
	}
}
