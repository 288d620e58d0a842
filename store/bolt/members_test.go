package bolt

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

// unpackFixture writes testdata/name.gz, gunzipped, to a temp file and
// returns its path.
func unpackFixture(t *testing.T, name string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkMemberKeys checks that the members bucket of dir and the
// memberships beside its users describe the same memberships: every
// members key is group 0x00 position with a user id for value, the user's
// membership key holds the same position and follows the user's record,
// and there are as many of one as of the other. It returns each group's
// member ids in position order.
func checkMemberKeys(t *testing.T, db *DB, dir store.DirKey) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	if err := db.bolt.View(func(tx *bbolt.Tx) error {
		d, err := openDir(tx, dir)
		if err != nil {
			return err
		}
		n := 0
		if err := d.members.ForEach(func(k, v []byte) error {
			n++
			if len(k) != memberKeyLen || k[idLen] != 0 || len(v) != idLen {
				return fmt.Errorf("members key %q = %q; want group id 0x00 position = user id", k, v)
			}
			gid, pos := string(k[:idLen]), binary.BigEndian.Uint64(k[idLen+1:])
			if got, ok := d.memberPos(gid, string(v)); !ok || got != pos {
				return fmt.Errorf("memberof of %s in %s = %d, %v; want position %d", v, gid, got, ok, pos)
			}
			out[gid] = append(out[gid], string(v))
			return nil
		}); err != nil {
			return err
		}
		m := 0
		var user []byte
		if err := d.users.ForEach(func(k, v []byte) error {
			switch {
			case isRecordKey(k):
				user = bytes.Clone(k)
			case len(k) != 2*idLen+1 || k[idLen] != 0 || len(v) != 8:
				return fmt.Errorf("users key %q = %q; want a user id, or user id 0x00 group id = position", k, v)
			case !bytes.Equal(k[:idLen], user):
				return fmt.Errorf("membership %q follows user %s, not its own", k, user)
			default:
				m++
			}
			return nil
		}); err != nil {
			return err
		}
		if m != n {
			return fmt.Errorf("%d memberships beside the users for %d members keys", m, n)
		}
		if tx.Bucket(bucketDirs).Bucket([]byte(dir.Org)).Bucket([]byte(dir.Directory)).Bucket(bucketMemberOf) != nil {
			return fmt.Errorf("the memberof bucket is still there")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMigrateMemberPositions opens a schema-3 file (see
// testdata/schema3.md), whose members keys are group id 0x00 user id:
// migration 4 gives each group's members positions 1, 2, … in their old
// order, and memberships read, change and go away as in a new file.
func TestMigrateMemberPositions(t *testing.T) {
	db := open(t, unpackFixture(t, "schema3.db"), Options{})
	defer db.Close()
	ctx := t.Context()
	if err := db.bolt.View(func(tx *bbolt.Tx) error {
		if v := schemaVersion(tx); v != uint64(len(migrations)) {
			t.Errorf("schema after Open = %d; want %d", v, len(migrations))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	dir := store.DirKey{Org: "acme", Directory: "okta"}
	const eng, sales = "01a196fb-160d-72f4-abd2-0a03d3971a79", "01a196fb-160f-761b-bac7-393299a8035c"
	users := []string{
		"01a196fb-1603-733b-a735-10e1855b642b",
		"01a196fb-1605-7e5a-b482-2f37bbbd06ef",
		"01a196fb-1607-745f-8c62-2c5af1ce5edc",
		"01a196fb-1609-7e0f-b7d7-0c4a2372b149",
		"01a196fb-160b-7eb7-b8ef-7e640ba658e9",
	}
	want := map[string][]string{
		eng:   {users[0], users[1], users[3], users[4]},
		sales: {users[1], users[3]},
	}
	if d := cmp.Diff(want, checkMemberKeys(t, db, dir)); d != "" {
		t.Fatalf("memberships after migration mismatch (-want +got):\n%s", d)
	}
	refs, err := db.GroupMembers(ctx, dir, eng, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, r := range refs {
		if r.Pos != uint64(i+1) {
			t.Errorf("GroupMembers(Engineering)[%d] at position %d; want %d", i, r.Pos, i+1)
		}
		got = append(got, r.ID+" "+r.DisplayName)
	}
	if want := []string{users[0] + " User 0", users[1] + " User 1", users[3] + " User 3", users[4] + " User 4"}; !slices.Equal(got, want) {
		t.Errorf("GroupMembers(Engineering) after migration = %v; want %v", got, want)
	}
	u, err := db.User(ctx, dir, users[1])
	if err != nil || len(u.Groups) != 2 {
		t.Errorf("User(user1) after migration = %+v, %v; want two groups", u, err)
	}
	// Remove from the middle, add back (to the end), delete a user.
	for _, ch := range []store.MemberChange{{Remove: []string{users[1]}}, {Add: []string{users[2], users[1]}}} {
		if _, err := db.UpdateGroup(ctx, dir, eng, 0, func(*store.Group, store.Members) (store.MemberChange, error) { return ch, nil }); err != nil {
			t.Fatalf("UpdateGroup(Engineering, %+v) after migration = %v", ch, err)
		}
	}
	if err := db.DeleteUser(ctx, dir, users[3], 0); err != nil {
		t.Fatalf("DeleteUser(user3) after migration = %v", err)
	}
	want = map[string][]string{
		eng:   {users[0], users[4], users[1], users[2]},
		sales: {users[1]},
	}
	if d := cmp.Diff(want, checkMemberKeys(t, db, dir)); d != "" {
		t.Errorf("memberships after changes mismatch (-want +got):\n%s", d)
	}
	// Engineering had positions 1-4 and gave 5 and 6; Sales kept 2.
	for gid, w := range map[string][2]int{eng: {4, 6}, sales: {1, 2}} {
		if g, err := db.Group(ctx, dir, gid); err != nil || g.MemberCount != w[0] || g.LastPos != uint64(w[1]) {
			t.Errorf("Group(%s) = %d members, last position %d, %v; want %d, %d", gid, g.MemberCount, g.LastPos, err, w[0], w[1])
		}
	}
}

// TestRemoveTailThenAdd removes a group's last 250 members and adds a
// newer user in one update, while a later group follows it in the members
// bucket: the removals empty whole pages before the add, and the add must
// still take the next position, not overwrite the first. Positions are
// never reused: the next add goes past every position given before.
func TestRemoveTailThenAdd(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "sb.db"), Options{})
	defer db.Close()
	dir := setupOrg(t, db)
	ctx := t.Context()
	var ids []string
	for i := range 402 {
		name := fmt.Sprintf("user%04d@acme.example", i)
		u, err := db.CreateUser(ctx, dir, store.User{UserName: name, Active: true, Attributes: []byte(fmt.Sprintf(`{"userName":%q}`, name))})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	slices.Sort(ids)
	members, late, later := ids[:400], ids[400], ids[401]
	g, err := db.CreateGroup(ctx, dir, store.Group{DisplayName: "Big", Attributes: []byte(`{"displayName":"Big"}`)}, members)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateGroup(ctx, dir, store.Group{DisplayName: "Other", Attributes: []byte(`{"displayName":"Other"}`)}, members[:1]); err != nil {
		t.Fatal(err)
	}
	change := func(ch store.MemberChange) store.Group {
		t.Helper()
		g, err := db.UpdateGroup(ctx, dir, g.ID, 0, func(*store.Group, store.Members) (store.MemberChange, error) { return ch, nil })
		if err != nil {
			t.Fatalf("UpdateGroup(%d removed, %d added) = %v", len(ch.Remove), len(ch.Add), err)
		}
		return g
	}
	got := change(store.MemberChange{Remove: members[150:], Add: []string{late}})
	want := append(slices.Clone(members[:150]), late)
	if d := cmp.Diff(want, checkMemberKeys(t, db, dir)[g.ID]); d != "" || got.MemberCount != 151 || got.LastPos != 401 {
		t.Fatalf("after removing the last 250 and adding one: %d members, last position %d; want 151, 401; members mismatch (-want +got):\n%s", got.MemberCount, got.LastPos, d)
	}
	// Remove the last member, then add: its position is not given again.
	change(store.MemberChange{Remove: []string{late}})
	got = change(store.MemberChange{Add: []string{later}})
	refs, err := db.GroupMembers(ctx, dir, g.ID, 150, 10)
	if err != nil || len(refs) != 1 || refs[0].ID != later || refs[0].Pos != 402 || got.LastPos != 402 {
		t.Errorf("GroupMembers(after 150) = %+v, %v, last position %d; want only the later user at 402", refs, err, got.LastPos)
	}
}

// TestVerifyChecksLastPos: a group whose record says it gave fewer
// positions than its members hold would overwrite a member on the next
// add; Verify (run on every backup and restore) refuses such a file.
func TestVerifyChecksLastPos(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sb.db")
	db := open(t, path, Options{})
	dir := setupOrg(t, db)
	ctx := t.Context()
	u, err := db.CreateUser(ctx, dir, store.User{UserName: "a@example.com", Attributes: []byte(`{"userName":"a@example.com"}`)})
	if err != nil {
		t.Fatal(err)
	}
	g, err := db.CreateGroup(ctx, dir, store.Group{DisplayName: "G", Attributes: []byte(`{"displayName":"G"}`)}, []string{u.ID})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Verify(path); err != nil {
		t.Fatalf("Verify() of a sound file = %v", err)
	}
	db = open(t, path, Options{})
	updateDir(t, db, dir, func(d *dirTx) error {
		r, err := d.readGroup(g.ID)
		if err != nil {
			return err
		}
		r.LastPos = 0
		return d.putGroup(g.ID, &r)
	})
	db.Close()
	if _, err := Verify(path); !errors.Is(err, ErrInvalidFile) || !strings.Contains(err.Error(), "position 1 but records 0") {
		t.Errorf("Verify() with LastPos 0 under a member = %v; want ErrInvalidFile naming the positions", err)
	}
}

// TestMembershipKeysAreNoUsers checks that the membership keys kept beside
// the user records (user id 0x00 group id) are never taken for users:
// listings with and without paging, id lookups, reads by id, member ids,
// deletes, and Verify, which also counts them against the members keys.
func TestMembershipKeysAreNoUsers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sb.db")
	db := open(t, path, Options{})
	dir := setupOrg(t, db)
	ctx := t.Context()
	var ids []string
	for i := range 5 {
		name := fmt.Sprintf("u%d@example.com", i)
		u, err := db.CreateUser(ctx, dir, store.User{UserName: name, Active: true, Attributes: fmt.Appendf(nil, `{"userName":%q}`, name)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	var gids []string
	for i := range 3 {
		g, err := db.CreateGroup(ctx, dir, store.Group{DisplayName: fmt.Sprintf("G%d", i), Attributes: fmt.Appendf(nil, `{"displayName":"G%d"}`, i)}, ids[i:])
		if err != nil {
			t.Fatal(err)
		}
		gids = append(gids, g.ID)
	}
	// Two users in more groups than nextRecord steps over before it seeks.
	for i := range 7 {
		if _, err := db.CreateGroup(ctx, dir, store.Group{DisplayName: fmt.Sprintf("H%d", i), Attributes: fmt.Appendf(nil, `{"displayName":"H%d"}`, i)}, ids[:2]); err != nil {
			t.Fatal(err)
		}
	}
	membership := ids[2] + "\x00" + gids[1]

	all, err := db.ListUsers(ctx, dir, store.Query{Count: 100})
	if err != nil || all.Total != 5 || len(all.Users) != 5 {
		t.Fatalf("ListUsers() = %d of %d, %v; want the 5 users", len(all.Users), all.Total, err)
	}
	for i := range 5 {
		p, err := db.ListUsers(ctx, dir, store.Query{StartIndex: i + 1, Count: 1})
		if want := all.Users[i].ID; err != nil || len(p.Users) != 1 || p.Users[0].ID != want {
			t.Errorf("ListUsers(startIndex %d, count 1) = %v, %v; want user %s", i+1, userIDs(p.Users), err, want)
		}
	}
	matchAll := func(store.Record) bool { return true }
	if p, err := db.ListUsers(ctx, dir, store.Query{Match: matchAll, Count: 100}); err != nil || p.Total != 5 || p.Examined != 5 {
		t.Errorf("ListUsers(match all) = total %d, examined %d, %v; want 5 and 5", p.Total, p.Examined, err)
	}
	for _, p := range []store.Plan{
		{Field: store.FieldID, Value: membership},
		{Field: store.FieldID, Value: ids[2], Prefix: true},
	} {
		got, err := db.ListUsers(ctx, dir, store.Query{Plan: &p, Count: 100})
		want := []string(nil)
		if p.Prefix {
			want = []string{ids[2]}
		}
		if err != nil || !slices.Equal(userIDs(got.Users), want) || got.Total != len(want) {
			t.Errorf("ListUsers(%+v) = %v (total %d), %v; want %v", p, userIDs(got.Users), got.Total, err, want)
		}
	}
	if _, err := db.User(ctx, dir, membership); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("User(membership key) = %v; want ErrNotFound", err)
	}
	var me *store.MemberError
	if _, err := db.CreateGroup(ctx, dir, store.Group{DisplayName: "X"}, []string{membership}); !errors.As(err, &me) {
		t.Errorf("CreateGroup(member = a membership key) = %v; want a MemberError", err)
	}
	u, err := db.User(ctx, dir, ids[2])
	if err != nil || len(u.Groups) != 3 {
		t.Errorf("User(%s) = %d groups, %v; want 3", ids[2], len(u.Groups), err)
	}
	if err := db.DeleteUser(ctx, dir, ids[2], 0); err != nil {
		t.Fatal(err)
	}
	for i, gid := range gids {
		g, err := db.Group(ctx, dir, gid)
		if want := 5 - i - 1; err != nil || g.MemberCount != want {
			t.Errorf("Group(G%d) after deleting a member = %d members, %v; want %d", i, g.MemberCount, err, want)
		}
	}
	checkMemberKeys(t, db, dir)
	db.Close()
	if _, err := Verify(path); err != nil {
		t.Fatalf("Verify() of a sound file = %v", err)
	}

	// A membership key without its members key is a damaged file.
	db = open(t, path, Options{})
	updateDir(t, db, dir, func(d *dirTx) error {
		return d.users.Put(membershipKey(ids[0], gids[2]), encodeUint(99)) // ids[0] is not in G2
	})
	db.Close()
	if _, err := Verify(path); !errors.Is(err, ErrInvalidFile) || !strings.Contains(err.Error(), "memberships of users") {
		t.Errorf("Verify() with a membership key too many = %v; want ErrInvalidFile naming the memberships", err)
	}

	// A key that is neither: Verify and the rules' walk refuse it.
	db = open(t, path, Options{})
	updateDir(t, db, dir, func(d *dirTx) error { return d.users.Put([]byte("zz"), encodeUint(1)) })
	if err := db.bolt.View(func(tx *bbolt.Tx) error { _, err := population(tx, dir.Org); return err }); err == nil {
		t.Error("population() over a users key that is neither a user nor a membership = nil; want an error")
	}
	db.Close()
	if _, err := Verify(path); !errors.Is(err, ErrInvalidFile) || !strings.Contains(err.Error(), "neither a user id nor a membership") {
		t.Errorf("Verify() with a stray users key = %v; want ErrInvalidFile naming the key", err)
	}
}

func userIDs(us []store.User) []string {
	var ids []string
	for _, u := range us {
		ids = append(ids, u.ID)
	}
	return ids
}

// TestMigrateMembershipsBesideUsers checks a schema-5 file (see
// testdata/schema5.md), whose memberships of users are keys of memberof:
// Verify and Restore take it as it is (a backup taken before the upgrade),
// and migration 6 moves each key beside its user's record, where reads,
// changes and Verify find them.
func TestMigrateMembershipsBesideUsers(t *testing.T) {
	path := unpackFixture(t, "schema5.db")
	info, err := Verify(path)
	if err != nil || info.SchemaVersion != 5 || info.Users != 13 || info.Groups != 10 {
		t.Fatalf("Verify(schema 5) = %+v, %v; want schema 5, 13 users, 10 groups", info, err)
	}
	if info, err := Verify(unpackFixture(t, "schema3.db")); err != nil || info.SchemaVersion != 3 {
		t.Errorf("Verify(schema 3) = %+v, %v; want schema 3", info, err)
	}
	restored := filepath.Join(t.TempDir(), "restored.db")
	if _, err := Restore(path, restored, false); err != nil {
		t.Fatalf("Restore(schema 5) = %v", err)
	}

	db := open(t, restored, Options{})
	ctx := t.Context()
	okta, entra := store.DirKey{Org: "acme", Directory: "okta"}, store.DirKey{Org: "acme", Directory: "entra"}
	groups := checkMemberKeys(t, db, okta)
	if len(groups) != 9 {
		t.Errorf("groups with members after migration = %d; want 9", len(groups))
	}
	if g := checkMemberKeys(t, db, entra); len(g) != 1 {
		t.Errorf("entra groups with members after migration = %d; want 1", len(g))
	}
	user := func(name string) store.User {
		t.Helper()
		p, err := db.ListUsers(ctx, okta, store.Query{Plan: &store.Plan{Field: store.FieldUserName, Value: name}, Count: 1, WithGroups: true})
		if err != nil || len(p.Users) != 1 {
			t.Fatalf("ListUsers(userName eq %s) = %d users, %v; want 1", name, len(p.Users), err)
		}
		return p.Users[0]
	}
	for name, want := range map[string]int{"user0@acme.example": 9, "user1@acme.example": 3, "user3@acme.example": 3, "user11@acme.example": 0} {
		if u := user(name); len(u.Groups) != want {
			t.Errorf("%s after migration is in %d groups; want %d", name, len(u.Groups), want)
		}
	}
	all, err := db.ListUsers(ctx, okta, store.Query{Count: 100})
	if err != nil || all.Total != 12 || len(all.Users) != 12 {
		t.Errorf("ListUsers() after migration = %d of %d, %v; want 12", len(all.Users), all.Total, err)
	}
	// A change after the migration keeps both sides.
	u0 := user("user0@acme.example")
	if err := db.DeleteUser(ctx, okta, u0.ID, 0); err != nil {
		t.Fatal(err)
	}
	if g := checkMemberKeys(t, db, okta); len(g) != 3 {
		t.Errorf("groups with members after deleting user0 = %d; want 3", len(g))
	}
	db.Close()
	if info, err := Verify(restored); err != nil || info.SchemaVersion != len(migrations) || info.Users != 12 {
		t.Errorf("Verify() after the migration = %+v, %v; want schema %d, 12 users", info, err, len(migrations))
	}
}

// updateDir runs fn on dir in a bbolt transaction of its own, outside the
// store's API: how the tests damage a file.
func updateDir(t *testing.T, db *DB, dir store.DirKey, fn func(d *dirTx) error) {
	t.Helper()
	if err := db.bolt.Update(func(tx *bbolt.Tx) error {
		d, err := openDir(tx, dir)
		if err != nil {
			return err
		}
		return fn(d)
	}); err != nil {
		t.Fatal(err)
	}
}
