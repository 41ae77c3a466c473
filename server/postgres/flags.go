package postgres

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
)

const flagColumns = "key, definition, revision, created_at, updated_at"

func scanFlag(s pgx.Row) (server.Flag, error) {
	var f server.Flag
	var key string
	var def []byte
	if err := s.Scan(&key, &def, &f.Revision, &f.CreatedAt, &f.UpdatedAt); err != nil {
		return f, err
	}
	var err error
	if f.Flag, err = decodeFlag(def); err != nil {
		return f, fmt.Errorf("flag %q: %w", key, err)
	}
	f.Key = key
	f.CreatedAt, f.UpdatedAt = utc(f.CreatedAt), utc(f.UpdatedAt)
	return f, nil
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
	f, err := scanFlag(t.tx.QueryRow(t.ctx, "SELECT "+flagColumns+" FROM flags WHERE key = $1", key))
	if errors.Is(err, pgx.ErrNoRows) {
		return f, notFound("flag", key)
	}
	if err != nil {
		return f, wrap("get flag", err)
	}
	return f, nil
}

// ListFlags returns the flags that pass the filter, sorted by key (in byte
// order, as SQLite sorts). Tag and archived are filtered in SQL; the query,
// case-insensitive beyond ASCII, in Go.
func (t *tx) ListFlags(filter server.FlagFilter) ([]server.Flag, error) {
	query := "SELECT " + flagColumns + " FROM flags WHERE true"
	var args []any
	if !filter.IncludeArchived {
		query += " AND NOT archived"
	}
	if filter.Tag != "" {
		args = append(args, filter.Tag)
		query += " AND key IN (SELECT flag_key FROM flag_tags WHERE tag = $1)"
	}
	rows, err := t.tx.Query(t.ctx, query+` ORDER BY key COLLATE "C"`, args...)
	flags, err := collect(rows, err, scanFlag)
	if err != nil {
		return nil, wrap("list flags", err)
	}
	out := flags[:0]
	for _, f := range flags {
		if filter.MatchesQuery(f.Flag) {
			out = append(out, f)
		}
	}
	return out, nil
}

func (t *tx) CreateFlag(f server.Flag) error {
	def, err := json.Marshal(f.Flag)
	if err != nil {
		return wrap("create flag", err)
	}
	err = t.insert("create flag", "flag", f.Key,
		"INSERT INTO flags ("+flagColumns+", archived) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING",
		f.Key, def, f.Revision, f.CreatedAt, f.UpdatedAt, f.Archived)
	if err != nil {
		return err
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
		"UPDATE flags SET definition = $1, archived = $2, revision = $3, updated_at = $4 WHERE key = $5",
		def, f.Archived, f.Revision, f.UpdatedAt, f.Key)
	if err != nil {
		return err
	}
	if _, err := t.exec("DELETE FROM flag_tags WHERE flag_key = $1", f.Key); err != nil {
		return wrap("update flag", err)
	}
	return t.putTags(f.Key, f.Tags)
}

func (t *tx) putTags(key string, tags []string) error {
	if len(tags) == 0 {
		return nil
	}
	_, err := t.exec("INSERT INTO flag_tags (flag_key, tag) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING", key, tags)
	if err != nil {
		return wrap("flag tags", err)
	}
	return nil
}

// DeleteFlag removes the flag; its tags and configurations in every
// environment go with it (ON DELETE CASCADE).
func (t *tx) DeleteFlag(key string) error {
	return t.execOne("delete flag", "flag", key, "DELETE FROM flags WHERE key = $1", key)
}
