package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/flagpole/flagpole/server"
)

// Event is the JSON body of a delivery (Slack mode aside).
type Event struct {
	// ID is the delivery's id, the same on every attempt.
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Time    time.Time `json:"time"`
	Webhook string    `json:"webhook"`
	Entry   EntryDoc  `json:"entry"`
}

// EntryDoc is the audit entry an event carries.
type EntryDoc struct {
	ID          int64           `json:"id"`
	Time        time.Time       `json:"time"`
	Actor       ActorDoc        `json:"actor"`
	Action      string          `json:"action"`
	Resource    string          `json:"resource"`
	Key         string          `json:"key"`
	Environment string          `json:"environment,omitempty"`
	Before      json.RawMessage `json:"before"`
	After       json.RawMessage `json:"after"`
	// Comment is why the change was made, as its actor said.
	Comment string `json:"comment,omitempty"`
}

// ActorDoc is who made the change, and through what.
type ActorDoc struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Source string `json:"source"`
}

func docOf(e server.AuditEntry) EntryDoc {
	d := EntryDoc{
		ID: e.ID, Time: e.Time.UTC(), Action: e.Action, Resource: e.Resource, Key: e.Key,
		Environment: e.Environment, Before: e.Before, After: e.After, Comment: e.Comment,
		Actor: ActorDoc{e.Actor.Kind, e.Actor.Name, e.Actor.Source},
	}
	if len(d.Before) == 0 {
		d.Before = json.RawMessage("null")
	}
	if len(d.After) == 0 {
		d.After = json.RawMessage("null")
	}
	return d
}

// Enqueue adds one pending delivery per subscription that wants e (an
// entry already appended, with its ID) to the outbox of the transaction
// that appended it. Entries of no kind enqueue nothing.
func Enqueue(tx Outbox, e server.AuditEntry) error {
	kind := KindOf(e)
	if kind == "" {
		return nil
	}
	subs, err := tx.ListWebhooks()
	if err != nil {
		return err
	}
	for _, s := range subs {
		if !s.Matches(kind, e.Environment) {
			continue
		}
		d := Delivery{ID: newID("dlv_"), WebhookID: s.ID, Kind: kind, State: StatePending,
			NextAt: e.Time, CreatedAt: e.Time, UpdatedAt: e.Time}
		if d.Body, err = body(s, d.ID, kind, e); err != nil {
			return err
		}
		if err := tx.EnqueueDelivery(d); err != nil {
			return err
		}
	}
	return nil
}

// body renders the request body of a delivery to s.
func body(s Subscription, id, kind string, e server.AuditEntry) ([]byte, error) {
	if s.Slack {
		return json.Marshal(map[string]string{"text": slackText(kind, e)})
	}
	return json.Marshal(Event{ID: id, Kind: kind, Time: e.Time.UTC(), Webhook: s.ID, Entry: docOf(e)})
}

// slackText is a one-line summary in Slack's mrkdwn.
func slackText(kind string, e server.AuditEntry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Flagpole: *%s* %s", e.Actor.Name, e.Action)
	if e.Key != "" {
		fmt.Fprintf(&b, " `%s`", e.Key)
	}
	if e.Environment != "" {
		fmt.Fprintf(&b, " in *%s*", e.Environment)
	}
	fmt.Fprintf(&b, " (%s, via %s)", kind, e.Actor.Source)
	if e.Comment != "" {
		// Slack reads &, < and > as markup; each line is quoted.
		c := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\n", "\n> ").Replace(e.Comment)
		b.WriteString("\n> " + c)
	}
	return b.String()
}

// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>" of
// timestamp + "." + body, keyed with the subscription's secret.
const SignatureHeader = "Flagpole-Signature"

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte("."))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// Verify checks a SignatureHeader value against body and refuses a
// timestamp further than tolerance from now (a replay). Receivers written
// in Go can use it; the README shows the same steps for others.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook: signature has no timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook: signature timestamp is %s away from now, beyond %s", d.Round(time.Second), tolerance)
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("webhook: signature does not match")
}
