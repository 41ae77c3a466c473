package postgres

import (
	"testing"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/postgres/pgtest"
	"github.com/flagpole/flagpole/server/storetest"
)

// The write and list benchmarks are storetest's, the same data and the same
// transactions as server/sqlite's, so the two stores compare directly.

func benchStore(b *testing.B) server.Store { return mustOpen(b, pgtest.Schema(b)) }

func BenchmarkWriteTransaction(b *testing.B) { storetest.BenchmarkWriteTransaction(b, benchStore) }

// BenchmarkWriteTransactionParallel: the writers queue on the writer lock.
func BenchmarkWriteTransactionParallel(b *testing.B) {
	storetest.BenchmarkWriteTransactionParallel(b, benchStore)
}

func BenchmarkListConfigs1000(b *testing.B) { storetest.BenchmarkListConfigs1000(b, benchStore) }
func BenchmarkListFlags1000(b *testing.B)   { storetest.BenchmarkListFlags1000(b, benchStore) }
