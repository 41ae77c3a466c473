package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flagpole/flagpole/server"
)

var _ server.SignalStore = (*DB)(nil)

// AddSignals adds counts in one write transaction, retried like Update.
// Counts of flags not configured in their environment, or of variants the
// flag does not have, are dropped.
func (db *DB) AddSignals(ctx context.Context, counts []server.SignalCount, pruneBefore time.Time) error {
	return db.update(ctx, func(t *tx) error {
		known := map[[2]string]map[string]bool{} // (environment, flag) → variants; nil: unknown
		for _, c := range counts {
			k := [2]string{c.Environment, c.FlagKey}
			variants, seen := known[k]
			if !seen {
				var err error
				if variants, err = t.configuredVariants(c.Environment, c.FlagKey); err != nil {
					return fmt.Errorf("postgres: add signals of %q in %q: %w", c.FlagKey, c.Environment, err)
				}
				known[k] = variants
			}
			if !variants[c.Variant] {
				continue
			}
			if _, err := t.exec(`INSERT INTO flag_signals (environment, flag_key, variant, event, minute, count, sum, sum_squares) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (environment, flag_key, minute, variant, event)
				DO UPDATE SET count = flag_signals.count + excluded.count, sum = flag_signals.sum + excluded.sum,
				sum_squares = flag_signals.sum_squares + excluded.sum_squares`,
				c.Environment, c.FlagKey, c.Variant, c.Event, c.Minute.Unix(), c.Count, c.Sum, c.SumSquares); err != nil {
				return fmt.Errorf("postgres: add signals of %q in %q: %w", c.FlagKey, c.Environment, err)
			}
		}
		if _, err := t.exec("DELETE FROM flag_signals WHERE minute < $1", pruneBefore.Unix()); err != nil {
			return wrap("prune signals", err)
		}
		return nil
	})
}

// configuredVariants returns the variants of a flag configured in env, nil
// when it is not.
func (t *tx) configuredVariants(env, flag string) (map[string]bool, error) {
	var def []byte
	err := t.tx.QueryRow(t.ctx, `SELECT f.definition::text FROM flag_configs c JOIN flags f ON f.key = c.flag_key
		WHERE c.environment = $1 AND c.flag_key = $2`, env, flag).Scan(&def)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return server.DefinedVariants(def), nil
}

// ListSignals returns a flag's counts in environment from since on.
func (db *DB) ListSignals(ctx context.Context, environment, flagKey string, since time.Time) ([]server.SignalCount, error) {
	rows, err := db.pool.Query(ctx, `SELECT variant, event, minute, count, sum, sum_squares FROM flag_signals
		WHERE environment = $1 AND flag_key = $2 AND minute >= $3 ORDER BY minute, variant, event`,
		environment, flagKey, since.Truncate(time.Minute).Unix())
	if err != nil {
		return nil, wrap("list signals", err)
	}
	defer rows.Close()
	var out []server.SignalCount
	for rows.Next() {
		c := server.SignalCount{Environment: environment, FlagKey: flagKey}
		var minute int64
		if err := rows.Scan(&c.Variant, &c.Event, &minute, &c.Count, &c.Sum, &c.SumSquares); err != nil {
			return nil, wrap("list signals", err)
		}
		c.Minute = time.Unix(minute, 0).UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list signals", err)
	}
	return out, nil
}
