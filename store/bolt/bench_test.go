package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

func userName(i int) string { return fmt.Sprintf("user%06d@example.com", i) }

// fill creates org acme, directory okta, n users (bulk) and a group with the
// first members of them. It returns the directory, the user ids and the
// group id.
func fill(tb testing.TB, db *DB, n, members int) (store.DirKey, []string, string) {
	tb.Helper()
	ctx := context.Background()
	dir := store.DirKey{Org: "acme", Directory: "okta"}
	if _, err := db.CreateOrg(ctx, dir.Org); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.CreateDirectory(ctx, store.Directory{Org: dir.Org, Name: dir.Directory}); err != nil {
		tb.Fatal(err)
	}
	ids, err := db.bulkUsers(dir, fakeUsers(0, n), 1000)
	if err != nil {
		tb.Fatal(err)
	}
	g, err := db.CreateGroup(ctx, dir, store.Group{DisplayName: fmt.Sprintf("first %d", members)}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.bulkMembers(dir, g.ID, ids[:members], 5000); err != nil {
		tb.Fatal(err)
	}
	return dir, ids, g.ID
}

func fakeUsers(from, n int) []store.User {
	us := make([]store.User, n)
	for i := range us {
		name := userName(from + i)
		us[i] = store.User{
			UserName: name, ExternalID: fmt.Sprintf("00u%07d", from+i), DisplayName: fmt.Sprintf("User %d", from+i),
			Active: true, Emails: []string{name},
			Attributes: fmt.Appendf(nil, `{"userName":%q,"name":{"givenName":"User","familyName":"%d"},"title":"Engineer","active":true}`, name, from+i),
		}
	}
	return us
}

// The big fixture is built once per test binary and shared by benchmarks:
// 100,000 users, a group of all of them and a group of the first 1,000.
var big struct {
	once  sync.Once
	tmp   string
	db    *DB
	dir   store.DirKey
	ids   []string
	group map[int]string // member count → group id
	spare []string       // users in no group, handed out by spareUser
	err   error
}

const bigUsers = 100_000

func bigFixture(b *testing.B) {
	b.Helper()
	big.once.Do(func() {
		if big.tmp, big.err = os.MkdirTemp("", "bolt-bench-"); big.err != nil {
			return
		}
		if big.db, big.err = Open(filepath.Join(big.tmp, "bench.db"), Options{}); big.err != nil {
			return
		}
		big.err = errors.New("building the fixture failed") // if fill calls b.Fatal
		big.dir, big.ids, _ = fill(b, big.db, bigUsers, bigUsers)
		g, err := big.db.CreateGroup(context.Background(), big.dir, store.Group{DisplayName: "first 1000"}, nil)
		if big.err = err; err != nil {
			return
		}
		big.group = map[int]string{1000: g.ID}
		big.err = big.db.bulkMembers(big.dir, g.ID, big.ids[:1000], 5000)
		p, err := big.db.ListGroups(context.Background(), big.dir, store.Query{Plan: &store.Plan{Field: store.FieldDisplayName, Value: fmt.Sprintf("first %d", bigUsers)}, Count: 1})
		if err != nil || len(p.Groups) != 1 {
			big.err = fmt.Errorf("find big group: %v", err)
			return
		}
		big.group[bigUsers] = p.Groups[0].ID
	})
	if big.err != nil {
		b.Fatal(big.err)
	}
}

// spareUser returns a user of the fixture that no group has, making more
// (in bulk, outside the timer) when they run out.
func spareUser(b *testing.B) string {
	if len(big.spare) == 0 {
		b.StopTimer()
		p, err := big.db.ListUsers(context.Background(), big.dir, store.Query{})
		if err != nil {
			b.Fatal(err)
		}
		if big.spare, err = big.db.bulkUsers(big.dir, fakeUsers(p.Total, 2000), 1000); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	id := big.spare[0]
	big.spare = big.spare[1:]
	return id
}

func closeFixture() {
	if big.db != nil {
		big.db.Close()
	}
	if big.tmp != "" {
		os.RemoveAll(big.tmp)
	}
}

func BenchmarkCreateUser(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	dir, _, _ := fill(b, db, 0, 0)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		u := fakeUsers(i, 1)[0]
		if _, err := db.CreateUser(ctx, dir, u); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkUserNameLookup(b *testing.B) {
	bigFixture(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		name := userName(i * 7919 % bigUsers)
		p, err := big.db.ListUsers(ctx, big.dir, store.Query{Plan: &store.Plan{Field: store.FieldUserName, Value: name}, Count: 1})
		if err != nil || p.Total != 1 || p.Examined != 1 {
			b.Fatalf("ListUsers(userName eq %s) = total %d examined %d, %v; want 1, 1", name, p.Total, p.Examined, err)
		}
		i++
	}
}

// BenchmarkUserNameLookupStaged is BenchmarkUserNameLookup for users whose
// index keys are staged (staged.go): 2,000 users created by CreateUser
// into the 100,000 of the fixture, found through memory.
func BenchmarkUserNameLookupStaged(b *testing.B) {
	bigFixture(b)
	ctx := context.Background()
	const n = 2000
	name := func(i int) string { return fmt.Sprintf("staged-%05d@example.com", i) }
	if p, err := big.db.ListUsers(ctx, big.dir, store.Query{Plan: &store.Plan{Field: store.FieldUserName, Value: name(0)}, Count: 1}); err != nil || p.Total == 0 {
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for w := range 16 {
			wg.Go(func() {
				for i := w; i < n; i += 16 {
					if _, err := big.db.CreateUser(ctx, big.dir, store.User{UserName: name(i), Attributes: []byte(`{}`)}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	if staged, _ := stagedKeys(b, big.db, big.dir); len(staged) < n {
		b.Fatalf("%d staged users; want at least %d", len(staged), n)
	}
	i := 0
	for b.Loop() {
		v := name(i * 7919 % n)
		p, err := big.db.ListUsers(ctx, big.dir, store.Query{Plan: &store.Plan{Field: store.FieldUserName, Value: v}, Count: 1})
		if err != nil || p.Total != 1 || p.Examined != 1 {
			b.Fatalf("ListUsers(userName eq %s) = total %d examined %d, %v; want 1, 1", v, p.Total, p.Examined, err)
		}
		i++
	}
}

func BenchmarkAddMember(b *testing.B) {
	bigFixture(b)
	ctx := context.Background()
	for _, members := range []int{1000, bigUsers} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			gid := big.group[members]
			for b.Loop() {
				uid := spareUser(b)
				_, err := big.db.UpdateGroup(ctx, big.dir, gid, 0, func(*store.Group, store.Members) (store.MemberChange, error) {
					return store.MemberChange{Add: []string{uid}}, nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// spareUsers returns n users of the fixture that no group has.
func spareUsers(b *testing.B, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = spareUser(b)
	}
	return ids
}

// BenchmarkAddMembers is a PATCH that adds 100 members at once (with their
// 100 group.member_added events) to a group of about 1,000. With
// fsync=false it measures the CPU cost alone, which the fsync hides.
func BenchmarkAddMembers(b *testing.B) {
	bigFixture(b)
	ctx := context.Background()
	gid := big.group[1000]
	for _, fsync := range []bool{true, false} {
		b.Run(fmt.Sprintf("fsync=%v", fsync), func(b *testing.B) {
			big.db.bolt.NoSync = !fsync
			defer func() { big.db.bolt.NoSync = false }()
			for b.Loop() {
				uids := spareUsers(b, 100)
				_, err := big.db.UpdateGroup(ctx, big.dir, gid, 0, func(*store.Group, store.Members) (store.MemberChange, error) {
					return store.MemberChange{Add: uids}, nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUpdateUser changes one attribute of one user (one user.updated
// event with one change).
func BenchmarkUpdateUser(b *testing.B) {
	bigFixture(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		id := big.ids[i*7919%bigUsers]
		_, err := big.db.UpdateUser(ctx, big.dir, id, 0, func(u *store.User) error {
			u.Attributes = fmt.Appendf(nil, `{"userName":%q,"title":"Engineer %d","active":true}`, u.UserName, i)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDeleteGroup deletes a group of every one of the fixture's
// 100,000 users: one transaction that removes 100,000 memberships, bumps
// 100,000 user versions and appends 100,000 group.member_removed events.
// Building each group is not timed. Run it with -benchtime=3x.
func BenchmarkDeleteGroup(b *testing.B) {
	bigFixture(b)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		b.StopTimer()
		g, err := big.db.CreateGroup(ctx, big.dir, store.Group{DisplayName: fmt.Sprintf("doomed %d", i)}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := big.db.bulkMembers(big.dir, g.ID, big.ids, 5000); err != nil {
			b.Fatal(err)
		}
		i++
		b.StartTimer()
		if err := big.db.DeleteGroup(ctx, big.dir, g.ID, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendMemberEvent is the CPU cost of one group.member_added
// event inside a transaction (encoding and Put, no commit): the overhead
// the outbox adds to each membership change.
func BenchmarkAppendMemberEvent(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	fill(b, db, 0, 0)
	tx, err := db.bolt.Begin(true)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	d, err := openDir(tx, store.DirKey{Org: "acme", Directory: "okta"})
	if err != nil {
		b.Fatal(err)
	}
	d.ob = &outbox{tx: tx, org: "acme", actor: actorRecord{Type: store.ActorToken, ID: newID(), Name: "okta sync"}, now: db.stamp()}
	gid, uid := newID(), newID()
	for b.Loop() {
		if err := d.emitMember(true, gid, "Engineering", uid, "alice@example.com"); err != nil {
			b.Fatal(err)
		}
	}
}
