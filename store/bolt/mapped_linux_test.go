package bolt

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// rssFile reads the resident file-backed memory of this process, in KiB.
func rssFile(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatalf("RssFile: %v", err)
			}
			return n
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// TestReleaseMapped checks that ReleaseMapped gives back the pages of the
// file that reads mapped, and that the data reads the same afterwards.
func TestReleaseMapped(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	db := open(t, filepath.Join(dir, "rss db.db"), Options{}) // a space in the path, as /proc/self/maps shows it
	if _, err := db.CreateOrg(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	d, err := db.CreateDirectory(ctx, store.Directory{Org: "acme", Name: "okta", Profile: "okta"})
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 2000)
	ids := make([]string, 4000)
	var wg sync.WaitGroup
	for w := range 16 { // concurrent writers share commits
		wg.Go(func() {
			for i := w; i < len(ids); i += 16 {
				u, err := db.CreateUser(ctx, d.Key(), store.User{UserName: "u" + strconv.Itoa(i),
					Attributes: []byte(`{"nickName":"` + pad + `","userName":"u` + strconv.Itoa(i) + `"}`)})
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = u.ID
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	readAll := func() {
		t.Helper()
		for i, id := range ids {
			u, err := db.User(ctx, d.Key(), id)
			if err != nil || u.UserName != "u"+strconv.Itoa(i) {
				t.Fatalf("user %d: %v %q", i, err, u.UserName)
			}
		}
	}
	readAll()
	before := rssFile(t)
	n, err := db.ReleaseMapped()
	if err != nil {
		t.Fatalf("ReleaseMapped: %v", err)
	}
	after := rssFile(t)
	t.Logf("advised %d KiB; RssFile %d KiB -> %d KiB", n>>10, before, after)
	if n == 0 {
		t.Fatal("ReleaseMapped found no mapping of the database file")
	}
	if before-after < 4<<10 { // the users alone are 8 MB of records
		t.Errorf("RssFile went from %d to %d KiB; want at least 4 MiB given back", before, after)
	}
	readAll() // the same data, read again through the mapping
	if _, err := db.CreateUser(ctx, d.Key(), store.User{UserName: "after"}); err != nil {
		t.Fatalf("a write after ReleaseMapped: %v", err)
	}
}
