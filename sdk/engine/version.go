package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
)

// A flag's version identifies what it serves in a snapshot: a fingerprint
// of everything evaluation reads — its key, type and variants, its
// configuration in the environment, and the segments its rules refer to.
// It changes when a change could alter what the flag serves and only then:
// edits of other flags, of unused segments or of the flag's name,
// description, tags or owner leave it as it was, so a client that compares
// versions (OFREP's web provider, an SDK's change events) sees exactly the
// flags that changed. It is the same wherever the same definitions are
// compiled (server, Go SDK, another language's SDK given the same JSON).
// It is not ordered: compare versions for equality only.

// segmentSum fingerprints what a segment matches.
func segmentSum(s Segment) [sha256.Size]byte {
	b, _ := json.Marshal(struct {
		Match      Match       `json:"match"`
		Conditions []Condition `json:"conditions"`
		Included   []string    `json:"included"`
		Excluded   []string    `json:"excluded"`
	}{s.Match, s.Conditions, s.Included, s.Excluded})
	return sha256.Sum256(b)
}

// flagVersion fingerprints the normalised definition def with its
// configuration c and the segments c refers to (found by segs).
func flagVersion(def Flag, c Config, segs segmentLookup) string {
	h := sha256.New()
	b, _ := json.Marshal(struct {
		Key      string    `json:"key"`
		Type     FlagType  `json:"type"`
		Variants []Variant `json:"variants"`
		Config   Config    `json:"config"`
	}{def.Key, def.Type, def.Variants, c})
	h.Write(b)
	var used []string
	for _, r := range c.Rules {
		for _, cd := range r.Conditions {
			if cd.Operator == OpInSegment || cd.Operator == OpNotInSegment {
				used = append(used, cd.Values...)
			}
		}
	}
	slices.Sort(used)
	for _, key := range slices.Compact(used) {
		h.Write([]byte{0})
		h.Write([]byte(key))
		if sg, ok := segs(key); ok && sg != nil {
			h.Write(sg.sum[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// FlagVersion returns the version of the flag at position i of Keys (""
// when there is none). See VersionOf.
func (s *Snapshot) FlagVersion(i int) string {
	if s == nil || i < 0 || i >= s.ordered.len() {
		return ""
	}
	return s.ordered.at(i).version
}

// VersionOf returns the version of a flag: 16 hex digits that change when,
// and only when, something that decides what the flag serves in this
// environment changes (its variants, its configuration, a segment it
// uses). It is "" for a flag the snapshot does not serve.
func (s *Snapshot) VersionOf(flagKey string) string {
	if s == nil {
		return ""
	}
	if i, ok := s.flags[flagKey]; ok {
		return s.ordered.at(i).version
	}
	return ""
}
