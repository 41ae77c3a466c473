package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/storetest"
)

// The write and list benchmarks are storetest's, run on a database file.

func benchStore(b *testing.B) server.Store {
	return mustOpen(b, filepath.Join(b.TempDir(), "bench.db"))
}

func BenchmarkWriteTransaction(b *testing.B) { storetest.BenchmarkWriteTransaction(b, benchStore) }

// BenchmarkWriteTransactionParallel: the writers queue on the one writer
// connection.
func BenchmarkWriteTransactionParallel(b *testing.B) {
	storetest.BenchmarkWriteTransactionParallel(b, benchStore)
}

func BenchmarkListConfigs1000(b *testing.B) { storetest.BenchmarkListConfigs1000(b, benchStore) }
func BenchmarkListFlags1000(b *testing.B)   { storetest.BenchmarkListFlags1000(b, benchStore) }
