package sqlite

import (
	"database/sql"
	"encoding/json"
	"time"

	"github.com/flagpole/flagpole/server"
)

// defaultAuditLimit is the page size of ListAudit when the filter names none.
const defaultAuditLimit = 100

const auditColumns = `id, time, actor_kind, actor_name, actor_source, action, resource, "key", environment, "before", "after", comment`

// AppendAudit stores an entry (a zero Time means now) and returns its ID.
// The table refuses UPDATE and DELETE by trigger.
func (t *tx) AppendAudit(e server.AuditEntry) (int64, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	res, err := t.exec(`INSERT INTO audit_log (time, actor_kind, actor_name, actor_source, action, resource, "key", environment, "before", "after", comment)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		formatTime(e.Time), e.Actor.Kind, e.Actor.Name, e.Actor.Source, e.Action, e.Resource, e.Key, e.Environment,
		nullJSON(e.Before), nullJSON(e.After), e.Comment)
	if err != nil {
		return 0, wrap("append audit", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, wrap("append audit", err)
	}
	return id, nil
}

// nullJSON stores an absent document as NULL.
func nullJSON(m json.RawMessage) any {
	if len(m) == 0 {
		return nil
	}
	return string(m)
}

// ListAudit returns matching entries newest first. Since is inclusive,
// Until exclusive.
func (t *tx) ListAudit(f server.AuditFilter) ([]server.AuditEntry, error) {
	query, args := auditQuery(f)
	rows, err := t.tx.QueryContext(t.ctx, query, args...)
	if err != nil {
		return nil, wrap("list audit", err)
	}
	defer rows.Close()
	var entries []server.AuditEntry
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, wrap("list audit", err)
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list audit", err)
	}
	return entries, nil
}

func auditQuery(f server.AuditFilter) (string, []any) {
	query := "SELECT " + auditColumns + " FROM audit_log WHERE 1=1"
	var args []any
	add := func(cond string, arg any) {
		query += " AND " + cond
		args = append(args, arg)
	}
	if f.FlagKey != "" {
		add(`"key" = ? AND resource IN ('flag', 'config', 'release_plan')`, f.FlagKey)
	}
	if f.Resource != "" {
		add("resource = ?", f.Resource)
	}
	if f.Key != "" {
		add(`"key" = ?`, f.Key)
	}
	if f.Environment != "" {
		add("environment = ?", f.Environment)
	}
	if f.Actor != "" {
		add("actor_name = ?", f.Actor)
	}
	if !f.Since.IsZero() {
		add("time >= ?", formatTime(f.Since))
	}
	if !f.Until.IsZero() {
		add("time < ?", formatTime(f.Until))
	}
	if f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	return query + " ORDER BY id DESC LIMIT ?", append(args, limit)
}

func scanAudit(rows *sql.Rows) (server.AuditEntry, error) {
	var e server.AuditEntry
	var at string
	var before, after sql.NullString
	err := rows.Scan(&e.ID, &at, &e.Actor.Kind, &e.Actor.Name, &e.Actor.Source, &e.Action, &e.Resource, &e.Key,
		&e.Environment, &before, &after, &e.Comment)
	if err != nil {
		return e, err
	}
	if before.Valid {
		e.Before = json.RawMessage(before.String)
	}
	if after.Valid {
		e.After = json.RawMessage(after.String)
	}
	e.Time, err = parseTime(at)
	return e, err
}
