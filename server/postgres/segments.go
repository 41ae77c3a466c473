package postgres

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/flagpole/flagpole/server"
)

const segmentColumns = "key, definition, revision, created_at, updated_at"

func scanSegment(sc pgx.Row) (server.Segment, error) {
	var s server.Segment
	var key string
	var def []byte
	if err := sc.Scan(&key, &def, &s.Revision, &s.CreatedAt, &s.UpdatedAt); err != nil {
		return s, err
	}
	if err := json.Unmarshal(def, &s.Segment); err != nil {
		return s, fmt.Errorf("segment %q: %w", key, err)
	}
	s.Key = key
	s.CreatedAt, s.UpdatedAt = utc(s.CreatedAt), utc(s.UpdatedAt)
	return s, nil
}

func (t *tx) GetSegment(key string) (server.Segment, error) {
	s, err := scanSegment(t.tx.QueryRow(t.ctx, "SELECT "+segmentColumns+" FROM segments WHERE key = $1", key))
	if errors.Is(err, pgx.ErrNoRows) {
		return s, notFound("segment", key)
	}
	if err != nil {
		return s, wrap("get segment", err)
	}
	return s, nil
}

// ListSegments returns every segment sorted by key.
func (t *tx) ListSegments() ([]server.Segment, error) {
	rows, err := t.tx.Query(t.ctx, "SELECT "+segmentColumns+` FROM segments ORDER BY key COLLATE "C"`)
	segments, err := collect(rows, err, scanSegment)
	if err != nil {
		return nil, wrap("list segments", err)
	}
	return segments, nil
}

func (t *tx) CreateSegment(s server.Segment) error {
	def, err := json.Marshal(s.Segment)
	if err != nil {
		return wrap("create segment", err)
	}
	return t.insert("create segment", "segment", s.Key,
		"INSERT INTO segments ("+segmentColumns+") VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key) DO NOTHING",
		s.Key, def, s.Revision, s.CreatedAt, s.UpdatedAt)
}

// UpdateSegment replaces definition, revision and update time; CreatedAt
// stays.
func (t *tx) UpdateSegment(s server.Segment) error {
	def, err := json.Marshal(s.Segment)
	if err != nil {
		return wrap("update segment", err)
	}
	return t.execOne("update segment", "segment", s.Key,
		"UPDATE segments SET definition = $1, revision = $2, updated_at = $3 WHERE key = $4",
		def, s.Revision, s.UpdatedAt, s.Key)
}

func (t *tx) DeleteSegment(key string) error {
	return t.execOne("delete segment", "segment", key, "DELETE FROM segments WHERE key = $1", key)
}
