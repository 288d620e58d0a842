package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

// allUsers returns the userNames of dir by id.
func allUsers(t *testing.T, db *DB, dir store.DirKey) map[string]string {
	t.Helper()
	page, err := db.ListUsers(context.Background(), dir, store.Query{Count: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, u := range page.Users {
		m[u.ID] = u.UserName
	}
	return m
}

// bulkDeleteUsers deletes users that are in no group, 1,000 per
// transaction and without events, as DeleteUser does otherwise. Test only.
func (db *DB) bulkDeleteUsers(t *testing.T, dir store.DirKey, ids []string) {
	t.Helper()
	for len(ids) > 0 {
		chunk := ids[:min(1000, len(ids))]
		ids = ids[len(chunk):]
		err := db.bolt.Update(func(tx *bbolt.Tx) error {
			d, err := openDir(tx, dir)
			if err != nil {
				return err
			}
			for _, id := range chunk {
				old, err := d.readUser(id)
				if err != nil {
					return err
				}
				if err := d.reindexUser(id, &old, nil); err != nil {
					return err
				}
				if err := d.users.Delete([]byte(id)); err != nil {
					return err
				}
			}
			return addCounter(d.counters, keyUserCount, -len(chunk))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	db := open(t, filepath.Join(tmp, "scimbridge.db"), Options{})
	defer db.Close()
	dir := store.DirKey{Org: "acme", Directory: "okta"}
	if _, err := db.CreateOrg(ctx, dir.Org); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateDirectory(ctx, store.Directory{Org: dir.Org, Name: dir.Directory}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.bulkUsers(dir, fakeUsers(0, 3000), 1000); err != nil { // no events: the prefix before the writers
		t.Fatal(err)
	}
	before := allUsers(t, db, dir)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var written atomic.Int64
	var writeErr atomic.Value
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%d-%d@example.com", g, i)
				if _, err := db.CreateUser(ctx, dir, store.User{UserName: name, Active: true, Attributes: []byte(`{}`)}); err != nil {
					writeErr.Store(err)
					return
				}
				written.Add(1)
			}
		}()
	}
	for written.Load() < 50 {
		time.Sleep(time.Millisecond)
	}
	out := filepath.Join(tmp, "backup.db")
	atStart := written.Load()
	info, err := WriteFile(out, false, func(w io.Writer) error {
		_, err := db.Backup(ctx, w)
		return err
	})
	duringBackup := written.Load() - atStart
	time.Sleep(20 * time.Millisecond) // some writes after the snapshot
	close(stop)
	wg.Wait()
	if err, _ := writeErr.Load().(error); err != nil {
		t.Fatalf("writer: %v", err)
	}
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	t.Logf("backup of %d bytes; %d writes committed during it, %d in all", info.Size, duringBackup, written.Load())
	if info.SchemaVersion != SchemaVersion() || info.Orgs != 1 || info.Directories != 1 {
		t.Errorf("Verify(backup) = %+v", info)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v; want 0600", fi.Mode().Perm())
	}

	bdb := open(t, out, Options{})
	defer bdb.Close()
	users := allUsers(t, bdb, dir)
	if len(users) != info.Users || info.Users >= 3000+int(written.Load()) || info.Users <= 3000 {
		t.Errorf("backup holds %d users (Verify: %d); want more than 3000 and fewer than %d", len(users), info.Users, 3000+written.Load())
	}
	created := map[string]bool{}
	for after := uint64(0); ; {
		page, err := bdb.Events(ctx, dir.Org, store.EventQuery{After: after, Limit: store.MaxEventLimit})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			if e.Type == store.EventUserCreated {
				created[e.Resource.ID] = true
			}
		}
		if page.Next == page.Last {
			break
		}
		after = page.Next
	}
	for id, name := range users {
		if _, old := before[id]; !old && !created[id] {
			t.Errorf("user %s (%s) is in the backup without its user.created event", id, name)
		}
	}
	for id := range created {
		if _, ok := users[id]; !ok {
			t.Errorf("user.created of %s is in the backup without the user", id)
		}
	}
}

func TestBackupFileOffline(t *testing.T) {
	tmp := t.TempDir()
	path := filepath.Join(tmp, "scimbridge.db")
	db := open(t, path, Options{})
	fill(t, db, 100, 10)
	var buf bytes.Buffer
	if _, err := BackupFile(context.Background(), path, 100*time.Millisecond, &buf); !errors.Is(err, store.ErrLocked) {
		t.Errorf("BackupFile of a file held by a server = %v; want store.ErrLocked", err)
	}
	db.Close()
	info, err := WriteFile(filepath.Join(tmp, "b.db"), false, func(w io.Writer) error {
		_, err := BackupFile(context.Background(), path, 0, w)
		return err
	})
	if err != nil || info.Users != 100 || info.Groups != 1 {
		t.Fatalf("offline backup = %+v, %v; want 100 users, 1 group", info, err)
	}
	if _, err := WriteFile(filepath.Join(tmp, "b.db"), false, func(w io.Writer) error { return nil }); !errors.Is(err, os.ErrExist) {
		t.Errorf("WriteFile over an existing file = %v; want os.ErrExist", err)
	}
	if _, err := WriteFile(filepath.Join(tmp, "b.db"), true, func(w io.Writer) error {
		_, err := w.Write([]byte("not a database"))
		return err
	}); !errors.Is(err, ErrInvalidFile) {
		t.Errorf("WriteFile of garbage = %v; want ErrInvalidFile", err)
	}
	if info2, err := Verify(filepath.Join(tmp, "b.db")); err != nil || info2 != info {
		t.Errorf("a failed forced WriteFile changed the file: %+v, %v", info2, err)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, ".*tmp-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestVerifyRefuses(t *testing.T) {
	tmp := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := filepath.Join(tmp, "good.db")
	db := open(t, good, Options{})
	fill(t, db, 2000, 100)
	// A backup is exactly as long as its pages, so cutting it loses pages.
	var snap bytes.Buffer
	if _, err := db.Backup(context.Background(), &snap); err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw := snap.Bytes()
	if _, err := Verify(write("snapshot.db", raw)); err != nil {
		t.Fatalf("Verify(good) = %v", err)
	}

	garbled := bytes.Clone(raw)
	for i := 3 * 4096; i < len(garbled)-4096; i++ {
		garbled[i] = byte(i * 7)
	}
	plain := filepath.Join(tmp, "plain.db")
	pb, err := bbolt.Open(plain, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	pb.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
	pb.Close()
	newer := filepath.Join(tmp, "newer.db")
	os.WriteFile(newer, raw, 0o600)
	nb, err := bbolt.Open(newer, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	nb.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, encodeUint(uint64(SchemaVersion()+1)))
	})
	nb.Close()

	for name, path := range map[string]string{
		"truncated":     write("truncated.db", raw[:len(raw)/2]),
		"cut last page": write("cut.db", raw[:len(raw)-4096]),
		"garbled pages": write("garbled.db", garbled),
		"text file":     write("text.db", []byte("SELECT * FROM users;\n")),
		"empty file":    write("empty.db", nil),
		"other bbolt":   plain,
		"newer schema":  newer,
		"directory":     tmp,
		"missing":       filepath.Join(tmp, "missing.db"),
	} {
		info, err := Verify(path)
		if err == nil {
			t.Errorf("Verify(%s) = %+v, nil; want an error", name, info)
			continue
		}
		if name != "missing" && !errors.Is(err, ErrInvalidFile) {
			t.Errorf("Verify(%s) = %v; want ErrInvalidFile", name, err)
		}
		t.Logf("Verify(%s): %v", name, err)
	}
	if _, err := Restore(filepath.Join(tmp, "garbled.db"), filepath.Join(tmp, "restored.db"), false); !errors.Is(err, ErrInvalidFile) {
		t.Errorf("Restore(garbled) = %v; want ErrInvalidFile", err)
	}
	if _, err := os.Stat(filepath.Join(tmp, "restored.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused restore left a file: %v", err)
	}
}

func TestRestore(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "backup.db")
	db := open(t, src, Options{})
	dir, _, _ := fill(t, db, 500, 50)
	want := allUsers(t, db, dir)
	db.Close()

	dst := filepath.Join(tmp, "restored.db")
	info, err := Restore(src, dst, false)
	if err != nil || info.Users != 500 {
		t.Fatalf("Restore = %+v, %v", info, err)
	}
	if _, err := Restore(src, dst, false); !errors.Is(err, os.ErrExist) {
		t.Errorf("Restore over an existing file = %v; want os.ErrExist", err)
	}
	held := open(t, dst, Options{})
	if _, err := Restore(src, dst, true); !errors.Is(err, store.ErrLocked) {
		t.Errorf("Restore --force over a file held by a server = %v; want store.ErrLocked", err)
	}
	held.Close()
	if _, err := Restore(src, dst, true); err != nil {
		t.Errorf("Restore --force = %v", err)
	}
	rdb := open(t, dst, Options{})
	defer rdb.Close()
	if diff := cmp.Diff(want, allUsers(t, rdb, dir)); diff != "" {
		t.Errorf("restored users differ (-want +got):\n%s", diff)
	}
}

func TestCompact(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	path := filepath.Join(tmp, "scimbridge.db")
	db := open(t, path, Options{})
	dir, ids, _ := fill(t, db, 5000, 0)
	for _, id := range ids[:100] { // some as the SCIM API does, with events
		if err := db.DeleteUser(ctx, dir, id, 0); err != nil {
			t.Fatal(err)
		}
	}
	db.bulkDeleteUsers(t, dir, ids[100:4500])
	for { // mass deletion, then the retention window passes
		n, err := db.PruneEvents(ctx, dir.Org, time.Now().Add(time.Hour), 1<<62)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	want := allUsers(t, db, dir)
	if _, _, err := Compact(path, filepath.Join(tmp, "c.db")); !errors.Is(err, store.ErrLocked) {
		t.Errorf("Compact of a file held by a server = %v; want store.ErrLocked", err)
	}
	db.Close()

	start := time.Now()
	before, after, err := Compact(path, filepath.Join(tmp, "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compacted %d → %d bytes in %v", before, after, time.Since(start))
	if after*2 > before {
		t.Errorf("Compact = %d → %d bytes; want at least half given back", before, after)
	}
	if _, _, err := Compact(path, filepath.Join(tmp, "c.db")); !errors.Is(err, os.ErrExist) {
		t.Errorf("Compact onto an existing file = %v; want os.ErrExist", err)
	}

	b2, a2, err := CompactInPlace(path, path+".bak")
	if err != nil || b2 != before || a2 != after {
		t.Fatalf("CompactInPlace = %d, %d, %v; want %d, %d", b2, a2, err, before, after)
	}
	if fi, err := os.Stat(path + ".bak"); err != nil || fi.Size() != before {
		t.Errorf("original not kept: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != after || fi.Mode().Perm() != 0o600 {
		t.Errorf("compacted file: %v, %v", fi, err)
	}
	cdb := open(t, path, Options{})
	defer cdb.Close()
	if diff := cmp.Diff(want, allUsers(t, cdb, dir)); diff != "" {
		t.Errorf("compacted users differ (-want +got):\n%s", diff)
	}
	if _, err := cdb.CreateUser(ctx, dir, store.User{UserName: "after-compact", Attributes: []byte(`{}`)}); err != nil {
		t.Errorf("write after compaction: %v", err)
	}
}
