package httpapi_test

import (
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	flagpolev1 "github.com/flagpole/flagpole/proto/gen/flagpole/v1"
	"github.com/flagpole/flagpole/server/httpapi"
)

// TestEveryUnaryMethodHasOneRoute keeps the route table complete: each unary
// method of the flagpole.v1 services has exactly one route, and each route
// names a method that exists.
func TestEveryUnaryMethodHasOneRoute(t *testing.T) {
	routes := map[string]int{}
	for _, r := range httpapi.Routes {
		routes[r.RPC]++
	}
	seen := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("flagpole.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				md := sd.Methods().Get(j)
				name := "/" + string(sd.FullName()) + "/" + string(md.Name())
				if md.IsStreamingClient() || md.IsStreamingServer() {
					if routes[name] != 0 {
						t.Errorf("streaming %s has a route", name)
					}
					continue
				}
				seen++
				if routes[name] != 1 {
					t.Errorf("%s has %d routes, want 1", name, routes[name])
				}
				delete(routes, name)
			}
		}
		return true
	})
	for name := range routes {
		t.Errorf("route for unknown method %s", name)
	}
	if seen < 30 {
		t.Errorf("only %d unary methods found; descriptors not registered?", seen)
	}
	_ = flagpolev1.File_flagpole_v1_flag_service_proto
}

// TestREADMEListsEveryRoute keeps the documentation (this package's
// README.md) in step with the table.
func TestREADMEListsEveryRoute(t *testing.T) {
	doc, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range httpapi.Routes {
		if !strings.Contains(string(doc), "`"+rt.Pattern()+"`") {
			t.Errorf("README.md does not list %s", rt.Pattern())
		}
	}
}
