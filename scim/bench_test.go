package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
)

// Benchmarks of the whole SCIM path: HTTP on loopback, authentication,
// decoding, validation, the bbolt store with fsync, rendering. The store's
// own benchmarks (store/bolt) measure the same operations at 100,000 users
// and 100,000 members; these add the HTTP layer on top, at 10,000.

const benchUsers = 10_000

// benchEnv builds acme/okta with benchUsers users and a group holding all
// of them.
func benchEnv(b *testing.B) (*env, []string, string) {
	b.Helper()
	e := newEnv(b, scim.Config{})
	ctx := context.Background()
	dir := store.DirKey{Org: "acme", Directory: "okta"}
	ids := make([]string, benchUsers)
	for i := range ids {
		name := fmt.Sprintf("user%06d@example.com", i)
		u, err := e.st.CreateUser(ctx, dir, store.User{UserName: name, Active: true, Emails: []string{name},
			Attributes: fmt.Appendf(nil, `{"userName":%q,"active":true,"displayName":"User %d","emails":[{"value":%q,"type":"work","primary":true}]}`, name, i, name)})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = u.ID
	}
	g, err := e.st.CreateGroup(ctx, dir, store.Group{DisplayName: "everyone", Attributes: []byte(`{"displayName":"everyone"}`)}, ids)
	if err != nil {
		b.Fatal(err)
	}
	return e, ids, g.ID
}

func BenchmarkHTTPCreateUser(b *testing.B) {
	e := newEnv(b, scim.Config{})
	i := 0
	for b.Loop() {
		i++
		e.must(http.StatusCreated, e.req("POST", "/Users", user(fmt.Sprintf("bench%07d@example.com", i))))
	}
}

func BenchmarkHTTPUserNameLookup(b *testing.B) {
	e, _, _ := benchEnv(b)
	var n atomic.Int64
	b.SetParallelism(4) // 8 concurrent requests on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(7919) % benchUsers
			f := url.QueryEscape(fmt.Sprintf(`userName eq "USER%06d@example.com"`, i))
			r := e.req("GET", "/Users?filter="+f, nil)
			if r.status != http.StatusOK || r.body["totalResults"] != float64(1) {
				b.Errorf("lookup: %d %s", r.status, r.raw)
			}
		}
	})
}

func BenchmarkHTTPAddMember(b *testing.B) {
	e, _, gid := benchEnv(b)
	ctx := context.Background()
	dir := store.DirKey{Org: "acme", Directory: "okta"}
	spare := make([]string, b.N+1)
	for i := range spare {
		name := fmt.Sprintf("spare%07d@example.com", i)
		u, err := e.st.CreateUser(ctx, dir, store.User{UserName: name, Active: true, Attributes: fmt.Appendf(nil, `{"userName":%q,"active":true}`, name)})
		if err != nil {
			b.Fatal(err)
		}
		spare[i] = u.ID
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.must(http.StatusNoContent, e.req("PATCH", "/Groups/"+gid, patchOps(op("add", "members", []any{map[string]any{"value": spare[i]}}))))
	}
}

func BenchmarkHTTPGetGroupWithoutMembers(b *testing.B) {
	e, _, gid := benchEnv(b)
	for b.Loop() {
		e.must(http.StatusOK, e.req("GET", "/Groups/"+gid+"?excludedAttributes=members", nil))
	}
}

func BenchmarkHTTPGetGroupWithMembers(b *testing.B) {
	e, _, gid := benchEnv(b)
	for b.Loop() {
		r := e.req("GET", "/Groups/"+gid, nil)
		if r.status != http.StatusOK || len(r.body["members"].([]any)) != benchUsers {
			b.Fatalf("group: %d", r.status)
		}
	}
}
