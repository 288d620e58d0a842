package bolt

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestOpenFollowsAReplacedFile: a server that waits for the lock while a
// restore renames a new file over the path must end up on the new file,
// not on the old one that no longer has a name.
func TestOpenFollowsAReplacedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "scimbridge.db")
	old := open(t, path, Options{})

	// The replacement holds an org the old file does not.
	next := filepath.Join(dir, "next.db")
	nd := open(t, next, Options{})
	if _, err := nd.CreateOrg(context.Background(), "restored"); err != nil {
		t.Fatal(err)
	}
	if err := nd.Close(); err != nil {
		t.Fatal(err)
	}

	opened := make(chan *DB, 1)
	failed := make(chan error, 1)
	go func() {
		db, err := Open(path, Options{Timeout: 5 * time.Second})
		if err != nil {
			failed <- err
			return
		}
		opened <- db
	}()
	time.Sleep(200 * time.Millisecond) // Open is now waiting for the old file's lock
	if err := os.Rename(next, path); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-failed:
		t.Fatalf("Open: %v", err)
	case db := <-opened:
		defer db.Close()
		orgs, err := db.Orgs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(orgs) != 1 || orgs[0].Name != "restored" {
			t.Errorf("Open after a replacement serves orgs %v; want the new file's [restored]", orgs)
		}
		// A write lands in the file at the path.
		if _, err := db.CreateOrg(context.Background(), "after"); err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Open did not return")
	}
}
