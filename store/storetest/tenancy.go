package storetest

import (
	"crypto/sha256"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

func testOrgs(t *testing.T, e *env) {
	acme, err := e.s.CreateOrg(e.ctx, "acme")
	if err != nil {
		t.Fatalf("CreateOrg(acme) = %v", err)
	}
	if acme.Name != "acme" || acme.Created.IsZero() {
		t.Errorf("CreateOrg(acme) = %+v; want name acme and a creation time", acme)
	}
	_, err = e.s.CreateOrg(e.ctx, "acme")
	isConflict(t, err, "org", "acme", "CreateOrg(acme) again")
	globex, err := e.s.CreateOrg(e.ctx, "globex")
	if err != nil {
		t.Fatalf("CreateOrg(globex) = %v", err)
	}
	orgs, err := e.s.Orgs(e.ctx)
	if err != nil {
		t.Fatalf("Orgs() = %v", err)
	}
	slices.SortFunc(orgs, func(a, b store.Org) int { return strings.Compare(a.Name, b.Name) })
	if d := diff([]store.Org{acme, globex}, orgs); d != "" {
		t.Errorf("Orgs() mismatch (-want +got):\n%s", d)
	}
}

func testDirectories(t *testing.T, e *env) {
	_, err := e.s.CreateDirectory(e.ctx, store.Directory{Org: "acme", Name: "okta"})
	isErr(t, err, store.ErrNotFound, "CreateDirectory(acme/okta) before org acme")
	for _, org := range []string{"acme", "globex"} {
		if _, err := e.s.CreateOrg(e.ctx, org); err != nil {
			t.Fatalf("CreateOrg(%q) = %v", org, err)
		}
	}
	okta, err := e.s.CreateDirectory(e.ctx, store.Directory{Org: "acme", Name: "okta", Profile: "okta"})
	if err != nil {
		t.Fatalf("CreateDirectory(acme/okta) = %v", err)
	}
	if okta.Org != "acme" || okta.Name != "okta" || okta.Profile != "okta" || okta.Created.IsZero() {
		t.Errorf("CreateDirectory(acme/okta) = %+v; want acme/okta, profile okta, a creation time", okta)
	}
	_, err = e.s.CreateDirectory(e.ctx, store.Directory{Org: "acme", Name: "okta", Profile: "entra"})
	isConflict(t, err, "directory", "okta", "CreateDirectory(acme/okta) again")
	entra, err := e.s.CreateDirectory(e.ctx, store.Directory{Org: "acme", Name: "entra", Profile: "entra"})
	if err != nil {
		t.Fatalf("CreateDirectory(acme/entra) = %v", err)
	}
	if _, err := e.s.CreateDirectory(e.ctx, store.Directory{Org: "globex", Name: "okta", Profile: "generic"}); err != nil {
		t.Errorf("CreateDirectory(globex/okta) = %v; want a directory name reusable in another org", err)
	}

	got, err := e.s.Directory(e.ctx, okta.Key())
	if err != nil {
		t.Fatalf("Directory(acme/okta) = %v", err)
	}
	if d := diff(okta, got); d != "" {
		t.Errorf("Directory(acme/okta) mismatch (-want +got):\n%s", d)
	}
	for _, k := range []store.DirKey{{Org: "acme", Directory: "google"}, {Org: "nope", Directory: "okta"}, {}} {
		_, err := e.s.Directory(e.ctx, k)
		isErr(t, err, store.ErrNotFound, "Directory("+k.String()+")")
	}

	dirs, err := e.s.Directories(e.ctx, "acme")
	if err != nil {
		t.Fatalf("Directories(acme) = %v", err)
	}
	slices.SortFunc(dirs, func(a, b store.Directory) int { return strings.Compare(a.Name, b.Name) })
	if d := diff([]store.Directory{entra, okta}, dirs); d != "" {
		t.Errorf("Directories(acme) mismatch (-want +got):\n%s", d)
	}
	_, err = e.s.Directories(e.ctx, "nope")
	isErr(t, err, store.ErrNotFound, "Directories(nope)")
}

func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func testTokens(t *testing.T, e *env) {
	e.setup()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	scim := store.Token{ID: "tok-scim", Kind: store.TokenSCIM, Org: "acme", Directory: "okta", Name: "okta sync",
		Prefix: "sb_scim_ab", Hash: hash("scim-secret"), Created: t0.Add(2 * time.Hour), Expires: t0.Add(90 * 24 * time.Hour)}
	admin := store.Token{ID: "tok-admin", Kind: store.TokenAdmin, Org: "acme", Name: "terraform",
		Prefix: "sb_adm_cd", Hash: hash("admin-secret"), Created: t0.Add(time.Hour)}
	super := store.Token{ID: "tok-super", Kind: store.TokenSuper, Name: "backup",
		Prefix: "sb_sup_ef", Hash: hash("super-secret"), Created: t0}
	other := store.Token{ID: "tok-globex", Kind: store.TokenAdmin, Org: "globex", Name: "globex admin",
		Prefix: "sb_adm_gh", Hash: hash("globex-secret"), Created: t0}

	for _, tc := range []struct {
		name string
		tok  store.Token
	}{
		{"scim token of a missing directory", store.Token{ID: "x1", Kind: store.TokenSCIM, Org: "acme", Directory: "google", Hash: hash("x1"), Created: t0}},
		{"scim token of a missing org", store.Token{ID: "x2", Kind: store.TokenSCIM, Org: "nope", Directory: "okta", Hash: hash("x2"), Created: t0}},
		{"admin token of a missing org", store.Token{ID: "x3", Kind: store.TokenAdmin, Org: "nope", Hash: hash("x3"), Created: t0}},
	} {
		err := e.s.CreateToken(e.ctx, tc.tok)
		isErr(t, err, store.ErrNotFound, "CreateToken("+tc.name+")")
	}
	if err := e.s.CreateToken(e.ctx, store.Token{ID: "x4", Kind: store.TokenAdmin, Org: "acme", Created: t0}); err == nil {
		t.Errorf("CreateToken(without hash) = nil; want an error")
	}

	// Created in reverse order, listed by Created.
	for _, tok := range []store.Token{scim, admin, super, other} {
		if err := e.s.CreateToken(e.ctx, tok); err != nil {
			t.Fatalf("CreateToken(%s) = %v", tok.ID, err)
		}
	}
	err := e.s.CreateToken(e.ctx, store.Token{ID: "tok-dup-hash", Kind: store.TokenAdmin, Org: "acme", Hash: hash("admin-secret"), Created: t0})
	isErr(t, err, store.ErrConflict, "CreateToken(same hash, new id)")
	err = e.s.CreateToken(e.ctx, store.Token{ID: "tok-admin", Kind: store.TokenAdmin, Org: "acme", Hash: hash("fresh"), Created: t0})
	isErr(t, err, store.ErrConflict, "CreateToken(same id, new hash)")

	for _, want := range []store.Token{scim, admin, super, other} {
		got, err := e.s.TokenByHash(e.ctx, want.Hash)
		if err != nil {
			t.Errorf("TokenByHash(%s) = %v", want.ID, err)
			continue
		}
		if d := diff(want, got); d != "" {
			t.Errorf("TokenByHash(%s) mismatch (-want +got):\n%s", want.ID, d)
		}
	}
	for _, h := range [][]byte{hash("wrong"), hash("scim-secret")[:16], nil} {
		_, err := e.s.TokenByHash(e.ctx, h)
		isErr(t, err, store.ErrNotFound, "TokenByHash(unknown)")
	}

	list := func(org string) []store.Token {
		t.Helper()
		ts, err := e.s.Tokens(e.ctx, org)
		if err != nil {
			t.Fatalf("Tokens(%q) = %v", org, err)
		}
		return ts
	}
	if d := diff([]store.Token{admin, scim}, list("acme")); d != "" {
		t.Errorf("Tokens(acme) mismatch (-want +got):\n%s", d)
	}
	if d := diff([]store.Token{super}, list("")); d != "" {
		t.Errorf("Tokens(\"\") mismatch (-want +got):\n%s", d)
	}
	_, err = e.s.Tokens(e.ctx, "nope")
	isErr(t, err, store.ErrNotFound, "Tokens(nope)")

	if err := e.s.DeleteToken(e.ctx, scim.ID); err != nil {
		t.Fatalf("DeleteToken(%s) = %v", scim.ID, err)
	}
	_, err = e.s.TokenByHash(e.ctx, scim.Hash)
	isErr(t, err, store.ErrNotFound, "TokenByHash(deleted token)")
	if d := diff([]store.Token{admin}, list("acme")); d != "" {
		t.Errorf("Tokens(acme) after delete mismatch (-want +got):\n%s", d)
	}
	isErr(t, e.s.DeleteToken(e.ctx, scim.ID), store.ErrNotFound, "DeleteToken(deleted token)")
	// The hash of a deleted token is free again.
	if err := e.s.CreateToken(e.ctx, scim); err != nil {
		t.Errorf("CreateToken(%s) after its delete = %v", scim.ID, err)
	}
}

func testDirectoryIsolation(t *testing.T, e *env) {
	e.setup()
	alice := e.user(e.a, "alice@x.com", func(u *store.User) { u.ExternalID = "ext-alice"; u.Emails = []string{"alice@x.com"} })
	admins := e.group(e.a, "Admins", alice.ID)

	// The same names are free in the other directory and in the other org.
	bAlice := e.user(e.b, "alice@x.com", func(u *store.User) { u.ExternalID = "ext-alice"; u.Emails = []string{"alice@x.com"} })
	cAlice := e.user(e.c, "ALICE@x.com")
	bAdmins := e.group(e.b, "Admins", bAlice.ID)
	e.group(e.c, "admins")

	for _, dir := range []store.DirKey{e.b, e.c, {Org: "acme", Directory: "nope"}, {Org: "nope", Directory: "okta"}} {
		call := func(name string) string { return name + "(" + dir.String() + ", id of " + e.a.String() + ")" }
		_, err := e.s.User(e.ctx, dir, alice.ID)
		isErr(t, err, store.ErrNotFound, call("User"))
		_, err = e.s.UpdateUser(e.ctx, dir, alice.ID, 0, func(u *store.User) error { u.DisplayName = "stolen"; return nil })
		isErr(t, err, store.ErrNotFound, call("UpdateUser"))
		isErr(t, e.s.DeleteUser(e.ctx, dir, alice.ID, 0), store.ErrNotFound, call("DeleteUser"))
		_, err = e.s.Group(e.ctx, dir, admins.ID)
		isErr(t, err, store.ErrNotFound, call("Group"))
		_, err = e.s.UpdateGroup(e.ctx, dir, admins.ID, 0, func(*store.Group, store.Members) (store.MemberChange, error) {
			return store.MemberChange{RemoveAll: true}, nil
		})
		isErr(t, err, store.ErrNotFound, call("UpdateGroup"))
		isErr(t, e.s.DeleteGroup(e.ctx, dir, admins.ID, 0), store.ErrNotFound, call("DeleteGroup"))
		_, err = e.s.GroupMembers(e.ctx, dir, admins.ID, 0, 10)
		isErr(t, err, store.ErrNotFound, call("GroupMembers"))
	}

	// A member reference of another directory is refused, nothing linked.
	_, err := e.s.CreateGroup(e.ctx, e.b, store.Group{DisplayName: "Thieves"}, []string{alice.ID})
	isMemberError(t, err, alice.ID, false, "CreateGroup(acme/entra, member of acme/okta)")
	for _, id := range []string{alice.ID, cAlice.ID} {
		_, err = e.s.UpdateGroup(e.ctx, e.b, bAdmins.ID, 0, func(*store.Group, store.Members) (store.MemberChange, error) {
			return store.MemberChange{Add: []string{id}}, nil
		})
		isMemberError(t, err, id, false, "UpdateGroup(acme/entra, add user of another directory)")
	}
	_, err = e.s.UpdateGroup(e.ctx, e.b, bAdmins.ID, 0, func(*store.Group, store.Members) (store.MemberChange, error) {
		return store.MemberChange{Add: []string{admins.ID}}, nil
	})
	isMemberError(t, err, admins.ID, false, "UpdateGroup(acme/entra, add group of acme/okta)")
	if got := e.members(e.b, bAdmins.ID); !slices.Equal(got, []string{bAlice.ID}) {
		t.Errorf("members of acme/entra Admins = %v; want [%s]", got, bAlice.ID)
	}

	// Listings and plans stay in their directory.
	for _, tc := range []struct {
		dir  store.DirKey
		want []string
	}{{e.a, []string{alice.ID}}, {e.b, []string{bAlice.ID}}, {e.c, []string{cAlice.ID}}} {
		for _, plan := range []*store.Plan{nil, eq(store.FieldUserName, "alice@x.com"), eq(store.FieldExternalID, "ext-alice"),
			eq(store.FieldEmail, "alice@x.com"), sw(store.FieldUserName, "a"), or(eq(store.FieldID, alice.ID), eq(store.FieldID, bAlice.ID), eq(store.FieldID, cAlice.ID))} {
			p := e.listUsers(tc.dir, store.Query{Plan: plan, Count: 10})
			got := userIDs(p.Users)
			want := tc.want
			if plan != nil && (plan.Field == store.FieldExternalID || plan.Field == store.FieldEmail) && tc.dir == e.c {
				want = nil // globex's alice has neither
			}
			if d := diff(want, got); d != "" || p.Total != len(want) {
				t.Errorf("ListUsers(%v, %+v) = %v (total %d); want %v", tc.dir, plan, got, p.Total, want)
			}
		}
	}
	gp := e.listGroups(e.b, store.Query{Count: 10})
	if got := groupNames(gp.Groups); !slices.Equal(got, []string{"Admins"}) || gp.Total != 1 || gp.Groups[0].ID != bAdmins.ID {
		t.Errorf("ListGroups(acme/entra) = %v (total %d); want only its own Admins", got, gp.Total)
	}
	gp = e.listGroups(e.b, store.Query{Plan: eq(store.FieldID, admins.ID), Count: 10})
	if gp.Total != 0 || len(gp.Groups) != 0 {
		t.Errorf("ListGroups(acme/entra, id eq group of acme/okta) = %v; want nothing", groupNames(gp.Groups))
	}

	// A user's groups never cross either.
	if got := e.getUser(e.b, bAlice.ID).Groups; len(got) != 1 || got[0].ID != bAdmins.ID {
		t.Errorf("User(acme/entra alice).Groups = %v; want only acme/entra Admins", got)
	}
	if got := e.getUser(e.c, cAlice.ID).Groups; len(got) != 0 {
		t.Errorf("User(globex/okta alice).Groups = %v; want none", got)
	}
}
