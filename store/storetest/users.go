package storetest

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// resourceID is the form of user and group ids: a lower-case UUID, random
// (version 4) or time-ordered (version 7, which lets a store append new
// records at the edge of its index).
var resourceID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// checkNew checks the store's fields of a created resource.
func checkNew(t *testing.T, call, id string, version uint64, created, modified time.Time) {
	t.Helper()
	if !resourceID.MatchString(id) {
		t.Errorf("%s: ID = %q; want a lower-case UUID (version 4 or 7)", call, id)
	}
	if version != 1 {
		t.Errorf("%s: Version = %d; want 1", call, version)
	}
	if created.IsZero() || !created.Equal(modified) || created.Location() != time.UTC {
		t.Errorf("%s: Created, Modified = %v, %v; want the same UTC time", call, created, modified)
	}
}

func testUserCRUD(t *testing.T, e *env) {
	e.setup()
	in := store.User{
		ID: "chosen-by-caller", UserName: "Alice@Example.com", ExternalID: "00u1", DisplayName: "Alice Liddell",
		Active: true, Emails: []string{"alice@example.com", "a.liddell@example.org"},
		Attributes: []byte(`{"userName":"Alice@Example.com","name":{"givenName":"Alice"},"title":"<b>&"}`),
		Version:    7, Groups: []store.GroupRef{{ID: "g", DisplayName: "forged"}},
	}
	got, err := e.s.CreateUser(e.ctx, e.a, in)
	if err != nil {
		t.Fatalf("CreateUser(%+v) = %v", in, err)
	}
	checkNew(t, "CreateUser", got.ID, got.Version, got.Created, got.Modified)
	want := in
	want.ID, want.Version, want.Created, want.Modified, want.Groups = got.ID, 1, got.Created, got.Modified, nil
	if d := diff(want, got); d != "" {
		t.Errorf("CreateUser() mismatch (-want +got):\n%s", d)
	}
	read := e.getUser(e.a, got.ID)
	if d := diff(want, read); d != "" {
		t.Errorf("User() after CreateUser mismatch (-want +got):\n%s", d)
	}
	second := e.user(e.a, "bob@example.com")
	if second.ID == got.ID {
		t.Errorf("CreateUser gave two users the id %s", got.ID)
	}

	for _, id := range []string{"", "nope", second.ID + "x", "00000000-0000-4000-8000-000000000000"} {
		_, err := e.s.User(e.ctx, e.a, id)
		isErr(t, err, store.ErrNotFound, fmt.Sprintf("User(%q)", id))
		_, err = e.s.UpdateUser(e.ctx, e.a, id, 0, func(*store.User) error { return nil })
		isErr(t, err, store.ErrNotFound, fmt.Sprintf("UpdateUser(%q)", id))
		isErr(t, e.s.DeleteUser(e.ctx, e.a, id, 0), store.ErrNotFound, fmt.Sprintf("DeleteUser(%q)", id))
	}
	_, err = e.s.CreateUser(e.ctx, store.DirKey{Org: "acme", Directory: "nope"}, store.User{UserName: "x"})
	isErr(t, err, store.ErrNotFound, "CreateUser(missing directory)")

	if err := e.s.DeleteUser(e.ctx, e.a, got.ID, 0); err != nil {
		t.Fatalf("DeleteUser(%s) = %v", got.ID, err)
	}
	_, err = e.s.User(e.ctx, e.a, got.ID)
	isErr(t, err, store.ErrNotFound, "User(deleted)")
	isErr(t, e.s.DeleteUser(e.ctx, e.a, got.ID, 0), store.ErrNotFound, "DeleteUser(deleted)")
	p := e.listUsers(e.a, store.Query{Count: 10})
	if got := userIDs(p.Users); p.Total != 1 || !slices.Equal(got, []string{second.ID}) {
		t.Errorf("ListUsers() after delete = %v (total %d); want [%s] (total 1)", got, p.Total, second.ID)
	}
	// Its userName, externalId and emails are free and unindexed again.
	for _, plan := range []*store.Plan{eq(store.FieldUserName, in.UserName), eq(store.FieldExternalID, in.ExternalID), eq(store.FieldEmail, in.Emails[1])} {
		if p := e.listUsers(e.a, store.Query{Plan: plan, Count: 10}); p.Total != 0 {
			t.Errorf("ListUsers(%+v) after delete = %v; want nothing", plan, userNames(p.Users))
		}
	}
	if _, err := e.s.CreateUser(e.ctx, e.a, in); err != nil {
		t.Errorf("CreateUser(%q) after its delete = %v", in.UserName, err)
	}
}

var errBoom = errors.New("boom")

func testUpdateUser(t *testing.T, e *env) {
	e.setup()
	u := e.user(e.a, "alice@x.com", func(u *store.User) {
		u.ExternalID, u.Emails = "ext-1", []string{"alice@x.com", "ali@x.com"}
	})
	bob := e.user(e.a, "bob@x.com")
	g := e.group(e.a, "Staff", u.ID)
	u = e.getUser(e.a, u.ID) // version 2: it joined Staff

	// An error from fn is returned as is and changes nothing.
	_, err := e.s.UpdateUser(e.ctx, e.a, u.ID, 0, func(v *store.User) error {
		v.UserName = "changed@x.com"
		return errBoom
	})
	if err != errBoom {
		t.Errorf("UpdateUser(fn fails) = %v; want the error of fn as is", err)
	}
	if d := diff(u, e.getUser(e.a, u.ID)); d != "" {
		t.Errorf("User() after a failed update mismatch (-want +got):\n%s", d)
	}

	var seen store.User
	got, err := e.s.UpdateUser(e.ctx, e.a, u.ID, u.Version, func(v *store.User) error {
		seen = *v
		seen.Emails, seen.Attributes = slices.Clone(v.Emails), slices.Clone(v.Attributes)
		v.UserName, v.ExternalID, v.DisplayName, v.Active = "Alice.Smith@x.com", "ext-2", "Alice Smith", false
		v.Emails[0] = "alice.smith@x.com" // in place: the store must have given a copy
		v.Attributes = []byte(`{"userName":"Alice.Smith@x.com"}`)
		// The store's fields are not fn's to change.
		v.ID, v.Version, v.Created, v.Modified = "other", 99, time.Time{}, time.Time{}
		v.Groups = nil
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateUser() = %v", err)
	}
	if d := diff(u, seen); d != "" {
		t.Errorf("UpdateUser fn saw (-want +got):\n%s", d)
	}
	want := u
	want.UserName, want.ExternalID, want.DisplayName, want.Active = "Alice.Smith@x.com", "ext-2", "Alice Smith", false
	want.Emails = []string{"alice.smith@x.com", "ali@x.com"}
	want.Attributes = []byte(`{"userName":"Alice.Smith@x.com"}`)
	want.Version = u.Version + 1
	want.Modified = got.Modified
	if d := diff(want, got); d != "" {
		t.Errorf("UpdateUser() mismatch (-want +got):\n%s", d)
	}
	if got.Modified.Before(u.Modified) {
		t.Errorf("UpdateUser(): Modified = %v; want not before %v", got.Modified, u.Modified)
	}
	if d := diff(want, e.getUser(e.a, u.ID)); d != "" {
		t.Errorf("User() after UpdateUser mismatch (-want +got):\n%s", d)
	}
	if want := []store.GroupRef{{ID: g.ID, DisplayName: "Staff"}}; !slices.Equal(got.Groups, want) {
		t.Errorf("UpdateUser().Groups = %v; want %v", got.Groups, want)
	}

	// The indexes followed: old values are gone, new ones found.
	for _, tc := range []struct {
		plan *store.Plan
		want []string
	}{
		{eq(store.FieldUserName, "alice@x.com"), nil},
		{eq(store.FieldUserName, "alice.smith@X.COM"), []string{u.ID}},
		{eq(store.FieldExternalID, "ext-1"), nil},
		{eq(store.FieldExternalID, "ext-2"), []string{u.ID}},
		{eq(store.FieldEmail, "alice@x.com"), nil},
		{eq(store.FieldEmail, "ALICE.SMITH@x.com"), []string{u.ID}},
		{eq(store.FieldEmail, "ali@x.com"), []string{u.ID}},
	} {
		if got := userIDs(e.listUsers(e.a, store.Query{Plan: tc.plan, Count: 10}).Users); !slices.Equal(got, tc.want) {
			t.Errorf("ListUsers(%+v) = %v; want %v", tc.plan, got, tc.want)
		}
	}
	// The old userName is free.
	e.user(e.a, "ALICE@x.com")

	// A change of case of one's own userName is not a conflict.
	got, err = e.s.UpdateUser(e.ctx, e.a, u.ID, 0, func(v *store.User) error { v.UserName = "alice.smith@x.com"; return nil })
	if err != nil || got.UserName != "alice.smith@x.com" {
		t.Errorf("UpdateUser(case of own userName) = %q, %v; want alice.smith@x.com, nil", got.UserName, err)
	}
	// Taking another's userName is, and changes nothing.
	before := e.getUser(e.a, u.ID)
	_, err = e.s.UpdateUser(e.ctx, e.a, u.ID, 0, func(v *store.User) error {
		v.UserName, v.ExternalID = "BOB@x.com", "ext-3"
		return nil
	})
	isConflict(t, err, "userName", "BOB@x.com", "UpdateUser(userName of bob)")
	if d := diff(before, e.getUser(e.a, u.ID)); d != "" {
		t.Errorf("User() after a conflicting update mismatch (-want +got):\n%s", d)
	}
	if got := userIDs(e.listUsers(e.a, store.Query{Plan: eq(store.FieldUserName, "bob@x.com"), Count: 10}).Users); !slices.Equal(got, []string{bob.ID}) {
		t.Errorf("ListUsers(userName eq bob) after a conflicting update = %v; want [%s]", got, bob.ID)
	}
	if p := e.listUsers(e.a, store.Query{Plan: eq(store.FieldExternalID, "ext-3"), Count: 10}); p.Total != 0 {
		t.Errorf("ListUsers(externalId eq ext-3) after a conflicting update = %v; want nothing", userNames(p.Users))
	}
}

func testUserNameUniqueByFold(t *testing.T, e *env) {
	e.setup()
	for _, tc := range []struct {
		first, second string
		same          bool
	}{
		{"Alice@X.com", "alice@x.com", true},
		{"bob@example.com", "BOB@EXAMPLE.COM", true},
		{"straße@x.com", "STRASSE@x.com", true},
		{"kate@x.com", "\u212Aate@x.com", true},       // Kelvin sign
		{"jos\u00e9@x.com", "jose\u0301@x.com", true}, // NFC and NFD
		{"ﬁle@x.com", "FILE@x.com", true},             // ligature
		{"istanbul@x.com", "İstanbul@x.com", false},   // dotted capital I folds to i + U+0307
		{"admin@x.com", "admin\u200b@x.com", false},   // zero-width space is not folded away
		{"ext@x.com", "ext@x.co", false},
	} {
		first := e.user(e.a, tc.first)
		_, err := e.s.CreateUser(e.ctx, e.a, store.User{UserName: tc.second})
		call := fmt.Sprintf("CreateUser(%q) after %q", tc.second, tc.first)
		if !tc.same {
			if err != nil {
				t.Errorf("%s = %v; want nil (they differ under store.Fold)", call, err)
			}
			continue
		}
		isConflict(t, err, "userName", tc.second, call)
		// The lookup folds the same way.
		p := e.listUsers(e.a, store.Query{Plan: eq(store.FieldUserName, tc.second), Count: 10})
		if got := userIDs(p.Users); !slices.Equal(got, []string{first.ID}) {
			t.Errorf("ListUsers(userName eq %q) = %v; want [%s]", tc.second, got, first.ID)
		}
	}
}

func testConcurrentCreate(t *testing.T, e *env) {
	e.setup()
	const n = 16
	start := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			// Differently cased, all the same under Fold.
			name := "Racer@X.com"
			if i%2 == 1 {
				name = "racer@x.COM"
			}
			_, err := e.s.CreateUser(e.ctx, e.a, store.User{UserName: name})
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	var ok, conflicts int
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrConflict):
			conflicts++
		default:
			t.Errorf("concurrent CreateUser = %v; want nil or ErrConflict", err)
		}
	}
	if ok != 1 || conflicts != n-1 {
		t.Errorf("%d concurrent CreateUser of one userName: %d succeeded, %d conflicts; want 1 and %d", n, ok, conflicts, n-1)
	}
	if p := e.listUsers(e.a, store.Query{Count: n}); p.Total != 1 || len(p.Users) != 1 {
		t.Errorf("ListUsers() after the race = %v (total %d); want one user", userNames(p.Users), p.Total)
	}
}

func testExternalIDCaseExact(t *testing.T, e *env) {
	e.setup()
	upper := e.user(e.a, "u1", func(u *store.User) { u.ExternalID = "ABC-1" })
	lower := e.user(e.a, "u2", func(u *store.User) { u.ExternalID = "abc-1" })
	same := e.user(e.a, "u3", func(u *store.User) { u.ExternalID = "ABC-1" }) // not unique
	e.user(e.a, "u4")
	gUpper, err := e.s.CreateGroup(e.ctx, e.a, store.Group{DisplayName: "G1", ExternalID: "GRP"}, nil)
	if err != nil {
		t.Fatalf("CreateGroup(G1) = %v", err)
	}
	e.group(e.a, "G2")
	gLower, err := e.s.CreateGroup(e.ctx, e.a, store.Group{DisplayName: "G3", ExternalID: "grp"}, nil)
	if err != nil {
		t.Fatalf("CreateGroup(G3) = %v", err)
	}
	for _, tc := range []struct {
		plan *store.Plan
		want []string
	}{
		{eq(store.FieldExternalID, "ABC-1"), sorted([]string{upper.ID, same.ID})},
		{eq(store.FieldExternalID, "abc-1"), []string{lower.ID}},
		{eq(store.FieldExternalID, "Abc-1"), nil},
		{eq(store.FieldExternalID, "ABC"), nil},
		{sw(store.FieldExternalID, "ABC"), sorted([]string{upper.ID, same.ID})},
		{sw(store.FieldExternalID, "abc"), []string{lower.ID}},
	} {
		if got := userIDs(e.listUsers(e.a, store.Query{Plan: tc.plan, Count: 10}).Users); !slices.Equal(got, tc.want) {
			t.Errorf("ListUsers(%+v) = %v; want %v", tc.plan, got, tc.want)
		}
	}
	for _, tc := range []struct {
		plan *store.Plan
		want []string
	}{
		{eq(store.FieldExternalID, "GRP"), []string{gUpper.ID}},
		{eq(store.FieldExternalID, "grp"), []string{gLower.ID}},
		{eq(store.FieldExternalID, "Grp"), nil},
	} {
		p := e.listGroups(e.a, store.Query{Plan: tc.plan, Count: 10})
		var got []string
		for _, g := range p.Groups {
			got = append(got, g.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("ListGroups(%+v) = %v; want %v", tc.plan, got, tc.want)
		}
	}
}

func testEmails(t *testing.T, e *env) {
	e.setup()
	a := e.user(e.a, "a", func(u *store.User) { u.Emails = []string{"Shared@X.com", "a@x.com", "A@X.COM"} })
	b := e.user(e.a, "b", func(u *store.User) { u.Emails = []string{"shared@x.com"} })
	e.user(e.a, "c")
	for _, tc := range []struct {
		plan *store.Plan
		want []string
	}{
		{eq(store.FieldEmail, "SHARED@x.com"), sorted([]string{a.ID, b.ID})},
		{eq(store.FieldEmail, "a@x.com"), []string{a.ID}},
		{sw(store.FieldEmail, "A@"), []string{a.ID}},
		{sw(store.FieldEmail, "s"), sorted([]string{a.ID, b.ID})},
		{eq(store.FieldEmail, "shared"), nil},
		{eq(store.FieldEmail, ""), nil},
	} {
		if got := userIDs(e.listUsers(e.a, store.Query{Plan: tc.plan, Count: 10}).Users); !slices.Equal(got, tc.want) {
			t.Errorf("ListUsers(%+v) = %v; want %v", tc.plan, got, tc.want)
		}
	}
	// Dropping one of two spellings of the same address keeps it indexed;
	// dropping the last one removes it.
	_, err := e.s.UpdateUser(e.ctx, e.a, a.ID, 0, func(u *store.User) error { u.Emails = []string{"shared@x.com", "a@x.com"}; return nil })
	if err != nil {
		t.Fatalf("UpdateUser(emails) = %v", err)
	}
	if got := userIDs(e.listUsers(e.a, store.Query{Plan: eq(store.FieldEmail, "a@x.com"), Count: 10}).Users); !slices.Equal(got, []string{a.ID}) {
		t.Errorf("ListUsers(email eq a@x.com) after dropping A@X.COM = %v; want [%s]", got, a.ID)
	}
	_, err = e.s.UpdateUser(e.ctx, e.a, a.ID, 0, func(u *store.User) error { u.Emails = nil; return nil })
	if err != nil {
		t.Fatalf("UpdateUser(no emails) = %v", err)
	}
	if got := userIDs(e.listUsers(e.a, store.Query{Plan: sw(store.FieldEmail, ""), Count: 10}).Users); !slices.Equal(got, []string{b.ID}) {
		t.Errorf("ListUsers(email sw \"\") after dropping a's emails = %v; want [%s]", got, b.ID)
	}
}
