package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flagpole/flagpole/server"
)

var _ server.UsageStore = (*DB)(nil)

// AddUsage merges counts in one write transaction, retried like Update.
// Counts of flags or environments that do not exist (any more) are dropped.
func (db *DB) AddUsage(ctx context.Context, counts []server.UsageCount, pruneBefore time.Time) error {
	groups := server.GroupUsageByFlag(counts)
	return db.update(ctx, func(t *tx) error {
		for _, g := range groups {
			if err := t.addFlagUsage(g); err != nil {
				return fmt.Errorf("postgres: add usage of %q in %q: %w", g.FlagKey, g.Environment, err)
			}
		}
		if _, err := t.exec("DELETE FROM flag_usage_hourly WHERE hour < $1", pruneBefore.Unix()); err != nil {
			return wrap("prune usage", err)
		}
		return nil
	})
}

func (t *tx) addFlagUsage(g *server.FlagCounts) error {
	var one int
	err := t.tx.QueryRow(t.ctx, "SELECT 1 FROM flag_configs WHERE environment = $1 AND flag_key = $2", g.Environment, g.FlagKey).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
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
	var curSingle string
	var curSince time.Time
	err = t.tx.QueryRow(t.ctx, "SELECT single_variant, single_variant_since FROM flag_usage WHERE environment = $1 AND flag_key = $2",
		g.Environment, g.FlagKey).Scan(&curSingle, &curSince)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		_, err = t.exec(`INSERT INTO flag_usage (environment, flag_key, first_evaluated, last_evaluated, single_variant, single_variant_since)
			VALUES ($1, $2, $3, $4, $5, $6)`, g.Environment, g.FlagKey, g.First, g.Last, single, g.First)
	case err != nil:
		return err
	default:
		since := curSince
		switch {
		case len(g.Variants) == 0: // only errors: the streak goes on
			single = curSingle
		case single == "" || single != curSingle:
			since = g.First
		}
		_, err = t.exec(`UPDATE flag_usage SET
			first_evaluated = LEAST(first_evaluated, $1), last_evaluated = GREATEST(last_evaluated, $2),
			single_variant = $3, single_variant_since = $4
			WHERE environment = $5 AND flag_key = $6`,
			g.First, g.Last, single, since, g.Environment, g.FlagKey)
	}
	if err != nil {
		return err
	}
	for _, c := range g.Counts {
		if _, err := t.exec(`INSERT INTO flag_usage_services (environment, flag_key, service, last_seen) VALUES ($1, $2, $3, $4)
			ON CONFLICT (environment, flag_key, service) DO UPDATE SET last_seen = GREATEST(flag_usage_services.last_seen, excluded.last_seen)`,
			g.Environment, g.FlagKey, c.Service, c.Last); err != nil {
			return err
		}
		if _, err := t.exec(`INSERT INTO flag_usage_hourly (environment, flag_key, hour, variant, count) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (environment, flag_key, hour, variant) DO UPDATE SET count = flag_usage_hourly.count + excluded.count`,
			g.Environment, g.FlagKey, c.Hour.Unix(), c.Variant, c.Count); err != nil {
			return err
		}
	}
	return nil
}

// ListUsage returns stored usage sorted by environment and flag key.
func (db *DB) ListUsage(ctx context.Context, environment string, since time.Time) ([]server.FlagUsage, error) {
	var list []server.FlagUsage
	err := db.view(ctx, func(t *tx) (err error) {
		list, err = t.listUsage(environment, since)
		return err
	})
	if err != nil {
		return nil, wrap("list usage", err)
	}
	return list, nil
}

const anyEnvironment = "($1 = '' OR environment = $1)"

func (t *tx) listUsage(env string, since time.Time) ([]server.FlagUsage, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT environment, flag_key, first_evaluated, last_evaluated, single_variant, single_variant_since
		FROM flag_usage WHERE `+anyEnvironment+` ORDER BY environment COLLATE "C", flag_key COLLATE "C"`, env)
	list, err := collect(rows, err, func(r pgx.Row) (u server.FlagUsage, err error) {
		err = r.Scan(&u.Environment, &u.FlagKey, &u.FirstEvaluated, &u.LastEvaluated, &u.SingleVariant, &u.SingleVariantSince)
		u.FirstEvaluated, u.LastEvaluated, u.SingleVariantSince = utc(u.FirstEvaluated), utc(u.LastEvaluated), utc(u.SingleVariantSince)
		return u, err
	})
	if err != nil {
		return nil, err
	}
	index := map[[2]string]int{}
	for i, u := range list {
		index[[2]string{u.Environment, u.FlagKey}] = i
	}
	type service struct {
		key [2]string
		server.ServiceUsage
	}
	rows, err = t.tx.Query(t.ctx, `SELECT environment, flag_key, service, last_seen FROM flag_usage_services
		WHERE `+anyEnvironment+` ORDER BY environment, flag_key, service COLLATE "C"`, env)
	services, err := collect(rows, err, func(r pgx.Row) (s service, err error) {
		err = r.Scan(&s.key[0], &s.key[1], &s.Name, &s.LastSeen)
		s.LastSeen = utc(s.LastSeen)
		return s, err
	})
	if err != nil {
		return nil, err
	}
	for _, s := range services {
		if i, ok := index[s.key]; ok {
			list[i].Services = append(list[i].Services, s.ServiceUsage)
		}
	}
	type hourly struct {
		key [2]string
		server.HourlyCount
	}
	rows, err = t.tx.Query(t.ctx, `SELECT environment, flag_key, hour, variant, count FROM flag_usage_hourly
		WHERE `+anyEnvironment+` AND hour >= $2 ORDER BY environment, flag_key, hour, variant COLLATE "C"`,
		env, since.Truncate(time.Hour).Unix())
	counts, err := collect(rows, err, func(r pgx.Row) (h hourly, err error) {
		var hour int64
		err = r.Scan(&h.key[0], &h.key[1], &hour, &h.Variant, &h.Count)
		h.Hour = time.Unix(hour, 0).UTC()
		return h, err
	})
	if err != nil {
		return nil, err
	}
	for _, h := range counts {
		if i, ok := index[h.key]; ok {
			list[i].Hourly = append(list[i].Hourly, h.HourlyCount)
		}
	}
	return list, nil
}
