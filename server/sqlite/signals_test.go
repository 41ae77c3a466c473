package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/flagpole/flagpole/server/storetest"
)

func TestSignals(t *testing.T) {
	storetest.RunSignals(t, func(t *testing.T) storetest.SignalStore {
		return mustOpen(t, filepath.Join(t.TempDir(), "signals.db"))
	})
}
