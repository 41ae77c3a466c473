package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/flagpole/flagpole/server"
)

var _ server.UsageStore = (*DB)(nil)

// AddUsage merges counts in one write transaction. Counts of flags or
// environments that do not exist (any more) are dropped.
func (db *DB) AddUsage(ctx context.Context, counts []server.UsageCount, pruneBefore time.Time) error {
	groups := server.GroupUsageByFlag(counts)
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: add usage: %w", err)
	}
	defer tx.Rollback()
	for _, g := range groups {
		if err := addFlagUsage(ctx, tx, g); err != nil {
			return fmt.Errorf("sqlite: add usage of %q in %q: %w", g.FlagKey, g.Environment, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM flag_usage_hourly WHERE hour < ?", pruneBefore.Unix()); err != nil {
		return fmt.Errorf("sqlite: prune usage: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: add usage: commit: %w", err)
	}
	return nil
}

func addFlagUsage(ctx context.Context, tx *sql.Tx, g *server.FlagCounts) error {
	var exists int
	err := tx.QueryRowContext(ctx, "SELECT 1 FROM flag_configs WHERE environment = ? AND flag_key = ?", g.Environment, g.FlagKey).Scan(&exists)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // unknown flag or environment: nothing to keep
	}
	if err != nil {
		return err
	}
	single := ""
	if len(g.Variants) == 1 {
		for v := range g.Variants {
			single = v
		}
	}
	var curSingle, curSince string
	err = tx.QueryRowContext(ctx, "SELECT single_variant, single_variant_since FROM flag_usage WHERE environment = ? AND flag_key = ?",
		g.Environment, g.FlagKey).Scan(&curSingle, &curSince)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = tx.ExecContext(ctx, `INSERT INTO flag_usage (environment, flag_key, first_evaluated, last_evaluated, single_variant, single_variant_since)
			VALUES (?, ?, ?, ?, ?, ?)`, g.Environment, g.FlagKey, formatTime(g.First), formatTime(g.Last), single, formatTime(g.First))
	case err != nil:
		return err
	default:
		since := curSince
		switch {
		case len(g.Variants) == 0: // only errors: the streak goes on
			single = curSingle
		case single == "" || single != curSingle:
			since = formatTime(g.First)
		}
		_, err = tx.ExecContext(ctx, `UPDATE flag_usage SET
			first_evaluated = min(first_evaluated, ?), last_evaluated = max(last_evaluated, ?),
			single_variant = ?, single_variant_since = ?
			WHERE environment = ? AND flag_key = ?`,
			formatTime(g.First), formatTime(g.Last), single, since, g.Environment, g.FlagKey)
	}
	if err != nil {
		return err
	}
	for _, c := range g.Counts {
		if _, err := tx.ExecContext(ctx, `INSERT INTO flag_usage_services (environment, flag_key, service, last_seen) VALUES (?, ?, ?, ?)
			ON CONFLICT (environment, flag_key, service) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)`,
			g.Environment, g.FlagKey, c.Service, formatTime(c.Last)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO flag_usage_hourly (environment, flag_key, hour, variant, count) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (environment, flag_key, hour, variant) DO UPDATE SET count = count + excluded.count`,
			g.Environment, g.FlagKey, c.Hour.Unix(), c.Variant, c.Count); err != nil {
			return err
		}
	}
	return nil
}

// ListUsage returns stored usage sorted by environment and flag key.
func (db *DB) ListUsage(ctx context.Context, environment string, since time.Time) ([]server.FlagUsage, error) {
	tx, err := db.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: list usage: %w", err)
	}
	defer tx.Rollback()
	list, err := listUsage(ctx, tx, environment, since)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list usage: %w", err)
	}
	return list, nil
}

func listUsage(ctx context.Context, tx *sql.Tx, env string, since time.Time) ([]server.FlagUsage, error) {
	const all = "(? = '' OR environment = ?)"
	rows, err := tx.QueryContext(ctx, `SELECT environment, flag_key, first_evaluated, last_evaluated, single_variant, single_variant_since
		FROM flag_usage WHERE `+all+` ORDER BY environment, flag_key`, env, env)
	if err != nil {
		return nil, err
	}
	var list []server.FlagUsage
	index := map[[2]string]int{}
	for rows.Next() {
		var u server.FlagUsage
		var first, last, singleSince string
		if err := rows.Scan(&u.Environment, &u.FlagKey, &first, &last, &u.SingleVariant, &singleSince); err != nil {
			rows.Close()
			return nil, err
		}
		for _, p := range []struct {
			dst *time.Time
			s   string
		}{{&u.FirstEvaluated, first}, {&u.LastEvaluated, last}, {&u.SingleVariantSince, singleSince}} {
			if *p.dst, err = parseTime(p.s); err != nil {
				rows.Close()
				return nil, err
			}
		}
		index[[2]string{u.Environment, u.FlagKey}] = len(list)
		list = append(list, u)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = tx.QueryContext(ctx, `SELECT environment, flag_key, service, last_seen FROM flag_usage_services
		WHERE `+all+` ORDER BY environment, flag_key, service`, env, env)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var e, f, last string
		var s server.ServiceUsage
		if err := rows.Scan(&e, &f, &s.Name, &last); err != nil {
			rows.Close()
			return nil, err
		}
		if s.LastSeen, err = parseTime(last); err != nil {
			rows.Close()
			return nil, err
		}
		if i, ok := index[[2]string{e, f}]; ok {
			list[i].Services = append(list[i].Services, s)
		}
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	rows, err = tx.QueryContext(ctx, `SELECT environment, flag_key, hour, variant, count FROM flag_usage_hourly
		WHERE `+all+` AND hour >= ? ORDER BY environment, flag_key, hour, variant`, env, env, since.Truncate(time.Hour).Unix())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var e, f string
		var hour int64
		var h server.HourlyCount
		if err := rows.Scan(&e, &f, &hour, &h.Variant, &h.Count); err != nil {
			return nil, err
		}
		h.Hour = time.Unix(hour, 0).UTC()
		if i, ok := index[[2]string{e, f}]; ok {
			list[i].Hourly = append(list[i].Hourly, h)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return list, nil
}
