package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/flagpole/flagpole/server"
)

var _ server.SignalStore = (*DB)(nil)

// AddSignals adds counts in one write transaction. Counts of flags not
// configured in their environment, or of variants the flag does not have,
// are dropped.
func (db *DB) AddSignals(ctx context.Context, counts []server.SignalCount, pruneBefore time.Time) error {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: add signals: %w", err)
	}
	defer tx.Rollback()
	known := map[[2]string]map[string]bool{} // (environment, flag) → variants; nil: unknown
	for _, c := range counts {
		k := [2]string{c.Environment, c.FlagKey}
		variants, seen := known[k]
		if !seen {
			if variants, err = configuredVariants(ctx, tx, c.Environment, c.FlagKey); err != nil {
				return fmt.Errorf("sqlite: add signals of %q in %q: %w", c.FlagKey, c.Environment, err)
			}
			known[k] = variants
		}
		if !variants[c.Variant] {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO flag_signals (environment, flag_key, variant, event, minute, count, sum, sum_squares) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (environment, flag_key, minute, variant, event) DO UPDATE SET count = count + excluded.count, sum = sum + excluded.sum,
			sum_squares = sum_squares + excluded.sum_squares`,
			c.Environment, c.FlagKey, c.Variant, c.Event, c.Minute.Unix(), c.Count, c.Sum, c.SumSquares); err != nil {
			return fmt.Errorf("sqlite: add signals of %q in %q: %w", c.FlagKey, c.Environment, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM flag_signals WHERE minute < ?", pruneBefore.Unix()); err != nil {
		return fmt.Errorf("sqlite: prune signals: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: add signals: commit: %w", err)
	}
	return nil
}

// configuredVariants returns the variants of a flag configured in env, nil
// when it is not.
func configuredVariants(ctx context.Context, tx *sql.Tx, env, flag string) (map[string]bool, error) {
	var def string
	err := tx.QueryRowContext(ctx, `SELECT f.definition FROM flag_configs c JOIN flags f ON f.key = c.flag_key
		WHERE c.environment = ? AND c.flag_key = ?`, env, flag).Scan(&def)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return server.DefinedVariants([]byte(def)), nil
}

// ListSignals returns a flag's counts in environment from since on.
func (db *DB) ListSignals(ctx context.Context, environment, flagKey string, since time.Time) ([]server.SignalCount, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT variant, event, minute, count, sum, sum_squares FROM flag_signals
		WHERE environment = ? AND flag_key = ? AND minute >= ? ORDER BY minute, variant, event`,
		environment, flagKey, since.Truncate(time.Minute).Unix())
	if err != nil {
		return nil, fmt.Errorf("sqlite: list signals: %w", err)
	}
	defer rows.Close()
	var out []server.SignalCount
	for rows.Next() {
		c := server.SignalCount{Environment: environment, FlagKey: flagKey}
		var minute int64
		if err := rows.Scan(&c.Variant, &c.Event, &minute, &c.Count, &c.Sum, &c.SumSquares); err != nil {
			return nil, fmt.Errorf("sqlite: list signals: %w", err)
		}
		c.Minute = time.Unix(minute, 0).UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list signals: %w", err)
	}
	return out, nil
}
