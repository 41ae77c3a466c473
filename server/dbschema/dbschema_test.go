package dbschema_test

import (
	"testing"
	"testing/fstest"

	"github.com/flagpole/flagpole/server/dbschema"
)

func TestLoad(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	good := fstest.MapFS{"m/0001_init.sql": file("A"), "m/0002_auth.sql": file("B")}
	ms, err := dbschema.Load(good, "m")
	if err != nil || len(ms) != 2 || ms[1].Version != 2 || ms[1].Name != "auth" || ms[1].SQL != "B" {
		t.Errorf("Load = %+v, %v", ms, err)
	}
	gap := fstest.MapFS{"m/0001_init.sql": file("A"), "m/0003_x.sql": file("B")}
	if ms, err := dbschema.Load(gap, "m"); err != nil || len(ms) != 2 || ms[1].Version != 3 {
		t.Errorf("Load with a gap = %+v, %v; want versions 1 and 3", ms, err)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"duplicate": {"m/0001_init.sql": file("A"), "m/0001_again.sql": file("B")},
		"not one":   {"m/0002_init.sql": file("A")},
		"bad name":  {"m/0001_init.sql": file("A"), "m/2_auth.sql": file("B")},
		"empty":     {"m/.keep": file("")},
		"missing":   {},
	} {
		if _, err := dbschema.Load(fsys, "m"); err == nil {
			t.Errorf("%s: Load succeeded, want an error", name)
		}
	}
}
