package serve

import (
	"context"

	"github.com/flagpole/flagpole/server/sqlite"
)

// openStore opens the database the --db flag names.
func openStore(ctx context.Context, dsn string) (Store, error) {
	return sqlite.Open(ctx, dsn)
}
