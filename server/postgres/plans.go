package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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

func scanPlan(s pgx.Row) (server.ReleasePlan, error) {
	var p server.ReleasePlan
	var spec, evidence []byte
	var state string
	var startAt, stepStarted, started, ended, leaseUntil *time.Time
	err := s.Scan(&p.ID, &p.Environment, &p.FlagKey, &spec, &state, &p.Step, &startAt, &stepStarted, &started, &ended,
		&p.Reason, &evidence, &p.CreatedBy, &p.CreatedAt, &p.UpdatedAt, &p.Revision, &p.LeaseOwner, &leaseUntil)
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(spec, &p.PlanSpec); err != nil {
		return p, fmt.Errorf("spec of release plan %d: %w", p.ID, err)
	}
	if evidence != nil {
		p.Evidence = json.RawMessage(evidence)
	}
	p.State = server.PlanState(state)
	p.StartAt, p.StepStartedAt, p.StartedAt = fromNullTime(startAt), fromNullTime(stepStarted), fromNullTime(started)
	p.EndedAt, p.LeaseUntil = fromNullTime(ended), fromNullTime(leaseUntil)
	p.CreatedAt, p.UpdatedAt = utc(p.CreatedAt), utc(p.UpdatedAt)
	return p, nil
}

// CreatePlan stores a new plan and returns its ID. ON CONFLICT DO NOTHING
// covers the partial unique index too, so a second active plan leaves the
// transaction usable.
func (t *tx) CreatePlan(p server.ReleasePlan) (int64, error) {
	spec, err := json.Marshal(p.PlanSpec)
	if err != nil {
		return 0, wrap("create plan", err)
	}
	var id int64
	err = t.tx.QueryRow(t.ctx, `INSERT INTO release_plans (environment, flag_key, spec, state, step, start_at, step_started_at,
		started_at, ended_at, reason, evidence, created_by, created_at, updated_at, revision)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING RETURNING id`,
		p.Environment, p.FlagKey, spec, string(p.State), p.Step, nullTime(p.StartAt), nullTime(p.StepStartedAt),
		nullTime(p.StartedAt), nullTime(p.EndedAt), p.Reason, nullJSON(p.Evidence), p.CreatedBy, p.CreatedAt, p.UpdatedAt,
		p.Revision).Scan(&id)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, activePlanExists(p.Environment, p.FlagKey)
	case pgCode(err) == codeForeignKeyViolation && constraint(err) == "release_plans_environment_fkey":
		return 0, notFound("environment", p.Environment)
	case pgCode(err) == codeForeignKeyViolation:
		return 0, notFound("flag", p.FlagKey)
	case err != nil:
		return 0, wrap("create plan", err)
	}
	return id, nil
}

func (t *tx) GetPlan(id int64) (server.ReleasePlan, error) {
	p, err := scanPlan(t.tx.QueryRow(t.ctx, "SELECT "+planColumns+" FROM release_plans WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
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
		args = append(args, f.Environment)
		where = append(where, fmt.Sprintf("environment = $%d", len(args)))
	}
	if f.FlagKey != "" {
		args = append(args, f.FlagKey)
		where = append(where, fmt.Sprintf("flag_key = $%d", len(args)))
	}
	if f.Active {
		where = append(where, "state IN ('scheduled', 'running', 'paused')")
	}
	query := "SELECT " + planColumns + " FROM release_plans"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := t.tx.Query(t.ctx, query+" ORDER BY id DESC", args...)
	plans, err := collect(rows, err, scanPlan)
	if err != nil {
		return nil, wrap("list plans", err)
	}
	return plans, nil
}

// UpdatePlan stores p's progress if the stored revision is p.Revision-1.
func (t *tx) UpdatePlan(p server.ReleasePlan) error {
	n, err := t.exec(`UPDATE release_plans SET state = $1, step = $2, step_started_at = $3, started_at = $4, ended_at = $5,
		reason = $6, evidence = $7, updated_at = $8, revision = $9 WHERE id = $10 AND revision = $11`,
		string(p.State), p.Step, nullTime(p.StepStartedAt), nullTime(p.StartedAt), nullTime(p.EndedAt),
		p.Reason, nullJSON(p.Evidence), p.UpdatedAt, p.Revision, p.ID, p.Revision-1)
	if pgCode(err) == codeUniqueViolation {
		return activePlanExists(p.Environment, p.FlagKey)
	}
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
	n, err := t.exec(`UPDATE release_plans SET lease_owner = $1, lease_until = $2
		WHERE id = $3 AND (lease_owner = '' OR lease_owner = $1 OR lease_until IS NULL OR lease_until < $4)`,
		owner, until, id, now)
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
