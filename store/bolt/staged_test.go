package bolt

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

// lookupIDs answers one lookup of dir with ListUsers.
func lookupIDs(t *testing.T, db *DB, dir store.DirKey, field store.Field, value string, prefix bool) []string {
	t.Helper()
	page, err := db.ListUsers(t.Context(), dir, store.Query{Plan: &store.Plan{Field: field, Value: value, Prefix: prefix}, Count: 1000})
	if err != nil {
		t.Fatalf("lookup %s %q: %v", field, value, err)
	}
	var ids []string
	for _, u := range page.Users {
		ids = append(ids, u.ID)
	}
	return ids
}

// stagedKeys returns the staged ids of dir and its staged counter.
func stagedKeys(t testing.TB, db *DB, dir store.DirKey) ([]string, int) {
	t.Helper()
	var ids []string
	var n int
	if err := db.bolt.View(func(tx *bbolt.Tx) error {
		d, err := openDir(tx, dir)
		if err != nil {
			return err
		}
		n = counter(d.counters, keyStagedCount)
		if b := d.bucket.Bucket(bucketStaged); b != nil {
			return b.ForEach(func(k, _ []byte) error { ids = append(ids, string(k)); return nil })
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ids, n
}

// TestStagedKeysWrittenAtLimit creates users past stageMax: the create that
// reaches it writes the keys of all staged users, and every lookup finds
// every user whichever side holds it.
func TestStagedKeysWrittenAtLimit(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{})
	defer db.Close()
	db.stageMax = 5
	ctx := t.Context()
	dir := setupOrg(t, db)
	var ids []string
	for i := range 12 {
		u, err := db.CreateUser(ctx, dir, store.User{
			UserName: fmt.Sprintf("User%02d@Example.com", i), ExternalID: fmt.Sprintf("ext-%02d", i),
			Emails:     []string{fmt.Sprintf("user%02d@example.com", i), fmt.Sprintf("alt%02d@example.org", i)},
			Attributes: []byte(`{}`),
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
		staged, n := stagedKeys(t, db, dir)
		if want := (i + 1) % 5; len(staged) != want || n != want {
			t.Fatalf("after create %d: %d staged keys, counter %d; want %d", i, len(staged), n, want)
		}
	}
	for i, id := range ids {
		for _, l := range []struct {
			field store.Field
			value string
		}{
			{store.FieldUserName, fmt.Sprintf("user%02d@example.COM", i)},
			{store.FieldExternalID, fmt.Sprintf("ext-%02d", i)},
			{store.FieldEmail, fmt.Sprintf("USER%02d@example.com", i)},
			{store.FieldEmail, fmt.Sprintf("alt%02d@example.org", i)},
		} {
			if got := lookupIDs(t, db, dir, l.field, l.value, false); !slices.Equal(got, []string{id}) {
				t.Errorf("user %d (staged: %v): %s eq %q = %v; want [%s]", i, i >= 10, l.field, l.value, got, id)
			}
		}
	}
	want := slices.Clone(ids)
	slices.Sort(want)
	for _, p := range []struct {
		field store.Field
		value string
	}{{store.FieldUserName, "USER"}, {store.FieldExternalID, "ext-"}, {store.FieldEmail, "alt"}} {
		if got := lookupIDs(t, db, dir, p.field, p.value, true); !slices.Equal(got, want) {
			t.Errorf("%s sw %q = %v; want all %d users", p.field, p.value, got, len(want))
		}
	}
	// A duplicate of a staged and of a written userName is refused.
	for _, name := range []string{"user11@example.com", "USER01@example.com"} {
		_, err := db.CreateUser(ctx, dir, store.User{UserName: name, Attributes: []byte(`{}`)})
		if !errors.As(err, new(*store.ConflictError)) {
			t.Errorf("create %s = %v; want a conflict", name, err)
		}
	}
	// Renaming a written user to a staged user's name is refused.
	_, err := db.UpdateUser(ctx, dir, ids[0], 0, func(u *store.User) error { u.UserName = "user10@example.com"; return nil })
	if !errors.As(err, new(*store.ConflictError)) {
		t.Errorf("rename to a staged userName = %v; want a conflict", err)
	}
}

// TestStagedUsersAfterReopen closes a store with staged users and opens it
// again: memory is rebuilt from the staged bucket, so lookups and the
// uniqueness of userName hold, and Verify accepts the file.
func TestStagedUsersAfterReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scimbridge.db")
	db := open(t, path, Options{})
	ctx := t.Context()
	dir := setupOrg(t, db)
	u, err := db.CreateUser(ctx, dir, store.User{UserName: "ann@example.com", ExternalID: "00u1", Emails: []string{"Ann@Example.com"}, Attributes: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if staged, _ := stagedKeys(t, db, dir); !slices.Equal(staged, []string{u.ID}) {
		t.Fatalf("staged = %v; want [%s]", staged, u.ID)
	}
	if sure, unsure := db.staged.candidates(dir, stagedExt, "00u1", false, db.staged.last); !slices.Equal(sure, []string{u.ID}) || len(unsure) != 0 {
		t.Errorf("after the create, candidates = %v sure, %v unsure; want [%s] sure", sure, unsure, u.ID)
	}
	db.Close()
	if _, err := Verify(path); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	db = open(t, path, Options{})
	defer db.Close()
	// A committed staged user is known to be in later snapshots: lookups
	// need not read its record to check it.
	if sure, unsure := db.staged.candidates(dir, stagedName, "ann@example.com", false, db.staged.last); !slices.Equal(sure, []string{u.ID}) || len(unsure) != 0 {
		t.Errorf("after reopen, candidates = %v sure, %v unsure; want [%s] sure", sure, unsure, u.ID)
	}
	for _, f := range []store.Field{store.FieldUserName, store.FieldEmail} {
		if got := lookupIDs(t, db, dir, f, "ANN@example.com", false); !slices.Equal(got, []string{u.ID}) {
			t.Errorf("after reopen, %s lookup = %v; want [%s]", f, got, u.ID)
		}
	}
	if got := lookupIDs(t, db, dir, store.FieldExternalID, "00u1", false); !slices.Equal(got, []string{u.ID}) {
		t.Errorf("after reopen, externalId lookup = %v; want [%s]", got, u.ID)
	}
	if _, err := db.CreateUser(ctx, dir, store.User{UserName: "Ann@Example.com", Attributes: []byte(`{}`)}); !errors.As(err, new(*store.ConflictError)) {
		t.Errorf("after reopen, duplicate create = %v; want a conflict", err)
	}
	// Updating the staged user writes its keys and unstages it.
	if _, err := db.UpdateUser(ctx, dir, u.ID, 0, func(u *store.User) error { u.ExternalID = "00u2"; return nil }); err != nil {
		t.Fatal(err)
	}
	if staged, n := stagedKeys(t, db, dir); len(staged) != 0 || n != 0 {
		t.Errorf("after the update: staged %v, counter %d; want none", staged, n)
	}
	if got := lookupIDs(t, db, dir, store.FieldExternalID, "00u1", false); len(got) != 0 {
		t.Errorf("old externalId lookup = %v; want none", got)
	}
	if got := lookupIDs(t, db, dir, store.FieldExternalID, "00u2", false); !slices.Equal(got, []string{u.ID}) {
		t.Errorf("new externalId lookup = %v; want [%s]", got, u.ID)
	}
}

// TestStagedKeptForOlderSnapshots holds a read transaction open across the
// write of staged users' keys: that read's snapshot has neither the keys
// nor (once memory forgets them) any other way to the users, so memory
// must keep them until it ends.
func TestStagedKeptForOlderSnapshots(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{})
	defer db.Close()
	ctx := t.Context()
	dir := setupOrg(t, db)
	u, err := db.CreateUser(ctx, dir, store.User{UserName: "ann@example.com", Attributes: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	// A read as db.view runs it, begun before the keys are written.
	bound := db.staged.enter()
	tx, err := db.bolt.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// An update renames the staged user and writes its keys.
	if _, err := db.UpdateUser(ctx, dir, u.ID, 0, func(u *store.User) error { u.UserName = "bob@example.com"; return nil }); err != nil {
		t.Fatal(err)
	}
	// Other reads end meanwhile: memory must not take them as the last.
	// Memory still holds the old name, which the new snapshot's record
	// does not have.
	if got := lookupIDs(t, db, dir, store.FieldUserName, "ann@example.com", false); len(got) != 0 {
		t.Errorf("new snapshot: old name lookup = %v; want none", got)
	}
	if got := lookupIDs(t, db, dir, store.FieldUserName, "bob@example.com", false); !slices.Equal(got, []string{u.ID}) {
		t.Errorf("new snapshot: new name lookup = %v; want [%s]", got, u.ID)
	}
	d, err := openDir(tx, dir)
	if err != nil {
		t.Fatal(err)
	}
	d.db = db
	got, err := d.userLookup(&store.Plan{Field: store.FieldUserName, Value: "ann@example.com"})
	if err != nil || !slices.Equal(got, []string{u.ID}) {
		t.Errorf("old snapshot: lookup = %v, %v; want [%s]", got, err, u.ID)
	}
	tx.Rollback()
	db.staged.leave(bound)
	db.staged.mu.Lock()
	left := len(db.staged.dirs) + len(db.staged.retired)
	db.staged.mu.Unlock()
	if left != 0 {
		t.Errorf("after the old read ended, memory holds %d directories and %d retirements; want none", len(db.staged.dirs), len(db.staged.retired))
	}
}

// TestStagedRollbackForgets fails a write after it staged a user, in a
// batch with others: the transaction rolls back, the others run again
// without it, and memory keeps only the users that were committed.
func TestStagedRollbackForgets(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{})
	defer db.Close()
	dir := setupOrg(t, db)
	boom := errors.New("boom")
	var calls []*call
	for i, name := range []string{"a@x", "b@x", "c@x"} {
		u := store.User{UserName: name, Attributes: []byte(`{}`)}
		id := newTimeID(db.now())
		calls = append(calls, &call{run: func(tx *bbolt.Tx) (*outbox, error) {
			ob := &outbox{tx: tx, org: dir.Org, now: db.stamp()}
			d, err := openDir(tx, dir)
			if err != nil {
				return ob, err
			}
			d.now, d.ob, d.db = ob.now, ob, db
			r, err := newUserRecord(&u)
			if err != nil {
				return ob, err
			}
			if err := d.putUser(id, &r); err != nil {
				return ob, err
			}
			if err := d.stage(id, &r); err != nil {
				return ob, err
			}
			if i == 2 {
				return ob, boom // after it staged c@x
			}
			return ob, addCounter(d.counters, keyUserCount, 1)
		}, wake: make(chan bool, 1)})
	}
	for batch := calls; len(batch) > 0; {
		batch = batch[db.runBatch(batch):]
	}
	if calls[0].err != nil || calls[1].err != nil || !errors.Is(calls[2].err, boom) {
		t.Fatalf("results %v, %v, %v; want nil, nil, boom", calls[0].err, calls[1].err, calls[2].err)
	}
	staged, _ := stagedKeys(t, db, dir)
	db.staged.mu.Lock()
	defer db.staged.mu.Unlock()
	if n := len(db.staged.dirs[dir].users); n != 2 || len(staged) != 2 {
		t.Errorf("memory holds %d users, the file %d staged; want 2 and 2", n, len(staged))
	}
	if len(db.staged.added) != 0 || len(db.staged.retire) != 0 {
		t.Errorf("the transaction's lists are left: %d added, %d to retire", len(db.staged.added), len(db.staged.retire))
	}
}

// TestVerifyRefusesDamagedStaged damages the staged bucket or its counter.
func TestVerifyRefusesDamagedStaged(t *testing.T) {
	for name, damage := range map[string]func(d *dirTx) error{
		"staged key without a user": func(d *dirTx) error {
			if err := d.bucket.Bucket(bucketStaged).Put([]byte(newTimeID(d.now)), empty); err != nil {
				return err
			}
			return addCounter(d.counters, keyStagedCount, 1)
		},
		"counter off": func(d *dirTx) error { return addCounter(d.counters, keyStagedCount, 1) },
		"staged userName in the index": func(d *dirTx) error {
			return d.userName.Put([]byte("ann@x"), []byte(newTimeID(d.now)))
		},
		"two staged users with one userName": func(d *dirTx) error {
			id := newTimeID(d.now)
			if err := d.putUser(id, &userRecord{UserName: "ANN@x"}); err != nil {
				return err
			}
			if err := d.bucket.Bucket(bucketStaged).Put([]byte(id), empty); err != nil {
				return err
			}
			if err := addCounter(d.counters, keyUserCount, 1); err != nil {
				return err
			}
			return addCounter(d.counters, keyStagedCount, 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "scimbridge.db")
			db := open(t, path, Options{})
			dir := setupOrg(t, db)
			if _, err := db.CreateUser(t.Context(), dir, store.User{UserName: "ann@x", Attributes: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
			updateDir(t, db, dir, damage)
			db.Close()
			if _, err := Verify(path); !errors.Is(err, ErrInvalidFile) {
				t.Errorf("Verify = %v; want ErrInvalidFile", err)
			}
		})
	}
}

// TestStagedUncommittedNotFound puts in memory a user that a write in
// progress staged: reads, whose snapshot does not have it, do not find it.
func TestStagedUncommittedNotFound(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{})
	defer db.Close()
	dir := setupOrg(t, db)
	db.staged.add(dir, newTimeID(db.now()), &userRecord{UserName: "ghost@x", ExternalID: "g1", Emails: []string{"ghost@x"}})
	defer db.staged.settle(0, txRolledBack)
	for _, f := range []store.Field{store.FieldUserName, store.FieldEmail} {
		if got := lookupIDs(t, db, dir, f, "ghost@x", false); len(got) != 0 {
			t.Errorf("%s lookup = %v; want none", f, got)
		}
		if got := lookupIDs(t, db, dir, f, "gh", true); len(got) != 0 {
			t.Errorf("%s prefix lookup = %v; want none", f, got)
		}
	}
	if got := lookupIDs(t, db, dir, store.FieldExternalID, "g1", false); len(got) != 0 {
		t.Errorf("externalId lookup = %v; want none", got)
	}
	if _, err := db.CreateUser(t.Context(), dir, store.User{UserName: "ghost@x", Attributes: []byte(`{}`)}); err != nil {
		t.Errorf("create of the name = %v; want it created", err)
	}
}

// TestStagedBoundOverDirectories stages users in three directories, none
// at its own limit: once memory holds twice the limit, a create writes
// its own directory's staged keys.
func TestStagedBoundOverDirectories(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{})
	defer db.Close()
	db.stageMax = 3
	ctx := t.Context()
	a := setupOrg(t, db)
	var dirs []store.DirKey
	for _, name := range []string{"b", "c"} {
		if _, err := db.CreateDirectory(ctx, store.Directory{Org: a.Org, Name: name}); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, store.DirKey{Org: a.Org, Directory: name})
	}
	dirs = append([]store.DirKey{a}, dirs...)
	for i, dir := range dirs {
		for j := range 2 {
			if _, err := db.CreateUser(ctx, dir, store.User{UserName: fmt.Sprintf("u%d%d@x", i, j), Attributes: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, want := range []int{2, 2, 0} { // the sixth create reached 2×3
		if staged, n := stagedKeys(t, db, dirs[i]); len(staged) != want || n != want {
			t.Errorf("directory %s: %d staged, counter %d; want %d", dirs[i], len(staged), n, want)
		}
	}
	if got := lookupIDs(t, db, dirs[2], store.FieldUserName, "u21@x", false); len(got) != 1 {
		t.Errorf("lookup after the write = %v; want one user", got)
	}
}

// TestStagedRenameThenCreateInOneBatch renames a staged user and creates
// a user with its old name in the same transaction: memory still holds
// the old name until the commit, and must not take it for the user's.
func TestStagedRenameThenCreateInOneBatch(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{})
	defer db.Close()
	dir := setupOrg(t, db)
	ann, err := db.CreateUser(t.Context(), dir, store.User{UserName: "ann@x", Attributes: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	in := func(fn func(d *dirTx) error) *call {
		return &call{run: func(tx *bbolt.Tx) (*outbox, error) {
			ob := &outbox{tx: tx, org: dir.Org, now: db.stamp()}
			d, err := openDir(tx, dir)
			if err != nil {
				return ob, err
			}
			d.now, d.ob, d.db = ob.now, ob, db
			return ob, fn(d)
		}, wake: make(chan bool, 1)}
	}
	rename := in(func(d *dirTx) error {
		old, err := d.readUser(ann.ID)
		if err != nil {
			return err
		}
		r := old
		r.UserName = "bob@x"
		if err := d.reindexUser(ann.ID, &old, &r); err != nil {
			return err
		}
		return d.putUser(ann.ID, &r)
	})
	id := newTimeID(db.now())
	create := in(func(d *dirTx) error {
		r := userRecord{UserName: "ann@x"}
		if err := d.userNameHeld("ann@x", r.UserName, ""); err != nil {
			return err
		}
		if err := d.putUser(id, &r); err != nil {
			return err
		}
		if err := d.stage(id, &r); err != nil {
			return err
		}
		return addCounter(d.counters, keyUserCount, 1)
	})
	if n := db.runBatch([]*call{rename, create}); n != 2 || rename.err != nil || create.err != nil {
		t.Fatalf("batch settled %d: rename %v, create %v; want both in one commit", n, rename.err, create.err)
	}
	if got := lookupIDs(t, db, dir, store.FieldUserName, "ann@x", false); !slices.Equal(got, []string{id}) {
		t.Errorf("ann@x = %v; want the new user %s", got, id)
	}
	if got := lookupIDs(t, db, dir, store.FieldUserName, "bob@x", false); !slices.Equal(got, []string{ann.ID}) {
		t.Errorf("bob@x = %v; want %s", got, ann.ID)
	}
}
