package service

import (
	"context"
	"fmt"
	"slices"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
)

// CreateSegment validates and creates a segment.
func (s *Service) CreateSegment(ctx context.Context, seg engine.Segment) (server.Segment, error) {
	if err := engine.ValidateSegment(seg); err != nil {
		return server.Segment{}, fieldError("segment", err)
	}
	var created server.Segment
	err := s.update(ctx, func(o *op) (err error) {
		created, err = o.createSegment(seg)
		return err
	})
	return created, err
}

// createSegment creates validated segment seg in o's transaction.
func (o *op) createSegment(seg engine.Segment) (server.Segment, error) {
	created := server.Segment{Segment: seg, Revision: 1, CreatedAt: o.now, UpdatedAt: o.now}
	if err := o.tx.CreateSegment(created); err != nil {
		if server.ErrorCode(err) == server.EEXISTS {
			return created, server.Errorf(server.EEXISTS, "segment %q already exists", seg.Key)
		}
		return created, err
	}
	if err := o.publishSegment(created); err != nil {
		return created, err
	}
	return created, o.audit("segment.create", "segment", seg.Key, "", nil, docOfSegment(created))
}

// publishSegment bumps every environment with the segment's new state.
func (o *op) publishSegment(seg server.Segment) error {
	return o.touchAll(func(_ string, c *server.Change) error {
		c.Segments = append(c.Segments, seg.Segment)
		return nil
	})
}

// GetSegment returns one segment.
func (s *Service) GetSegment(ctx context.Context, key string) (server.Segment, error) {
	if err := required("key", key); err != nil {
		return server.Segment{}, err
	}
	var seg server.Segment
	err := s.view(ctx, func(tx server.Tx) (err error) {
		seg, err = getSegment(tx, key)
		return err
	})
	return seg, err
}

// ListSegments returns every segment.
func (s *Service) ListSegments(ctx context.Context) ([]server.Segment, error) {
	var segs []server.Segment
	err := s.view(ctx, func(tx server.Tx) (err error) {
		segs, err = tx.ListSegments()
		return err
	})
	return segs, err
}

// UpdateSegment replaces a segment's definition. expected is the revision it
// is based on (0 skips the check).
func (s *Service) UpdateSegment(ctx context.Context, seg engine.Segment, expected int64) (server.Segment, error) {
	if err := engine.ValidateSegment(seg); err != nil {
		return server.Segment{}, fieldError("segment", err)
	}
	var updated server.Segment
	err := s.update(ctx, func(o *op) (err error) {
		updated, err = o.updateSegment(seg, expected)
		return err
	})
	return updated, err
}

// updateSegment replaces the definition of validated segment seg in o's
// transaction.
func (o *op) updateSegment(seg engine.Segment, expected int64) (server.Segment, error) {
	cur, err := getSegment(o.tx, seg.Key)
	if err != nil {
		return cur, err
	}
	if err := checkRevision(fmt.Sprintf("segment %q", seg.Key), cur.Revision, expected); err != nil {
		return cur, err
	}
	if same(cur.Segment, seg) {
		return cur, nil
	}
	if err := o.checkSegmentChange(cur.Segment, seg); err != nil {
		return cur, err
	}
	updated := cur
	updated.Segment, updated.Revision, updated.UpdatedAt = seg, cur.Revision+1, o.now
	if err := o.tx.UpdateSegment(updated); err != nil {
		return cur, err
	}
	if err := o.publishSegment(updated); err != nil {
		return cur, err
	}
	return updated, o.audit("segment.update", "segment", seg.Key, "", docOfSegment(cur), docOfSegment(updated))
}

// DeleteSegment deletes a segment no rule and no other segment uses.
func (s *Service) DeleteSegment(ctx context.Context, key string, expected int64) error {
	if err := required("key", key); err != nil {
		return err
	}
	return s.update(ctx, func(o *op) error {
		return o.deleteSegment(key, expected)
	})
}

// deleteSegment deletes segment key in o's transaction.
func (o *op) deleteSegment(key string, expected int64) error {
	cur, err := getSegment(o.tx, key)
	if err != nil {
		return err
	}
	if err := checkRevision(fmt.Sprintf("segment %q", key), cur.Revision, expected); err != nil {
		return err
	}
	if err := checkSegmentUnused(o.tx, key); err != nil {
		return err
	}
	if err := o.tx.DeleteSegment(key); err != nil {
		return err
	}
	err = o.touchAll(func(_ string, c *server.Change) error {
		c.DeletedSegments = append(c.DeletedSegments, key)
		return nil
	})
	if err != nil {
		return err
	}
	return o.audit("segment.delete", "segment", key, "", docOfSegment(cur), nil)
}

// checkSegmentUnused refuses to delete a segment that a rule of any flag in
// any environment, or another segment, still names.
func checkSegmentUnused(tx server.Tx, key string) error {
	envs, err := tx.ListEnvironments()
	if err != nil {
		return err
	}
	for _, e := range envs {
		configs, err := tx.ListConfigs(e.Name)
		if err != nil {
			return err
		}
		for _, c := range configs {
			for i, r := range c.Rules {
				if j := segmentCondition(r.Conditions, key); j >= 0 {
					return server.Invalid("key", "segment %q is still used by flag %q in environment %q (config.rules[%d].conditions[%d]); remove it there first",
						key, c.FlagKey, e.Name, i, j)
				}
			}
		}
	}
	segs, err := tx.ListSegments()
	if err != nil {
		return err
	}
	for _, seg := range segs {
		if j := segmentCondition(seg.Conditions, key); j >= 0 && seg.Key != key {
			return server.Invalid("key", "segment %q is still used by segment %q (segment.conditions[%d]); remove it there first", key, seg.Key, j)
		}
	}
	return nil
}

// segmentCondition returns the index of the first condition naming segment
// key, or -1.
func segmentCondition(conds []engine.Condition, key string) int {
	for i, c := range conds {
		if (c.Operator == engine.OpInSegment || c.Operator == engine.OpNotInSegment) && slices.Contains(c.Values, key) {
			return i
		}
	}
	return -1
}
