package bolt

import (
	"context"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestTimeIDs checks that user and group ids are version 7 UUIDs that
// carry their millisecond, sort by it, and differ within one millisecond.
func TestTimeIDs(t *testing.T) {
	base := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	prev := ""
	for i := range 2000 {
		now := base.Add(time.Duration(i/10) * time.Millisecond) // ten ids per millisecond
		id := newTimeID(now)
		if !uuidV7.MatchString(id) || len(id) != idLen {
			t.Fatalf("newTimeID = %q; want a lower-case UUID v7", id)
		}
		ms, err := strconv.ParseUint(strings.ReplaceAll(id[:13], "-", ""), 16, 64)
		if err != nil || int64(ms) != now.UnixMilli() {
			t.Fatalf("newTimeID(%v) = %q: carries %d ms; want %d", now, id, ms, now.UnixMilli())
		}
		if seen[id] {
			t.Fatalf("newTimeID gave %q twice", id)
		}
		seen[id] = true
		if i%10 == 0 && prev != "" && id[:13] <= prev[:13] {
			t.Fatalf("id %q of a later millisecond sorts before %q", id, prev)
		}
		prev = id
	}
}

// TestUsersAppend checks that CreateUser gives time-ordered ids, so that
// an initial sync appends to the users bucket.
func TestUsersAppend(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "ids.db"), Options{})
	if _, err := db.CreateOrg(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	d, err := db.CreateDirectory(ctx, store.Directory{Org: "acme", Name: "okta", Profile: "okta"})
	if err != nil {
		t.Fatal(err)
	}
	prev := ""
	for i := range 20 {
		u, err := db.CreateUser(ctx, d.Key(), store.User{UserName: "append-" + strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		if !uuidV7.MatchString(u.ID) {
			t.Fatalf("CreateUser gave id %q; want a UUID v7", u.ID)
		}
		if u.ID[:13] < prev {
			t.Fatalf("user %d (%s) sorts before the user created before it (%s)", i, u.ID, prev)
		}
		prev = u.ID[:13]
		time.Sleep(2 * time.Millisecond)
	}
}
