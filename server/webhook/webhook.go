// Package webhook tells other systems about changes: admins subscribe a URL
// to kinds of events; every audited change enqueues one delivery per
// matching subscription in an outbox, in the change's own transaction; a
// Dispatcher sends the outbox, signed, with retries, outside any change's
// transaction. A server killed after a commit still delivers after restart
// (at least once, with the same delivery id on every attempt).
package webhook

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/flagpole/flagpole/server"
)

// Event kinds a subscription can name.
const (
	KindFlag          = "flag.changed"        // a flag definition created, updated, archived or deleted
	KindConfig        = "config.changed"      // a flag configuration changed in an environment
	KindSegment       = "segment.changed"     // a segment created, updated or deleted
	KindEnvironment   = "environment.changed" // an environment created, updated or deleted
	KindToken         = "token.changed"       // a token created or revoked
	KindUser          = "user.changed"        // a user created, deleted, given a role or a password
	KindWebhook       = "webhook.changed"     // a webhook subscription created or deleted
	KindReleaseStep   = "release.step"        // a release plan moved to its next step
	KindReleaseDone   = "release.completed"   // a release plan finished
	KindReleaseRolled = "release.rolled_back" // a release plan rolled back
	KindTest          = "webhook.test"        // sent by Test only, never enqueued by a change
)

// Kinds lists every kind a subscription may name, in a stable order.
var Kinds = []string{
	KindFlag, KindConfig, KindSegment, KindEnvironment, KindToken, KindUser, KindWebhook,
	KindReleaseStep, KindReleaseDone, KindReleaseRolled,
}

// Audit actions of a release plan's own entries (resource
// "release_plan", written by server/service) that are release events.
const (
	planStart    = "release.start"    // the plan applied its first step
	planAdvance  = "release.advance"  // the plan applied its next step
	planComplete = "release.complete" // the last step held
	planRollback = "release.rollback" // the guard found a regression
)

// KindOf maps an audit entry to its event kind, "" when none applies.
//
// Release events come from a plan's own entries (resource "release_plan"):
// start and advance are KindReleaseStep, complete KindReleaseDone, rollback
// KindReleaseRolled (its after document carries the plan's evidence); the
// plan's other entries (create, pause, resume, cancel) are no event. An
// entry of resource "release" whose action is the kind itself
// (Service.AuditRelease) is that kind. The configuration change each step
// makes is an ordinary config.changed, whatever its action.
func KindOf(e server.AuditEntry) string {
	switch e.Resource {
	case "release":
		switch e.Action {
		case KindReleaseStep, KindReleaseDone, KindReleaseRolled:
			return e.Action
		}
		return ""
	case "release_plan":
		switch e.Action {
		case planStart, planAdvance:
			return KindReleaseStep
		case planComplete:
			return KindReleaseDone
		case planRollback:
			return KindReleaseRolled
		}
		return ""
	}
	switch e.Resource {
	case "flag":
		return KindFlag
	case "config":
		return KindConfig
	case "segment":
		return KindSegment
	case "environment":
		return KindEnvironment
	case "token":
		return KindToken
	case "user":
		return KindUser
	case "webhook":
		return KindWebhook
	}
	return ""
}

// Subscription is a receiver and what it wants to hear about.
type Subscription struct {
	ID  string
	URL string
	// Events are the kinds delivered; at least one.
	Events []string
	// Environments, when not empty, restrict deliveries to entries of these
	// environments; entries that belong to no environment (a flag
	// definition, a token) are delivered regardless.
	Environments []string
	// Slack sends a Slack incoming-webhook body ({"text": ...}) instead of
	// the event document.
	Slack bool
	// Secret signs every delivery; shown once, at creation.
	Secret    string
	CreatedBy string
	CreatedAt time.Time
}

// Matches reports whether the subscription wants an entry of kind.
func (s Subscription) Matches(kind, env string) bool {
	if !slices.Contains(s.Events, kind) {
		return false
	}
	return len(s.Environments) == 0 || env == "" || slices.Contains(s.Environments, env)
}

// Delivery states.
const (
	StatePending   = "pending"
	StateDelivered = "delivered"
	StateFailed    = "failed"
)

// Delivery is one event on its way to one subscription.
type Delivery struct {
	// ID is sent on every attempt, so a receiver can drop duplicates.
	ID        string
	WebhookID string
	Kind      string
	// Body is the exact request body, fixed when the change commits.
	Body       []byte
	State      string
	Attempts   int
	NextAt     time.Time // when the next attempt is due (pending only)
	LastStatus int       // HTTP status of the last attempt, 0 if none answered
	LastError  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// DeliveryFilter selects deliveries, newest first.
type DeliveryFilter struct {
	WebhookID string
	State     string
	Limit     int // 0 means 100
}

func newID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// NewSecret returns a fresh signing secret.
func NewSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "whsec_" + hex.EncodeToString(b)
}

func validKind(k string) bool { return slices.Contains(Kinds, k) }

// kindList is Kinds for error messages.
func kindList() string { return strings.Join(Kinds, ", ") }
