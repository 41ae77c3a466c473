package sqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
)

const flagColumns = "key, definition, revision, created_at, updated_at"

func scanFlag(s scanner) (server.Flag, error) {
	var f server.Flag
	var key, def, created, updated string
	if err := s.Scan(&key, &def, &f.Revision, &created, &updated); err != nil {
		return f, err
	}
	var err error
	if f.Flag, err = decodeFlag([]byte(def)); err != nil {
		return f, fmt.Errorf("flag %q: %w", key, err)
	}
	f.Key = key
	if f.CreatedAt, err = parseTime(created); err != nil {
		return f, err
	}
	f.UpdatedAt, err = parseTime(updated)
	return f, err
}

// decodeFlag reads a stored definition.
func decodeFlag(def []byte) (engine.Flag, error) {
	f, err := server.DecodeFlag(def)
	if err != nil {
		return f, fmt.Errorf("decode definition: %w", err)
	}
	return f, nil
}

func (t *tx) GetFlag(key string) (server.Flag, error) {
	f, err := scanFlag(t.tx.QueryRowContext(t.ctx, "SELECT "+flagColumns+" FROM flags WHERE key = ?", key))
	if errors.Is(err, sql.ErrNoRows) {
		return f, notFound("flag", key)
	}
	if err != nil {
		return f, wrap("get flag", err)
	}
	return f, nil
}

// ListFlags returns the flags that pass the filter, sorted by key. Tag and
// archived are filtered in SQL; the query, case-insensitive beyond ASCII,
// in Go.
func (t *tx) ListFlags(filter server.FlagFilter) ([]server.Flag, error) {
	query := "SELECT " + flagColumns + " FROM flags WHERE 1=1"
	var args []any
	if !filter.IncludeArchived {
		query += " AND archived = 0"
	}
	if filter.Tag != "" {
		query += " AND key IN (SELECT flag_key FROM flag_tags WHERE tag = ?)"
		args = append(args, filter.Tag)
	}
	rows, err := t.tx.QueryContext(t.ctx, query+" ORDER BY key", args...)
	if err != nil {
		return nil, wrap("list flags", err)
	}
	defer rows.Close()
	var flags []server.Flag
	for rows.Next() {
		f, err := scanFlag(rows)
		if err != nil {
			return nil, wrap("list flags", err)
		}
		if filter.MatchesQuery(f.Flag) {
			flags = append(flags, f)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list flags", err)
	}
	return flags, nil
}

func (t *tx) CreateFlag(f server.Flag) error {
	def, err := json.Marshal(f.Flag)
	if err != nil {
		return wrap("create flag", err)
	}
	_, err = t.exec("INSERT INTO flags ("+flagColumns+", archived) VALUES (?, ?, ?, ?, ?, ?)",
		f.Key, string(def), f.Revision, formatTime(f.CreatedAt), formatTime(f.UpdatedAt), f.Archived)
	if isUnique(err) {
		return exists("flag", f.Key)
	}
	if err != nil {
		return wrap("create flag", err)
	}
	return t.putTags(f.Key, f.Tags)
}

// UpdateFlag replaces definition, revision and update time; CreatedAt stays.
func (t *tx) UpdateFlag(f server.Flag) error {
	def, err := json.Marshal(f.Flag)
	if err != nil {
		return wrap("update flag", err)
	}
	err = t.execOne("update flag", "flag", f.Key,
		"UPDATE flags SET definition = ?, archived = ?, revision = ?, updated_at = ? WHERE key = ?",
		string(def), f.Archived, f.Revision, formatTime(f.UpdatedAt), f.Key)
	if err != nil {
		return err
	}
	if _, err := t.exec("DELETE FROM flag_tags WHERE flag_key = ?", f.Key); err != nil {
		return wrap("update flag", err)
	}
	return t.putTags(f.Key, f.Tags)
}

func (t *tx) putTags(key string, tags []string) error {
	for _, tag := range tags {
		if _, err := t.exec("INSERT OR IGNORE INTO flag_tags (flag_key, tag) VALUES (?, ?)", key, tag); err != nil {
			return wrap("flag tags", err)
		}
	}
	return nil
}

// DeleteFlag removes the flag; its tags and configurations in every
// environment go with it (ON DELETE CASCADE).
func (t *tx) DeleteFlag(key string) error {
	return t.execOne("delete flag", "flag", key, "DELETE FROM flags WHERE key = ?", key)
}
