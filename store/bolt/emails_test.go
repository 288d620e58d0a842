package bolt

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

// TestEmailLookupsAgreeWithRecords runs random creates, renames, email
// changes and deletes over a few names, some emails equal to their user's
// userName (which reindexEmails does not index) and some keys written in
// the layout of files made before that rule, and after every step checks
// every email lookup, exact and prefix, against the users' records.
func TestEmailLookupsAgreeWithRecords(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{})
	defer db.Close()
	db.stageMax = 3 // most users get their keys written, by creates and updates
	ctx := t.Context()
	dir := setupOrg(t, db)
	pool := []string{"ann@x", "ANN@X", "anna@x", "bob@x", "Bob@X", "bo@x", "cy@x"}
	r := rand.New(rand.NewPCG(1, 2))
	pick := func() string { return pool[r.IntN(len(pool))] }
	emails := func() []string {
		var es []string
		for range r.IntN(4) {
			es = append(es, pick())
		}
		return es
	}
	legacy := map[string]bool{} // email index keys written as an old file has them
	var ids []string
	for step := range 3000 {
		var err error
		switch op := r.IntN(10); {
		case op < 3 || len(ids) == 0:
			name := pick()
			es := emails()
			if r.IntN(2) == 0 {
				es = append(es, strings.ToUpper(name)) // the userName as an email, as Okta and Entra send it
			}
			var u store.User
			u, err = db.CreateUser(ctx, dir, store.User{UserName: name, Emails: es, Attributes: fmt.Appendf(nil, `{"userName":%q}`, name)})
			if err == nil {
				ids = append(ids, u.ID)
			}
		case op < 5:
			_, err = db.UpdateUser(ctx, dir, ids[r.IntN(len(ids))], 0, func(u *store.User) error { u.UserName = pick(); return nil })
		case op < 7:
			_, err = db.UpdateUser(ctx, dir, ids[r.IntN(len(ids))], 0, func(u *store.User) error { u.Emails = emails(); return nil })
		case op < 8:
			i := r.IntN(len(ids))
			err = db.DeleteUser(ctx, dir, ids[i], 0)
			ids = slices.Delete(ids, i, i+1)
		default:
			// What a file written before the rule holds: the key of an
			// email equal to its user's userName (not for a staged user:
			// such files have none).
			id := ids[r.IntN(len(ids))]
			updateDir(t, db, dir, func(d *dirTx) error {
				if s := d.bucket.Bucket(bucketStaged); s != nil && s.Get([]byte(id)) != nil {
					return nil
				}
				rec, err := d.readUser(id)
				if err != nil {
					return err
				}
				name := store.Fold(rec.UserName)
				if !foldedSet(rec.Emails)[name] {
					return nil
				}
				legacy[string(pairKey(name, id))] = true
				return d.userEmail.Put(pairKey(name, id), empty)
			})
		}
		if err != nil && !errors.As(err, new(*store.ConflictError)) {
			t.Fatalf("step %d: %v", step, err)
		}
		checkEmailIndex(t, db, dir, step, pool, legacy)
		if t.Failed() {
			return
		}
	}
}

// checkEmailIndex compares every email lookup with the records, and checks
// that the email index holds no key of a user's own userName that was not
// written as an old file has it.
func checkEmailIndex(t *testing.T, db *DB, dir store.DirKey, step int, pool []string, legacy map[string]bool) {
	t.Helper()
	all, err := db.ListUsers(t.Context(), dir, store.Query{Count: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var queries []store.Plan
	for _, v := range pool {
		queries = append(queries, store.Plan{Field: store.FieldEmail, Value: v})
		for n := 1; n < len(v); n++ {
			queries = append(queries, store.Plan{Field: store.FieldEmail, Value: v[:n], Prefix: true})
		}
	}
	for _, p := range queries {
		var want []string
		for _, u := range all.Users {
			for _, e := range u.Emails {
				f := store.Fold(e)
				if f == store.Fold(p.Value) || p.Prefix && strings.HasPrefix(f, store.Fold(p.Value)) {
					want = append(want, u.ID)
					break
				}
			}
		}
		got, err := db.ListUsers(t.Context(), dir, store.Query{Plan: &p, Count: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs []string
		for _, u := range got.Users {
			gotIDs = append(gotIDs, u.ID)
		}
		slices.Sort(want)
		slices.Sort(gotIDs)
		if !slices.Equal(gotIDs, want) {
			t.Errorf("step %d: email lookup %+v = %v; want %v", step, p, gotIDs, want)
		}
		if !p.Prefix && got.Examined > len(got.Users)+1 {
			t.Errorf("step %d: email lookup %+v examined %d records for %d results; want at most one more", step, p, got.Examined, len(got.Users))
		}
	}
	// Every key of the email index is an email its user has, and not the
	// user's own userName unless written as an old file has it.
	users := map[string]store.User{}
	for _, u := range all.Users {
		users[u.ID] = u
	}
	keys := map[string]bool{}
	err = db.bolt.View(func(tx *bbolt.Tx) error {
		d, err := openDir(tx, dir)
		if err != nil {
			return err
		}
		return d.userEmail.ForEach(func(k, _ []byte) error {
			keys[string(k)] = true
			e, id := string(k[:len(k)-idLen-1]), string(k[len(k)-idLen:])
			u, ok := users[id]
			switch {
			case !ok:
				t.Errorf("step %d: email index holds %q for user %s, who is gone", step, e, id)
			case !foldedSet(u.Emails)[e]:
				t.Errorf("step %d: email index holds %q for user %s, whose emails are %q", step, e, id, u.Emails)
			case store.Fold(u.UserName) == e && !legacy[string(k)]:
				t.Errorf("step %d: email index holds %q for user %s, whose userName it is", step, e, id)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range legacy {
		if !keys[k] {
			delete(legacy, k) // removed: from now on it must not come back
		}
	}
}

// TestEmailLookupSkipsMissingRecord checks that an email lookup through the
// userName index treats a key whose record is missing (a damaged file) as
// no match, as listings do, rather than failing.
func TestEmailLookupSkipsMissingRecord(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{})
	defer db.Close()
	ctx := t.Context()
	dir := setupOrg(t, db)
	u, err := db.CreateUser(ctx, dir, store.User{UserName: "jane@example.com", Emails: []string{"jane@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.bolt.Update(func(tx *bbolt.Tx) error {
		d, err := openDir(tx, dir)
		if err != nil {
			return err
		}
		return d.users.Delete([]byte(u.ID))
	}); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []bool{false, true} {
		p, err := db.ListUsers(ctx, dir, store.Query{Plan: &store.Plan{Field: store.FieldEmail, Value: "jane@example.com", Prefix: prefix}, Count: 10})
		if err != nil || len(p.Users) != 0 {
			t.Errorf("ListUsers(email, prefix %v) with the record gone = %d users, %v; want none, nil", prefix, len(p.Users), err)
		}
	}
}
