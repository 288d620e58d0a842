package bolt

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

type orgRecord struct {
	Created time.Time `json:"created"`
}

type directoryRecord struct {
	Profile string    `json:"profile"`
	Created time.Time `json:"created"`
}

type tokenRecord struct {
	Kind      store.TokenKind `json:"kind"`
	Org       string          `json:"org,omitempty"`
	Directory string          `json:"directory,omitempty"`
	Name      string          `json:"name"`
	Prefix    string          `json:"prefix"`
	Hash      []byte          `json:"hash"`
	Created   time.Time       `json:"created"`
	Expires   time.Time       `json:"expires,omitzero"`
	// Added after schema 3, without a migration: a record without them
	// is a token never touched, rotated or announced (see tokens.go).
	LastUsed   time.Time `json:"last_used,omitzero"`
	ReplacedBy string    `json:"replaced_by,omitempty"`
	// ExpiringDays is the tightest threshold (days before expiry) that
	// token.expiring was emitted for; 0: none.
	ExpiringDays int `json:"expiring_days,omitempty"`
}

func (r tokenRecord) token(id string) store.Token {
	return store.Token{
		ID: id, Kind: r.Kind, Org: r.Org, Directory: r.Directory, Name: r.Name,
		Prefix: r.Prefix, Hash: r.Hash, Created: r.Created, Expires: r.Expires,
		LastUsed: r.LastUsed, ReplacedBy: r.ReplacedBy,
	}
}

// CreateOrg creates an org with its empty outbox; it emits no event. A
// taken name is a *store.ConflictError on "org".
func (db *DB) CreateOrg(ctx context.Context, name string) (store.Org, error) {
	org := store.Org{Name: name}
	err := db.write(ctx, name, func(tx *bbolt.Tx, ob *outbox) error {
		org.Created = ob.now
		if name == "" {
			return errors.New("org name is empty")
		}
		orgs := tx.Bucket(bucketOrgs)
		if orgs.Get([]byte(name)) != nil {
			return &store.ConflictError{Field: "org", Value: name}
		}
		if err := createOutbox(tx, tx.Bucket(bucketOutbox), []byte(name)); err != nil {
			return err
		}
		if err := createOrgAccess(tx, []byte(name)); err != nil {
			return err
		}
		v, err := encode(orgRecord{Created: org.Created})
		if err != nil {
			return err
		}
		if err := orgs.Put([]byte(name), v); err != nil {
			return err
		}
		_, err = tx.Bucket(bucketDirs).CreateBucket([]byte(name))
		return err
	})
	if err != nil {
		return store.Org{}, fmt.Errorf("bolt: create org %q: %w", name, err)
	}
	return org, nil
}

// Orgs lists every org in name order.
func (db *DB) Orgs(ctx context.Context) ([]store.Org, error) {
	var orgs []store.Org
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketOrgs).ForEach(func(k, v []byte) error {
			var r orgRecord
			if err := decode(v, &r); err != nil {
				return fmt.Errorf("org %q: %w", k, err)
			}
			orgs = append(orgs, store.Org{Name: string(k), Created: r.Created})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: list orgs: %w", err)
	}
	return orgs, nil
}

// CreateDirectory creates a directory in an existing org, with its buckets,
// and emits directory.created. d.Created is set by the store.
func (db *DB) CreateDirectory(ctx context.Context, d store.Directory) (store.Directory, error) {
	err := db.write(ctx, d.Org, func(tx *bbolt.Tx, ob *outbox) error {
		d.Created = ob.now
		if d.Name == "" {
			return errors.New("directory name is empty")
		}
		org := tx.Bucket(bucketDirs).Bucket([]byte(d.Org))
		if d.Org == "" || org == nil {
			return errNoOrg
		}
		if org.Get([]byte(d.Name)) != nil || org.Bucket([]byte(d.Name)) != nil {
			return &store.ConflictError{Field: "directory", Value: d.Name}
		}
		b, err := org.CreateBucket([]byte(d.Name))
		if err != nil {
			return err
		}
		for _, name := range directorySubBuckets {
			if _, err := b.CreateBucket(name); err != nil {
				return err
			}
		}
		v, err := encode(directoryRecord{Profile: d.Profile, Created: d.Created})
		if err != nil {
			return err
		}
		if err := b.Put(keyDirectory, v); err != nil {
			return err
		}
		data, err := encodeData(directoryData{Org: d.Org, Name: d.Name, Profile: d.Profile, Created: d.Created})
		if err != nil {
			return err
		}
		return ob.append(d.Name, store.EventDirectoryCreated, resourceRecord{Type: store.ResourceDirectory, ID: d.Name}, data, nil)
	})
	if err != nil {
		return store.Directory{}, fmt.Errorf("bolt: create directory %s: %w", d.Key(), err)
	}
	return d, nil
}

func readDirectory(b *bbolt.Bucket, k store.DirKey) (store.Directory, error) {
	var r directoryRecord
	if err := decode(b.Get(keyDirectory), &r); err != nil {
		return store.Directory{}, fmt.Errorf("directory %s: %w", k, err)
	}
	return store.Directory{Org: k.Org, Name: k.Directory, Profile: r.Profile, Created: r.Created}, nil
}

// Directory reads one directory. Directories never change or go once
// created (no method updates or deletes one), so a directory found is
// kept in memory: every SCIM request asks for its own.
func (db *DB) Directory(ctx context.Context, k store.DirKey) (store.Directory, error) {
	if d, ok := db.dirs.Load(k); ok {
		if err := ctx.Err(); err != nil {
			return store.Directory{}, err
		}
		return d.(store.Directory), nil
	}
	d, err := db.directory(ctx, k)
	if err == nil {
		db.dirs.Store(k, d)
	}
	return d, err
}

// directory reads one directory from the file.
func (db *DB) directory(ctx context.Context, k store.DirKey) (store.Directory, error) {
	var d store.Directory
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		b := directoryBucket(tx, k)
		if b == nil {
			return errNoDirectory
		}
		var err error
		d, err = readDirectory(b, k)
		return err
	})
	if err != nil {
		return store.Directory{}, fmt.Errorf("bolt: directory %s: %w", k, err)
	}
	return d, nil
}

// Directories lists the directories of an org in name order.
func (db *DB) Directories(ctx context.Context, org string) ([]store.Directory, error) {
	var dirs []store.Directory
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		ob := tx.Bucket(bucketDirs).Bucket([]byte(org))
		if org == "" || ob == nil {
			return errNoOrg
		}
		return ob.ForEachBucket(func(k []byte) error {
			d, err := readDirectory(ob.Bucket(k), store.DirKey{Org: org, Directory: string(k)})
			if err != nil {
				return err
			}
			dirs = append(dirs, d)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: list directories of %q: %w", org, err)
	}
	return dirs, nil
}

// CreateToken stores a token and emits token.created (without the hash) in
// the outbox of its org (of org "" for a super token). Its ID and Hash must
// both be unused (a *store.ConflictError on "token" otherwise); its org,
// and for SCIM tokens its directory, must exist.
func (db *DB) CreateToken(ctx context.Context, t store.Token) error {
	defer db.tokens.invalidate()
	err := db.write(ctx, t.Org, func(tx *bbolt.Tx, ob *outbox) error {
		r, err := insertToken(tx, t)
		if err != nil {
			return err
		}
		data, err := newTokenData(t.ID, &r)
		if err != nil {
			return err
		}
		return ob.append(t.Directory, store.EventTokenCreated, resourceRecord{Type: store.ResourceToken, ID: t.ID}, data, nil)
	})
	if err != nil {
		return fmt.Errorf("bolt: create token %q: %w", t.ID, err)
	}
	return nil
}

// insertToken checks t as CreateToken documents and writes its record and
// its hash key. It emits nothing.
func insertToken(tx *bbolt.Tx, t store.Token) (tokenRecord, error) {
	if t.ID == "" || len(t.Hash) == 0 || t.Created.IsZero() {
		return tokenRecord{}, errors.New("token ID, Hash and Created must be set")
	}
	switch t.Kind {
	case store.TokenSuper:
		if t.Org != "" || t.Directory != "" {
			return tokenRecord{}, errors.New("a super token has no org or directory")
		}
	case store.TokenAdmin:
		if t.Org == "" || tx.Bucket(bucketOrgs).Get([]byte(t.Org)) == nil {
			return tokenRecord{}, errNoOrg
		}
		if t.Directory != "" {
			return tokenRecord{}, errors.New("an admin token has no directory")
		}
	case store.TokenSCIM:
		if directoryBucket(tx, store.DirKey{Org: t.Org, Directory: t.Directory}) == nil {
			return tokenRecord{}, errNoDirectory
		}
	default:
		return tokenRecord{}, fmt.Errorf("unknown token kind %q", t.Kind)
	}
	tokens, hashes := tx.Bucket(bucketTokens), tx.Bucket(bucketTokenHash)
	if tokens.Get([]byte(t.ID)) != nil || hashes.Get(t.Hash) != nil {
		return tokenRecord{}, &store.ConflictError{Field: "token", Value: t.ID}
	}
	r := tokenRecord{
		Kind: t.Kind, Org: t.Org, Directory: t.Directory, Name: t.Name,
		Prefix: t.Prefix, Hash: t.Hash, Created: t.Created, Expires: t.Expires,
	}
	v, err := encode(r)
	if err != nil {
		return tokenRecord{}, err
	}
	if err := tokens.Put([]byte(t.ID), v); err != nil {
		return tokenRecord{}, err
	}
	if err := hashes.Put(t.Hash, []byte(t.ID)); err != nil {
		return tokenRecord{}, err
	}
	return r, nil
}

// TokenByHash finds a token by the SHA-256 of its secret. It does not look
// at expiry: that is the caller's (Token.Expired).
func (db *DB) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	key := string(hash)
	t, gen, ok := db.tokens.get(key)
	if ok {
		return t, nil
	}
	t, err := db.tokenByHash(ctx, hash)
	if err == nil {
		db.tokens.put(key, t, gen)
	}
	return t, err
}

// tokenByHash reads a token from the file (TokenByHash without the cache).
func (db *DB) tokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	var t store.Token
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		if len(hash) == 0 {
			return errNoToken
		}
		id := tx.Bucket(bucketTokenHash).Get(hash)
		if id == nil {
			return errNoToken
		}
		var r tokenRecord
		if err := decode(tx.Bucket(bucketTokens).Get(id), &r); err != nil {
			return fmt.Errorf("token %q: %w", id, err)
		}
		if subtle.ConstantTimeCompare(r.Hash, hash) != 1 {
			return errNoToken
		}
		t = r.token(string(id))
		return nil
	})
	if err != nil {
		return store.Token{}, fmt.Errorf("bolt: token by hash: %w", err)
	}
	return t, nil
}

// Tokens lists the tokens of an org (admin and SCIM), or with org "" the
// super tokens, ordered by Created then ID.
func (db *DB) Tokens(ctx context.Context, org string) ([]store.Token, error) {
	var ts []store.Token
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		if org != "" && tx.Bucket(bucketOrgs).Get([]byte(org)) == nil {
			return errNoOrg
		}
		return tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
			var r tokenRecord
			if err := decode(v, &r); err != nil {
				return fmt.Errorf("token %q: %w", k, err)
			}
			if r.Org == org {
				ts = append(ts, r.token(string(k)))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: list tokens of %q: %w", org, err)
	}
	slices.SortFunc(ts, func(a, b store.Token) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return ts, nil
}

// DeleteToken removes a token, so that its hash no longer authenticates,
// and emits token.revoked in the outbox of its org.
func (db *DB) DeleteToken(ctx context.Context, id string) error {
	defer db.tokens.invalidate()
	err := db.write(ctx, "", func(tx *bbolt.Tx, ob *outbox) error {
		tokens := tx.Bucket(bucketTokens)
		v := tokens.Get([]byte(id))
		if id == "" || v == nil {
			return errNoToken
		}
		var r tokenRecord
		if err := decode(v, &r); err != nil {
			return err
		}
		if err := tx.Bucket(bucketTokenHash).Delete(r.Hash); err != nil {
			return err
		}
		if err := tokens.Delete([]byte(id)); err != nil {
			return err
		}
		ob.org = r.Org // known only now; the outbox is opened by the first event
		data, err := newTokenData(id, &r)
		if err != nil {
			return err
		}
		return ob.append(r.Directory, store.EventTokenRevoked, resourceRecord{Type: store.ResourceToken, ID: id}, data, nil)
	})
	if err != nil {
		return fmt.Errorf("bolt: delete token %q: %w", id, err)
	}
	return nil
}
