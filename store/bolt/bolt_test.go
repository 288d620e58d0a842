package bolt

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	closeFixture()
	os.Exit(code)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{}) })
}

// TestStoreStagedKeysWritten runs the suite with staged users' index keys
// written by every other create (staged.go), so that lookups, renames,
// deletes and uniqueness meet users of both kinds.
func TestStoreStagedKeysWritten(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db := open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{})
		db.stageMax = 2
		return db
	})
}

func open(t testing.TB, path string, opts Options) *DB {
	t.Helper()
	db, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s) = %v", path, err)
	}
	return db
}

func TestOpenLockedFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scimbridge.db")
	db := open(t, path, Options{})
	for _, timeout := range []time.Duration{0, 100 * time.Millisecond} {
		start := time.Now()
		second, err := Open(path, Options{Timeout: timeout})
		elapsed := time.Since(start)
		if err == nil {
			second.Close()
			t.Fatalf("second Open(timeout %v) = nil error; want ErrLocked", timeout)
		}
		if !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), path) {
			t.Errorf("second Open(timeout %v) = %v; want an error wrapping store.ErrLocked that names the file", timeout, err)
		}
		if elapsed > 2*time.Second {
			t.Errorf("second Open(timeout %v) took %v; want under 2s", timeout, elapsed)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	open(t, path, Options{}).Close()
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scimbridge.db")
	now := time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.FixedZone("CEST", 2*3600))
	opts := Options{Now: func() time.Time { return now }}
	ctx := t.Context()
	dir := store.DirKey{Org: "acme", Directory: "okta"}

	db := open(t, path, opts)
	if _, err := db.CreateOrg(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	d, err := db.CreateDirectory(ctx, store.Directory{Org: "acme", Name: "okta", Profile: "okta"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := db.CreateUser(ctx, dir, store.User{UserName: "alice", Emails: []string{"a@x.com"}, Attributes: []byte(`{"userName":"alice"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if want := now.UTC(); !u.Created.Equal(want) || u.Created.Location() != time.UTC {
		t.Errorf("CreateUser().Created = %v; want %v from Options.Now, in UTC", u.Created, want)
	}
	g, err := db.CreateGroup(ctx, dir, store.Group{DisplayName: "G"}, []string{u.ID})
	if err != nil {
		t.Fatal(err)
	}
	tok := store.Token{ID: "t1", Kind: store.TokenSCIM, Org: "acme", Directory: "okta", Hash: []byte("0123456789abcdef0123456789abcdef"), Created: now}
	if err := db.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	u, err = db.User(ctx, dir, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}

	db = open(t, path, Options{})
	defer db.Close()
	gotDir, err := db.Directory(ctx, dir)
	if err != nil || !cmp.Equal(d, gotDir) {
		t.Errorf("Directory() after reopen = %+v, %v; want %+v", gotDir, err, d)
	}
	gotU, err := db.User(ctx, dir, u.ID)
	if err != nil {
		t.Fatalf("User() after reopen = %v", err)
	}
	if diff := cmp.Diff(u, gotU); diff != "" {
		t.Errorf("User() after reopen mismatch (-want +got):\n%s", diff)
	}
	gotG, err := db.Group(ctx, dir, g.ID)
	if err != nil || gotG.MemberCount != 1 {
		t.Errorf("Group() after reopen = %+v, %v; want 1 member", gotG, err)
	}
	if _, err := db.TokenByHash(ctx, tok.Hash); err != nil {
		t.Errorf("TokenByHash() after reopen = %v", err)
	}
	p, err := db.ListUsers(ctx, dir, store.Query{Plan: &store.Plan{Field: store.FieldEmail, Value: "A@X.COM"}, Count: 1})
	if err != nil || p.Total != 1 {
		t.Errorf("ListUsers(email eq A@X.COM) after reopen = %+v, %v; want 1 user", p, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scimbridge.db")
	open(t, path, Options{}).Close()
	raw, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, encodeUint(uint64(len(migrations)+1)))
	}); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err := Open(path, Options{})
	if err == nil {
		db.Close()
		t.Fatal("Open(newer schema) = nil error; want an error")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open(newer schema) = %v; want an error that says the file is newer", err)
	}
}

func TestOpenNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a bbolt file\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(path, Options{}); err == nil || !strings.HasPrefix(err.Error(), "bolt: open ") {
		if db != nil {
			db.Close()
		}
		t.Errorf("Open(junk) = %v; want a wrapped error", err)
	}
}

func TestPlanOnUnindexedField(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{})
	defer db.Close()
	ctx := t.Context()
	dir := setupOrg(t, db)
	for _, f := range []store.Field{store.FieldDisplayName, "title"} {
		if _, err := db.ListUsers(ctx, dir, store.Query{Plan: &store.Plan{Field: f, Value: "x"}}); err == nil {
			t.Errorf("ListUsers(plan on %s) = nil error; want an error", f)
		}
	}
	for _, f := range []store.Field{store.FieldUserName, store.FieldEmail} {
		if _, err := db.ListGroups(ctx, dir, store.Query{Plan: &store.Plan{Field: f, Value: "x"}}); err == nil {
			t.Errorf("ListGroups(plan on %s) = nil error; want an error", f)
		}
	}
}

func TestBulkLoaders(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{})
	defer db.Close()
	dir, ids, g := fill(t, db, 250, 100)
	ctx := t.Context()
	p, err := db.ListUsers(ctx, dir, store.Query{Plan: &store.Plan{Field: store.FieldUserName, Value: userName(123)}, Count: 1})
	if err != nil || p.Total != 1 || p.Users[0].ID != ids[123] || len(p.Users[0].Emails) != 1 {
		t.Errorf("ListUsers(userName eq %s) = %+v, %v; want user %s", userName(123), p, err, ids[123])
	}
	if p, err := db.ListUsers(ctx, dir, store.Query{}); err != nil || p.Total != 250 {
		t.Errorf("ListUsers() = total %d, %v; want 250", p.Total, err)
	}
	got, err := db.Group(ctx, dir, g)
	if err != nil || got.MemberCount != 100 {
		t.Errorf("Group() = %+v, %v; want 100 members", got, err)
	}
	u, err := db.User(ctx, dir, ids[99])
	if err != nil || len(u.Groups) != 1 {
		t.Errorf("User(member) = %+v, %v; want one group", u, err)
	}
}

// TestHeldNameJoinsNoCommit checks that a create whose userName or
// displayName is held already is refused before it joins a commit, where
// its failure would roll back the transaction it shares with other writes.
func TestHeldNameJoinsNoCommit(t *testing.T) {
	var writes atomic.Int64
	db := open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{ObserveTx: func(kind string, _ time.Duration) {
		if kind == "write" {
			writes.Add(1)
		}
	}})
	defer db.Close()
	ctx := t.Context()
	dir := setupOrg(t, db)
	if _, err := db.CreateUser(ctx, dir, store.User{UserName: "jane@example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateGroup(ctx, dir, store.Group{DisplayName: "Engineering"}, nil); err != nil {
		t.Fatal(err)
	}
	writes.Store(0)
	var conflict *store.ConflictError
	if _, err := db.CreateUser(ctx, dir, store.User{UserName: "JANE@example.com"}); !errors.As(err, &conflict) || conflict.Field != "userName" || conflict.Value != "JANE@example.com" {
		t.Errorf("CreateUser(held userName) = %v; want a userName conflict naming JANE@example.com", err)
	}
	if _, err := db.CreateGroup(ctx, dir, store.Group{DisplayName: "engineering"}, []string{"no-such-user"}); !errors.As(err, &conflict) || conflict.Field != "displayName" {
		t.Errorf("CreateGroup(held displayName, unknown member) = %v; want a displayName conflict, as the write transaction decides", err)
	}
	if n := writes.Load(); n != 0 {
		t.Errorf("the two refused creates ran %d write transactions; want 0", n)
	}
	if _, err := db.CreateUser(ctx, dir, store.User{UserName: "john@example.com"}); err != nil || writes.Load() != 1 {
		t.Errorf("CreateUser(new) = %v after %d write transactions; want nil after 1", err, writes.Load())
	}
}
