package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// title is a Match on the "title" attribute, as a filter evaluator would do.
func title(want string) func(r store.Record) bool {
	return func(r store.Record) bool {
		var doc struct{ Title string }
		return json.Unmarshal(r.Attributes, &doc) == nil && doc.Title == want
	}
}

// attr is a SortKey on a string attribute.
func attr(name string) func(r store.Record) string {
	return func(r store.Record) string {
		var doc map[string]any
		_ = json.Unmarshal(r.Attributes, &doc)
		s, _ := doc[name].(string)
		return s
	}
}

func testUserPlans(t *testing.T, e *env) {
	e.setup()
	const n = 500
	users := make([]store.User, n)
	for i := range n {
		users[i] = e.user(e.a, fmt.Sprintf("user%03d@example.com", i), func(u *store.User) {
			u.ExternalID = fmt.Sprintf("EXT-%03d", i)
			u.Emails = []string{u.UserName, fmt.Sprintf("u%03d@alt.example.org", i)}
			u.Attributes = fmt.Appendf(nil, `{"userName":%q,"title":%q}`, u.UserName, []string{"Eng", "Ops"}[i%2])
		})
	}
	e.user(e.b, "user042@example.com", func(u *store.User) { u.ExternalID = "EXT-042" }) // never found from acme/okta
	// want returns the ids of the users whose index satisfies keep, in id order.
	want := func(keep func(i int) bool) []string {
		var ids []string
		for i, u := range users {
			if keep(i) {
				ids = append(ids, u.ID)
			}
		}
		return sorted(ids)
	}
	in := func(lo, hi int) func(int) bool { return func(i int) bool { return lo <= i && i <= hi } }
	one := func(j int) func(int) bool { return func(i int) bool { return i == j } }
	none := func(int) bool { return false }

	for _, tc := range []struct {
		plan *store.Plan
		keep func(int) bool
	}{
		{eq(store.FieldUserName, "USER042@EXAMPLE.COM"), one(42)},
		{eq(store.FieldUserName, "nobody@example.com"), none},
		{eq(store.FieldUserName, "user04"), none},
		{sw(store.FieldUserName, "user04"), in(40, 49)},
		{sw(store.FieldUserName, "USER04"), in(40, 49)},
		{sw(store.FieldUserName, "user0"), in(0, 99)},
		{eq(store.FieldExternalID, "EXT-042"), one(42)},
		{eq(store.FieldExternalID, "ext-042"), none},
		{sw(store.FieldExternalID, "EXT-04"), in(40, 49)},
		{eq(store.FieldEmail, "U042@ALT.example.org"), one(42)},
		{eq(store.FieldEmail, "user042@example.com"), one(42)},
		{sw(store.FieldEmail, "user04"), in(40, 49)},
		{sw(store.FieldEmail, "U"), in(0, n-1)}, // two emails each, one result each
		{eq(store.FieldID, users[42].ID), one(42)},
		{eq(store.FieldID, strings.ToUpper(users[42].ID)), none}, // ids are case-exact
		{eq(store.FieldID, "nope"), none},
		{and(sw(store.FieldUserName, "user04"), eq(store.FieldExternalID, "EXT-042")), one(42)},
		{and(sw(store.FieldUserName, "user0"), sw(store.FieldEmail, "user00")), in(0, 9)},
		{and(eq(store.FieldUserName, "user001@example.com"), eq(store.FieldUserName, "user002@example.com")), none},
		{or(eq(store.FieldUserName, "user001@example.com"), eq(store.FieldExternalID, "EXT-002"), eq(store.FieldEmail, "u003@alt.example.org")), in(1, 3)},
		{or(sw(store.FieldUserName, "user00"), eq(store.FieldExternalID, "EXT-005")), in(0, 9)},
		{and(or(eq(store.FieldUserName, "user001@example.com"), eq(store.FieldUserName, "user002@example.com")), sw(store.FieldExternalID, "EXT-00")), in(1, 2)},
		{or(), none},
	} {
		p := e.listUsers(e.a, store.Query{Plan: tc.plan, Count: n})
		w := want(tc.keep)
		if got := userIDs(p.Users); !slices.Equal(got, w) || p.Total != len(w) {
			t.Errorf("ListUsers(%s) = %d users (total %d); want %d", planString(tc.plan), len(got), p.Total, len(w))
			continue
		}
		// The indexes alone chose the candidates: no more records read than
		// there are results.
		if p.Examined > len(w) {
			t.Errorf("ListUsers(%s): Examined = %d; want at most %d (index lookups, not a scan)", planString(tc.plan), p.Examined, len(w))
		}
	}
	p := e.listUsers(e.a, store.Query{Plan: eq(store.FieldUserName, "user042@example.com"), Count: 10})
	if p.Examined != 1 {
		t.Errorf("ListUsers(userName eq user042) over %d users: Examined = %d; want 1", n, p.Examined)
	}
	if len(p.Users) == 1 {
		if d := diff(users[42], p.Users[0]); d != "" {
			t.Errorf("ListUsers(userName eq user042) mismatch (-want +got):\n%s", d)
		}
	}

	// Match applies on top of the candidates, and reads only them.
	q := store.Query{Plan: sw(store.FieldUserName, "user04"), Match: title("Eng"), Count: 10}
	p = e.listUsers(e.a, q)
	if w := want(func(i int) bool { return in(40, 49)(i) && i%2 == 0 }); !slices.Equal(userIDs(p.Users), w) || p.Total != 5 {
		t.Errorf("ListUsers(userName sw user04, title Eng) = %v (total %d); want %v", userNames(p.Users), p.Total, w)
	}
	if p.Examined > 10 {
		t.Errorf("ListUsers(userName sw user04, title Eng): Examined = %d; want at most 10", p.Examined)
	}
	// So do SortKey and paging.
	q = store.Query{Plan: sw(store.FieldUserName, "user04"), SortKey: attr("userName"), Desc: true, StartIndex: 2, Count: 3}
	p = e.listUsers(e.a, q)
	if got, w := userNames(p.Users), []string{"user048@example.com", "user047@example.com", "user046@example.com"}; !slices.Equal(got, w) || p.Total != 10 {
		t.Errorf("ListUsers(userName sw user04, by userName desc, 2..4) = %v (total %d); want %v (total 10)", got, p.Total, w)
	}
	q = store.Query{Plan: sw(store.FieldUserName, "user0"), StartIndex: 11, Count: 10}
	p = e.listUsers(e.a, q)
	if got, w := userIDs(p.Users), want(in(0, 99))[10:20]; !slices.Equal(got, w) || p.Total != 100 {
		t.Errorf("ListUsers(userName sw user0, 11..20) = %v (total %d); want %v (total 100)", got, p.Total, w)
	}
	// Without a plan, Match reads every record.
	p = e.listUsers(e.a, store.Query{Match: title("Ops"), Count: 1})
	if p.Total != n/2 || len(p.Users) != 1 {
		t.Errorf("ListUsers(title Ops) = %d users (total %d); want 1 (total %d)", len(p.Users), p.Total, n/2)
	}
}

func planString(p *store.Plan) string {
	if p == nil {
		return "<all>"
	}
	switch p.Op {
	case store.PlanAnd, store.PlanOr:
		op := map[store.PlanOp]string{store.PlanAnd: " and ", store.PlanOr: " or "}[p.Op]
		parts := make([]string, len(p.Subs))
		for i, s := range p.Subs {
			parts[i] = planString(s)
		}
		return "(" + strings.Join(parts, op) + ")"
	}
	op := "eq"
	if p.Prefix {
		op = "sw"
	}
	return fmt.Sprintf("%s %s %q", p.Field, op, p.Value)
}

func testGroupPlans(t *testing.T, e *env) {
	e.setup()
	const n = 30
	groups := make([]store.Group, n)
	for i := range n {
		g, err := e.s.CreateGroup(e.ctx, e.a, store.Group{DisplayName: fmt.Sprintf("Team %02d", i), ExternalID: fmt.Sprintf("gx-%02d", i)}, nil)
		if err != nil {
			t.Fatalf("CreateGroup(Team %02d) = %v", i, err)
		}
		groups[i] = g
	}
	e.group(e.b, "Team 07")
	want := func(keep func(i int) bool) []string {
		var ids []string
		for i, g := range groups {
			if keep(i) {
				ids = append(ids, g.ID)
			}
		}
		return sorted(ids)
	}
	for _, tc := range []struct {
		plan *store.Plan
		keep func(int) bool
	}{
		{eq(store.FieldDisplayName, "TEAM 07"), func(i int) bool { return i == 7 }},
		{eq(store.FieldDisplayName, "Team 7"), func(int) bool { return false }},
		{sw(store.FieldDisplayName, "team 1"), func(i int) bool { return i >= 10 && i <= 19 }},
		{eq(store.FieldExternalID, "gx-07"), func(i int) bool { return i == 7 }},
		{eq(store.FieldExternalID, "GX-07"), func(int) bool { return false }},
		{sw(store.FieldExternalID, "gx-2"), func(i int) bool { return i >= 20 }},
		{eq(store.FieldID, groups[3].ID), func(i int) bool { return i == 3 }},
		{or(eq(store.FieldDisplayName, "team 01"), eq(store.FieldExternalID, "gx-02")), func(i int) bool { return i == 1 || i == 2 }},
		{and(sw(store.FieldDisplayName, "team 1"), sw(store.FieldExternalID, "gx-15")), func(i int) bool { return i == 15 }},
	} {
		p := e.listGroups(e.a, store.Query{Plan: tc.plan, Count: n})
		var got []string
		for _, g := range p.Groups {
			got = append(got, g.ID)
		}
		w := want(tc.keep)
		if !slices.Equal(got, w) || p.Total != len(w) || p.Examined > len(w) {
			t.Errorf("ListGroups(%s) = %d groups (total %d, examined %d); want %d", planString(tc.plan), len(got), p.Total, p.Examined, len(w))
		}
	}
}

func testMatchSortPaging(t *testing.T, e *env) {
	e.setup()
	const n = 12
	var users []store.User
	for i := 1; i <= n; i++ {
		users = append(users, e.user(e.a, fmt.Sprintf("p%02d", i), func(u *store.User) {
			u.Attributes = fmt.Appendf(nil, `{"userName":"p%02d","rank":"r%02d","title":%q}`, i, n+1-i, []string{"Eng", "Ops"}[i%2])
		}))
	}
	byID := sorted(userIDs(users))
	nameOf := map[string]string{}
	for _, u := range users {
		nameOf[u.ID] = u.UserName
	}
	names := func(ids []string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = nameOf[id]
		}
		return out
	}
	var engByID []string // even numbers (last digit) have title Eng
	for _, id := range byID {
		if n := nameOf[id]; (n[2]-'0')%2 == 0 {
			engByID = append(engByID, id)
		}
	}
	for _, tc := range []struct {
		name  string
		q     store.Query
		want  []string // userNames in order
		total int
	}{
		{"all", store.Query{Count: 100}, names(byID), n},
		{"count 0", store.Query{Count: 0}, nil, n},
		{"count -1", store.Query{Count: -1}, nil, n},
		{"start 0", store.Query{StartIndex: 0, Count: 3}, names(byID[:3]), n},
		{"start -5", store.Query{StartIndex: -5, Count: 3}, names(byID[:3]), n},
		{"start 5", store.Query{StartIndex: 5, Count: 3}, names(byID[4:7]), n},
		{"last page", store.Query{StartIndex: 12, Count: 5}, names(byID[11:]), n},
		{"past the end", store.Query{StartIndex: 13, Count: 5}, nil, n},
		{"match", store.Query{Match: title("Eng"), Count: 100}, names(engByID), 6},
		{"match paged", store.Query{Match: title("Eng"), StartIndex: 2, Count: 2}, names(engByID[1:3]), 6},
		{"match count 0", store.Query{Match: title("Eng")}, nil, 6},
		{"match none", store.Query{Match: func(store.Record) bool { return false }, Count: 100}, nil, 0},
		{"sort", store.Query{SortKey: attr("userName"), Count: 100},
			[]string{"p01", "p02", "p03", "p04", "p05", "p06", "p07", "p08", "p09", "p10", "p11", "p12"}, n},
		{"sort desc", store.Query{SortKey: attr("userName"), Desc: true, Count: 100},
			[]string{"p12", "p11", "p10", "p09", "p08", "p07", "p06", "p05", "p04", "p03", "p02", "p01"}, n},
		{"sort desc paged", store.Query{SortKey: attr("userName"), Desc: true, StartIndex: 3, Count: 4},
			[]string{"p10", "p09", "p08", "p07"}, n},
		{"sort by rank", store.Query{SortKey: attr("rank"), Count: 3}, []string{"p12", "p11", "p10"}, n},
		{"sort ties by id", store.Query{SortKey: attr("missing"), Count: 100}, names(byID), n},
		{"sort ties by id desc", store.Query{SortKey: attr("missing"), Desc: true, Count: 100}, names(reversed(byID)), n},
		{"sort and match", store.Query{SortKey: attr("userName"), Desc: true, Match: title("Eng"), Count: 100},
			[]string{"p12", "p10", "p08", "p06", "p04", "p02"}, 6},
		{"sort past the end", store.Query{SortKey: attr("userName"), StartIndex: 20, Count: 100}, nil, n},
		{"huge count", store.Query{Count: math.MaxInt}, names(byID), n},
		{"huge count sorted", store.Query{SortKey: attr("missing"), Count: math.MaxInt}, names(byID), n},
		{"huge count matched", store.Query{Match: title("Eng"), Count: math.MaxInt}, names(engByID), 6},
		{"huge start", store.Query{StartIndex: math.MaxInt, Count: math.MaxInt}, nil, n},
		{"huge start sorted", store.Query{SortKey: attr("userName"), StartIndex: math.MaxInt, Count: math.MaxInt}, nil, n},
		{"huge start matched", store.Query{Match: title("Eng"), StartIndex: math.MaxInt, Count: math.MaxInt}, nil, 6},
	} {
		p := e.listUsers(e.a, tc.q)
		if got := userNames(p.Users); !slices.Equal(got, tc.want) || p.Total != tc.total {
			t.Errorf("ListUsers(%s) = %v (total %d); want %v (total %d)", tc.name, got, p.Total, tc.want, tc.total)
		}
	}

	// Pages of an unsorted listing are stable and cover everything once.
	var paged []string
	for start := 1; start <= n; start += 5 {
		paged = append(paged, userIDs(e.listUsers(e.a, store.Query{StartIndex: start, Count: 5}).Users)...)
	}
	if !slices.Equal(paged, byID) {
		t.Errorf("ListUsers() in pages of 5 = %v; want %v", names(paged), names(byID))
	}

	// Match and SortKey see the stored record.
	var seen []store.Record
	e.listUsers(e.a, store.Query{Plan: eq(store.FieldID, users[0].ID), Match: func(r store.Record) bool {
		r.Attributes = bytes.Clone(r.Attributes)
		seen = append(seen, r)
		return true
	}, Count: 1})
	want := []store.Record{{ID: users[0].ID, Attributes: users[0].Attributes, Version: 1, Created: users[0].Created, Modified: users[0].Modified}}
	if d := diff(want, seen); d != "" {
		t.Errorf("Match saw (-want +got):\n%s", d)
	}

	// The total follows deletes.
	for _, u := range users[:2] {
		if err := e.s.DeleteUser(e.ctx, e.a, u.ID, 0); err != nil {
			t.Fatalf("DeleteUser() = %v", err)
		}
	}
	if p := e.listUsers(e.a, store.Query{}); p.Total != n-2 || len(p.Users) != 0 {
		t.Errorf("ListUsers(count 0) after 2 deletes = %d users (total %d); want none (total %d)", len(p.Users), p.Total, n-2)
	}

	// Groups page and sort the same way.
	var gs []store.Group
	for _, name := range []string{"b", "d", "a", "e", "c"} {
		gs = append(gs, e.group(e.a, name, users[5].ID))
	}
	for _, tc := range []struct {
		name  string
		q     store.Query
		want  []string
		total int
	}{
		{"sort", store.Query{SortKey: attr("displayName"), Count: 10}, []string{"a", "b", "c", "d", "e"}, 5},
		{"sort desc paged", store.Query{SortKey: attr("displayName"), Desc: true, StartIndex: 2, Count: 2}, []string{"d", "c"}, 5},
		{"count 0", store.Query{}, nil, 5},
		{"match", store.Query{Match: func(r store.Record) bool { return r.ID == gs[1].ID || r.ID == gs[3].ID }, SortKey: attr("displayName"), Count: 10}, []string{"d", "e"}, 2},
	} {
		p := e.listGroups(e.a, tc.q)
		if got := groupNames(p.Groups); !slices.Equal(got, tc.want) || p.Total != tc.total {
			t.Errorf("ListGroups(%s) = %v (total %d); want %v (total %d)", tc.name, got, p.Total, tc.want, tc.total)
		}
	}
	if p := e.listGroups(e.a, store.Query{Plan: eq(store.FieldDisplayName, "A"), Count: 1}); len(p.Groups) != 1 || p.Groups[0].MemberCount != 1 {
		t.Errorf("ListGroups(displayName eq A) = %+v; want group a with 1 member", p.Groups)
	}
}

func reversed(s []string) []string {
	s = slices.Clone(s)
	slices.Reverse(s)
	return s
}

func testWithGroups(t *testing.T, e *env) {
	e.setup()
	a, b, c := e.user(e.a, "a"), e.user(e.a, "b"), e.user(e.a, "c")
	e.group(e.a, "G1", a.ID)
	e.group(e.a, "G2", a.ID, b.ID)
	for _, plan := range []*store.Plan{nil, or(eq(store.FieldID, a.ID), eq(store.FieldID, b.ID), eq(store.FieldID, c.ID))} {
		for _, with := range []bool{false, true} {
			p := e.listUsers(e.a, store.Query{Plan: plan, Count: 10, WithGroups: with})
			if len(p.Users) != 3 {
				t.Fatalf("ListUsers(%s) = %d users; want 3", planString(plan), len(p.Users))
			}
			for _, u := range p.Users {
				var want []store.GroupRef
				if with {
					want = e.getUser(e.a, u.ID).Groups
				}
				if d := diff(want, u.Groups); d != "" {
					t.Errorf("ListUsers(%s, WithGroups %v): groups of %s mismatch (-want +got):\n%s", planString(plan), with, u.UserName, d)
				}
			}
		}
	}
}

func testGroupMembersChunks(t *testing.T, e *env) {
	e.setup()
	const n = 25
	var ids []string
	for i := range n {
		ids = append(ids, e.user(e.a, fmt.Sprintf("m%02d", i), func(u *store.User) { u.DisplayName = fmt.Sprintf("Person %02d", i) }).ID)
	}
	// CreateGroup adds its members in id order.
	g := e.group(e.a, "Big", ids...)
	e.group(e.a, "Other", ids[:3]...)
	ids = sorted(ids)
	refs := func(got []store.MemberRef) []string {
		out := make([]string, len(got))
		for i, r := range got {
			out[i] = r.ID + " " + r.DisplayName
		}
		return out
	}
	names := func(ids []string) []string {
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = id + " " + e.getUser(e.a, id).DisplayName
		}
		return out
	}
	get := func(after uint64, limit int) []store.MemberRef {
		t.Helper()
		got, err := e.s.GroupMembers(e.ctx, e.a, g.ID, after, limit)
		if err != nil {
			t.Fatalf("GroupMembers(%d, %d) = %v", after, limit, err)
		}
		return got
	}
	chunks := func() []store.MemberRef {
		t.Helper()
		var all []store.MemberRef
		var after uint64
		for {
			got := get(after, 10)
			for _, r := range got {
				if r.Pos <= after {
					t.Fatalf("GroupMembers(after %d, 10): %s at position %d; want growing positions", after, r.ID, r.Pos)
				}
				after = r.Pos
			}
			all = append(all, got...)
			if len(got) < 10 {
				return all
			}
		}
	}
	all := chunks()
	if d := diff(names(ids), refs(all)); d != "" {
		t.Errorf("GroupMembers in chunks of 10 mismatch (-want +got):\n%s", d)
	}
	if got := get(0, 0); len(got) != 0 {
		t.Errorf("GroupMembers(limit 0) = %v; want none", got)
	}
	if got := get(all[n-1].Pos, 10); len(got) != 0 {
		t.Errorf("GroupMembers(after the last) = %v; want none", got)
	}
	if got := get(^uint64(0), 10); len(got) != 0 {
		t.Errorf("GroupMembers(after the largest position) = %v; want none", got)
	}
	// A member removed between two chunks does not lose the reader's place.
	e.change(e.a, g.ID, store.MemberChange{Remove: []string{ids[5]}})
	if d := diff(names(ids[6:9]), refs(get(all[5].Pos, 3))); d != "" {
		t.Errorf("GroupMembers(after a removed member's position) mismatch (-want +got):\n%s", d)
	}
	// Members added later come last, whatever their ids: a user created
	// after the others, then one removed and added again.
	late := e.user(e.a, "late", func(u *store.User) { u.DisplayName = "Late" })
	e.change(e.a, g.ID, store.MemberChange{Add: []string{late.ID}})
	e.change(e.a, g.ID, store.MemberChange{Add: []string{ids[5]}})
	e.change(e.a, g.ID, store.MemberChange{Remove: []string{ids[0]}})
	e.change(e.a, g.ID, store.MemberChange{Add: []string{ids[0]}})
	var want []string
	want = append(want, ids[1:5]...)
	want = append(want, ids[6:]...)
	want = append(want, late.ID, ids[5], ids[0])
	if d := diff(names(want), refs(chunks())); d != "" {
		t.Errorf("GroupMembers after removals and adds mismatch (-want +got):\n%s", d)
	}
	// Display names are the users' current ones.
	if _, err := e.s.UpdateUser(e.ctx, e.a, ids[1], 0, func(u *store.User) error { u.DisplayName = "Renamed"; return nil }); err != nil {
		t.Fatalf("UpdateUser() = %v", err)
	}
	if got := get(0, 1); len(got) != 1 || got[0].DisplayName != "Renamed" {
		t.Errorf("GroupMembers(0, 1) after renaming the first member = %v; want display name Renamed", got)
	}
}

func testContextDone(t *testing.T, e *env) {
	e.setup()
	u := e.user(e.a, "a")
	g := e.group(e.a, "G")
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	calls := map[string]func() error{
		"CreateOrg": func() error { _, err := e.s.CreateOrg(ctx, "new"); return err },
		"Orgs":      func() error { _, err := e.s.Orgs(ctx); return err },
		"CreateDirectory": func() error {
			_, err := e.s.CreateDirectory(ctx, store.Directory{Org: "acme", Name: "new"})
			return err
		},
		"Directory":   func() error { _, err := e.s.Directory(ctx, e.a); return err },
		"Directories": func() error { _, err := e.s.Directories(ctx, "acme"); return err },
		"CreateToken": func() error {
			return e.s.CreateToken(ctx, store.Token{ID: "t", Kind: store.TokenSuper, Hash: hash("t"), Created: time.Now()})
		},
		"TokenByHash": func() error { _, err := e.s.TokenByHash(ctx, hash("t")); return err },
		"Tokens":      func() error { _, err := e.s.Tokens(ctx, "acme"); return err },
		"DeleteToken": func() error { return e.s.DeleteToken(ctx, "t") },
		"CreateUser":  func() error { _, err := e.s.CreateUser(ctx, e.a, store.User{UserName: "new"}); return err },
		"User":        func() error { _, err := e.s.User(ctx, e.a, u.ID); return err },
		"UpdateUser": func() error {
			_, err := e.s.UpdateUser(ctx, e.a, u.ID, 0, func(u *store.User) error { u.DisplayName = "x"; return nil })
			return err
		},
		"DeleteUser":  func() error { return e.s.DeleteUser(ctx, e.a, u.ID, 0) },
		"ListUsers":   func() error { _, err := e.s.ListUsers(ctx, e.a, store.Query{Count: 10}); return err },
		"CreateGroup": func() error { _, err := e.s.CreateGroup(ctx, e.a, store.Group{DisplayName: "new"}, nil); return err },
		"Group":       func() error { _, err := e.s.Group(ctx, e.a, g.ID); return err },
		"UpdateGroup": func() error {
			_, err := e.s.UpdateGroup(ctx, e.a, g.ID, 0, func(*store.Group, store.Members) (store.MemberChange, error) {
				return store.MemberChange{Add: []string{u.ID}}, nil
			})
			return err
		},
		"DeleteGroup":  func() error { return e.s.DeleteGroup(ctx, e.a, g.ID, 0) },
		"ListGroups":   func() error { _, err := e.s.ListGroups(ctx, e.a, store.Query{Count: 10}); return err },
		"GroupMembers": func() error { _, err := e.s.GroupMembers(ctx, e.a, g.ID, 0, 10); return err },
		"Events":       func() error { _, err := e.s.Events(ctx, "acme", store.EventQuery{}); return err },
		"PruneEvents": func() error {
			_, err := e.s.PruneEvents(ctx, "acme", time.Now().Add(time.Hour), math.MaxUint64)
			return err
		},
	}
	if w, ok := e.s.(store.EventWaiter); ok {
		calls["WaitEvents"] = func() error { _, err := w.WaitEvents(ctx, "acme", 0); return err }
	}
	last := e.last("acme")
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s(canceled context) = %v; want an error wrapping context.Canceled", name, err)
		}
	}
	// Nothing was written.
	if got := e.getUser(e.a, u.ID); got.Version != 1 || got.DisplayName != u.DisplayName {
		t.Errorf("User() after canceled writes = v%d %q; want v1 %q", got.Version, got.DisplayName, u.DisplayName)
	}
	if got := e.getGroup(e.a, g.ID); got.Version != 1 || got.MemberCount != 0 {
		t.Errorf("Group() after canceled writes = v%d with %d members; want v1 with 0", got.Version, got.MemberCount)
	}
	if p := e.listUsers(e.a, store.Query{}); p.Total != 1 {
		t.Errorf("ListUsers() after canceled writes: total %d; want 1", p.Total)
	}
	if _, err := e.s.TokenByHash(e.ctx, hash("t")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TokenByHash() after a canceled CreateToken = %v; want ErrNotFound", err)
	}
	if got := e.since("acme", 0); uint64(len(got)) != last {
		t.Errorf("acme has %d events after canceled writes; want %d (none appended, none pruned)", len(got), last)
	}
}

func testReturnedBytesAreOwned(t *testing.T, e *env) {
	e.setup()
	attrs := []byte(`{"userName":"alice","title":"Original"}`)
	u := e.user(e.a, "alice", func(u *store.User) { u.Attributes = bytes.Clone(attrs); u.Emails = []string{"a@x.com"} })
	// Changing what a call returned changes nothing stored.
	u.Attributes[2] = 'X'
	u.Emails[0] = "changed@x.com"
	read := e.getUser(e.a, u.ID)
	if !bytes.Equal(read.Attributes, attrs) || read.Emails[0] != "a@x.com" {
		t.Errorf("User() after changing CreateUser's result = %s %v; want %s [a@x.com]", read.Attributes, read.Emails, attrs)
	}
	read.Attributes[2] = 'Y'
	listed := e.listUsers(e.a, store.Query{Count: 1}).Users[0]
	if !bytes.Equal(listed.Attributes, attrs) {
		t.Errorf("ListUsers() after changing User's result = %s; want %s", listed.Attributes, attrs)
	}
	tok := store.Token{ID: "t", Kind: store.TokenSuper, Hash: hash("t"), Created: time.Now()}
	if err := e.s.CreateToken(e.ctx, tok); err != nil {
		t.Fatalf("CreateToken() = %v", err)
	}
	got, err := e.s.TokenByHash(e.ctx, hash("t"))
	if err != nil {
		t.Fatalf("TokenByHash() = %v", err)
	}
	got.Hash[0] ^= 0xff

	// What a read returned stays valid after the transaction and after
	// many writes have reused and grown the storage.
	kept := e.getUser(e.a, u.ID)
	keptList := e.listUsers(e.a, store.Query{Count: 1}).Users[0]
	big := `{"pad":"` + strings.Repeat("x", 4000) + `"}`
	for i := range 200 {
		e.user(e.a, fmt.Sprintf("filler%03d", i), func(u *store.User) { u.Attributes = []byte(big) })
	}
	if _, err := e.s.UpdateUser(e.ctx, e.a, u.ID, 0, func(u *store.User) error {
		u.Attributes = []byte(`{"userName":"alice","title":"Changed"}`)
		return nil
	}); err != nil {
		t.Fatalf("UpdateUser() = %v", err)
	}
	if !bytes.Equal(kept.Attributes, attrs) || !bytes.Equal(keptList.Attributes, attrs) {
		t.Errorf("earlier results changed under later writes: %s, %s; want %s", kept.Attributes, keptList.Attributes, attrs)
	}
	if _, err := e.s.TokenByHash(e.ctx, hash("t")); err != nil {
		t.Errorf("TokenByHash() after changing a returned hash = %v", err)
	}
}
