package sqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/flagpole/flagpole/server"
)

const planColumns = `id, environment, flag_key, spec, state, step, start_at, step_started_at, started_at, ended_at,
	reason, evidence, created_by, created_at, updated_at, revision, lease_owner, lease_until`

// activePlanExists is the error for a second active plan of a flag in an
// environment.
func activePlanExists(env, flagKey string) error {
	return &server.Error{Code: server.EEXISTS, Field: "flag_key",
		Message: fmt.Sprintf("flag %q already has an active release plan in environment %q", flagKey, env)}
}

func scanPlan(s scanner) (server.ReleasePlan, error) {
	var p server.ReleasePlan
	var spec, created, updated string
	var startAt, stepStarted, started, ended, leaseUntil, evidence sql.NullString
	err := s.Scan(&p.ID, &p.Environment, &p.FlagKey, &spec, &p.State, &p.Step, &startAt, &stepStarted, &started, &ended,
		&p.Reason, &evidence, &p.CreatedBy, &created, &updated, &p.Revision, &p.LeaseOwner, &leaseUntil)
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal([]byte(spec), &p.PlanSpec); err != nil {
		return p, fmt.Errorf("spec of release plan %d: %w", p.ID, err)
	}
	if evidence.Valid {
		p.Evidence = json.RawMessage(evidence.String)
	}
	for _, f := range []struct {
		dst *time.Time
		src sql.NullString
	}{{&p.StartAt, startAt}, {&p.StepStartedAt, stepStarted}, {&p.StartedAt, started}, {&p.EndedAt, ended}, {&p.LeaseUntil, leaseUntil}} {
		if *f.dst, err = parseNullTime(f.src); err != nil {
			return p, err
		}
	}
	if p.CreatedAt, err = parseTime(created); err != nil {
		return p, err
	}
	p.UpdatedAt, err = parseTime(updated)
	return p, err
}

// CreatePlan stores a new plan and returns its ID.
func (t *tx) CreatePlan(p server.ReleasePlan) (int64, error) {
	spec, err := json.Marshal(p.PlanSpec)
	if err != nil {
		return 0, wrap("create plan", err)
	}
	res, err := t.exec(`INSERT INTO release_plans (environment, flag_key, spec, state, step, start_at, step_started_at, started_at, ended_at,
		reason, evidence, created_by, created_at, updated_at, revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.Environment, p.FlagKey, string(spec), p.State, p.Step, nullTime(p.StartAt), nullTime(p.StepStartedAt),
		nullTime(p.StartedAt), nullTime(p.EndedAt), p.Reason, nullJSON(p.Evidence), p.CreatedBy,
		formatTime(p.CreatedAt), formatTime(p.UpdatedAt), p.Revision)
	switch {
	case isUnique(err):
		return 0, activePlanExists(p.Environment, p.FlagKey)
	case isConstraint(err, sqlite3.ErrConstraintForeignKey):
		if _, err := t.GetEnvironment(p.Environment); err != nil {
			return 0, err
		}
		return 0, notFound("flag", p.FlagKey)
	case err != nil:
		return 0, wrap("create plan", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, wrap("create plan", err)
	}
	return id, nil
}

func (t *tx) GetPlan(id int64) (server.ReleasePlan, error) {
	p, err := scanPlan(t.tx.QueryRowContext(t.ctx, "SELECT "+planColumns+" FROM release_plans WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("release plan", fmt.Sprint(id))
	}
	if err != nil {
		return p, wrap("get plan", err)
	}
	return p, nil
}

// ListPlans returns the plans passing f, newest first.
func (t *tx) ListPlans(f server.PlanFilter) ([]server.ReleasePlan, error) {
	var where []string
	var args []any
	if f.Environment != "" {
		where, args = append(where, "environment = ?"), append(args, f.Environment)
	}
	if f.FlagKey != "" {
		where, args = append(where, "flag_key = ?"), append(args, f.FlagKey)
	}
	if f.Active {
		where = append(where, "state IN ('scheduled', 'running', 'paused')")
	}
	query := "SELECT " + planColumns + " FROM release_plans"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := t.tx.QueryContext(t.ctx, query+" ORDER BY id DESC", args...)
	if err != nil {
		return nil, wrap("list plans", err)
	}
	defer rows.Close()
	var plans []server.ReleasePlan
	for rows.Next() {
		p, err := scanPlan(rows)
		if err != nil {
			return nil, wrap("list plans", err)
		}
		plans = append(plans, p)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list plans", err)
	}
	return plans, nil
}

// UpdatePlan stores p's progress if the stored revision is p.Revision-1.
func (t *tx) UpdatePlan(p server.ReleasePlan) error {
	res, err := t.exec(`UPDATE release_plans SET state = ?, step = ?, step_started_at = ?, started_at = ?, ended_at = ?,
		reason = ?, evidence = ?, updated_at = ?, revision = ? WHERE id = ? AND revision = ?`,
		p.State, p.Step, nullTime(p.StepStartedAt), nullTime(p.StartedAt), nullTime(p.EndedAt),
		p.Reason, nullJSON(p.Evidence), formatTime(p.UpdatedAt), p.Revision, p.ID, p.Revision-1)
	if isUnique(err) {
		return activePlanExists(p.Environment, p.FlagKey)
	}
	if err != nil {
		return wrap("update plan", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("update plan", err)
	}
	if n == 0 {
		cur, err := t.GetPlan(p.ID)
		if err != nil {
			return err
		}
		return server.Errorf(server.ECONFLICT, "release plan %d was changed meanwhile (revision %d, expected %d)", p.ID, cur.Revision, p.Revision-1)
	}
	return nil
}

// LeasePlan takes or renews the lease of a plan for owner.
func (t *tx) LeasePlan(id int64, owner string, now, until time.Time) (bool, error) {
	res, err := t.exec(`UPDATE release_plans SET lease_owner = ?, lease_until = ?
		WHERE id = ? AND (lease_owner = '' OR lease_owner = ? OR lease_until IS NULL OR lease_until < ?)`,
		owner, formatTime(until), id, owner, formatTime(now))
	if err != nil {
		return false, wrap("lease plan", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrap("lease plan", err)
	}
	if n == 0 {
		if _, err := t.GetPlan(id); err != nil {
			return false, err
		}
	}
	return n == 1, nil
}
