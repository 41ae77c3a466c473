package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/flagpole/flagpole/server/storetest"
)

func TestUsage(t *testing.T) {
	storetest.RunUsage(t, func(t *testing.T) storetest.UsageStore {
		return mustOpen(t, filepath.Join(t.TempDir(), "usage.db"))
	})
}
