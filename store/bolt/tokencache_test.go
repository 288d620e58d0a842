package bolt

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// Readers hammer TokenByHash while the token is revoked: once DeleteToken
// has returned, no read may find it, cached or not.
func TestTokenCacheNeverServesARevokedToken(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "db"), Options{})
	ctx := t.Context()
	if _, err := db.CreateOrg(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		secret, hash, prefix, _ := store.NewTokenSecret()
		_ = secret
		id, _ := store.NewID()
		if err := db.CreateToken(ctx, store.Token{ID: id, Kind: store.TokenAdmin, Org: "acme", Name: "t", Prefix: prefix, Hash: hash, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.TokenByHash(ctx, hash); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		done := make(chan struct{})
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					// Only a read that starts after DeleteToken returned
					// must miss; one that started before may see either.
					after := false
					select {
					case <-done:
						after = true
					default:
					}
					if _, err := db.TokenByHash(ctx, hash); after && err == nil {
						t.Errorf("round %d: revoked token found after DeleteToken returned", round)
						return
					}
				}
			})
		}
		if err := db.DeleteToken(ctx, id); err != nil {
			t.Fatal(err)
		}
		close(done)
		time.Sleep(5 * time.Millisecond)
		close(stop)
		wg.Wait()
		if _, err := db.TokenByHash(ctx, hash); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("TokenByHash after revoke = %v", err)
		}
	}
}
