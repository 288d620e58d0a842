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

// groupRecord is a group as stored under its id. Its members are keys of
// the members bucket and of users (see members.go).
type groupRecord struct {
	DisplayName string          `json:"displayName"`
	ExternalID  string          `json:"externalId,omitempty"`
	Attributes  json.RawMessage `json:"attributes,omitempty"`
	MemberCount int             `json:"memberCount"`
	// LastPos is the highest member position given (see members.go): the
	// next member added gets LastPos+1.
	LastPos  uint64    `json:"lastPos,omitempty"`
	Version  uint64    `json:"version"`
	Created  time.Time `json:"created"`
	Modified time.Time `json:"modified"`
}

// group returns the record as a store.Group that shares r's slices.
func (r *groupRecord) group(id string) store.Group {
	return store.Group{
		ID: id, DisplayName: r.DisplayName, ExternalID: r.ExternalID,
		Attributes: r.Attributes, MemberCount: r.MemberCount, LastPos: r.LastPos,
		Version: r.Version, Created: r.Created, Modified: r.Modified,
	}
}

func newGroupRecord(g *store.Group) (groupRecord, error) {
	attrs, err := compactJSON(g.Attributes)
	if err != nil {
		return groupRecord{}, err
	}
	return groupRecord{DisplayName: g.DisplayName, ExternalID: g.ExternalID, Attributes: attrs}, nil
}

func (d *dirTx) readGroup(id string) (groupRecord, error) {
	var r groupRecord
	v := d.groups.Get([]byte(id))
	if id == "" || v == nil {
		return r, errNoGroup
	}
	if err := decode(v, &r); err != nil {
		return r, fmt.Errorf("group %s: %w", id, err)
	}
	return r, nil
}

func (d *dirTx) putGroup(id string, r *groupRecord) error {
	v, err := encode(r)
	if err != nil {
		return err
	}
	return d.groups.Put([]byte(id), v)
}

// touchGroup records a change of the group's membership by delta members.
// It returns the group as written.
func (d *dirTx) touchGroup(id string, delta int) (groupRecord, error) {
	r, err := d.readGroup(id)
	if err != nil {
		return r, err
	}
	r.MemberCount += delta
	r.Version++
	r.Modified = d.now
	return r, d.putGroup(id, &r)
}

func (d *dirTx) reindexGroup(id string, old, new *groupRecord) error {
	var oldName, newName, newRaw, oldExt, newExt string
	if old != nil {
		oldName, oldExt = store.Fold(old.DisplayName), old.ExternalID
	}
	if new != nil {
		if newName = store.Fold(new.DisplayName); newName == "" {
			return errors.New("displayName is empty")
		}
		newRaw, newExt = new.DisplayName, new.ExternalID
	}
	if err := reindexUnique(d.groupName, id, oldName, newName, &store.ConflictError{Field: "displayName", Value: newRaw}); err != nil {
		return err
	}
	return reindexExact(d.groupExt, id, oldExt, newExt)
}

// checkMember returns nil if id is a user of the directory, else a
// *store.MemberError.
func (d *dirTx) checkMember(id string) error {
	if d.userValue([]byte(id)) != nil {
		return nil
	}
	return &store.MemberError{ID: id, Nested: id != "" && d.groups.Get([]byte(id)) != nil}
}

// CreateGroup stores a new group with the given members (user ids of dir;
// repeats are fine). Each member gets a new version. A member that is not a
// user of dir is a *store.MemberError and nothing is written. It emits
// group.created, then group.member_added for each member in id order.
func (db *DB) CreateGroup(ctx context.Context, dir store.DirKey, g store.Group, memberIDs []string) (store.Group, error) {
	if err := db.precheck(ctx, dir, func(d *dirTx) error {
		return heldAlready(d.groupName, "displayName", g.DisplayName)
	}); err != nil {
		return store.Group{}, fmt.Errorf("bolt: create group in %s: %w", dir, err)
	}
	id := newTimeID(db.now())
	var out store.Group
	err := db.writeDir(ctx, dir, func(d *dirTx) error {
		r, err := newGroupRecord(&g)
		if err != nil {
			return err
		}
		r.Version, r.Created, r.Modified = 1, d.now, d.now
		// The name first, as the precheck does: a held displayName is the
		// conflict whatever the members, in a batch or not.
		if err := d.reindexGroup(id, nil, &r); err != nil {
			return err
		}
		for _, uid := range memberIDs {
			if err := d.checkMember(uid); err != nil {
				return err
			}
		}
		data, err := groupData(id, &r)
		if err != nil {
			return err
		}
		if err := d.emit(store.EventGroupCreated, resourceRecord{Type: store.ResourceGroup, ID: id}, data, nil); err != nil {
			return err
		}
		for _, uid := range slices.Compact(slices.Sorted(slices.Values(memberIDs))) {
			changed, err := d.setMember(id, &r, uid, true)
			if err != nil {
				return err
			}
			if changed {
				r.MemberCount++
			}
		}
		if err := d.putGroup(id, &r); err != nil {
			return err
		}
		if err := addCounter(d.counters, keyGroupCount, 1); err != nil {
			return err
		}
		out = r.group(id)
		return nil
	})
	if err != nil {
		return store.Group{}, fmt.Errorf("bolt: create group in %s: %w", dir, err)
	}
	return out, nil
}

// Group reads one group (without its members: see GroupMembers).
func (db *DB) Group(ctx context.Context, dir store.DirKey, id string) (store.Group, error) {
	var out store.Group
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		d, err := openDir(tx, dir)
		if err != nil {
			return err
		}
		r, err := d.readGroup(id)
		if err != nil {
			return err
		}
		out = r.group(id)
		return nil
	})
	if err != nil {
		return store.Group{}, fmt.Errorf("bolt: group %s in %s: %w", id, dir, err)
	}
	return out, nil
}

// UpdateGroup is UpdateUser for groups. fn gets a copy of the group and the
// current membership (valid only during the call) and returns the change
// to apply: RemoveAll, then Remove, then Add. Only memberships that really
// change are written, and only their users get a new version. An added id
// that is not a user of dir is a *store.MemberError and nothing is written.
//
// It emits group.updated when an attribute changed, then one
// group.member_added or group.member_removed per membership that changed,
// in user id order.
func (db *DB) UpdateGroup(ctx context.Context, dir store.DirKey, id string, ifVersion uint64, fn func(g *store.Group, m store.Members) (store.MemberChange, error)) (store.Group, error) {
	var out store.Group
	var fnErr error
	err := db.writeDir(ctx, dir, func(d *dirTx) error {
		fnErr = nil // the callback may run more than once (commit.go)
		old, err := d.readGroup(id)
		if err != nil {
			return err
		}
		if err := checkVersion(old.Version, ifVersion); err != nil {
			return err
		}
		g := old.group(id)
		change, err := fn(&g, members{d: d, groupID: id})
		if err != nil {
			fnErr = err
			return err
		}
		r, err := newGroupRecord(&g)
		if err != nil {
			return err
		}
		r.MemberCount, r.LastPos, r.Version, r.Created, r.Modified = old.MemberCount, old.LastPos, old.Version+1, old.Created, d.now
		if err := d.reindexGroup(id, &old, &r); err != nil {
			return err
		}
		if err := d.emitGroupUpdate(id, &old, &r); err != nil {
			return err
		}
		// want is the membership each touched id must end with.
		want := make(map[string]bool, len(change.Remove)+len(change.Add))
		if change.RemoveAll {
			for _, uid := range d.memberIDs(id) {
				want[uid] = false
			}
		}
		for _, uid := range change.Remove {
			want[uid] = false
		}
		for _, uid := range change.Add {
			if err := d.checkMember(uid); err != nil {
				return err
			}
			want[uid] = true
		}
		for _, uid := range sortedKeys(want) {
			if uid == "" {
				continue
			}
			changed, err := d.setMember(id, &r, uid, want[uid])
			if err != nil {
				return err
			}
			switch {
			case changed && want[uid]:
				r.MemberCount++
			case changed:
				r.MemberCount--
			}
		}
		// Rules may select the group by displayName or externalId: every
		// member is recomputed, O(members), only when the org has rules.
		if (old.DisplayName != r.DisplayName || old.ExternalID != r.ExternalID) && d.hasRules() {
			for _, uid := range d.memberIDs(id) {
				d.accessChanged(uid)
			}
		}
		if err := d.putGroup(id, &r); err != nil {
			return err
		}
		out = r.group(id)
		return nil
	})
	if fnErr != nil {
		return store.Group{}, fnErr
	}
	if err != nil {
		return store.Group{}, fmt.Errorf("bolt: update group %s in %s: %w", id, dir, err)
	}
	return out, nil
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// DeleteGroup removes the group, its index keys and its memberships; every
// member gets a new version. It emits group.member_removed for each member
// in id order, then group.deleted.
func (db *DB) DeleteGroup(ctx context.Context, dir store.DirKey, id string, ifVersion uint64) error {
	err := db.writeDir(ctx, dir, func(d *dirTx) error {
		old, err := d.readGroup(id)
		if err != nil {
			return err
		}
		if err := checkVersion(old.Version, ifVersion); err != nil {
			return err
		}
		if err := d.reindexGroup(id, &old, nil); err != nil {
			return err
		}
		for _, uid := range d.memberIDs(id) {
			if _, err := d.setMember(id, &old, uid, false); err != nil {
				return err
			}
		}
		if err := d.groups.Delete([]byte(id)); err != nil {
			return err
		}
		if err := addCounter(d.counters, keyGroupCount, -1); err != nil {
			return err
		}
		data, err := groupData(id, &old)
		if err != nil {
			return err
		}
		return d.emit(store.EventGroupDeleted, resourceRecord{Type: store.ResourceGroup, ID: id}, data, nil)
	})
	if err != nil {
		return fmt.Errorf("bolt: delete group %s in %s: %w", id, dir, err)
	}
	return nil
}

// GroupMembers lists up to limit members of a group whose positions are
// greater than after, in the order they were added, each with the user's
// current displayName.
func (db *DB) GroupMembers(ctx context.Context, dir store.DirKey, groupID string, after uint64, limit int) ([]store.MemberRef, error) {
	var refs []store.MemberRef
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		d, err := openDir(tx, dir)
		if err != nil {
			return err
		}
		if groupID == "" || d.groups.Get([]byte(groupID)) == nil {
			return errNoGroup
		}
		if limit <= 0 {
			return nil
		}
		eachMember(d.members, groupID, after, func(pos uint64, uid []byte) bool {
			var n nameRecord
			v := d.userValue(uid)
			if v == nil {
				err = fmt.Errorf("group %s has missing member %s", groupID, uid)
				return false
			}
			if err = decode(v, &n); err != nil {
				return false
			}
			refs = append(refs, store.MemberRef{ID: string(uid), DisplayName: n.DisplayName, Pos: pos})
			return len(refs) < limit
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: members of group %s in %s: %w", groupID, dir, err)
	}
	return refs, nil
}

// emitGroupUpdate emits group.updated with the attributes that changed from
// old to new, if any.
func (d *dirTx) emitGroupUpdate(id string, old, new *groupRecord) error {
	od, err := attrsDoc(old.Attributes)
	if err != nil {
		return err
	}
	nd, err := attrsDoc(new.Attributes)
	if err != nil {
		return err
	}
	changes := attrChanges(od, nd)
	if len(changes) == 0 {
		return nil
	}
	data, err := nd.data(id, new.Version, new.Created, new.Modified)
	if err != nil {
		return err
	}
	return d.emit(store.EventGroupUpdated, resourceRecord{Type: store.ResourceGroup, ID: id}, data, changes)
}
