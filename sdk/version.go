package sdk

import "runtime/debug"

// modulePath is the SDK's module path, as a service's build information
// lists it among the dependencies.
const modulePath = "github.com/flagpole/flagpole/sdk"

// develVersion is Version when the SDK is built from a source tree rather
// than a module version: inside its own module, or through a replace
// directive to a directory (as the Flagpole server and its tests build it).
const develVersion = "devel"

// Version is the SDK's version, sent in the hello so that the server can
// list which SDK versions its clients run. It is the version of the SDK
// module that the service was built with (v1.4.0, or a pseudo-version), as
// the binary's build information records it; or "devel" when it was built
// from a source tree.
var Version = moduleVersion(debug.ReadBuildInfo)

// moduleVersion finds the SDK among the dependencies that read reports.
func moduleVersion(read func() (*debug.BuildInfo, bool)) string {
	info, ok := read()
	if !ok {
		return develVersion
	}
	for _, d := range info.Deps {
		if d.Path != modulePath {
			continue
		}
		if d.Replace != nil {
			d = d.Replace
		}
		if d.Version == "" || d.Version == "(devel)" {
			return develVersion
		}
		return d.Version
	}
	return develVersion
}
