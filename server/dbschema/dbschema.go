// Package dbschema reads the numbered schema migrations a store embeds
// (migrations/NNNN_name.sql), so that every store numbers, orders and checks
// its migrations by the same rules; each store applies them its own way.
package dbschema

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"
)

// ErrNewer is returned when a database was migrated by a newer Flagpole than
// the running binary.
var ErrNewer = errors.New("database schema is newer than this binary supports")

// Migration is one schema change: its version (increasing), its name and
// its SQL.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

var fileName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// Load reads the migrations in dir of fsys. File names must be
// NNNN_name.sql; versions start at 1 and increase without duplicates. Gaps
// are allowed, because features developed in parallel reserve numbers:
// stores apply every migration a database lacks, not only the ones above
// its highest, so a number filled in later is still applied.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries { // ReadDir sorts by name
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migrations: file %q: name must be NNNN_name.sql", e.Name())
		}
		version, _ := strconv.Atoi(m[1])
		if len(ms) == 0 && version != 1 {
			return nil, fmt.Errorf("migrations: file %q: version %d, the first must be 1", e.Name(), version)
		}
		if len(ms) > 0 && version <= ms[len(ms)-1].Version {
			return nil, fmt.Errorf("migrations: file %q: version %d repeats an earlier one", e.Name(), version)
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		ms = append(ms, Migration{Version: version, Name: m[2], SQL: string(body)})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("migrations: none in %s", dir)
	}
	return ms, nil
}

// MustLoad is Load for the migrations embedded in a binary, which are known
// good: it panics on an error.
func MustLoad(fsys fs.FS, dir string) []Migration {
	ms, err := Load(fsys, dir)
	if err != nil {
		panic(err)
	}
	return ms
}
