package bolt

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

// TestMigrateSchema1Access opens the schema-1 fixture (see
// testdata/schema1.md): migration 3 gives its orgs the rules and access
// buckets, so rules can be published and access is computed for the
// people that were there before.
func TestMigrateSchema1Access(t *testing.T) {
	path := unpackFixture(t, "schema1.db")
	db := open(t, path, Options{})
	defer db.Close()
	ctx := t.Context()
	if err := db.bolt.View(func(tx *bbolt.Tx) error {
		for _, org := range []string{"acme", "globex"} {
			if rulesBucket(tx, org) == nil {
				t.Errorf("rules bucket of %s after migration is missing", org)
			}
			if _, err := openOrgAccess(tx, org); err != nil {
				t.Errorf("access buckets of %s after migration: %v", org, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	doc := []byte(`{"version":1,"workspaces":["engineering"],"rules":[{"name":"eng","match":{"group":{"displayName":"Engineering"}},"grant":{"workspace":"engineering","role":"member"}}]}`)
	if _, _, err := db.PublishRules(ctx, "acme", doc, store.PublishOptions{Force: true, Reason: "fixture has no admin"}); err != nil {
		t.Fatalf("PublishRules() after migration = %v", err)
	}
	const alice = "e0af8718-b657-45a3-8f44-d8bc53e7290f"
	pa, err := db.Access(ctx, store.DirKey{Org: "acme", Directory: "okta"}, alice)
	if err != nil || len(pa.Workspaces) != 1 || pa.Workspaces[0].Workspace != "engineering" {
		t.Errorf("Access(alice) after publish = %+v, %v; want engineering member", pa, err)
	}
}

func exampleRules(tb testing.TB) []byte {
	doc, err := os.ReadFile("../../mapping/testdata/example.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	return doc
}

// accessFixture makes org acme with n users: half in workspace_engineering,
// the other half in workspace_legal, the first one also in the org admins
// group of the example rules. It returns the directory, the user ids and
// the id of workspace_engineering.
func accessFixture(tb testing.TB, db *DB, n int) (store.DirKey, []string, string) {
	tb.Helper()
	ctx := context.Background()
	dir, ids, _ := fill(tb, db, n, 0)
	var eng string
	for i, name := range []string{"workspace_engineering", "workspace_legal"} {
		g, err := db.CreateGroup(ctx, dir, store.Group{DisplayName: name}, nil)
		if err != nil {
			tb.Fatal(err)
		}
		if i == 0 {
			eng = g.ID
		}
		if err := db.bulkMembers(dir, g.ID, ids[i*n/2:(i+1)*n/2], 5000); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := db.CreateGroup(ctx, dir, store.Group{DisplayName: "org admins", ExternalID: "00g1a2b3c4"}, ids[:1]); err != nil {
		tb.Fatal(err)
	}
	return dir, ids, eng
}

// BenchmarkAccessMemberAdd adds (or removes) one member of a group of
// 5,000 in an org of 10,000 people, with and without rules published: with
// rules, the one person is recomputed (O(change)).
func BenchmarkAccessMemberAdd(b *testing.B) {
	for _, rules := range []bool{false, true} {
		for _, fsync := range []bool{false, true} {
			b.Run(fmt.Sprintf("rules=%v/fsync=%v", rules, fsync), func(b *testing.B) {
				db := open(b, filepath.Join(b.TempDir(), "scimbridge.db"), Options{})
				defer db.Close()
				ctx := context.Background()
				dir, ids, eng := accessFixture(b, db, 10_000)
				if rules {
					if _, _, err := db.PublishRules(ctx, "acme", exampleRules(b), store.PublishOptions{}); err != nil {
						b.Fatal(err)
					}
				}
				db.bolt.NoSync = !fsync
				spare := ids[len(ids)/2:] // in legal, not in engineering
				i := 0
				for b.Loop() {
					uid := spare[i%len(spare)]
					add := (i/len(spare))%2 == 0
					i++
					_, err := db.UpdateGroup(ctx, dir, eng, 0, func(*store.Group, store.Members) (store.MemberChange, error) {
						if add {
							return store.MemberChange{Add: []string{uid}}, nil
						}
						return store.MemberChange{Remove: []string{uid}}, nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkPublish publishes over 10,000 people: alternately the example
// rules and a variant that makes every workspace member a workspace admin,
// so that every publish changes the access of every person (10,000 records,
// index keys and access.role_changed events); and a publish that changes
// nobody's access (evaluation only).
func BenchmarkPublish(b *testing.B) {
	db := open(b, filepath.Join(b.TempDir(), "scimbridge.db"), Options{})
	defer db.Close()
	ctx := context.Background()
	accessFixture(b, db, 10_000)
	a := exampleRules(b)
	v := bytes.Replace(a, []byte(`grant: {workspace: "${ws}", role: member}`), []byte(`grant: {workspace: "${ws}", role: workspace_admin}`), 1)
	if bytes.Equal(a, v) {
		b.Fatal("variant of the example rules is the same")
	}
	opts := store.PublishOptions{MaxRevokeShare: 1}
	b.Run("all-change", func(b *testing.B) {
		i := 0
		for b.Loop() {
			doc := a
			if i%2 == 1 {
				doc = v
			}
			i++
			_, d, err := db.PublishRules(ctx, "acme", doc, opts)
			if err != nil {
				b.Fatal(err)
			}
			if i > 1 && d.RoleChanges < 9_999 {
				b.Fatalf("publish changed %d roles; want every workspace member's", d.RoleChanges)
			}
		}
	})
	b.Run("none-change", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := db.PublishRules(ctx, "acme", a, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
}
