package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

func testGroupCRUD(t *testing.T, e *env) {
	e.setup()
	in := store.Group{ID: "chosen", DisplayName: "Engineering", ExternalID: "00g1",
		Attributes: []byte(`{"displayName":"Engineering","urn:x:ext":{"cost":"42"}}`), MemberCount: 99, Version: 5}
	got, err := e.s.CreateGroup(e.ctx, e.a, in, nil)
	if err != nil {
		t.Fatalf("CreateGroup(%+v) = %v", in, err)
	}
	checkNew(t, "CreateGroup", got.ID, got.Version, got.Created, got.Modified)
	want := in
	want.ID, want.Version, want.Created, want.Modified, want.MemberCount = got.ID, 1, got.Created, got.Modified, 0
	if d := diff(want, got); d != "" {
		t.Errorf("CreateGroup() mismatch (-want +got):\n%s", d)
	}
	if d := diff(want, e.getGroup(e.a, got.ID)); d != "" {
		t.Errorf("Group() after CreateGroup mismatch (-want +got):\n%s", d)
	}

	_, err = e.s.UpdateGroup(e.ctx, e.a, got.ID, 0, func(g *store.Group, _ store.Members) (store.MemberChange, error) {
		g.DisplayName = "changed"
		return store.MemberChange{}, errBoom
	})
	if err != errBoom {
		t.Errorf("UpdateGroup(fn fails) = %v; want the error of fn as is", err)
	}
	if d := diff(want, e.getGroup(e.a, got.ID)); d != "" {
		t.Errorf("Group() after a failed update mismatch (-want +got):\n%s", d)
	}

	var seen store.Group
	upd, err := e.s.UpdateGroup(e.ctx, e.a, got.ID, 1, func(g *store.Group, _ store.Members) (store.MemberChange, error) {
		seen = *g
		seen.Attributes = slices.Clone(g.Attributes)
		g.DisplayName, g.ExternalID, g.Attributes = "Platform Engineering", "00g2", []byte(`{"displayName":"Platform Engineering"}`)
		g.ID, g.Version, g.MemberCount, g.Created, g.Modified = "other", 42, 42, time.Time{}, time.Time{}
		return store.MemberChange{}, nil
	})
	if err != nil {
		t.Fatalf("UpdateGroup() = %v", err)
	}
	if d := diff(want, seen); d != "" {
		t.Errorf("UpdateGroup fn saw (-want +got):\n%s", d)
	}
	want.DisplayName, want.ExternalID, want.Attributes = "Platform Engineering", "00g2", []byte(`{"displayName":"Platform Engineering"}`)
	want.Version, want.Modified = 2, upd.Modified
	if d := diff(want, upd); d != "" {
		t.Errorf("UpdateGroup() mismatch (-want +got):\n%s", d)
	}
	if upd.Modified.Before(got.Modified) {
		t.Errorf("UpdateGroup(): Modified = %v; want not before %v", upd.Modified, got.Modified)
	}
	if d := diff(want, e.getGroup(e.a, got.ID)); d != "" {
		t.Errorf("Group() after UpdateGroup mismatch (-want +got):\n%s", d)
	}
	for _, tc := range []struct {
		plan *store.Plan
		want int
	}{
		{eq(store.FieldDisplayName, "engineering"), 0},
		{eq(store.FieldDisplayName, "PLATFORM engineering"), 1},
		{eq(store.FieldExternalID, "00g1"), 0},
		{eq(store.FieldExternalID, "00g2"), 1},
	} {
		if p := e.listGroups(e.a, store.Query{Plan: tc.plan, Count: 10}); p.Total != tc.want {
			t.Errorf("ListGroups(%+v) = %v; want %d group(s)", tc.plan, groupNames(p.Groups), tc.want)
		}
	}

	for _, id := range []string{"", "nope", "00000000-0000-4000-8000-000000000000"} {
		_, err := e.s.Group(e.ctx, e.a, id)
		isErr(t, err, store.ErrNotFound, fmt.Sprintf("Group(%q)", id))
		_, err = e.s.UpdateGroup(e.ctx, e.a, id, 0, func(*store.Group, store.Members) (store.MemberChange, error) { return store.MemberChange{}, nil })
		isErr(t, err, store.ErrNotFound, fmt.Sprintf("UpdateGroup(%q)", id))
		isErr(t, e.s.DeleteGroup(e.ctx, e.a, id, 0), store.ErrNotFound, fmt.Sprintf("DeleteGroup(%q)", id))
		_, err = e.s.GroupMembers(e.ctx, e.a, id, 0, 10)
		isErr(t, err, store.ErrNotFound, fmt.Sprintf("GroupMembers(%q)", id))
	}

	if err := e.s.DeleteGroup(e.ctx, e.a, got.ID, 0); err != nil {
		t.Fatalf("DeleteGroup() = %v", err)
	}
	_, err = e.s.Group(e.ctx, e.a, got.ID)
	isErr(t, err, store.ErrNotFound, "Group(deleted)")
	isErr(t, e.s.DeleteGroup(e.ctx, e.a, got.ID, 0), store.ErrNotFound, "DeleteGroup(deleted)")
	if p := e.listGroups(e.a, store.Query{Count: 10}); p.Total != 0 || len(p.Groups) != 0 {
		t.Errorf("ListGroups() after delete = %v (total %d); want none", groupNames(p.Groups), p.Total)
	}
	if p := e.listGroups(e.a, store.Query{Plan: eq(store.FieldExternalID, "00g2"), Count: 10}); p.Total != 0 {
		t.Errorf("ListGroups(externalId eq 00g2) after delete = %v; want none", groupNames(p.Groups))
	}
	e.group(e.a, "platform engineering") // the name is free again
}

func testDisplayNameUniqueByFold(t *testing.T, e *env) {
	e.setup()
	admins := e.group(e.a, "Admins")
	ops := e.group(e.a, "Straße Ops")
	for _, name := range []string{"admins", "ADMINS", "STRASSE OPS", "strasse ops"} {
		_, err := e.s.CreateGroup(e.ctx, e.a, store.Group{DisplayName: name}, nil)
		isConflict(t, err, "displayName", name, fmt.Sprintf("CreateGroup(%q)", name))
	}
	_, err := e.s.UpdateGroup(e.ctx, e.a, ops.ID, 0, func(g *store.Group, _ store.Members) (store.MemberChange, error) {
		g.DisplayName = "aDmInS"
		return store.MemberChange{}, nil
	})
	isConflict(t, err, "displayName", "aDmInS", "UpdateGroup(rename onto Admins)")
	if got := e.getGroup(e.a, ops.ID); got.DisplayName != "Straße Ops" || got.Version != 1 {
		t.Errorf("Group() after a conflicting rename = %q v%d; want \"Straße Ops\" v1", got.DisplayName, got.Version)
	}
	// Renaming to another case of its own name is fine.
	got, err := e.s.UpdateGroup(e.ctx, e.a, admins.ID, 0, func(g *store.Group, _ store.Members) (store.MemberChange, error) {
		g.DisplayName = "ADMINS"
		return store.MemberChange{}, nil
	})
	if err != nil || got.DisplayName != "ADMINS" {
		t.Errorf("UpdateGroup(case of own name) = %q, %v; want ADMINS, nil", got.DisplayName, err)
	}
	p := e.listGroups(e.a, store.Query{Plan: eq(store.FieldDisplayName, "strasse OPS"), Count: 10})
	if len(p.Groups) != 1 || p.Groups[0].ID != ops.ID {
		t.Errorf("ListGroups(displayName eq \"strasse OPS\") = %v; want [Straße Ops]", groupNames(p.Groups))
	}
}

func testVersionMismatch(t *testing.T, e *env) {
	e.setup()
	u := e.user(e.a, "alice")
	g := e.group(e.a, "G")
	noop := func(*store.User) error { return nil }
	noopG := func(*store.Group, store.Members) (store.MemberChange, error) { return store.MemberChange{}, nil }

	for _, v := range []uint64{2, 7} {
		_, err := e.s.UpdateUser(e.ctx, e.a, u.ID, v, noop)
		isErr(t, err, store.ErrVersionMismatch, fmt.Sprintf("UpdateUser(ifVersion %d) at version 1", v))
		_, err = e.s.UpdateGroup(e.ctx, e.a, g.ID, v, noopG)
		isErr(t, err, store.ErrVersionMismatch, fmt.Sprintf("UpdateGroup(ifVersion %d) at version 1", v))
	}
	got, err := e.s.UpdateUser(e.ctx, e.a, u.ID, 1, noop)
	if err != nil || got.Version != 2 {
		t.Fatalf("UpdateUser(ifVersion 1) = v%d, %v; want v2, nil", got.Version, err)
	}
	got, err = e.s.UpdateUser(e.ctx, e.a, u.ID, 0, noop)
	if err != nil || got.Version != 3 {
		t.Fatalf("UpdateUser(ifVersion 0) = v%d, %v; want v3, nil", got.Version, err)
	}
	gg, err := e.s.UpdateGroup(e.ctx, e.a, g.ID, 1, noopG)
	if err != nil || gg.Version != 2 {
		t.Fatalf("UpdateGroup(ifVersion 1) = v%d, %v; want v2, nil", gg.Version, err)
	}

	isErr(t, e.s.DeleteUser(e.ctx, e.a, u.ID, 2), store.ErrVersionMismatch, "DeleteUser(ifVersion 2) at version 3")
	isErr(t, e.s.DeleteGroup(e.ctx, e.a, g.ID, 1), store.ErrVersionMismatch, "DeleteGroup(ifVersion 1) at version 2")
	e.getUser(e.a, u.ID)
	e.getGroup(e.a, g.ID)
	if err := e.s.DeleteUser(e.ctx, e.a, u.ID, 3); err != nil {
		t.Errorf("DeleteUser(ifVersion 3) at version 3 = %v", err)
	}
	if err := e.s.DeleteGroup(e.ctx, e.a, g.ID, 2); err != nil {
		t.Errorf("DeleteGroup(ifVersion 2) at version 2 = %v", err)
	}
}

// versions returns the current version of each user.
func (e *env) versions(dir store.DirKey, ids ...string) []uint64 {
	e.t.Helper()
	vs := make([]uint64, len(ids))
	for i, id := range ids {
		vs[i] = e.getUser(dir, id).Version
	}
	return vs
}

func testMembers(t *testing.T, e *env) {
	e.setup()
	a, b, c, d := e.user(e.a, "a"), e.user(e.a, "b"), e.user(e.a, "c"), e.user(e.a, "d")
	g := e.group(e.a, "G", a.ID, b.ID, a.ID) // repeats are fine
	step := func(name string, got store.Group, wantMembers []string, wantVersions []uint64) {
		t.Helper()
		wantMembers = sorted(wantMembers)
		if m := e.members(e.a, g.ID); !slices.Equal(m, wantMembers) {
			t.Errorf("%s: members = %v; want %v", name, m, wantMembers)
		}
		if got.MemberCount != len(wantMembers) {
			t.Errorf("%s: MemberCount = %d; want %d", name, got.MemberCount, len(wantMembers))
		}
		if stored := e.getGroup(e.a, g.ID); stored.MemberCount != len(wantMembers) || stored.Version != got.Version {
			t.Errorf("%s: Group() = %d members v%d; want %d members v%d", name, stored.MemberCount, stored.Version, len(wantMembers), got.Version)
		}
		if vs := e.versions(e.a, a.ID, b.ID, c.ID, d.ID); !slices.Equal(vs, wantVersions) {
			t.Errorf("%s: versions of a, b, c, d = %v; want %v", name, vs, wantVersions)
		}
	}
	// Joining a group changes a user's representation (its groups).
	step("create with a, b, a", g, []string{a.ID, b.ID}, []uint64{2, 2, 1, 1})
	if got := e.getUser(e.a, a.ID).Groups; !slices.Equal(got, []store.GroupRef{{ID: g.ID, DisplayName: "G"}}) {
		t.Errorf("User(a).Groups = %v; want [G]", got)
	}
	before := e.getUser(e.a, c.ID)

	g2 := e.change(e.a, g.ID, store.MemberChange{Add: []string{a.ID, c.ID}})
	step("add a (present), c", g2, []string{a.ID, b.ID, c.ID}, []uint64{2, 2, 2, 1})
	if g2.Version != 2 {
		t.Errorf("UpdateGroup(add): Version = %d; want 2", g2.Version)
	}
	if after := e.getUser(e.a, c.ID); after.Modified.Before(before.Modified) {
		t.Errorf("User(c).Modified = %v after joining; want not before %v", after.Modified, before.Modified)
	}
	g2 = e.change(e.a, g.ID, store.MemberChange{Add: []string{a.ID, c.ID}})
	step("add a, c again (idempotent)", g2, []string{a.ID, b.ID, c.ID}, []uint64{2, 2, 2, 1})

	g2 = e.change(e.a, g.ID, store.MemberChange{Remove: []string{d.ID, b.ID, "nope"}})
	step("remove d (absent), b, nope", g2, []string{a.ID, c.ID}, []uint64{2, 3, 2, 1})

	g2 = e.change(e.a, g.ID, store.MemberChange{Remove: []string{a.ID}, Add: []string{a.ID, d.ID}})
	step("remove a, add a, d: add wins", g2, []string{a.ID, c.ID, d.ID}, []uint64{2, 3, 2, 2})

	g2 = e.change(e.a, g.ID, store.MemberChange{RemoveAll: true, Add: []string{c.ID, b.ID}})
	step("remove all, add c, b", g2, []string{b.ID, c.ID}, []uint64{3, 4, 2, 3})

	g2 = e.change(e.a, g.ID, store.MemberChange{})
	step("no change", g2, []string{b.ID, c.ID}, []uint64{3, 4, 2, 3})

	g2 = e.change(e.a, g.ID, store.MemberChange{RemoveAll: true})
	step("remove all", g2, nil, []uint64{3, 5, 3, 3})
	if got := e.getUser(e.a, b.ID).Groups; len(got) != 0 {
		t.Errorf("User(b).Groups after remove all = %v; want none", got)
	}
	if g2.Version != 8 {
		t.Errorf("group Version after 7 updates = %d; want 8", g2.Version)
	}

	// A user in several groups lists them all, in id order, with current names.
	h := e.group(e.a, "H", a.ID)
	e.change(e.a, g.ID, store.MemberChange{Add: []string{a.ID}})
	if _, err := e.s.UpdateGroup(e.ctx, e.a, h.ID, 0, func(g *store.Group, _ store.Members) (store.MemberChange, error) {
		g.DisplayName = "H renamed"
		return store.MemberChange{}, nil
	}); err != nil {
		t.Fatalf("UpdateGroup(rename H) = %v", err)
	}
	want := []store.GroupRef{{ID: g.ID, DisplayName: "G"}, {ID: h.ID, DisplayName: "H renamed"}}
	slices.SortFunc(want, func(x, y store.GroupRef) int { return strings.Compare(x.ID, y.ID) })
	if d := diff(want, e.getUser(e.a, a.ID).Groups); d != "" {
		t.Errorf("User(a).Groups mismatch (-want +got):\n%s", d)
	}
}

// testConcurrentMemberAdds is the lost-update case: concurrent updates of
// one group, each adding its own member, must all land, while readers see
// consistent states.
func testConcurrentMemberAdds(t *testing.T, e *env) {
	e.setup()
	const n = 16
	var ids []string
	for i := range n {
		ids = append(ids, e.user(e.a, fmt.Sprintf("u%02d", i)).ID)
	}
	g := e.group(e.a, "G")
	start := make(chan struct{})
	done := make(chan struct{})
	var writers, readers sync.WaitGroup
	for _, id := range ids {
		writers.Go(func() {
			<-start
			_, err := e.s.UpdateGroup(e.ctx, e.a, g.ID, 0, func(*store.Group, store.Members) (store.MemberChange, error) {
				return store.MemberChange{Add: []string{id}}, nil
			})
			if err != nil {
				t.Errorf("concurrent UpdateGroup(add %s) = %v", id, err)
			}
		})
	}
	for range 2 {
		readers.Go(func() {
			<-start
			for {
				select {
				case <-done:
					return
				default:
				}
				grp, err := e.s.Group(e.ctx, e.a, g.ID)
				if err != nil {
					t.Errorf("concurrent Group() = %v", err)
					return
				}
				refs, err := e.s.GroupMembers(e.ctx, e.a, g.ID, 0, n+1)
				if err != nil {
					t.Errorf("concurrent GroupMembers() = %v", err)
					return
				}
				if _, err := e.s.ListUsers(e.ctx, e.a, store.Query{Count: n, WithGroups: true}); err != nil {
					t.Errorf("concurrent ListUsers() = %v", err)
					return
				}
				// Members only grow, and a later read never sees fewer.
				if len(refs) < grp.MemberCount {
					t.Errorf("GroupMembers() = %d members after Group() said %d", len(refs), grp.MemberCount)
					return
				}
			}
		})
	}
	close(start)
	writers.Wait()
	close(done)
	readers.Wait()
	got := e.getGroup(e.a, g.ID)
	if got.MemberCount != n || got.Version != n+1 {
		t.Errorf("Group() after %d concurrent adds = %d members v%d; want %d members v%d", n, got.MemberCount, got.Version, n, n+1)
	}
	if m := e.members(e.a, g.ID); !slices.Equal(m, sorted(ids)) {
		t.Errorf("members after %d concurrent adds = %v; want %v", n, m, sorted(ids))
	}
}

func testMembersInCallback(t *testing.T, e *env) {
	e.setup()
	a, b, c := e.user(e.a, "a"), e.user(e.a, "b"), e.user(e.a, "c")
	other := e.user(e.b, "a")
	g := e.group(e.a, "G", b.ID, a.ID)
	var each, first []string
	has := map[string]bool{}
	_, err := e.s.UpdateGroup(e.ctx, e.a, g.ID, 0, func(_ *store.Group, m store.Members) (store.MemberChange, error) {
		for _, id := range []string{a.ID, b.ID, c.ID, other.ID, "", g.ID} {
			has[id] = m.Has(id)
		}
		m.Each(func(id string) bool { each = append(each, id); return true })
		m.Each(func(id string) bool { first = append(first, id); return false })
		return store.MemberChange{Remove: []string{a.ID}}, nil
	})
	if err != nil {
		t.Fatalf("UpdateGroup() = %v", err)
	}
	want := map[string]bool{a.ID: true, b.ID: true, c.ID: false, other.ID: false, "": false, g.ID: false}
	if d := diff(want, has); d != "" {
		t.Errorf("Members.Has mismatch (-want +got):\n%s", d)
	}
	if w := sorted([]string{a.ID, b.ID}); !slices.Equal(each, w) {
		t.Errorf("Members.Each = %v; want %v (the order added, which is id order for CreateGroup)", each, w)
	}
	if len(first) != 1 {
		t.Errorf("Members.Each stopped after %v; want one call", first)
	}
	// The membership seen is the one before this update's change.
	_, err = e.s.UpdateGroup(e.ctx, e.a, g.ID, 0, func(_ *store.Group, m store.Members) (store.MemberChange, error) {
		if m.Has(a.ID) || !m.Has(b.ID) {
			t.Errorf("Members.Has(a), Has(b) = %v, %v after removing a; want false, true", m.Has(a.ID), m.Has(b.ID))
		}
		return store.MemberChange{}, nil
	})
	if err != nil {
		t.Fatalf("UpdateGroup() = %v", err)
	}
}

// snapshot is what an invalid member change must leave untouched.
type snapshot struct {
	Groups  []store.Group
	Members map[string][]string
	Users   []store.User
}

func (e *env) snapshot(dir store.DirKey) snapshot {
	e.t.Helper()
	s := snapshot{Members: map[string][]string{}}
	s.Groups = e.listGroups(dir, store.Query{Count: 1000}).Groups
	for _, g := range s.Groups {
		s.Members[g.ID] = e.members(dir, g.ID)
	}
	s.Users = e.listUsers(dir, store.Query{Count: 1000, WithGroups: true}).Users
	return s
}

func testInvalidMembers(t *testing.T, e *env) {
	e.setup()
	a, b := e.user(e.a, "a"), e.user(e.a, "b")
	g := e.group(e.a, "G", a.ID)
	other := e.user(e.b, "x")
	before := e.snapshot(e.a)

	for _, tc := range []struct {
		name   string
		id     string
		nested bool
	}{
		{"unknown id", "00000000-0000-4000-8000-000000000000", false},
		{"not an id", "a", false},
		{"empty", "", false},
		{"user of another directory", other.ID, false},
		{"group of this directory", g.ID, true},
	} {
		_, err := e.s.CreateGroup(e.ctx, e.a, store.Group{DisplayName: "New"}, []string{b.ID, tc.id})
		isMemberError(t, err, tc.id, tc.nested, "CreateGroup(members: b, "+tc.name+")")
		_, err = e.s.UpdateGroup(e.ctx, e.a, g.ID, 0, func(g *store.Group, _ store.Members) (store.MemberChange, error) {
			g.DisplayName = "Renamed"
			return store.MemberChange{RemoveAll: true, Add: []string{b.ID, tc.id}}, nil
		})
		isMemberError(t, err, tc.id, tc.nested, "UpdateGroup(remove all, add b, "+tc.name+")")
		if d := diff(before, e.snapshot(e.a)); d != "" {
			t.Errorf("store after refused member %s changed (-before +after):\n%s", tc.name, d)
		}
	}
	// Nothing was reserved by the refused writes.
	e.group(e.a, "New")
	e.change(e.a, g.ID, store.MemberChange{Add: []string{b.ID}})
}

func testDeleteUserCascade(t *testing.T, e *env) {
	e.setup()
	a, b := e.user(e.a, "a"), e.user(e.a, "b")
	g1 := e.group(e.a, "G1", a.ID, b.ID)
	g2 := e.group(e.a, "G2", a.ID)
	g3 := e.group(e.a, "G3", b.ID)
	if err := e.s.DeleteUser(e.ctx, e.a, a.ID, 0); err != nil {
		t.Fatalf("DeleteUser(a) = %v", err)
	}
	for _, tc := range []struct {
		g       store.Group
		members []string
		version uint64
	}{
		{g1, []string{b.ID}, 2},
		{g2, nil, 2},
		{g3, []string{b.ID}, 1},
	} {
		got := e.getGroup(e.a, tc.g.ID)
		if got.MemberCount != len(tc.members) || got.Version != tc.version || got.Modified.Before(tc.g.Modified) {
			t.Errorf("Group(%s) after DeleteUser(a) = %d members v%d modified %v; want %d members v%d",
				tc.g.DisplayName, got.MemberCount, got.Version, got.Modified, len(tc.members), tc.version)
		}
		if m := e.members(e.a, tc.g.ID); !slices.Equal(m, tc.members) {
			t.Errorf("members of %s after DeleteUser(a) = %v; want %v", tc.g.DisplayName, m, tc.members)
		}
	}
	if got := e.getUser(e.a, b.ID); len(got.Groups) != 2 || got.Version != 3 {
		t.Errorf("User(b) after DeleteUser(a) = %v v%d; want G1, G3 v3 (untouched)", got.Groups, got.Version)
	}
	// A new user with the old name is a new user with no groups.
	a2 := e.user(e.a, "A")
	if a2.ID == a.ID || len(e.getUser(e.a, a2.ID).Groups) != 0 {
		t.Errorf("recreated user = %s with groups %v; want a new id and no groups", a2.ID, e.getUser(e.a, a2.ID).Groups)
	}
}

func testDeleteGroupCascade(t *testing.T, e *env) {
	e.setup()
	a, b, c := e.user(e.a, "a"), e.user(e.a, "b"), e.user(e.a, "c")
	g1 := e.group(e.a, "G1", a.ID, b.ID)
	g2 := e.group(e.a, "G2", a.ID)
	before := e.versions(e.a, a.ID, b.ID, c.ID)
	if err := e.s.DeleteGroup(e.ctx, e.a, g1.ID, 0); err != nil {
		t.Fatalf("DeleteGroup(G1) = %v", err)
	}
	if got, want := e.versions(e.a, a.ID, b.ID, c.ID), []uint64{before[0] + 1, before[1] + 1, before[2]}; !slices.Equal(got, want) {
		t.Errorf("versions of a, b, c after DeleteGroup(G1) = %v; want %v", got, want)
	}
	if got := e.getUser(e.a, a.ID).Groups; !slices.Equal(got, []store.GroupRef{{ID: g2.ID, DisplayName: "G2"}}) {
		t.Errorf("User(a).Groups after DeleteGroup(G1) = %v; want [G2]", got)
	}
	if got := e.getUser(e.a, b.ID).Groups; len(got) != 0 {
		t.Errorf("User(b).Groups after DeleteGroup(G1) = %v; want none", got)
	}
	_, err := e.s.GroupMembers(e.ctx, e.a, g1.ID, 0, 10)
	isErr(t, err, store.ErrNotFound, "GroupMembers(deleted group)")
	if p := e.listGroups(e.a, store.Query{Count: 10}); p.Total != 1 || len(p.Groups) != 1 || p.Groups[0].ID != g2.ID {
		t.Errorf("ListGroups() after DeleteGroup(G1) = %v (total %d); want [G2]", groupNames(p.Groups), p.Total)
	}
	// A new group with the old name starts empty.
	g3 := e.group(e.a, "g1")
	if m := e.members(e.a, g3.ID); len(m) != 0 || g3.MemberCount != 0 {
		t.Errorf("recreated group has members %v; want none", m)
	}
}
