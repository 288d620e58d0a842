package bolt

// Token upkeep: last use, rotation and expiry announcements. They rewrite
// the token record (orgs.go) in place; the fields they keep (last_used,
// replaced_by, expiring_days) are JSON fields of that record, so files
// written before them need no migration, and an older build that opens a
// newer file ignores them (it never rewrites a token record).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

// readToken decodes the record of token id inside tx.
func readToken(tx *bbolt.Tx, id string) (tokenRecord, error) {
	var r tokenRecord
	v := tx.Bucket(bucketTokens).Get([]byte(id))
	if id == "" || v == nil {
		return r, errNoToken
	}
	if err := decode(v, &r); err != nil {
		return r, fmt.Errorf("token %q: %w", id, err)
	}
	return r, nil
}

func putToken(tx *bbolt.Tx, id string, r tokenRecord) error {
	v, err := encode(r)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketTokens).Put([]byte(id), v)
}

// TouchToken records the last use of a token; see store.Store. It emits
// no event, so it never opens an outbox.
func (db *DB) TouchToken(ctx context.Context, id string, at time.Time) error {
	defer db.tokens.invalidate()
	at = at.UTC().Round(0)
	err := db.write(ctx, "", func(tx *bbolt.Tx, _ *outbox) error {
		r, err := readToken(tx, id)
		if err != nil {
			return err
		}
		if !at.After(r.LastUsed) {
			return nil
		}
		r.LastUsed = at
		return putToken(tx, id, r)
	})
	if err != nil {
		return fmt.Errorf("bolt: touch token %q: %w", id, err)
	}
	return nil
}

// tokenRotatedData is the data of token.rotated: both tokens as their
// other events show them (never a hash), the old one with its shortened
// expiry.
type tokenRotatedData struct {
	Old tokenData `json:"old"`
	New tokenData `json:"new"`
}

// RotateToken replaces a token; see store.Store.
func (db *DB) RotateToken(ctx context.Context, id string, newTok store.Token, overlap time.Duration) (store.Token, error) {
	defer db.tokens.invalidate()
	if overlap < 0 {
		return store.Token{}, fmt.Errorf("bolt: rotate token %q: negative overlap %v", id, overlap)
	}
	var old store.Token
	err := db.write(ctx, "", func(tx *bbolt.Tx, ob *outbox) error {
		old = store.Token{}
		r, err := readToken(tx, id)
		if err != nil {
			return err
		}
		if r.ReplacedBy != "" {
			return &store.ConflictError{Field: "replaced_by", Value: r.ReplacedBy}
		}
		t := newTok
		t.Kind, t.Org, t.Directory, t.Name = r.Kind, r.Org, r.Directory, r.Name
		if t.Created.IsZero() {
			t.Created = ob.now
		}
		nr, err := insertToken(tx, t)
		if err != nil {
			return err
		}
		if limit := ob.now.Add(overlap); r.Expires.IsZero() || limit.Before(r.Expires) {
			r.Expires = limit
		}
		r.ReplacedBy = t.ID
		if err := putToken(tx, id, r); err != nil {
			return err
		}
		ob.org = r.Org // known only now; the outbox is opened by the first event
		data := tokenRotatedData{
			Old: tokenData{ID: id, Kind: r.Kind, Org: r.Org, Directory: r.Directory, Name: r.Name,
				Prefix: r.Prefix, Created: r.Created, Expires: r.Expires},
			New: tokenData{ID: t.ID, Kind: nr.Kind, Org: nr.Org, Directory: nr.Directory, Name: nr.Name,
				Prefix: nr.Prefix, Created: nr.Created, Expires: nr.Expires},
		}
		raw, err := encodeData(data)
		if err != nil {
			return err
		}
		if err := ob.append(r.Directory, store.EventTokenRotated, resourceRecord{Type: store.ResourceToken, ID: id}, raw, nil); err != nil {
			return err
		}
		old = r.token(id)
		return nil
	})
	if err != nil {
		return store.Token{}, fmt.Errorf("bolt: rotate token %q: %w", id, err)
	}
	return old, nil
}

// tokenExpiringData is the data of token.expiring.
type tokenExpiringData struct {
	ID        string          `json:"id"`
	Kind      store.TokenKind `json:"kind"`
	Directory string          `json:"directory,omitempty"`
	Name      string          `json:"name"`
	Prefix    string          `json:"prefix"`
	Expires   time.Time       `json:"expires"`
	Days      int             `json:"days"`
}

// MarkTokenExpiring announces a token's coming expiry once per threshold;
// see store.Store. The announced threshold is kept in the token record,
// written in the transaction that appends the event, so a crash leaves
// both or neither and a restart never announces a threshold twice.
func (db *DB) MarkTokenExpiring(ctx context.Context, id string, days int) (bool, error) {
	defer db.tokens.invalidate()
	if days < 1 {
		return false, fmt.Errorf("bolt: mark token %q expiring: days %d is below 1", id, days)
	}
	var marked bool
	err := db.write(ctx, "", func(tx *bbolt.Tx, ob *outbox) error {
		marked = false
		r, err := readToken(tx, id)
		if err != nil {
			return err
		}
		if r.Expires.IsZero() {
			return errors.New("the token does not expire")
		}
		if r.ExpiringDays != 0 && r.ExpiringDays <= days {
			return nil
		}
		r.ExpiringDays = days
		if err := putToken(tx, id, r); err != nil {
			return err
		}
		ob.org = r.Org
		raw, err := encodeData(tokenExpiringData{ID: id, Kind: r.Kind, Directory: r.Directory, Name: r.Name,
			Prefix: r.Prefix, Expires: r.Expires, Days: days})
		if err != nil {
			return err
		}
		if err := ob.append(r.Directory, store.EventTokenExpiring, resourceRecord{Type: store.ResourceToken, ID: id}, raw, nil); err != nil {
			return err
		}
		marked = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("bolt: mark token %q expiring: %w", id, err)
	}
	return marked, nil
}

// tokenCache keeps the tokens TokenByHash found, so that authenticating a
// request does not read and decode the token record every time (it was 8%
// of the CPU of a userName lookup). Every token write empties it after its
// commit; a read that began before a write's commit cannot put what it
// read after that (the generation moved on), so a revoked token is never
// served from the cache once DeleteToken has returned.
type tokenCache struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]store.Token
}

// maxCachedTokens bounds the cache (it is emptied when full).
const maxCachedTokens = 10_000

func (c *tokenCache) get(hash string) (store.Token, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.m[hash]
	if ok {
		t.Hash = slices.Clone(t.Hash)
	}
	return t, c.gen, ok
}

func (c *tokenCache) put(hash string, t store.Token, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= maxCachedTokens {
		c.m = map[string]store.Token{}
	}
	t.Hash = slices.Clone(t.Hash)
	c.m[hash] = t
}

func (c *tokenCache) invalidate() {
	c.mu.Lock()
	c.gen++
	clear(c.m)
	c.mu.Unlock()
}
