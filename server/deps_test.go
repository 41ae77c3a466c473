package server_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/flagpole/flagpole"

// adapters are the packages that adapt one technology to the domain. None
// may import another: what two of them share belongs in the middle (the
// root package) or in a package of the job they share. server/daemon and
// cmd/ wire them together and may import them all.
var adapters = []string{
	module + "/server/sqlite",
	module + "/server/postgres",
	module + "/server/grpcapi",
	module + "/server/httpapi",
	module + "/server/ofrep",
	module + "/server/syncapi",
	module + "/server/metrics",
	module + "/server/tracing",
}

// stores must not link gRPC or any protobuf code: a database adapter has
// no business with the wire.
var stores = []string{module + "/server/sqlite", module + "/server/postgres"}

// services are the application services between the domain and the
// adapters. They must not link gRPC or the generated API: the transports
// translate. (auth reads requests through protobuf reflection, so the
// protobuf runtime is allowed.)
var services = []string{
	module + "/server/service",
	module + "/server/auth",
	module + "/server/usage",
	module + "/server/signals",
	module + "/server/webhook",
	module + "/server/release",
}

// goList runs go list with args and decodes its JSON output.
func goList(t *testing.T, args ...string) []listed {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the dependency check needs the go tool: %v", err)
	}
	out, err := exec.Command(goTool, append([]string{"list", "-json=ImportPath,Imports,Deps"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	var ps []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

type listed struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// TestDomainImportsNoAdapter keeps the middle in the middle: the root
// package imports nothing of the project but the evaluation engine.
func TestDomainImportsNoAdapter(t *testing.T) {
	ps := goList(t, module+"/server")
	if len(ps) != 1 {
		t.Fatalf("go list returned %d packages, want 1", len(ps))
	}
	for _, imp := range ps[0].Imports {
		if strings.HasPrefix(imp, module+"/") && imp != module+"/sdk/engine" {
			t.Errorf("server imports %s; the domain may import only sdk/engine of the project", imp)
		}
	}
}

// TestAdaptersImportNoAdapter fails when an adapter imports another.
func TestAdaptersImportNoAdapter(t *testing.T) {
	ps := goList(t, adapters...)
	if len(ps) != len(adapters) {
		t.Fatalf("go list returned %d packages, want %d", len(ps), len(adapters))
	}
	for _, p := range ps {
		for _, imp := range p.Imports {
			if imp != p.ImportPath && slices.Contains(adapters, imp) {
				t.Errorf("adapter %s imports adapter %s", p.ImportPath, imp)
			}
		}
	}
}

// TestStoresLinkNoGRPC fails when a store links gRPC, protobuf or a
// generated proto package, directly or through anything it imports.
func TestStoresLinkNoGRPC(t *testing.T) {
	checkLinks(t, stores, "google.golang.org/grpc", "google.golang.org/protobuf", "google.golang.org/genproto", module+"/proto", module+"/sdk/syncpb")
}

// TestServicesLinkNoGRPC fails when an application service links gRPC or
// a generated proto package.
func TestServicesLinkNoGRPC(t *testing.T) {
	checkLinks(t, services, "google.golang.org/grpc", "google.golang.org/genproto", module+"/proto", module+"/sdk/syncpb")
}

// checkLinks fails when one of pkgs links a package under one of forbidden.
func checkLinks(t *testing.T, pkgs []string, forbidden ...string) {
	t.Helper()
	ps := goList(t, pkgs...)
	if len(ps) != len(pkgs) {
		t.Fatalf("go list returned %d packages, want %d", len(ps), len(pkgs))
	}
	for _, p := range ps {
		if len(p.Deps) < 10 {
			t.Fatalf("go list gave %s only %d dependencies", p.ImportPath, len(p.Deps))
		}
		for _, dep := range p.Deps {
			for _, f := range forbidden {
				if dep == f || strings.HasPrefix(dep, f+"/") {
					t.Errorf("%s links %s", p.ImportPath, dep)
				}
			}
		}
	}
}
