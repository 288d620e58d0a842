package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"

	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

// Memberships are kept twice, one key per side, so that both a group's
// members and a user's groups are a prefix scan:
//
//   - members: group id 0x00 position (8 bytes, big endian) = user id. A
//     member added gets the group's next position (groupRecord.LastPos+1;
//     positions are never reused), so members are listed in the order they
//     were added, and adding members to a group writes at the end of the
//     group's range: the pages an add of 100 members touches do not depend
//     on how large the group is.
//   - in users, after the user's record: user id 0x00 group id = the
//     member's position, so that a removal finds the members key without a
//     scan, and a user's groups are a prefix scan (until schema 6, the
//     memberof bucket).

// memberKeyLen is the length of a members key.
const memberKeyLen = idLen + 1 + 8

// memberKey returns group id 0x00 pos.
func memberKey(groupID string, pos uint64) []byte {
	k := make([]byte, 0, len(groupID)+9)
	k = append(k, groupID...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, pos)
}

// memberPos returns the position of userID in groupID, or false if it is
// not a member.
func (d *dirTx) memberPos(groupID, userID string) (uint64, bool) {
	v := d.users.Get(membershipKey(userID, groupID))
	if len(v) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(v), true
}

// setMember makes userID a member of group g (in) or not, writing the two
// membership keys and the user's new version, and emitting
// group.member_added or group.member_removed, only if that is a change.
// It reports whether it changed anything. An add takes g's next position:
// the caller writes g.
func (d *dirTx) setMember(groupID string, g *groupRecord, userID string, in bool) (bool, error) {
	pos, member := d.memberPos(groupID, userID)
	if member == in {
		return false, nil
	}
	if in {
		if g.LastPos == math.MaxUint64 {
			return false, fmt.Errorf("group %s has given every member position", groupID)
		}
		g.LastPos++
		pos = g.LastPos
		if err := d.members.Put(memberKey(groupID, pos), []byte(userID)); err != nil {
			return false, err
		}
		if err := d.users.Put(membershipKey(userID, groupID), encodeUint(pos)); err != nil {
			return false, err
		}
	} else {
		if err := d.unlinkMember(groupID, userID, pos); err != nil {
			return false, err
		}
	}
	userName, err := d.touchUser(userID)
	if err != nil {
		return false, err
	}
	d.accessChanged(userID)
	return true, d.emitMember(in, groupID, g.DisplayName, userID, userName)
}

// unlinkMember deletes both keys of a membership at pos.
func (d *dirTx) unlinkMember(groupID, userID string, pos uint64) error {
	if err := d.members.Delete(memberKey(groupID, pos)); err != nil {
		return err
	}
	return d.users.Delete(membershipKey(userID, groupID))
}

// eachMember calls fn with the position and user id of every member of the
// group, in position order, until fn returns false. userID is valid only
// during the call.
func eachMember(members *bbolt.Bucket, groupID string, after uint64, fn func(pos uint64, userID []byte) bool) {
	if after == ^uint64(0) {
		return
	}
	prefix := pairKey(groupID, "")
	c := members.Cursor()
	k, v := c.Seek(memberKey(groupID, after+1))
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) != memberKeyLen {
			continue
		}
		if !fn(binary.BigEndian.Uint64(k[len(prefix):]), v) {
			return
		}
	}
}

// memberIDs returns the member ids of a group in id order.
func (d *dirTx) memberIDs(groupID string) []string {
	var ids []string
	eachMember(d.members, groupID, 0, func(_ uint64, uid []byte) bool {
		ids = append(ids, string(uid))
		return true
	})
	slices.Sort(ids)
	return ids
}

// members is store.Members over one transaction.
type members struct {
	d       *dirTx
	groupID string
}

func (m members) Has(userID string) bool {
	if len(userID) != idLen {
		return false
	}
	_, ok := m.d.memberPos(m.groupID, userID)
	return ok
}

func (m members) Each(fn func(userID string) bool) {
	eachMember(m.d.members, m.groupID, 0, func(_ uint64, uid []byte) bool {
		return fn(string(uid))
	})
}

// checkMemberPositions checks, for Verify, that every group's LastPos is at
// least the highest position in its members range: an add would otherwise
// overwrite a member.
func (d *dirTx) checkMemberPositions() error {
	var gid []byte
	var last uint64
	check := func() error {
		if gid == nil {
			return nil
		}
		v := d.groups.Get(gid)
		if v == nil {
			return fmt.Errorf("members of missing group %s", gid)
		}
		var r groupRecord
		if err := decode(v, &r); err != nil {
			return fmt.Errorf("group %s: %w", gid, err)
		}
		if r.LastPos < last {
			return fmt.Errorf("group %s has a member at position %d but records %d as its last", gid, last, r.LastPos)
		}
		return nil
	}
	err := d.members.ForEach(func(k, _ []byte) error {
		if len(k) != memberKeyLen || k[idLen] != 0 {
			return fmt.Errorf("members key %q is not group id 0x00 position", k)
		}
		if !bytes.Equal(k[:idLen], gid) {
			if err := check(); err != nil {
				return err
			}
			gid = bytes.Clone(k[:idLen])
		}
		last = binary.BigEndian.Uint64(k[idLen+1:])
		return nil
	})
	if err != nil {
		return err
	}
	return check()
}

// migrateMemberPositions is migration 4: members keys change from group id
// 0x00 user id (empty value) to group id 0x00 position = user id, and
// memberof values from empty to the position. Each group's members keep
// their old order (user id order) as positions 1, 2, …, and the group
// record's LastPos is the last of them.
func migrateMemberPositions(tx *bbolt.Tx) error {
	return eachDirBucket(tx, migrateDirMembers)
}

// eachDirBucket calls fn with the bucket of every directory of every org,
// for the migrations, which work on buckets as they are in the file.
func eachDirBucket(tx *bbolt.Tx, fn func(dir *bbolt.Bucket) error) error {
	return eachDirKey(tx, func(_ store.DirKey, dir *bbolt.Bucket) error { return fn(dir) })
}

// keyCount counts the keys of b by a walk: Stats reads committed pages
// only, so inside a write transaction it misses what the transaction (an
// earlier migration, an earlier write of the batch) wrote.
func keyCount(b *bbolt.Bucket) (int, error) {
	n := 0
	err := b.ForEach(func(_, _ []byte) error { n++; return nil })
	return n, err
}

func migrateDirMembers(dir *bbolt.Bucket) error {
	old := dir.Bucket(bucketMembers)
	memberOf := dir.Bucket(bucketMemberOf)
	if old == nil || memberOf == nil {
		return fmt.Errorf("missing bucket %s or %s", bucketMembers, bucketMemberOf)
	}
	type pair struct{ group, user string }
	var pairs []pair
	if err := old.ForEach(func(k, _ []byte) error {
		if len(k) != 2*idLen+1 || k[idLen] != 0 {
			return fmt.Errorf("members key %q is not group id 0x00 user id", k)
		}
		pairs = append(pairs, pair{string(k[:idLen]), string(k[idLen+1:])})
		return nil
	}); err != nil {
		return err
	}
	if err := dir.DeleteBucket(bucketMembers); err != nil {
		return err
	}
	members, err := dir.CreateBucket(bucketMembers)
	if err != nil {
		return err
	}
	members.FillPercent = appendFill // keys are written in order
	var pos uint64
	posOf := map[string]uint64{} // group id → its last position
	for i, p := range pairs {
		if i == 0 || p.group != pairs[i-1].group {
			pos = 0
		}
		pos++
		posOf[p.group] = pos
		if err := members.Put(memberKey(p.group, pos), []byte(p.user)); err != nil {
			return err
		}
		uk := pairKey(p.user, p.group)
		if !has(memberOf, uk) {
			return fmt.Errorf("member %s of group %s has no memberof key", p.user, p.group)
		}
		if err := memberOf.Put(uk, encodeUint(pos)); err != nil {
			return err
		}
	}
	n, err := keyCount(memberOf)
	if err != nil {
		return err
	}
	if n != len(pairs) {
		return fmt.Errorf("%d memberof keys for %d members keys", n, len(pairs))
	}
	// Each group's high-water mark is its member count.
	groups := dir.Bucket(bucketGroups)
	if groups == nil {
		return fmt.Errorf("missing bucket %s", bucketGroups)
	}
	for _, gid := range slices.Sorted(maps.Keys(posOf)) {
		v := groups.Get([]byte(gid))
		if v == nil {
			return fmt.Errorf("members of missing group %s", gid)
		}
		var r groupRecord
		if err := decode(v, &r); err != nil {
			return fmt.Errorf("group %s: %w", gid, err)
		}
		r.LastPos = posOf[gid]
		nv, err := encode(&r)
		if err != nil {
			return err
		}
		if err := groups.Put([]byte(gid), nv); err != nil {
			return err
		}
	}
	return nil
}

// migrateMembershipsToUsers is migration 6: each directory's memberof keys
// (user id 0x00 group id → position) move, unchanged, into its users
// bucket, where they follow the user's record, and memberof goes.
func migrateMembershipsToUsers(tx *bbolt.Tx) error {
	return eachDirBucket(tx, moveMemberships)
}

func moveMemberships(dir *bbolt.Bucket) error {
	memberOf, users, members := dir.Bucket(bucketMemberOf), dir.Bucket(bucketUsers), dir.Bucket(bucketMembers)
	if memberOf == nil || users == nil || members == nil {
		return fmt.Errorf("missing bucket %s, %s or %s", bucketMemberOf, bucketUsers, bucketMembers)
	}
	n := 0
	if err := memberOf.ForEach(func(k, v []byte) error {
		if len(k) != 2*idLen+1 || k[idLen] != 0 || len(v) != 8 {
			return fmt.Errorf("memberof key %q is not user id 0x00 group id → position", k)
		}
		if users.Get(k[:idLen]) == nil {
			return fmt.Errorf("membership of missing user %s", k[:idLen])
		}
		n++
		// Copies: the values point into pages this transaction frees.
		return users.Put(bytes.Clone(k), bytes.Clone(v))
	}); err != nil {
		return err
	}
	m, err := keyCount(members) // migration 4 may have written them anew
	if err != nil {
		return err
	}
	if m != n {
		return fmt.Errorf("%d memberof keys for %d members keys", n, m)
	}
	return dir.DeleteBucket(bucketMemberOf)
}
