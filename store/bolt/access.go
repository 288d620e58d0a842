package bolt

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/mapping"
	"github.com/scimbridge/scimbridge/store"
)

// Layout of access (schema version 3). See doc.go.
var (
	bucketAccess       = []byte("access") // org name → bucket:
	bucketAccessPeople = []byte("people") //   directory 0x00 user id → accessRecord
	bucketAccessIndex  = []byte("idx")    //   workspace 0x00 role 0x00 directory 0x00 user id → empty
	bucketAccessCounts = []byte("counts") //   workspace 0x00 role → uint64 big endian (absent: 0)
)

// accessRecord is the materialised access of one person who holds at least
// one role. People without access have no record. It does not carry the
// rules version, so that a publish that changes nothing for a person does
// not rewrite them.
type accessRecord struct {
	UserName   string            `json:"userName"`
	OrgRoles   []store.GrantView `json:"org_roles,omitempty"`
	Workspaces []store.GrantView `json:"workspaces,omitempty"`
}

// orgAccess is the access buckets of one org inside one transaction.
type orgAccess struct {
	people *bbolt.Bucket
	idx    *bbolt.Bucket
	counts *bbolt.Bucket
}

func openOrgAccess(tx *bbolt.Tx, org string) (*orgAccess, error) {
	top := tx.Bucket(bucketAccess)
	if top == nil || org == "" {
		return nil, errNoOrg
	}
	b := top.Bucket([]byte(org))
	if b == nil {
		return nil, errNoOrg
	}
	oa := &orgAccess{people: b.Bucket(bucketAccessPeople), idx: b.Bucket(bucketAccessIndex), counts: b.Bucket(bucketAccessCounts)}
	if oa.people == nil || oa.idx == nil || oa.counts == nil {
		return nil, fmt.Errorf("access of org %q is missing a bucket", org)
	}
	return oa, nil
}

// createOrgAccess creates the access and rules buckets of one org.
func createOrgAccess(tx *bbolt.Tx, org []byte) error {
	b, err := tx.Bucket(bucketAccess).CreateBucketIfNotExists(org)
	if err != nil {
		return err
	}
	for _, name := range [][]byte{bucketAccessPeople, bucketAccessIndex, bucketAccessCounts} {
		if _, err := b.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	r, err := tx.Bucket(bucketRules).CreateBucketIfNotExists(org)
	if err != nil {
		return err
	}
	for _, name := range [][]byte{bucketRulesVersions, bucketRulesDrafts} {
		if _, err := r.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// migrateAccess is migration 3: the rules and access buckets, for every
// org. No org has rules yet, so nobody has access.
func migrateAccess(tx *bbolt.Tx) error {
	for _, name := range [][]byte{bucketAccess, bucketRules} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketOrgs).ForEach(func(org, _ []byte) error {
		return createOrgAccess(tx, org)
	})
}

// indexKey is workspace 0x00 role 0x00 directory 0x00 user id.
func indexKey(workspace, role, dir, userID string) []byte {
	k := make([]byte, 0, len(workspace)+len(role)+len(dir)+len(userID)+3)
	k = append(k, workspace...)
	k = append(k, 0)
	k = append(k, role...)
	k = append(k, 0)
	k = append(k, dir...)
	k = append(k, 0)
	return append(k, userID...)
}

// splitIndexKey returns the role, directory and user id of an index key
// under the prefix workspace 0x00 (of length skip).
func splitIndexKey(k []byte, skip int) (role, dir, userID string, ok bool) {
	if len(k) < skip+idLen+3 {
		return "", "", "", false
	}
	userID = string(k[len(k)-idLen:])
	rest := k[skip : len(k)-idLen-1]
	i := bytes.IndexByte(rest, 0)
	if i < 0 {
		return "", "", "", false
	}
	return string(rest[:i]), string(rest[i+1:]), userID, true
}

type grantKey struct{ workspace, role string }

func grantSet(r *accessRecord) map[grantKey][]store.ReasonView {
	m := make(map[grantKey][]store.ReasonView, len(r.OrgRoles)+len(r.Workspaces))
	for _, g := range r.OrgRoles {
		m[grantKey{store.OrgWide, g.Role}] = g.Reasons
	}
	for _, g := range r.Workspaces {
		m[grantKey{g.Workspace, g.Role}] = g.Reasons
	}
	return m
}

// accessData is the data of access.granted, access.revoked and
// access.role_changed: enough for a consumer to act without calling back.
type accessData struct {
	User struct {
		ID       string `json:"id"`
		UserName string `json:"userName"`
	} `json:"user"`
	Workspace string `json:"workspace,omitempty"` // absent for an org-wide role
	Role      string `json:"role"`                // the role granted or revoked, or the new role
	From      string `json:"from,omitempty"`      // the role before (absent for a grant)
	To        string `json:"to,omitempty"`        // the role after (absent for a revocation)
	// Reasons are why the role is held now; PreviousReasons why the role
	// before was held.
	Reasons         []store.ReasonView `json:"reasons,omitempty"`
	PreviousReasons []store.ReasonView `json:"previous_reasons,omitempty"`
	RulesVersion    int                `json:"rules_version"`
}

// orgAdminMissingData is the data of access.org_admin_missing.
type orgAdminMissingData struct {
	User struct {
		ID       string `json:"id"`
		UserName string `json:"userName"`
	} `json:"user"`
	RulesVersion int `json:"rules_version"`
}

// accessWriter writes the new access of people in one transaction and
// appends their events.
type accessWriter struct {
	oa      *orgAccess
	ob      *outbox
	version int // the rules version the access is computed with
	changed int // people whose record was rewritten

	adminLost                  bool // some org_admin was revoked
	lostDir, lostID, lostName  string
	hadAdminsBefore, adminSeen bool
}

// apply makes after the stored access of the person (dir, userID), writing
// the record, the index keys and counts that change, and the access.*
// events of the roles that change. userName "" means the user is gone (the
// stored one is used for the events). A person whose record would not
// change costs one Get.
func (w *accessWriter) apply(dir, userID, userName string, after mapping.Access) error {
	key := pairKey(dir, userID)
	oldRaw := w.oa.people.Get(key)
	var old accessRecord
	decodeOld := func() error {
		if oldRaw == nil {
			return nil
		}
		if err := decode(oldRaw, &old); err != nil {
			return fmt.Errorf("access of %s/%s: %w", dir, userID, err)
		}
		return nil
	}
	if userName == "" { // the user is gone: no access, and the name is the stored one
		if err := decodeOld(); err != nil {
			return err
		}
		userName = old.UserName
	}
	var rec accessRecord
	var newRaw []byte
	if !after.Empty() {
		rec.UserName = userName
		rec.OrgRoles, rec.Workspaces = store.ViewsFromAccess(after)
		var err error
		if newRaw, err = encode(&rec); err != nil {
			return err
		}
	}
	if bytes.Equal(oldRaw, newRaw) {
		return nil
	}
	if old.UserName == "" {
		if err := decodeOld(); err != nil {
			return err
		}
	}
	if !w.adminSeen {
		w.adminSeen = true
		w.hadAdminsBefore = w.count(store.OrgWide, string(mapping.OrgAdmin)) > 0
	}
	w.changed++
	if newRaw == nil {
		if err := w.oa.people.Delete(key); err != nil {
			return err
		}
	} else if err := w.oa.people.Put(key, newRaw); err != nil {
		return err
	}
	olds, news := grantSet(&old), grantSet(&rec)
	for _, k := range sortedGrantKeys(olds) {
		if _, ok := news[k]; ok {
			continue
		}
		if err := w.oa.idx.Delete(indexKey(k.workspace, k.role, dir, userID)); err != nil {
			return err
		}
		if err := w.addCount(k, -1); err != nil {
			return err
		}
	}
	for _, k := range sortedGrantKeys(news) {
		if _, ok := olds[k]; ok {
			continue
		}
		if err := w.oa.idx.Put(indexKey(k.workspace, k.role, dir, userID), empty); err != nil {
			return err
		}
		if err := w.addCount(k, 1); err != nil {
			return err
		}
	}
	before := store.AccessFromViews(old.OrgRoles, old.Workspaces)
	for _, c := range mapping.Changes(userID, before, after) {
		var data accessData
		data.User.ID, data.User.UserName = userID, userName
		data.Workspace, data.Role, data.From, data.To = c.Workspace, string(c.Role), string(c.From), string(c.To)
		data.RulesVersion = w.version
		if c.To != "" {
			data.Reasons = news[grantKey{c.Workspace, string(c.To)}]
		}
		if c.From != "" {
			data.PreviousReasons = olds[grantKey{c.Workspace, string(c.From)}]
		}
		typ := store.EventAccessGranted
		switch c.Kind {
		case mapping.Revoked:
			typ = store.EventAccessRevoked
		case mapping.RoleChanged:
			typ = store.EventAccessRoleChanged
		}
		raw, err := encodeData(&data)
		if err != nil {
			return err
		}
		if err := w.ob.append(dir, typ, resourceRecord{Type: store.ResourceUser, ID: userID}, raw, nil); err != nil {
			return err
		}
		if c.Workspace == store.OrgWide && c.From == mapping.OrgAdmin {
			w.adminLost, w.lostDir, w.lostID, w.lostName = true, dir, userID, userName
		}
	}
	return nil
}

func sortedGrantKeys(m map[grantKey][]store.ReasonView) []grantKey {
	keys := make([]grantKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b grantKey) int {
		if c := strings.Compare(a.workspace, b.workspace); c != 0 {
			return c
		}
		return strings.Compare(a.role, b.role)
	})
	return keys
}

func (w *accessWriter) count(workspace, role string) int {
	return counter(w.oa.counts, pairKey(workspace, role))
}

// addCount moves the count of a workspace and role; a count of zero is
// deleted, so that Workspaces lists only what someone holds.
func (w *accessWriter) addCount(k grantKey, delta int) error {
	key := pairKey(k.workspace, k.role)
	n := counter(w.oa.counts, key) + delta
	switch {
	case n < 0:
		return fmt.Errorf("access count of %q %s would drop below zero", k.workspace, k.role)
	case n == 0:
		return w.oa.counts.Delete(key)
	}
	return w.oa.counts.Put(key, encodeUint(uint64(n)))
}

// finish appends access.org_admin_missing when the writes left the org
// without an org_admin while it had one before. The count of org_admin
// holders makes it O(1).
func (w *accessWriter) finish() error {
	if !w.adminLost || !w.hadAdminsBefore || w.count(store.OrgWide, string(mapping.OrgAdmin)) > 0 {
		return nil
	}
	var data orgAdminMissingData
	data.User.ID, data.User.UserName, data.RulesVersion = w.lostID, w.lostName, w.version
	raw, err := encodeData(&data)
	if err != nil {
		return err
	}
	return w.ob.append(w.lostDir, store.EventAccessOrgAdminMissing, resourceRecord{Type: store.ResourceUser, ID: w.lostID}, raw, nil)
}

// Recomputing access after a SCIM write.

// accessChanged marks a user whose access the write may change: it is
// recomputed when the write's callback is done (recomputeAccess).
func (d *dirTx) accessChanged(userID string) {
	if d.affected == nil {
		d.affected = map[string]bool{}
	}
	d.affected[userID] = true
}

// hasRules reports whether the org has published rules (one Get).
func (d *dirTx) hasRules() bool {
	b := rulesBucket(d.ob.tx, d.key.Org)
	return b != nil && decodeUint(b.Get(keyRulesCurrent)) > 0
}

// groupKeys is what the rules read of a group record.
type groupKeys struct {
	DisplayName string `json:"displayName"`
	ExternalID  string `json:"externalId"`
}

// person builds the mapping.Person of a user from its memberships: one
// Get per group it is in. A deactivated person holds nothing, so their
// groups are not read.
func (d *dirTx) person(id string, active bool) (mapping.Person, error) {
	p := mapping.Person{ID: id, Active: active, Directory: d.key.Directory}
	if !active {
		return p, nil
	}
	var err error
	d.eachMembership(id, func(gid string, _ uint64) bool {
		v := d.groups.Get([]byte(gid))
		if v == nil {
			err = fmt.Errorf("user %s is a member of missing group %s", id, gid)
			return false
		}
		var g groupKeys
		if err = decode(v, &g); err != nil {
			return false
		}
		p.Groups = append(p.Groups, mapping.Group{ID: gid, ExternalID: g.ExternalID, DisplayName: g.DisplayName, Directory: d.key.Directory})
		return true
	})
	return p, err
}

// recomputeAccess recomputes the access of the users the write marked, in
// id order, with the org's current rules, and appends the access events
// after the write's own. Without published rules it does nothing.
func (d *dirTx) recomputeAccess() error {
	if len(d.affected) == 0 {
		return nil
	}
	rules, version, err := d.db.currentRules(d.ob.tx, d.key.Org, d.ob)
	if err != nil || rules == nil {
		return err
	}
	oa, err := openOrgAccess(d.ob.tx, d.key.Org)
	if err != nil {
		return err
	}
	w := &accessWriter{oa: oa, ob: d.ob, version: version}
	for _, uid := range sortedKeys(d.affected) {
		r, err := d.readUser(uid)
		var after mapping.Access
		switch {
		case errors.Is(err, errNoUser):
			r = userRecord{}
		case err != nil:
			return err
		default:
			p, err := d.person(uid, r.Active)
			if err != nil {
				return err
			}
			after = rules.Evaluate(p)
		}
		if err := w.apply(d.key.Directory, uid, r.UserName, after); err != nil {
			return err
		}
	}
	return w.finish()
}

// Reading access.

// Access returns the materialised access of one user; see store.Store.
func (db *DB) Access(ctx context.Context, dir store.DirKey, userID string) (store.PersonAccess, error) {
	var out store.PersonAccess
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		d, err := openDir(tx, dir)
		if err != nil {
			return err
		}
		u, err := d.readUser(userID)
		if err != nil {
			return err
		}
		oa, err := openOrgAccess(tx, dir.Org)
		if err != nil {
			return err
		}
		out = store.PersonAccess{UserID: userID, Directory: dir.Directory, UserName: u.UserName, Active: u.Active}
		if v := oa.people.Get(pairKey(dir.Directory, userID)); v != nil {
			var r accessRecord
			if err := decode(v, &r); err != nil {
				return err
			}
			out.OrgRoles, out.Workspaces = r.OrgRoles, r.Workspaces
		}
		return nil
	})
	if err != nil {
		return store.PersonAccess{}, fmt.Errorf("bolt: access of user %s in %s: %w", userID, dir, err)
	}
	return out, nil
}

// WorkspaceMembers pages through the index; see store.Store. The cursor is
// the rest of the last index key read (role, directory, user id), base64url
// encoded.
func (db *DB) WorkspaceMembers(ctx context.Context, org, workspace, role, after string, limit int) ([]store.Member, string, error) {
	if limit <= 0 {
		limit = store.DefaultMemberLimit
	}
	limit = min(limit, store.MaxMemberLimit)
	var out []store.Member
	var next string
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		oa, err := openOrgAccess(tx, org)
		if err != nil {
			return err
		}
		wsPrefix := pairKey(workspace, "")
		prefix := wsPrefix
		if role != "" {
			prefix = pairKey(workspace, role+"\x00")
		}
		from := prefix
		if after != "" {
			rest, err := base64.RawURLEncoding.DecodeString(after)
			if err != nil {
				return fmt.Errorf("%w %q", store.ErrBadCursor, after)
			}
			from = append(slices.Clone(wsPrefix), rest...)
			if !bytes.HasPrefix(from, prefix) {
				return fmt.Errorf("%w %q", store.ErrBadCursor, after)
			}
		}
		c := oa.idx.Cursor()
		k, _ := c.Seek(from)
		if after != "" && bytes.Equal(k, from) {
			k, _ = c.Next()
		}
		var last []byte
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if len(out) == limit {
				next = base64.RawURLEncoding.EncodeToString(last[len(wsPrefix):])
				break
			}
			r, dir, uid, ok := splitIndexKey(k, len(wsPrefix))
			if !ok {
				return fmt.Errorf("malformed access index key %q", k)
			}
			m := store.Member{UserID: uid, Directory: dir, Role: r}
			var rec accessRecord
			if v := oa.people.Get(pairKey(dir, uid)); v != nil {
				if err := decode(v, &rec); err != nil {
					return err
				}
				m.UserName = rec.UserName
			}
			out = append(out, m)
			last = k
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("bolt: members of workspace %q of %q: %w", workspace, org, err)
	}
	return out, next, nil
}

// Workspaces lists the declared and the held workspaces; see store.Store.
// It reads the counts, not the index: O(workspaces × roles).
func (db *DB) Workspaces(ctx context.Context, org string) ([]store.WorkspaceView, error) {
	var out []store.WorkspaceView
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		oa, err := openOrgAccess(tx, org)
		if err != nil {
			return err
		}
		rules, _, err := db.currentRules(tx, org, nil)
		if err != nil {
			return err
		}
		views := map[string]*store.WorkspaceView{}
		view := func(name string) *store.WorkspaceView {
			v := views[name]
			if v == nil {
				v = &store.WorkspaceView{Name: name}
				views[name] = v
			}
			return v
		}
		if rules != nil {
			for _, ws := range rules.Workspaces() {
				view(ws).Declared = true
			}
		}
		err = oa.counts.ForEach(func(k, v []byte) error {
			i := bytes.IndexByte(k, 0)
			if i <= 0 { // org-wide roles are not a workspace
				return nil
			}
			n := int(decodeUint(v))
			wv := view(string(k[:i]))
			wv.Members += n
			if string(k[i+1:]) == string(mapping.WorkspaceAdmin) {
				wv.Admins += n
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, v := range views {
			out = append(out, *v)
		}
		slices.SortFunc(out, func(a, b store.WorkspaceView) int { return strings.Compare(a.Name, b.Name) })
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: workspaces of %q: %w", org, err)
	}
	return out, nil
}
