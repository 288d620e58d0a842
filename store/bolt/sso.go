package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

var _ store.SSO = (*DB)(nil)

// Single sign-on state: one top-level bucket "sso", created on first write,
// with
//
//	config         org 0x00 directory → SSOConfig (JSON)
//	logins         state id → LoginState (JSON)
//	once           key → expiry (unix nanoseconds, big-endian)
//	sessions       SHA-256 of the cookie secret → Session (JSON)
//	user_sessions  org 0x00 directory 0x00 user id 0x00 hash → empty
//
// user_sessions is what lets a deactivation or a deletion find and delete
// a person's sessions in its own transaction (revokeSessions).
var (
	bucketSSO          = []byte("sso")
	bucketSSOConfig    = []byte("config")
	bucketSSOLogins    = []byte("logins")
	bucketSSOOnce      = []byte("once")
	bucketSSOSessions  = []byte("sessions")
	bucketUserSessions = []byte("user_sessions")
	ssoSubBuckets      = [][]byte{bucketSSOConfig, bucketSSOLogins, bucketSSOOnce, bucketSSOSessions, bucketUserSessions}
)

// ssoBuckets returns the sub-bucket name of the sso bucket, creating both
// in a writable transaction; nil in a read-only one where they do not
// exist yet.
func ssoBucket(tx *bbolt.Tx, name []byte) (*bbolt.Bucket, error) {
	root := tx.Bucket(bucketSSO)
	if root == nil {
		if !tx.Writable() {
			return nil, nil
		}
		var err error
		if root, err = tx.CreateBucket(bucketSSO); err != nil {
			return nil, err
		}
		for _, n := range ssoSubBuckets {
			if _, err := root.CreateBucket(n); err != nil {
				return nil, err
			}
		}
	}
	return root.Bucket(name), nil
}

func dirConfigKey(k store.DirKey) []byte { return pairKey(k.Org, k.Directory) }

func userSessionKey(org, dir, userID string, hash []byte) []byte {
	k := make([]byte, 0, len(org)+len(dir)+len(userID)+len(hash)+3)
	k = append(append(k, org...), 0)
	k = append(append(k, dir...), 0)
	k = append(append(k, userID...), 0)
	return append(k, hash...)
}

// SSOConfig reads a directory's settings; see store.SSO.
func (db *DB) SSOConfig(ctx context.Context, k store.DirKey) (store.SSOConfig, error) {
	var c store.SSOConfig
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		c, err = readSSOConfig(tx, k)
		return err
	})
	if err != nil {
		return store.SSOConfig{}, fmt.Errorf("bolt: read sso config of %s: %w", k, err)
	}
	return c, nil
}

func readSSOConfig(tx *bbolt.Tx, k store.DirKey) (store.SSOConfig, error) {
	if directoryBucket(tx, k) == nil {
		return store.SSOConfig{}, errNoDirectory
	}
	c := store.SSOConfig{}
	b, err := ssoBucket(tx, bucketSSOConfig)
	if err != nil {
		return c, err
	}
	if b != nil {
		if v := b.Get(dirConfigKey(k)); v != nil {
			if err := decode(v, &c); err != nil {
				return c, err
			}
		}
	}
	c.Org, c.Directory = k.Org, k.Directory
	return c, nil
}

// ssoConfigData is the data of directory.sso_updated: what is configured,
// never a key, a secret or the metadata itself.
func ssoConfigData(c *store.SSOConfig) (rawData, error) {
	return encodeData(map[string]any{
		"version": c.Version,
		"saml": map[string]any{
			"sp_key":                    len(c.SAML.SPKeySealed) > 0,
			"idp_metadata":              len(c.SAML.IDPMetadata) > 0,
			"idp_metadata_url":          c.SAML.IDPMetadataURL,
			"allow_idp_initiated":       c.SAML.AllowIDPInitiated,
			"allow_unsigned_assertions": c.SAML.AllowUnsignedAssertions,
		},
		"oidc": map[string]any{
			"issuer": c.OIDC.Issuer, "client_id": c.OIDC.ClientID,
			"client_secret": len(c.OIDC.ClientSecretSealed) > 0,
		},
		"jit":              c.JIT,
		"return_urls":      c.ReturnURLs,
		"session_idle":     c.SessionIdle.String(),
		"session_absolute": c.SessionAbsolute.String(),
	})
}

// UpdateSSOConfig reads, changes and stores a directory's settings; see
// store.SSO.
func (db *DB) UpdateSSOConfig(ctx context.Context, k store.DirKey, emit bool, fn func(c *store.SSOConfig) error) (store.SSOConfig, error) {
	var out store.SSOConfig
	var fnErr error
	err := db.write(ctx, k.Org, func(tx *bbolt.Tx, ob *outbox) error {
		fnErr = nil
		old, err := readSSOConfig(tx, k)
		if err != nil {
			return err
		}
		c := old
		if fnErr = fn(&c); fnErr != nil {
			return fnErr
		}
		c.Org, c.Directory = k.Org, k.Directory
		c.Version, c.Modified = old.Version+1, ob.now
		v, err := encode(&c)
		if err != nil {
			return err
		}
		b, err := ssoBucket(tx, bucketSSOConfig)
		if err != nil {
			return err
		}
		if err := b.Put(dirConfigKey(k), v); err != nil {
			return err
		}
		if emit {
			data, err := ssoConfigData(&c)
			if err != nil {
				return err
			}
			if err := ob.append(k.Directory, store.EventSSOConfigUpdated, resourceRecord{Type: store.ResourceDirectory, ID: k.Directory}, data, nil); err != nil {
				return err
			}
		}
		out = c
		return nil
	})
	if fnErr != nil {
		return store.SSOConfig{}, fnErr
	}
	if err != nil {
		return store.SSOConfig{}, fmt.Errorf("bolt: update sso config of %s: %w", k, err)
	}
	return out, nil
}

// PutLoginState stores a pending login; see store.SSO.
func (db *DB) PutLoginState(ctx context.Context, s store.LoginState) error {
	if s.ID == "" {
		return errors.New("bolt: put login state: empty id")
	}
	v, err := encode(&s)
	if err != nil {
		return fmt.Errorf("bolt: put login state: %w", err)
	}
	err = db.write(ctx, "", func(tx *bbolt.Tx, _ *outbox) error {
		b, err := ssoBucket(tx, bucketSSOLogins)
		if err != nil {
			return err
		}
		if b.Get([]byte(s.ID)) != nil {
			return &store.ConflictError{Field: "login state", Value: s.ID}
		}
		return b.Put([]byte(s.ID), v)
	})
	if err != nil {
		return fmt.Errorf("bolt: put login state: %w", err)
	}
	return nil
}

// TakeLoginState reads and deletes a pending login; see store.SSO.
func (db *DB) TakeLoginState(ctx context.Context, id string) (store.LoginState, error) {
	var s store.LoginState
	err := db.write(ctx, "", func(tx *bbolt.Tx, ob *outbox) error {
		s = store.LoginState{}
		b, err := ssoBucket(tx, bucketSSOLogins)
		if err != nil {
			return err
		}
		v := b.Get([]byte(id))
		if v == nil {
			return store.ErrNotFound
		}
		if err := decode(v, &s); err != nil {
			return err
		}
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		if !ob.now.Before(s.Expires) {
			s = store.LoginState{}
		}
		return nil
	})
	if err != nil {
		return store.LoginState{}, fmt.Errorf("bolt: take login state: %w", err)
	}
	if s.ID == "" {
		return store.LoginState{}, fmt.Errorf("bolt: take login state: expired: %w", store.ErrNotFound)
	}
	return s, nil
}

// ConsumeOnce records a single-use key; see store.SSO.
func (db *DB) ConsumeOnce(ctx context.Context, key string, expires time.Time) error {
	if key == "" {
		return errors.New("bolt: consume once: empty key")
	}
	err := db.write(ctx, "", func(tx *bbolt.Tx, ob *outbox) error {
		b, err := ssoBucket(tx, bucketSSOOnce)
		if err != nil {
			return err
		}
		if v := b.Get([]byte(key)); v != nil && ob.now.UnixNano() < int64(decodeUint(v)) {
			return store.ErrReplay
		}
		return b.Put([]byte(key), encodeUint(uint64(expires.UnixNano())))
	})
	if err != nil {
		return fmt.Errorf("bolt: consume once: %w", err)
	}
	return nil
}

// CreateSession stores a session with its login event; see store.SSO.
func (db *DB) CreateSession(ctx context.Context, s store.Session, ev store.SSOEvent) error {
	if len(s.Hash) == 0 || s.ID == "" {
		return errors.New("bolt: create session: id and hash are required")
	}
	v, err := encode(&s)
	if err != nil {
		return fmt.Errorf("bolt: create session: %w", err)
	}
	k := store.DirKey{Org: s.Org, Directory: s.Directory}
	err = db.write(ctx, s.Org, func(tx *bbolt.Tx, ob *outbox) error {
		d, err := openDir(tx, k)
		if err != nil {
			return err
		}
		u, err := d.readUser(s.UserID)
		if err != nil {
			return err
		}
		if !u.Active {
			return store.ErrInactive
		}
		sessions, err := ssoBucket(tx, bucketSSOSessions)
		if err != nil {
			return err
		}
		if sessions.Get(s.Hash) != nil {
			return &store.ConflictError{Field: "session", Value: s.ID}
		}
		if err := sessions.Put(s.Hash, v); err != nil {
			return err
		}
		idx, err := ssoBucket(tx, bucketUserSessions)
		if err != nil {
			return err
		}
		if err := idx.Put(userSessionKey(s.Org, s.Directory, s.UserID, s.Hash), nil); err != nil {
			return err
		}
		return appendSSOEvent(ob, ev)
	})
	if err != nil {
		return fmt.Errorf("bolt: create session for user %s in %s: %w", s.UserID, k, err)
	}
	return nil
}

func appendSSOEvent(ob *outbox, ev store.SSOEvent) error {
	if ev.Type == "" {
		return nil
	}
	var data eventData
	if len(ev.Data) > 0 {
		c, err := compactJSON(ev.Data)
		if err != nil {
			return fmt.Errorf("event %s: %w", ev.Type, err)
		}
		data = rawData(c)
	}
	return ob.append(ev.Directory, ev.Type, resourceRecord{Type: store.ResourceSession, ID: ev.SessionID}, data, nil)
}

// SessionByHash finds a live session; see store.SSO.
func (db *DB) SessionByHash(ctx context.Context, h []byte) (store.Session, error) {
	var s store.Session
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		b, err := ssoBucket(tx, bucketSSOSessions)
		if err != nil {
			return err
		}
		if b == nil {
			return store.ErrNotFound
		}
		v := b.Get(h)
		if v == nil {
			return store.ErrNotFound
		}
		return decode(v, &s)
	})
	if err == nil && !s.Live(db.stamp()) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("bolt: session: %w", err)
	}
	return s, nil
}

// TouchSession moves a session's LastSeen; see store.SSO.
func (db *DB) TouchSession(ctx context.Context, h []byte, now time.Time) error {
	err := db.write(ctx, "", func(tx *bbolt.Tx, _ *outbox) error {
		b, err := ssoBucket(tx, bucketSSOSessions)
		if err != nil {
			return err
		}
		v := b.Get(h)
		if v == nil {
			return store.ErrNotFound
		}
		var s store.Session
		if err := decode(v, &s); err != nil {
			return err
		}
		if !now.After(s.LastSeen) {
			return nil
		}
		s.LastSeen = now.UTC()
		nv, err := encode(&s)
		if err != nil {
			return err
		}
		return b.Put(h, nv)
	})
	if err != nil {
		return fmt.Errorf("bolt: touch session: %w", err)
	}
	return nil
}

// deleteSession removes one session and its index key.
func deleteSession(tx *bbolt.Tx, h []byte) (store.Session, error) {
	b, err := ssoBucket(tx, bucketSSOSessions)
	if err != nil || b == nil {
		return store.Session{}, err
	}
	v := b.Get(h)
	if v == nil {
		return store.Session{}, store.ErrNotFound
	}
	var s store.Session
	if err := decode(v, &s); err != nil {
		return s, err
	}
	if err := b.Delete(h); err != nil {
		return s, err
	}
	idx, err := ssoBucket(tx, bucketUserSessions)
	if err != nil {
		return s, err
	}
	return s, idx.Delete(userSessionKey(s.Org, s.Directory, s.UserID, h))
}

// DeleteSession ends a session; see store.SSO.
func (db *DB) DeleteSession(ctx context.Context, h []byte, ev store.SSOEvent) error {
	var org string
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		b, err := ssoBucket(tx, bucketSSOSessions)
		if err != nil || b == nil {
			return err
		}
		var s store.Session
		if v := b.Get(h); v != nil {
			if err := decode(v, &s); err != nil {
				return err
			}
		}
		org = s.Org
		return nil
	})
	if err != nil {
		return fmt.Errorf("bolt: delete session: %w", err)
	}
	err = db.write(ctx, org, func(tx *bbolt.Tx, ob *outbox) error {
		if _, err := deleteSession(tx, h); err != nil {
			return err
		}
		return appendSSOEvent(ob, ev)
	})
	if err != nil {
		return fmt.Errorf("bolt: delete session: %w", err)
	}
	return nil
}

// userSessionHashes returns the session hashes of one user.
func userSessionHashes(tx *bbolt.Tx, k store.DirKey, userID string) ([][]byte, error) {
	idx, err := ssoBucket(tx, bucketUserSessions)
	if err != nil || idx == nil {
		return nil, err
	}
	prefix := userSessionKey(k.Org, k.Directory, userID, nil)
	var out [][]byte
	c := idx.Cursor()
	for key, _ := c.Seek(prefix); key != nil && bytes.HasPrefix(key, prefix); key, _ = c.Next() {
		out = append(out, bytes.Clone(key[len(prefix):]))
	}
	return out, nil
}

// UserSessions lists the live sessions of one user; see store.SSO.
func (db *DB) UserSessions(ctx context.Context, k store.DirKey, userID string) ([]store.Session, error) {
	var out []store.Session
	now := db.stamp()
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		hashes, err := userSessionHashes(tx, k, userID)
		if err != nil || len(hashes) == 0 {
			return err
		}
		b, err := ssoBucket(tx, bucketSSOSessions)
		if err != nil {
			return err
		}
		for _, h := range hashes {
			var s store.Session
			if v := b.Get(h); v != nil {
				if err := decode(v, &s); err != nil {
					return err
				}
				if s.Live(now) {
					out = append(out, s)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: sessions of user %s in %s: %w", userID, k, err)
	}
	return out, nil
}

// revokeSessions deletes every session of one user inside tx: called by
// a deactivation and a deletion, so no session outlives them.
func revokeSessions(tx *bbolt.Tx, k store.DirKey, userID string) (int, error) {
	hashes, err := userSessionHashes(tx, k, userID)
	if err != nil {
		return 0, err
	}
	for _, h := range hashes {
		if _, err := deleteSession(tx, h); err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, err
		}
	}
	return len(hashes), nil
}

// RevokeUserSessions deletes every session of one user; see store.SSO.
func (db *DB) RevokeUserSessions(ctx context.Context, k store.DirKey, userID string) (int, error) {
	var n int
	err := db.write(ctx, k.Org, func(tx *bbolt.Tx, _ *outbox) error {
		var err error
		n, err = revokeSessions(tx, k, userID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: revoke sessions of user %s in %s: %w", userID, k, err)
	}
	return n, nil
}

// PruneSSO deletes what has expired; see store.SSO. It reads every pending
// login, single-use key and session: they are few (logins live minutes)
// and it runs on a schedule, not per request.
func (db *DB) PruneSSO(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := db.write(ctx, "", func(tx *bbolt.Tx, _ *outbox) error {
		n = 0
		if tx.Bucket(bucketSSO) == nil {
			return nil
		}
		var dead [][]byte
		collect := func(name []byte, expired func(v []byte) bool) (*bbolt.Bucket, error) {
			dead = dead[:0]
			b, err := ssoBucket(tx, name)
			if err != nil {
				return nil, err
			}
			err = b.ForEach(func(k, v []byte) error {
				if expired(v) {
					dead = append(dead, bytes.Clone(k))
				}
				return nil
			})
			return b, err
		}
		b, err := collect(bucketSSOLogins, func(v []byte) bool {
			var s store.LoginState
			return json.Unmarshal(v, &s) != nil || !now.Before(s.Expires)
		})
		if err != nil {
			return err
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n += len(dead)
		if b, err = collect(bucketSSOOnce, func(v []byte) bool { return now.UnixNano() >= int64(decodeUint(v)) }); err != nil {
			return err
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n += len(dead)
		if _, err = collect(bucketSSOSessions, func(v []byte) bool {
			var s store.Session
			return json.Unmarshal(v, &s) == nil && !s.Live(now)
		}); err != nil {
			return err
		}
		for _, h := range dead {
			if _, err := deleteSession(tx, h); err != nil {
				return err
			}
		}
		n += len(dead)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: prune sso: %w", err)
	}
	return n, nil
}

// AppendSSOEvent appends an event with no other change; see store.SSO.
func (db *DB) AppendSSOEvent(ctx context.Context, org string, ev store.SSOEvent) error {
	err := db.write(ctx, org, func(tx *bbolt.Tx, ob *outbox) error {
		if org != "" && tx.Bucket(bucketOrgs).Get([]byte(org)) == nil {
			return errNoOrg
		}
		return appendSSOEvent(ob, ev)
	})
	if err != nil {
		return fmt.Errorf("bolt: append %s to %s: %w", ev.Type, org, err)
	}
	return nil
}
