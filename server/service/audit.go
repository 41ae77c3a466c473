package service

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/flagpole/flagpole/sdk/engine"
	"github.com/flagpole/flagpole/server"
	"github.com/flagpole/flagpole/server/webhook"
)

// Audit page sizes.
const (
	DefaultAuditPageSize = 100
	MaxAuditPageSize     = 1000
)

// The JSON documents stored as an audit entry's before and after.
type (
	flagDoc struct {
		engine.Flag
		Revision int64 `json:"revision"`
	}
	configDoc struct {
		FlagKey     string `json:"flagKey"`
		Environment string `json:"environment"`
		engine.Config
		Revision int64 `json:"revision"`
	}
	segmentDoc struct {
		engine.Segment
		Revision int64 `json:"revision"`
	}
	environmentDoc struct {
		Name           string `json:"name"`
		Description    string `json:"description,omitempty"`
		Protected      bool   `json:"protected"`
		RequireComment bool   `json:"requireComment"`
	}
)

func docOfFlag(f server.Flag) flagDoc { return flagDoc{f.Flag, f.Revision} }
func docOfConfig(c server.FlagConfig) configDoc {
	return configDoc{c.FlagKey, c.Environment, c.Config, c.Revision}
}
func docOfSegment(s server.Segment) segmentDoc { return segmentDoc{s.Segment, s.Revision} }
func docOfEnvironment(e server.Environment) environmentDoc {
	return environmentDoc{e.Name, e.Description, e.Protected, e.RequireComment}
}

// audit appends the change's audit entry, with the change's comment;
// before is nil on create, after nil on delete. A change in an environment
// that requires a comment is refused without one (see checkComment).
func (o *op) audit(action, resource, key, env string, before, after any) error {
	if err := o.checkComment(env); err != nil {
		return err
	}
	b, err := json.Marshal(before)
	if err != nil {
		return err
	}
	a, err := json.Marshal(after)
	if err != nil {
		return err
	}
	e := server.AuditEntry{
		Time: o.now, Actor: o.actor, Action: action, Resource: resource,
		Key: key, Environment: env, Before: b, After: a, Comment: o.comment,
	}
	if e.ID, err = o.tx.AppendAudit(e); err != nil {
		return err
	}
	// Every audited change enqueues its webhook deliveries in its own
	// transaction: committed together, or not at all.
	if ob, ok := o.tx.(webhook.Outbox); ok {
		return webhook.Enqueue(ob, e)
	}
	return nil
}

// checkComment refuses a change in environment env (as it is in the
// change's transaction) without a comment when env requires one. Changes
// the server makes itself (server.System: bootstrap, release plan steps)
// need none; a change outside any environment (env "") neither. An
// environment the change deleted is checked by the deletion, before.
func (o *op) checkComment(env string) error {
	if o.comment != "" || env == "" || o.actor.Kind == server.System.Kind || o.commented[env] {
		return nil
	}
	e, err := o.tx.GetEnvironment(env)
	if server.ErrorCode(err) == server.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	if err := o.requireComment(e); err != nil {
		return err
	}
	if o.commented == nil {
		o.commented = map[string]bool{}
	}
	o.commented[env] = true
	return nil
}

// requireComment is the error of a change without a comment in env when
// env requires one, else nil.
func (o *op) requireComment(env server.Environment) error {
	if !env.RequireComment || o.comment != "" || o.actor.Kind == server.System.Kind {
		return nil
	}
	return server.Invalid("comment", "environment %q requires a comment on every change: say why (header %s, CLI --comment)",
		env.Name, server.CommentHeader)
}

// Release event kinds a release plan runner reports with AuditRelease.
var releaseKinds = []string{webhook.KindReleaseStep, webhook.KindReleaseDone, webhook.KindReleaseRolled}

// AuditRelease records a release plan's event (kind is one of
// webhook.KindReleaseStep, KindReleaseDone, KindReleaseRolled) for flagKey
// in env, with the plan's state before and after, as an audit entry of
// resource "release" whose action is the kind, so webhooks subscribed to the
// kind are told. A plan runner that changes a configuration in the same
// step should audit both in one transaction; this call is for the event
// alone.
func (s *Service) AuditRelease(ctx context.Context, kind, flagKey, env string, before, after any) error {
	if !slices.Contains(releaseKinds, kind) {
		return server.Invalid("kind", "%q is not one of %s", kind, strings.Join(releaseKinds, ", "))
	}
	return s.update(ctx, func(o *op) error {
		if _, err := o.tx.GetConfig(env, flagKey); err != nil {
			return err
		}
		return o.audit(kind, "release", flagKey, env, before, after)
	})
}

// ListAudit returns one page of matching audit entries, newest first, and
// the token of the next page ("" on the last). f.Limit is the page size
// (0 means DefaultAuditPageSize, at most MaxAuditPageSize); pageToken is a
// token a previous call returned, or "".
func (s *Service) ListAudit(ctx context.Context, f server.AuditFilter, pageToken string) ([]server.AuditEntry, string, error) {
	switch {
	case f.Limit < 0:
		return nil, "", server.Invalid("page_size", "must not be negative, got %d", f.Limit)
	case f.Limit == 0:
		f.Limit = DefaultAuditPageSize
	case f.Limit > MaxAuditPageSize:
		f.Limit = MaxAuditPageSize
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return nil, "", server.Invalid("until", "is before since")
	}
	if pageToken != "" {
		id, ok := decodePageToken(pageToken)
		if !ok {
			return nil, "", server.Invalid("page_token", "is not a page token this server issued")
		}
		f.BeforeID = id
	}
	size := f.Limit
	f.Limit = size + 1 // one more tells whether another page follows
	var entries []server.AuditEntry
	err := s.view(ctx, func(tx Tx) (err error) {
		entries, err = tx.ListAudit(f)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	if len(entries) <= size {
		return entries, "", nil
	}
	entries = entries[:size]
	return entries, encodePageToken(entries[size-1].ID), nil
}

const pageTokenPrefix = "audit-before:"

func encodePageToken(beforeID int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(pageTokenPrefix + strconv.FormatInt(beforeID, 10)))
}

func decodePageToken(token string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, false
	}
	rest, ok := strings.CutPrefix(string(b), pageTokenPrefix)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || id <= 0 {
		return 0, false
	}
	return id, true
}
