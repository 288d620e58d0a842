package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/reqlog"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
)

// memberIDs reads a group over HTTP and returns its member ids, sorted.
func (e *env) memberIDs(groupID string) []string {
	e.t.Helper()
	r := e.must(http.StatusOK, e.req("GET", "/Groups/"+groupID, nil))
	var out []string
	list, _ := r.body["members"].([]any)
	for _, m := range list {
		out = append(out, m.(map[string]any)["value"].(string))
	}
	sort.Strings(out)
	return out
}

func (e *env) userGroupIDs(userID string) []string {
	e.t.Helper()
	r := e.must(http.StatusOK, e.req("GET", "/Users/"+userID, nil))
	var out []string
	list, _ := r.body["groups"].([]any)
	for _, m := range list {
		out = append(out, m.(map[string]any)["value"].(string))
	}
	sort.Strings(out)
	return out
}

func sorted(s ...string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func TestGroupLifecycle(t *testing.T) {
	e := newEnv(t, scim.Config{})
	a := e.createUser("a@example.com").str("id")
	b := e.createUser("b@example.com").str("id")
	c := e.createUser("c@example.com").str("id")

	g := e.createGroup("workspace_engineering", a, b)
	gid := g.str("id")
	if got := g.header.Get("Location"); got != e.base+"/Groups/"+gid {
		t.Errorf("Location = %q", got)
	}
	if diff := cmp.Diff(sorted(a, b), e.memberIDs(gid)); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	r := e.must(http.StatusOK, e.req("GET", "/Groups/"+gid, nil))
	m0 := r.body["members"].([]any)[0].(map[string]any)
	if m0["type"] != "User" || m0["$ref"] == nil {
		t.Errorf("member = %v; want type User and $ref", m0)
	}
	if diff := cmp.Diff([]string{gid}, e.userGroupIDs(a)); diff != "" {
		t.Errorf("groups of a (-want +got):\n%s", diff)
	}
	ug := e.must(http.StatusOK, e.req("GET", "/Users/"+a, nil)).body["groups"].([]any)[0].(map[string]any)
	if ug["display"] != "workspace_engineering" {
		t.Errorf("user's group = %v; want display workspace_engineering", ug)
	}

	// excludedAttributes=members (Entra) leaves members out.
	r = e.must(http.StatusOK, e.req("GET", "/Groups/"+gid+"?excludedAttributes=members", nil))
	if r.body["members"] != nil || r.str("displayName") != "workspace_engineering" {
		t.Errorf("excludedAttributes=members: %s", r.raw)
	}

	// PATCH add and remove members: 204 with the new ETag.
	p := e.req("PATCH", "/Groups/"+gid, patchOps(
		op("add", "members", []any{map[string]any{"value": c}}),
		op("remove", fmt.Sprintf("members[value eq %q]", a), nil),
	))
	e.must(http.StatusNoContent, p)
	if p.header.Get("ETag") == "" || p.header.Get("ETag") == g.header.Get("ETag") {
		t.Errorf("PATCH ETag = %q; want a new version", p.header.Get("ETag"))
	}
	if diff := cmp.Diff(sorted(b, c), e.memberIDs(gid)); diff != "" {
		t.Errorf("members after PATCH (-want +got):\n%s", diff)
	}
	if got := e.userGroupIDs(a); len(got) != 0 {
		t.Errorf("removed member still lists the group: %v", got)
	}
	// With attributes asked, PATCH answers 200 with the group.
	p = e.must(http.StatusOK, e.req("PATCH", "/Groups/"+gid+"?attributes=displayName", patchOps(op("replace", "displayName", "workspace_eng"))))
	if p.str("displayName") != "workspace_eng" || p.body["members"] != nil {
		t.Errorf("PATCH with attributes: %s", p.raw)
	}

	// PUT replaces the whole group, members included.
	r = e.must(http.StatusOK, e.req("PUT", "/Groups/"+gid, map[string]any{
		"schemas": []string{groupURN}, "displayName": "workspace_engineering",
		"members": []any{map[string]any{"value": a}},
	}))
	if diff := cmp.Diff([]string{a}, e.memberIDs(gid)); diff != "" {
		t.Errorf("members after PUT (-want +got):\n%s", diff)
	}

	// Deleting a user takes it out of every group.
	e.must(http.StatusNoContent, e.req("PATCH", "/Groups/"+gid, patchOps(op("add", "members", []any{map[string]any{"value": b}}))))
	e.must(http.StatusNoContent, e.req("DELETE", "/Users/"+a, nil))
	if diff := cmp.Diff([]string{b}, e.memberIDs(gid)); diff != "" {
		t.Errorf("members after deleting a user (-want +got):\n%s", diff)
	}
	// Deleting a group takes it out of every user's groups.
	e.must(http.StatusNoContent, e.req("DELETE", "/Groups/"+gid, nil))
	e.wantError(e.req("GET", "/Groups/"+gid, nil), http.StatusNotFound, "")
	if got := e.userGroupIDs(b); len(got) != 0 {
		t.Errorf("deleted group still listed on user: %v", got)
	}
}

func TestGroupMemberReferences(t *testing.T) {
	e := newEnv(t, scim.Config{})
	a := e.createUser("a@example.com").str("id")
	other := e.req("POST", e.srv.URL+"/scim/v2/other/main/Users", user("x@example.com"), "Authorization", "Bearer "+e.tokens["other/main"])
	e.must(http.StatusCreated, other)
	foreign := other.str("id")
	g := e.createGroup("g1", a)
	gid := g.str("id")
	nested := e.createGroup("g2").str("id")
	before := e.snapshot("/Groups/" + gid)

	cases := []struct {
		name string
		body map[string]any
	}{
		{"unknown id", patchOps(op("add", "members", []any{map[string]any{"value": "00000000-0000-4000-8000-000000000000"}}))},
		{"other org's user", patchOps(op("add", "members", []any{map[string]any{"value": foreign}}))},
		{"nested group", patchOps(op("add", "members", []any{map[string]any{"value": nested}}))},
		{"valid then invalid (atomic)", patchOps(
			op("replace", "displayName", "renamed"),
			op("add", "members", []any{map[string]any{"value": "not-a-user"}}))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.wantError(e.req("PATCH", "/Groups/"+gid, c.body), http.StatusBadRequest, "invalidValue")
			if after := e.snapshot("/Groups/" + gid); after != before {
				t.Errorf("refused PATCH changed the group:\n%s\n%s", before, after)
			}
		})
	}
	e.wantError(e.req("POST", "/Groups", map[string]any{
		"schemas": []string{groupURN}, "displayName": "g3",
		"members": []any{map[string]any{"value": foreign}},
	}), http.StatusBadRequest, "invalidValue")

	// displayName is unique per directory, case-insensitively.
	e.wantError(e.req("POST", "/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": "G1"}), http.StatusConflict, "uniqueness")
}

func TestConcurrentMemberAdds(t *testing.T) {
	e := newEnv(t, scim.Config{})
	gid := e.createGroup("big").str("id")
	const n = 20
	users := make([]string, n)
	for i := range n {
		users[i] = e.createUser(fmt.Sprintf("u%d@example.com", i)).str("id")
	}
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.req("PATCH", "/Groups/"+gid, patchOps(op("add", "members", []any{map[string]any{"value": u}})))
			if r.status != http.StatusNoContent {
				t.Errorf("PATCH add = %d %s", r.status, r.raw)
			}
		}()
	}
	wg.Wait()
	if diff := cmp.Diff(sorted(users...), e.memberIDs(gid)); diff != "" {
		t.Errorf("members after concurrent adds (-want +got):\n%s", diff)
	}
}

// storeUsers creates n users of acme/okta straight in the store (faster
// than over HTTP), m00000@example.com ("M 0") and on, and returns their ids.
func (e *env) storeUsers(n int) []string {
	e.t.Helper()
	dir := store.DirKey{Org: "acme", Directory: "okta"}
	ids := make([]string, n)
	for i := range n {
		u, err := e.st.CreateUser(context.Background(), dir, store.User{UserName: fmt.Sprintf("m%05d@example.com", i), Active: true,
			Attributes: []byte(fmt.Sprintf(`{"userName":"m%05d@example.com","active":true,"displayName":"M %d"}`, i, i))})
		if err != nil {
			e.t.Fatal(err)
		}
		ids[i] = u.ID
	}
	return ids
}

func TestLargeGroupStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 2,500-member group")
	}
	e := newEnv(t, scim.Config{})
	const n = 2500 // more than two chunks of members
	members := e.storeUsers(n)
	gid := e.createGroup("everyone", members...).str("id")
	got := e.memberIDs(gid)
	if diff := cmp.Diff(sorted(members...), got); diff != "" {
		t.Errorf("streamed members differ (-want +got):\n%s", diff)
	}
	r := e.must(http.StatusOK, e.req("GET", "/Groups?filter=displayName%20eq%20%22EVERYONE%22&attributes=members.value", nil))
	list := r.body["Resources"].([]any)
	if len(list) != 1 || len(list[0].(map[string]any)["members"].([]any)) != n {
		t.Fatalf("listing with members.value: %d resources", len(list))
	}
	if m := list[0].(map[string]any)["members"].([]any)[0].(map[string]any); len(m) != 1 || m["value"] == nil {
		t.Errorf("member with attributes=members.value = %v; want only value", m)
	}
}

// betweenChunks is the real store with a hook run after the first chunk of
// a group's members is read, as a concurrent request would change the group
// between two chunks of a streamed GET.
type betweenChunks struct {
	store.Store
	once sync.Once
	hook func()
}

func (s *betweenChunks) GroupMembers(ctx context.Context, dir store.DirKey, groupID string, after uint64, limit int) ([]store.MemberRef, error) {
	refs, err := s.Store.GroupMembers(ctx, dir, groupID, after, limit)
	if after == 0 {
		s.once.Do(s.hook)
	}
	return refs, err
}

// TestStreamedGroupListsEachMemberOnce changes a group while its members
// stream: a member already sent is removed and added again (it goes to the
// end), and a new member is added. The response lists every member once,
// and not the one added after the group was read.
func TestStreamedGroupListsEachMemberOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 1,500-member group")
	}
	e := newEnv(t, scim.Config{})
	dir := store.DirKey{Org: "acme", Directory: "okta"}
	ctx := context.Background()
	const n = 1500 // two chunks
	all := sorted(e.storeUsers(n + 1)...)
	members, late := all[:n], all[n]
	gid := e.createGroup("everyone", members...).str("id")
	change := func(ch store.MemberChange) {
		if _, err := e.st.UpdateGroup(ctx, dir, gid, 0, func(*store.Group, store.Members) (store.MemberChange, error) { return ch, nil }); err != nil {
			t.Errorf("UpdateGroup(%+v) = %v", ch, err)
		}
	}
	hooked := &betweenChunks{Store: e.st, hook: func() {
		change(store.MemberChange{Remove: []string{members[0]}})
		change(store.MemberChange{Add: []string{members[0], late}})
	}}
	srv := httptest.NewServer(reqlog.Wrap(zerolog.New(zerolog.NewTestWriter(t)), scim.New(hooked, scim.Config{}), scim.WritePanic))
	defer srv.Close()
	streamed := *e
	streamed.base = srv.URL + "/scim/v2/acme/okta"
	if diff := cmp.Diff(members, streamed.memberIDs(gid)); diff != "" {
		t.Errorf("members streamed while the group changed (-want +got):\n%s", diff)
	}
	// A new read sees the change.
	if diff := cmp.Diff(sorted(append(slices.Clone(members), late)...), e.memberIDs(gid)); diff != "" {
		t.Errorf("members read after the change (-want +got):\n%s", diff)
	}
}
