package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flagpole/flagpole/server"
)

// defaultAuditLimit is the page size of ListAudit when the filter names none.
const defaultAuditLimit = 100

const auditColumns = "id, time, actor_kind, actor_name, actor_source, action, resource, key, environment, before, after, comment"

// AppendAudit stores an entry (a zero Time means now) and returns its ID.
// The table refuses UPDATE, DELETE and TRUNCATE by trigger.
func (t *tx) AppendAudit(e server.AuditEntry) (int64, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	var id int64
	err := t.tx.QueryRow(t.ctx, `INSERT INTO audit_log (time, actor_kind, actor_name, actor_source, action, resource, key, environment, before, after, comment)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		e.Time, e.Actor.Kind, e.Actor.Name, e.Actor.Source, e.Action, e.Resource, e.Key, e.Environment,
		nullJSON(e.Before), nullJSON(e.After), e.Comment).Scan(&id)
	if err != nil {
		return 0, wrap("append audit", err)
	}
	return id, nil
}

// nullJSON stores an absent document as NULL.
func nullJSON(m json.RawMessage) []byte {
	if len(m) == 0 {
		return nil
	}
	return m
}

// ListAudit returns matching entries newest first. Since is inclusive,
// Until exclusive.
func (t *tx) ListAudit(f server.AuditFilter) ([]server.AuditEntry, error) {
	query, args := auditQuery(f)
	rows, err := t.tx.Query(t.ctx, query, args...)
	entries, err := collect(rows, err, scanAudit)
	if err != nil {
		return nil, wrap("list audit", err)
	}
	return entries, nil
}

func auditQuery(f server.AuditFilter) (string, []any) {
	query := "SELECT " + auditColumns + " FROM audit_log WHERE true"
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		query += " AND " + fmt.Sprintf(cond, len(args))
	}
	if f.FlagKey != "" {
		add("key = $%d AND resource IN ('flag', 'config', 'release_plan')", f.FlagKey)
	}
	if f.Resource != "" {
		add("resource = $%d", f.Resource)
	}
	if f.Key != "" {
		add("key = $%d", f.Key)
	}
	if f.Environment != "" {
		add("environment = $%d", f.Environment)
	}
	if f.Actor != "" {
		add("actor_name = $%d", f.Actor)
	}
	if !f.Since.IsZero() {
		add("time >= $%d", f.Since)
	}
	if !f.Until.IsZero() {
		add("time < $%d", f.Until)
	}
	if f.BeforeID > 0 {
		add("id < $%d", f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	args = append(args, limit)
	return query + fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args)), args
}

func scanAudit(row pgx.Row) (server.AuditEntry, error) {
	var e server.AuditEntry
	var before, after []byte
	err := row.Scan(&e.ID, &e.Time, &e.Actor.Kind, &e.Actor.Name, &e.Actor.Source, &e.Action, &e.Resource, &e.Key,
		&e.Environment, &before, &after, &e.Comment)
	if len(before) > 0 {
		e.Before = json.RawMessage(before)
	}
	if len(after) > 0 {
		e.After = json.RawMessage(after)
	}
	e.Time = utc(e.Time)
	return e, err
}
