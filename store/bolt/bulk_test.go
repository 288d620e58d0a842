package bolt

import (
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

// bulkUsers creates users as CreateUser does (fresh ids, version 1,
// index keys written rather than staged, counter) but batch users per transaction and without events, to
// build big test fixtures quickly. It returns the new ids in input order.
// Test only.
func (db *DB) bulkUsers(dir store.DirKey, users []store.User, batch int) ([]string, error) {
	ids := make([]string, 0, len(users))
	for len(users) > 0 {
		chunk := users[:min(batch, len(users))]
		users = users[len(chunk):]
		err := db.bolt.Update(func(tx *bbolt.Tx) error {
			d, err := openDir(tx, dir)
			if err != nil {
				return err
			}
			d.now = db.stamp()
			for i := range chunk {
				r, err := newUserRecord(&chunk[i])
				if err != nil {
					return err
				}
				r.Version, r.Created, r.Modified = 1, d.now, d.now
				id := newID()
				if err := d.indexUser(id, nil, &r); err != nil { // written, not staged
					return err
				}
				if err := d.putUser(id, &r); err != nil {
					return err
				}
				ids = append(ids, id)
			}
			return addCounter(d.counters, keyUserCount, len(chunk))
		})
		if err != nil {
			return nil, fmt.Errorf("bulk users: %w", err)
		}
	}
	return ids, nil
}

// bulkMembers adds users (which must not be members yet) to a group, batch
// per transaction: the two membership keys each (at the group's next
// positions) and the group's MemberCount and LastPos. Unlike UpdateGroup it
// does not bump the users' versions and appends no events. Test only.
func (db *DB) bulkMembers(dir store.DirKey, groupID string, userIDs []string, batch int) error {
	for len(userIDs) > 0 {
		chunk := userIDs[:min(batch, len(userIDs))]
		userIDs = userIDs[len(chunk):]
		err := db.bolt.Update(func(tx *bbolt.Tx) error {
			d, err := openDir(tx, dir)
			if err != nil {
				return err
			}
			d.now = db.stamp()
			r, err := d.readGroup(groupID)
			if err != nil {
				return err
			}
			for _, uid := range chunk {
				r.LastPos++
				if err := d.members.Put(memberKey(groupID, r.LastPos), []byte(uid)); err != nil {
					return err
				}
				if err := d.users.Put(membershipKey(uid, groupID), encodeUint(r.LastPos)); err != nil {
					return err
				}
			}
			r.MemberCount += len(chunk)
			r.Version++
			r.Modified = d.now
			return d.putGroup(groupID, &r)
		})
		if err != nil {
			return fmt.Errorf("bulk members: %w", err)
		}
	}
	return nil
}
