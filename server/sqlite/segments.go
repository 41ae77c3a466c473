package sqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/flagpole/flagpole/server"
)

const segmentColumns = "key, definition, revision, created_at, updated_at"

func scanSegment(sc scanner) (server.Segment, error) {
	var s server.Segment
	var key, def, created, updated string
	if err := sc.Scan(&key, &def, &s.Revision, &created, &updated); err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(def), &s.Segment); err != nil {
		return s, fmt.Errorf("segment %q: %w", key, err)
	}
	s.Key = key
	var err error
	if s.CreatedAt, err = parseTime(created); err != nil {
		return s, err
	}
	s.UpdatedAt, err = parseTime(updated)
	return s, err
}

func (t *tx) GetSegment(key string) (server.Segment, error) {
	s, err := scanSegment(t.tx.QueryRowContext(t.ctx, "SELECT "+segmentColumns+" FROM segments WHERE key = ?", key))
	if errors.Is(err, sql.ErrNoRows) {
		return s, notFound("segment", key)
	}
	if err != nil {
		return s, wrap("get segment", err)
	}
	return s, nil
}

// ListSegments returns every segment sorted by key.
func (t *tx) ListSegments() ([]server.Segment, error) {
	rows, err := t.tx.QueryContext(t.ctx, "SELECT "+segmentColumns+" FROM segments ORDER BY key")
	if err != nil {
		return nil, wrap("list segments", err)
	}
	defer rows.Close()
	var segments []server.Segment
	for rows.Next() {
		s, err := scanSegment(rows)
		if err != nil {
			return nil, wrap("list segments", err)
		}
		segments = append(segments, s)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list segments", err)
	}
	return segments, nil
}

func (t *tx) CreateSegment(s server.Segment) error {
	def, err := json.Marshal(s.Segment)
	if err != nil {
		return wrap("create segment", err)
	}
	_, err = t.exec("INSERT INTO segments ("+segmentColumns+") VALUES (?, ?, ?, ?, ?)",
		s.Key, string(def), s.Revision, formatTime(s.CreatedAt), formatTime(s.UpdatedAt))
	if isUnique(err) {
		return exists("segment", s.Key)
	}
	if err != nil {
		return wrap("create segment", err)
	}
	return nil
}

// UpdateSegment replaces definition, revision and update time; CreatedAt
// stays.
func (t *tx) UpdateSegment(s server.Segment) error {
	def, err := json.Marshal(s.Segment)
	if err != nil {
		return wrap("update segment", err)
	}
	return t.execOne("update segment", "segment", s.Key,
		"UPDATE segments SET definition = ?, revision = ?, updated_at = ? WHERE key = ?",
		string(def), s.Revision, formatTime(s.UpdatedAt), s.Key)
}

func (t *tx) DeleteSegment(key string) error {
	return t.execOne("delete segment", "segment", key, "DELETE FROM segments WHERE key = ?", key)
}
