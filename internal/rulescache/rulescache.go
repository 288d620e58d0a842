// Package rulescache keeps compiled rules (mapping.Rules) by org and
// version. The bolt store (evaluating access in its transactions) and the
// sso handler (evaluating a session's roles) both read the current
// version's document and need it parsed once; package mapping stays pure
// (no sync, no state), so the one mutable cache both use lives here.
package rulescache

import (
	"sync"

	"github.com/scimbridge/scimbridge/mapping"
)

// Cache keeps compiled rules by a key (an org) and the version they were
// published as, so that a caller who reads the document of the current
// version parses it at most once per version. Versions never change, so
// an entry is valid for as long as its version is current; a newer one
// replaces it. It is safe for concurrent use.
type Cache struct {
	mu sync.Mutex
	m  map[string]cached
}

type cached struct {
	version int
	rules   *mapping.Rules
}

// Get returns the rules cached for key at version, or nil.
func (c *Cache) Get(key string, version int) *mapping.Rules {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok && e.version == version {
		return e.rules
	}
	return nil
}

// Put caches r as key's rules at version, unless a newer version is
// cached already.
func (c *Cache) Put(key string, version int, r *mapping.Rules) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cached{}
	}
	if e, ok := c.m[key]; !ok || e.version < version {
		c.m[key] = cached{version: version, rules: r}
	}
}
