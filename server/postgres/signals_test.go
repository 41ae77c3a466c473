package postgres

import (
	"testing"

	"github.com/flagpole/flagpole/server/postgres/pgtest"
	"github.com/flagpole/flagpole/server/storetest"
)

func TestSignals(t *testing.T) {
	storetest.RunSignals(t, func(t *testing.T) storetest.SignalStore { return mustOpen(t, pgtest.Schema(t)) })
}
