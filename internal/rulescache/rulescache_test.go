package rulescache

import (
	"testing"

	"github.com/scimbridge/scimbridge/mapping"
)

// TestCache checks that a Cache answers only for the version it holds and
// that an older version never replaces a newer one.
func TestCache(t *testing.T) {
	var c Cache
	r1, r2 := &mapping.Rules{}, &mapping.Rules{}
	if c.Get("acme", 1) != nil {
		t.Fatal("an empty cache answered")
	}
	c.Put("acme", 2, r2)
	c.Put("acme", 1, r1) // a reader that saw an older version, late
	if c.Get("acme", 2) != r2 || c.Get("acme", 1) != nil || c.Get("globex", 2) != nil {
		t.Error("Get does not answer with the newest version of its own key only")
	}
}
