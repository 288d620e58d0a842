package bolt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

// userRecord is a user as stored under its id.
type userRecord struct {
	UserName    string          `json:"userName"`
	ExternalID  string          `json:"externalId,omitempty"`
	DisplayName string          `json:"displayName,omitempty"`
	Active      bool            `json:"active,omitempty"`
	Emails      []string        `json:"emails,omitempty"`
	Attributes  json.RawMessage `json:"attributes,omitempty"`
	Version     uint64          `json:"version"`
	Created     time.Time       `json:"created"`
	Modified    time.Time       `json:"modified"`
}

// user returns the record as a store.User that shares r's slices.
func (r *userRecord) user(id string) store.User {
	return store.User{
		ID: id, UserName: r.UserName, ExternalID: r.ExternalID, DisplayName: r.DisplayName,
		Active: r.Active, Emails: r.Emails, Attributes: r.Attributes,
		Version: r.Version, Created: r.Created, Modified: r.Modified,
	}
}

// newUserRecord takes the caller's fields of u; the store's fields are the
// caller's to set.
func newUserRecord(u *store.User) (userRecord, error) {
	attrs, err := compactJSON(u.Attributes)
	if err != nil {
		return userRecord{}, err
	}
	return userRecord{
		UserName: u.UserName, ExternalID: u.ExternalID, DisplayName: u.DisplayName,
		Active: u.Active, Emails: slices.Clone(u.Emails), Attributes: attrs,
	}, nil
}

// nameRecord reads only the displayName of a user or group record.
type nameRecord struct {
	DisplayName string `json:"displayName"`
}

// The users bucket holds each user's record under its id, then the user's
// memberships: user id 0x00 group id → position (uint64 big endian), the
// other side of the members bucket. A membership change rewrites the
// user's record anyway (its version and groups change), so its key lands
// on a page that the commit writes already, whatever the directory's size.
// Only keys of idLen bytes are records.

// membershipKey is the key in users of userID's membership of groupID.
func membershipKey(userID, groupID string) []byte { return pairKey(userID, groupID) }

// isRecordKey reports whether k, a key of the users or groups bucket, is
// the id of a record (and not a membership).
func isRecordKey(k []byte) bool { return len(k) == idLen }

// userValue returns the stored record of user id, or nil. An id that is not
// the length of one (a membership key, say) is no user.
func (d *dirTx) userValue(id []byte) []byte {
	if !isRecordKey(id) {
		return nil
	}
	return d.users.Get(id)
}

// eachMembership calls fn with the group id and position of every
// membership of user id, in group id order, until fn returns false.
func (d *dirTx) eachMembership(id string, fn func(gid string, pos uint64) bool) {
	scanPrefix(d.users, membershipKey(id, ""), func(k, v []byte) bool {
		return fn(string(k[len(k)-idLen:]), decodeUint(v))
	})
}

func (d *dirTx) readUser(id string) (userRecord, error) {
	var r userRecord
	v := d.userValue([]byte(id))
	if v == nil {
		return r, errNoUser
	}
	if err := decode(v, &r); err != nil {
		return r, fmt.Errorf("user %s: %w", id, err)
	}
	return r, nil
}

func (d *dirTx) putUser(id string, r *userRecord) error {
	v, err := encode(r)
	if err != nil {
		return err
	}
	return d.users.Put([]byte(id), v)
}

// touchUser records a change of the user's membership: its representation
// (groups) changed, so it gets a new version. It returns the userName.
func (d *dirTx) touchUser(id string) (string, error) {
	r, err := d.readUser(id)
	if err != nil {
		return "", err
	}
	r.Version++
	r.Modified = d.now
	return r.UserName, d.putUser(id, &r)
}

// userGroups returns the groups of a user in group id order.
func (d *dirTx) userGroups(id string) ([]store.GroupRef, error) {
	var refs []store.GroupRef
	var err error
	d.eachMembership(id, func(gid string, _ uint64) bool {
		var n nameRecord
		v := d.groups.Get([]byte(gid))
		if v == nil {
			err = fmt.Errorf("user %s is a member of missing group %s", id, gid)
			return false
		}
		if err = decode(v, &n); err != nil {
			return false
		}
		refs = append(refs, store.GroupRef{ID: gid, DisplayName: n.DisplayName})
		return true
	})
	return refs, err
}

// foldedSet returns the distinct non-empty folded values.
func foldedSet(vs []string) map[string]bool {
	set := make(map[string]bool, len(vs))
	for _, v := range vs {
		if f := store.Fold(v); f != "" {
			set[f] = true
		}
	}
	return set
}

// reindexUser moves the index keys of user id from old (its record) to
// new (nil: deleted) and enforces userName uniqueness. A staged user
// (staged.go) has no keys yet: it gets new's, and is no longer staged.
func (d *dirTx) reindexUser(id string, old, new *userRecord) error {
	staged, err := d.unstage(id)
	if err != nil {
		return err
	}
	if staged {
		old = nil
	}
	if new != nil && (old == nil || store.Fold(old.UserName) != store.Fold(new.UserName)) {
		if err := d.userNameHeld(store.Fold(new.UserName), new.UserName, id); err != nil {
			return err
		}
	}
	return d.indexUser(id, old, new)
}

// indexUser moves the index keys of user id from old to new (nil: no
// record) and enforces userName uniqueness among the keys. Only keys that
// change are written.
func (d *dirTx) indexUser(id string, old, new *userRecord) error {
	var oldName, newName, newRaw, oldExt, newExt string
	var oldEmails, newEmails []string
	if old != nil {
		oldName, oldExt, oldEmails = store.Fold(old.UserName), old.ExternalID, old.Emails
	}
	if new != nil {
		if newName = store.Fold(new.UserName); newName == "" {
			return errors.New("userName is empty")
		}
		newRaw, newExt, newEmails = new.UserName, new.ExternalID, new.Emails
	}
	if err := reindexUnique(d.userName, id, oldName, newName, &store.ConflictError{Field: "userName", Value: newRaw}); err != nil {
		return err
	}
	if err := reindexExact(d.userExt, id, oldExt, newExt); err != nil {
		return err
	}
	return d.reindexEmails(id, oldName, newName, foldedSet(oldEmails), foldedSet(newEmails))
}

// reindexEmails moves the email index keys of user id from the folded
// emails olds (with folded userName oldName) to news (newName). An email
// that folds to the user's own userName is not written: the userName index
// already leads to the user, and userLookup looks there too (Okta and
// Entra send the userName as the primary email, so this saves a third of
// a create's index writes). Files written before this rule hold such keys;
// they stay until the email or the userName changes, and lookups tolerate
// both forms.
func (d *dirTx) reindexEmails(id, oldName, newName string, olds, news map[string]bool) error {
	for e := range olds {
		if news[e] && e != newName {
			continue // kept, and stored before too (or, if e was the old userName, written below)
		}
		if news[e] && e == oldName && e == newName {
			continue // still the userName: nothing changed, whichever form the file has
		}
		if err := d.userEmail.Delete(pairKey(e, id)); err != nil {
			return err
		}
	}
	for e := range news {
		if e == newName || olds[e] && e != oldName {
			continue // the userName's own email, or stored already
		}
		if err := d.userEmail.Put(pairKey(e, id), empty); err != nil {
			return err
		}
	}
	return nil
}

// reindexUnique moves id from key old to key new of a unique index (folded
// value → id). A new key held by another id is the conflict error.
func reindexUnique(b *bbolt.Bucket, id, old, new string, conflict *store.ConflictError) error {
	if old == new {
		return nil
	}
	if new != "" {
		if held := b.Get([]byte(new)); held != nil && string(held) != id {
			return conflict
		}
	}
	if old != "" {
		if err := b.Delete([]byte(old)); err != nil {
			return err
		}
	}
	if new != "" {
		return b.Put([]byte(new), []byte(id))
	}
	return nil
}

// reindexExact moves id from old to new in an index of value + 0x00 + id.
// Empty values are not indexed.
func reindexExact(b *bbolt.Bucket, id, old, new string) error {
	if old == new {
		return nil
	}
	if old != "" {
		if err := b.Delete(pairKey(old, id)); err != nil {
			return err
		}
	}
	if new != "" {
		return b.Put(pairKey(new, id), empty)
	}
	return nil
}

// CreateUser stores a new user with a fresh id, Version 1, and Created and
// Modified set to now, and emits user.created. u.ID, u.Version, the times
// and u.Groups are ignored.
func (db *DB) CreateUser(ctx context.Context, dir store.DirKey, u store.User) (store.User, error) {
	if err := db.precheck(ctx, dir, func(d *dirTx) error {
		return d.userNameHeld(store.Fold(u.UserName), u.UserName, "")
	}); err != nil {
		return store.User{}, fmt.Errorf("bolt: create user in %s: %w", dir, err)
	}
	id := newTimeID(db.now())
	var out store.User
	err := db.writeDir(ctx, dir, func(d *dirTx) error {
		r, err := newUserRecord(&u)
		if err != nil {
			return err
		}
		r.Version, r.Created, r.Modified = 1, d.now, d.now
		name := store.Fold(r.UserName)
		if name == "" {
			return errors.New("userName is empty")
		}
		if err := d.userNameHeld(name, r.UserName, ""); err != nil {
			return err
		}
		if err := d.putUser(id, &r); err != nil {
			return err
		}
		if err := d.stage(id, &r); err != nil { // its index keys: see staged.go
			return err
		}
		if err := addCounter(d.counters, keyUserCount, 1); err != nil {
			return err
		}
		d.accessChanged(id) // the default grant may apply
		data, err := userData(id, &r)
		if err != nil {
			return err
		}
		if err := d.emit(store.EventUserCreated, resourceRecord{Type: store.ResourceUser, ID: id}, data, nil); err != nil {
			return err
		}
		out = r.user(id)
		return nil
	})
	if err != nil {
		return store.User{}, fmt.Errorf("bolt: create user in %s: %w", dir, err)
	}
	return out, nil
}

// User reads one user with its groups.
func (db *DB) User(ctx context.Context, dir store.DirKey, id string) (store.User, error) {
	var out store.User
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		d, err := openDir(tx, dir)
		if err != nil {
			return err
		}
		r, err := d.readUser(id)
		if err != nil {
			return err
		}
		out = r.user(id)
		out.Groups, err = d.userGroups(id)
		return err
	})
	if err != nil {
		return store.User{}, fmt.Errorf("bolt: user %s in %s: %w", id, dir, err)
	}
	return out, nil
}

// UpdateUser reads the user, checks ifVersion, lets fn change a copy, and
// stores it with the next version, rewriting only the index keys whose
// values changed. fn sees the user's Groups; what it does to them, to ID,
// Version, Created and Modified is ignored. An error from fn is returned as
// is and nothing is written.
//
// The update emits user.updated with the attributes that changed, and
// user.deactivated or user.reactivated when Active changed (see package
// store); an update that changes no attribute emits nothing, but still
// gets a new version.
func (db *DB) UpdateUser(ctx context.Context, dir store.DirKey, id string, ifVersion uint64, fn func(u *store.User) error) (store.User, error) {
	var out store.User
	var fnErr error
	err := db.writeDir(ctx, dir, func(d *dirTx) error {
		fnErr = nil // the callback may run more than once (commit.go)
		old, err := d.readUser(id)
		if err != nil {
			return err
		}
		if err := checkVersion(old.Version, ifVersion); err != nil {
			return err
		}
		groups, err := d.userGroups(id)
		if err != nil {
			return err
		}
		u := old.user(id) // fn gets a copy: old is diffed against it below
		u.Emails, u.Groups = slices.Clone(u.Emails), slices.Clone(groups)
		if fnErr = fn(&u); fnErr != nil {
			return fnErr
		}
		r, err := newUserRecord(&u)
		if err != nil {
			return err
		}
		r.Version, r.Created, r.Modified = old.Version+1, old.Created, d.now
		if err := d.reindexUser(id, &old, &r); err != nil {
			return err
		}
		if err := d.putUser(id, &r); err != nil {
			return err
		}
		if err := d.emitUserUpdate(id, &old, &r); err != nil {
			return err
		}
		if old.Active != r.Active || old.UserName != r.UserName {
			d.accessChanged(id)
		}
		if old.Active && !r.Active {
			// A deactivation ends the person's sessions in its own
			// transaction: no session outlives an offboarding.
			if _, err := revokeSessions(d.ob.tx, d.key, id); err != nil {
				return err
			}
		}
		out = r.user(id)
		out.Groups = groups
		return nil
	})
	if fnErr != nil {
		return store.User{}, fnErr
	}
	if err != nil {
		return store.User{}, fmt.Errorf("bolt: update user %s in %s: %w", id, dir, err)
	}
	return out, nil
}

// DeleteUser removes the user, its index keys and its memberships; every
// group it was in loses a member and gets a new version. It emits
// group.member_removed for each of those groups, then user.deleted.
func (db *DB) DeleteUser(ctx context.Context, dir store.DirKey, id string, ifVersion uint64) error {
	err := db.writeDir(ctx, dir, func(d *dirTx) error {
		old, err := d.readUser(id)
		if err != nil {
			return err
		}
		if err := checkVersion(old.Version, ifVersion); err != nil {
			return err
		}
		if err := d.reindexUser(id, &old, nil); err != nil {
			return err
		}
		type membership struct {
			gid string
			pos uint64
		}
		var in []membership
		d.eachMembership(id, func(gid string, pos uint64) bool {
			in = append(in, membership{gid, pos})
			return true
		})
		for _, m := range in {
			gid := m.gid
			if err := d.unlinkMember(gid, id, m.pos); err != nil {
				return err
			}
			g, err := d.touchGroup(gid, -1)
			if err != nil {
				return err
			}
			if err := d.emitMember(false, gid, g.DisplayName, id, old.UserName); err != nil {
				return err
			}
		}
		if err := d.users.Delete([]byte(id)); err != nil {
			return err
		}
		if _, err := revokeSessions(d.ob.tx, d.key, id); err != nil {
			return err
		}
		d.accessChanged(id)
		if err := addCounter(d.counters, keyUserCount, -1); err != nil {
			return err
		}
		data, err := userData(id, &old)
		if err != nil {
			return err
		}
		return d.emit(store.EventUserDeleted, resourceRecord{Type: store.ResourceUser, ID: id}, data, nil)
	})
	if err != nil {
		return fmt.Errorf("bolt: delete user %s in %s: %w", id, dir, err)
	}
	return nil
}

// emitUserUpdate emits the events of an update from old to new: user.updated
// with every changed attribute but active, then user.deactivated or
// user.reactivated with the change of active. Both carry the new state.
func (d *dirTx) emitUserUpdate(id string, old, new *userRecord) error {
	od, err := userDoc(old)
	if err != nil {
		return err
	}
	nd, err := userDoc(new)
	if err != nil {
		return err
	}
	changes := attrChanges(od, nd)
	if len(changes) == 0 {
		return nil
	}
	var active []changeRecord
	changes = slices.DeleteFunc(changes, func(c changeRecord) bool {
		if c.Attribute == "active" {
			active = append(active, c)
			return true
		}
		return false
	})
	data, err := nd.data(id, new.Version, new.Created, new.Modified)
	if err != nil {
		return err
	}
	res := resourceRecord{Type: store.ResourceUser, ID: id}
	if len(changes) > 0 {
		if err := d.emit(store.EventUserUpdated, res, data, changes); err != nil {
			return err
		}
	}
	if len(active) > 0 {
		typ := store.EventUserReactivated
		if !new.Active {
			typ = store.EventUserDeactivated
		}
		return d.emit(typ, res, data, active)
	}
	return nil
}
