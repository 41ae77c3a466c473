package auth

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/flagpole/flagpole/server"
)

// DefaultTokenCacheTTL is how long a token read from the store is trusted
// without reading it again. A revocation through this process takes effect
// at once (RevokeToken drops the entry); one made through another replica
// sharing the database, within this time.
const DefaultTokenCacheTTL = 2 * time.Second

// maxCachedTokens bounds the cache; past it the cache starts over.
const maxCachedTokens = 10_000

// tokenCache remembers tokens by the SHA-256 of their secret, so that the
// calls of a service do not each read the store. It caches what the store
// said, not a verdict: revocation and expiry are checked on every call.
// Unknown secrets are never cached.
type tokenCache struct {
	ttl time.Duration // 0: off

	mu      sync.Mutex
	entries map[[sha256.Size]byte]cachedToken
	// gen grows with every invalidation, so that a read of the store that
	// began before a revocation cannot put the old token back afterwards.
	gen uint64
}

type cachedToken struct {
	token server.Token
	id    *Identity // the token's identity, shared by its calls
	read  time.Time
}

func newTokenCache(ttl time.Duration) *tokenCache {
	return &tokenCache{ttl: ttl, entries: map[[sha256.Size]byte]cachedToken{}}
}

// get returns the token cached for hash if it was read less than ttl ago,
// and the generation to hand to put after reading the store otherwise.
func (c *tokenCache) get(hash [sha256.Size]byte, now time.Time) (server.Token, *Identity, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if ok && now.Sub(e.read) < c.ttl && !now.Before(e.read) {
		return e.token, e.id, true, c.gen
	}
	return server.Token{}, nil, false, c.gen
}

// put caches a token read from the store, unless the cache is off or was
// invalidated since gen.
func (c *tokenCache) put(hash [sha256.Size]byte, t server.Token, id *Identity, now time.Time, gen uint64) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= maxCachedTokens {
		clear(c.entries)
	}
	c.entries[hash] = cachedToken{token: t, id: id, read: now}
}

// invalidate drops the token whose secret hashes to hash.
func (c *tokenCache) invalidate(hash []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if len(hash) == sha256.Size {
		delete(c.entries, [sha256.Size]byte(hash))
	} else {
		clear(c.entries)
	}
}
