package bolt

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

// ListUsers answers q over the users of dir; see the package comment for
// how Plan, Match, SortKey and paging are applied.
func (db *DB) ListUsers(ctx context.Context, dir store.DirKey, q store.Query) (store.UserPage, error) {
	var page store.UserPage
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		d, err := openDir(tx, dir)
		if err != nil {
			return err
		}
		d.db = db // for the staged users (staged.go)
		l := lister[userRecord]{
			bucket: d.users, count: counter(d.counters, keyUserCount),
			lookup: d.userLookup,
			record: func(id string, r *userRecord) store.Record {
				return store.Record{ID: id, Attributes: r.Attributes, Version: r.Version, Created: r.Created, Modified: r.Modified}
			},
		}
		ids, recs, err := l.list(q)
		if err != nil {
			return err
		}
		page.Total, page.Examined = l.total, l.examined+d.examined
		page.Users = make([]store.User, len(recs))
		for i := range recs {
			page.Users[i] = recs[i].user(ids[i])
			if q.WithGroups {
				if page.Users[i].Groups, err = d.userGroups(ids[i]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return store.UserPage{}, fmt.Errorf("bolt: list users in %s: %w", dir, err)
	}
	return page, nil
}

// ListGroups answers q over the groups of dir.
func (db *DB) ListGroups(ctx context.Context, dir store.DirKey, q store.Query) (store.GroupPage, error) {
	var page store.GroupPage
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		d, err := openDir(tx, dir)
		if err != nil {
			return err
		}
		l := lister[groupRecord]{
			bucket: d.groups, count: counter(d.counters, keyGroupCount),
			lookup: d.groupLookup,
			record: func(id string, r *groupRecord) store.Record {
				return store.Record{ID: id, Attributes: r.Attributes, Version: r.Version, Created: r.Created, Modified: r.Modified}
			},
		}
		ids, recs, err := l.list(q)
		if err != nil {
			return err
		}
		page.Total, page.Examined = l.total, l.examined
		page.Groups = make([]store.Group, len(recs))
		for i := range recs {
			page.Groups[i] = recs[i].group(ids[i])
		}
		return nil
	})
	if err != nil {
		return store.GroupPage{}, fmt.Errorf("bolt: list groups in %s: %w", dir, err)
	}
	return page, nil
}

// lister runs one Query over one resource bucket.
type lister[R any] struct {
	bucket *bbolt.Bucket
	count  int // number of records in bucket (the counter)
	lookup func(p *store.Plan) ([]string, error)
	record func(id string, r *R) store.Record

	total    int
	examined int
}

// read decodes the record id, or returns false if there is none.
func (l *lister[R]) read(id string) (R, bool, error) {
	var r R
	if len(id) != idLen { // a membership key in users, not a record
		return r, false, nil
	}
	v := l.bucket.Get([]byte(id))
	if v == nil {
		return r, false, nil
	}
	l.examined++
	if err := decode(v, &r); err != nil {
		return r, false, fmt.Errorf("%s: %w", id, err)
	}
	return r, true, nil
}

// readAll decodes the records of ids (those that exist).
func (l *lister[R]) readAll(ids []string) ([]string, []R, error) {
	outIDs, out := make([]string, 0, len(ids)), make([]R, 0, len(ids))
	for _, id := range ids {
		r, ok, err := l.read(id)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			outIDs, out = append(outIDs, id), append(out, r)
		}
	}
	return outIDs, out, nil
}

// list returns the page of q and sets total and examined.
func (l *lister[R]) list(q store.Query) ([]string, []R, error) {
	skip, count := max(q.StartIndex, 1)-1, max(q.Count, 0)
	plain := q.Match == nil && q.SortKey == nil

	var candidates []string // sorted; nil: every record
	if q.Plan != nil {
		var err error
		if candidates, err = l.plan(q.Plan); err != nil {
			return nil, nil, err
		}
	}
	all := candidates == nil

	// Every candidate matches: only the page is read. Without a plan the
	// total is the counter and the page a key-only cursor walk.
	switch {
	case plain && all:
		l.total = l.count
		var ids []string
		c := l.bucket.Cursor()
		k, _ := nextRecord(c, true)
		for i := 0; k != nil && i < skip; i++ {
			k, _ = nextRecord(c, false)
		}
		for ; k != nil && len(ids) < count; k, _ = nextRecord(c, false) {
			ids = append(ids, string(k))
		}
		return l.readAll(ids)
	case plain:
		l.total = len(candidates)
		return l.readAll(page(candidates, skip, count))
	}

	// each calls fn for every candidate record in id order.
	each := func(fn func(id string, r *R)) error {
		if !all {
			for _, id := range candidates {
				r, ok, err := l.read(id)
				if err != nil {
					return err
				}
				if ok {
					fn(id, &r)
				}
			}
			return nil
		}
		c := l.bucket.Cursor()
		for k, v := nextRecord(c, true); k != nil; k, v = nextRecord(c, false) {
			var r R
			l.examined++
			if err := decode(v, &r); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			fn(string(k), &r)
		}
		return nil
	}

	if q.SortKey == nil {
		var ids []string
		var recs []R
		err := each(func(id string, r *R) {
			if q.Match(l.record(id, r)) {
				if l.total >= skip && len(ids) < count {
					ids, recs = append(ids, id), append(recs, *r)
				}
				l.total++
			}
		})
		return ids, recs, err
	}

	// Sorted: keep (key, id) of every match, sort, then read the page again.
	type entry struct{ key, id string }
	var matches []entry
	err := each(func(id string, r *R) {
		rec := l.record(id, r)
		if q.Match == nil || q.Match(rec) {
			matches = append(matches, entry{q.SortKey(rec), id})
		}
	})
	if err != nil {
		return nil, nil, err
	}
	l.total = len(matches)
	slices.SortFunc(matches, func(a, b entry) int {
		c := cmp.Or(strings.Compare(a.key, b.key), strings.Compare(a.id, b.id))
		if q.Desc {
			return -c
		}
		return c
	})
	var ids []string
	for _, m := range page(matches, skip, count) {
		ids = append(ids, m.id)
	}
	return l.readAll(ids)
}

// page returns s[skip:skip+count], clamped.
func page[T any](s []T, skip, count int) []T {
	if skip >= len(s) {
		return nil
	}
	return s[skip : skip+min(count, len(s)-skip)]
}

// plan computes the candidate ids of p from indexes only, sorted and
// distinct. A nil result means every record (a nil Plan, an And without
// subs).
func (l *lister[R]) plan(p *store.Plan) ([]string, error) {
	if p == nil {
		return nil, nil
	}
	switch p.Op {
	case store.PlanLookup:
		ids, err := l.lookup(p)
		if ids == nil {
			ids = []string{}
		}
		return ids, err
	case store.PlanAnd:
		var acc []string // nil: every record so far
		for _, sub := range p.Subs {
			ids, err := l.plan(sub)
			if err != nil {
				return nil, err
			}
			switch {
			case ids == nil:
			case acc == nil:
				acc = ids
			default:
				acc = intersect(acc, ids)
			}
		}
		return acc, nil
	case store.PlanOr:
		acc := []string{}
		for _, sub := range p.Subs {
			ids, err := l.plan(sub)
			if err != nil || ids == nil {
				return nil, err
			}
			acc = union(acc, ids)
		}
		return acc, nil
	}
	return nil, fmt.Errorf("unknown plan op %d", p.Op)
}

func intersect(a, b []string) []string {
	out := []string{}
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch c := strings.Compare(a[i], b[j]); {
		case c < 0:
			i++
		case c > 0:
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
}

func union(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := strings.Compare(a[i], b[j]); {
		case c < 0:
			out = append(out, a[i])
			i++
		case c > 0:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// sortedIDs sorts ids and removes repeats.
func sortedIDs(ids []string) []string {
	slices.Sort(ids)
	return slices.Compact(ids)
}

// nextRecord moves c to its first key (first) or its next one, past any
// key that is not a record's (the memberships that follow each user in
// users), and returns it. It steps over a few and seeks past the rest of a
// user's memberships, so a user in many groups costs one seek.
func nextRecord(c *bbolt.Cursor, first bool) ([]byte, []byte) {
	var k, v []byte
	if first {
		k, v = c.First()
	} else {
		k, v = c.Next()
	}
	for i := 0; k != nil && !isRecordKey(k); i++ {
		if i == 4 && len(k) > idLen {
			// user id 0x01 sorts after all of the user's memberships
			// (user id 0x00 …) and before the next user.
			past := append(bytes.Clone(k[:idLen]), 1)
			k, v = c.Seek(past)
			continue
		}
		k, v = c.Next()
	}
	return k, v
}

// idLookup answers FieldID from the primary bucket (keys only).
func idLookup(b *bbolt.Bucket, p *store.Plan) []string {
	if !p.Prefix {
		if len(p.Value) == idLen && b.Get([]byte(p.Value)) != nil {
			return []string{p.Value}
		}
		return nil
	}
	var ids []string
	scanPrefix(b, []byte(p.Value), func(k, _ []byte) bool {
		if isRecordKey(k) {
			ids = append(ids, string(k))
		}
		return true
	})
	return ids
}

// uniqueLookup answers a lookup in a folded unique index (key → id).
func uniqueLookup(b *bbolt.Bucket, p *store.Plan) []string {
	key := store.Fold(p.Value)
	if !p.Prefix {
		if id := b.Get([]byte(key)); key != "" && id != nil {
			return []string{string(id)}
		}
		return nil
	}
	var ids []string
	scanPrefix(b, []byte(key), func(_, v []byte) bool {
		ids = append(ids, string(v))
		return true
	})
	return sortedIDs(ids)
}

// pairLookup answers a lookup in an index of value + 0x00 + id.
func pairLookup(b *bbolt.Bucket, value string, prefix bool) []string {
	if !prefix {
		return suffixIDs(b, pairKey(value, ""), true) // already in id order
	}
	return sortedIDs(suffixIDs(b, []byte(value), false))
}

func (d *dirTx) userLookup(p *store.Plan) ([]string, error) {
	switch p.Field {
	case store.FieldID:
		return idLookup(d.users, p), nil
	case store.FieldUserName:
		return d.withStaged(uniqueLookup(d.userName, p), stagedName, store.Fold(p.Value), p.Prefix)
	case store.FieldExternalID:
		return d.withStaged(pairLookup(d.userExt, p.Value, p.Prefix), stagedExt, p.Value, p.Prefix)
	case store.FieldEmail:
		folded := store.Fold(p.Value)
		ids, err := d.emailLookup(folded, p.Prefix)
		if err != nil {
			return nil, err
		}
		return d.withStaged(ids, stagedEmail, folded, p.Prefix)
	}
	return nil, fmt.Errorf("field %q is not indexed for users", p.Field)
}

// emailLookup answers an email lookup: the email index, plus the users
// whose own userName is the email (reindexEmails does not write those
// keys), each read to check it has that email; those it reads and does not
// return count in d.examined. Files written before that rule have the key
// too; repeats are removed. A userName key whose record is missing is no
// match, as in readAll.
func (d *dirTx) emailLookup(folded string, prefix bool) ([]string, error) {
	ids := pairLookup(d.userEmail, folded, prefix)
	var err error
	own := func(name, id []byte) bool {
		var ok bool
		switch ok, err = d.hasEmail(string(id), string(name)); {
		case ok:
			ids = append(ids, string(id))
		case errors.Is(err, errNoUser):
			err = nil
		case err == nil:
			d.examined++
		}
		return err == nil
	}
	if !prefix {
		if id := d.userName.Get([]byte(folded)); folded != "" && id != nil {
			own([]byte(folded), id)
		}
	} else {
		scanPrefix(d.userName, []byte(folded), own)
	}
	if err != nil {
		return nil, err
	}
	return sortedIDs(ids), nil
}

// hasEmail reports whether user id has an email that folds to folded.
func (d *dirTx) hasEmail(id, folded string) (bool, error) {
	r, err := d.readUser(id)
	if err != nil {
		return false, err
	}
	for _, e := range r.Emails {
		if store.Fold(e) == folded {
			return true, nil
		}
	}
	return false, nil
}

func (d *dirTx) groupLookup(p *store.Plan) ([]string, error) {
	switch p.Field {
	case store.FieldID:
		return idLookup(d.groups, p), nil
	case store.FieldDisplayName:
		return uniqueLookup(d.groupName, p), nil
	case store.FieldExternalID:
		return pairLookup(d.groupExt, p.Value, p.Prefix), nil
	}
	return nil, fmt.Errorf("field %q is not indexed for groups", p.Field)
}
