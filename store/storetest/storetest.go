// Package storetest is the conformance suite of store.Store: every backend's
// test file calls Run, and a backend is done when Run passes. The suite
// checks the contract of package store (atomicity, uniqueness by
// store.Fold, versions, memberships, directory isolation, index plans,
// listings, tokens, and the outbox: the events of every write, their data
// and changes, gap-free sequences, pruning and cursors) through the Store
// interface only; it never looks at a backend's files or tables. The store
// under test must use the real clock (events are pruned by time).
package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/scimbridge/scimbridge/store"
)

// Run runs the suite. open is called once per subtest and must return an
// empty store (no org); Run closes it when the subtest ends. Subtests run
// one after another; some of them use the store from many goroutines.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Orgs", testOrgs},
		{"Directories", testDirectories},
		{"Tokens", testTokens},
		{"TokenTouch", testTokenTouch},
		{"TokenRotate", testTokenRotate},
		{"TokenRotateAtomic", testTokenRotateAtomic},
		{"TokenExpiring", testTokenExpiring},
		{"UserCRUD", testUserCRUD},
		{"UpdateUser", testUpdateUser},
		{"UserNameUniqueByFold", testUserNameUniqueByFold},
		{"ConcurrentCreateSameUserName", testConcurrentCreate},
		{"ConcurrentMixedWrites", testConcurrentMixedWrites},
		{"ExternalIDCaseExact", testExternalIDCaseExact},
		{"Emails", testEmails},
		{"GroupCRUD", testGroupCRUD},
		{"DisplayNameUniqueByFold", testDisplayNameUniqueByFold},
		{"VersionMismatch", testVersionMismatch},
		{"Members", testMembers},
		{"ConcurrentMemberAdds", testConcurrentMemberAdds},
		{"MembersInCallback", testMembersInCallback},
		{"InvalidMembers", testInvalidMembers},
		{"DeleteUserCascade", testDeleteUserCascade},
		{"DeleteGroupCascade", testDeleteGroupCascade},
		{"DirectoryIsolation", testDirectoryIsolation},
		{"UserPlans", testUserPlans},
		{"GroupPlans", testGroupPlans},
		{"MatchSortPaging", testMatchSortPaging},
		{"WithGroups", testWithGroups},
		{"GroupMembersChunks", testGroupMembersChunks},
		{"ContextDone", testContextDone},
		{"ReturnedBytesAreOwned", testReturnedBytesAreOwned},
		{"ActorContext", testActorContext},
		{"EventsTenancy", testEventsTenancy},
		{"EventsUsers", testEventsUsers},
		{"EventsGroups", testEventsGroups},
		{"EventsSequence", testEventsSequence},
		{"EventsAtomic", testEventsAtomic},
		{"EventsPaging", testEventsPaging},
		{"EventsPrune", testEventsPrune},
		{"EventsConcurrent", testEventsConcurrent},
		{"EventsWait", testEventsWait},
		{"RulesPublish", testRulesPublish},
		{"RulesDrafts", testRulesDrafts},
		{"RulesDraftsBounded", testRulesDraftsBounded},
		{"RulesGuards", testRulesGuards},
		{"RulesSimulateReadOnly", testRulesSimulateReadOnly},
		{"AccessRecompute", testAccessRecompute},
		{"AccessIndex", testAccessIndex},
		{"AccessEvents", testAccessEvents},
		{"AccessIsolation", testAccessIsolation},
		{"AccessAtomic", testAccessAtomic},
		{"AccessOrgAdminMissing", testAccessOrgAdminMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close() = %v", err)
				}
			})
			tc.fn(t, newEnv(t, s))
		})
	}
}

// env is a store with org acme (directories okta and entra) and org globex
// (a directory also named okta), so that isolation is tested by default.
type env struct {
	t   *testing.T
	s   store.Store
	ctx context.Context
	a   store.DirKey // acme/okta: where most tests work
	b   store.DirKey // acme/entra: same org, other directory
	c   store.DirKey // globex/okta: other org, same directory name
}

func newEnv(t *testing.T, s store.Store) *env {
	t.Helper()
	e := &env{t: t, s: s, ctx: t.Context(),
		a: store.DirKey{Org: "acme", Directory: "okta"},
		b: store.DirKey{Org: "acme", Directory: "entra"},
		c: store.DirKey{Org: "globex", Directory: "okta"},
	}
	return e
}

// setup creates the orgs and directories of e.
func (e *env) setup() {
	e.t.Helper()
	for _, org := range []string{"acme", "globex"} {
		if _, err := e.s.CreateOrg(e.ctx, org); err != nil {
			e.t.Fatalf("CreateOrg(%q) = %v", org, err)
		}
	}
	for _, k := range []store.DirKey{e.a, e.b, e.c} {
		if _, err := e.s.CreateDirectory(e.ctx, store.Directory{Org: k.Org, Name: k.Directory, Profile: "generic"}); err != nil {
			e.t.Fatalf("CreateDirectory(%v) = %v", k, err)
		}
	}
}

// user creates a user in dir.
func (e *env) user(dir store.DirKey, userName string, mods ...func(u *store.User)) store.User {
	e.t.Helper()
	u := store.User{UserName: userName, DisplayName: "Name of " + userName, Active: true, Attributes: []byte(`{"userName":"` + userName + `"}`)}
	for _, m := range mods {
		m(&u)
	}
	got, err := e.s.CreateUser(e.ctx, dir, u)
	if err != nil {
		e.t.Fatalf("CreateUser(%v, %q) = %v", dir, userName, err)
	}
	return got
}

// getUser reads a user that must exist.
func (e *env) getUser(dir store.DirKey, id string) store.User {
	e.t.Helper()
	u, err := e.s.User(e.ctx, dir, id)
	if err != nil {
		e.t.Fatalf("User(%v, %s) = %v", dir, id, err)
	}
	return u
}

// group creates a group in dir with members.
func (e *env) group(dir store.DirKey, name string, members ...string) store.Group {
	e.t.Helper()
	g, err := e.s.CreateGroup(e.ctx, dir, store.Group{DisplayName: name, Attributes: []byte(`{"displayName":"` + name + `"}`)}, members)
	if err != nil {
		e.t.Fatalf("CreateGroup(%v, %q, %v) = %v", dir, name, members, err)
	}
	return g
}

func (e *env) getGroup(dir store.DirKey, id string) store.Group {
	e.t.Helper()
	g, err := e.s.Group(e.ctx, dir, id)
	if err != nil {
		e.t.Fatalf("Group(%v, %s) = %v", dir, id, err)
	}
	return g
}

// change applies a membership change (and nothing else) to a group.
func (e *env) change(dir store.DirKey, gid string, c store.MemberChange) store.Group {
	e.t.Helper()
	g, err := e.s.UpdateGroup(e.ctx, dir, gid, 0, func(*store.Group, store.Members) (store.MemberChange, error) { return c, nil })
	if err != nil {
		e.t.Fatalf("UpdateGroup(%v, %s, %+v) = %v", dir, gid, c, err)
	}
	return g
}

// members lists every member id of a group through GroupMembers, in id
// order (GroupMembers lists them in the order they were added), checking
// that positions only grow.
func (e *env) members(dir store.DirKey, gid string) []string {
	e.t.Helper()
	var ids []string
	var after uint64
	for {
		refs, err := e.s.GroupMembers(e.ctx, dir, gid, after, 100)
		if err != nil {
			e.t.Fatalf("GroupMembers(%v, %s, %d, 100) = %v", dir, gid, after, err)
		}
		for _, r := range refs {
			if r.Pos <= after {
				e.t.Fatalf("GroupMembers(%v, %s, %d, 100): member %s at position %d; want positions above %d, growing", dir, gid, after, r.ID, r.Pos, after)
			}
			after = r.Pos
			ids = append(ids, r.ID)
		}
		if len(refs) < 100 {
			return sorted(ids)
		}
	}
}

// listUsers runs a query that must succeed.
func (e *env) listUsers(dir store.DirKey, q store.Query) store.UserPage {
	e.t.Helper()
	p, err := e.s.ListUsers(e.ctx, dir, q)
	if err != nil {
		e.t.Fatalf("ListUsers(%v, %+v) = %v", dir, q, err)
	}
	return p
}

func (e *env) listGroups(dir store.DirKey, q store.Query) store.GroupPage {
	e.t.Helper()
	p, err := e.s.ListGroups(e.ctx, dir, q)
	if err != nil {
		e.t.Fatalf("ListGroups(%v, %+v) = %v", dir, q, err)
	}
	return p
}

// userNames returns the userNames of a page, in page order.
func userNames(us []store.User) []string {
	names := make([]string, len(us))
	for i, u := range us {
		names[i] = u.UserName
	}
	return names
}

func userIDs(us []store.User) []string {
	ids := make([]string, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	return ids
}

func groupNames(gs []store.Group) []string {
	names := make([]string, len(gs))
	for i, g := range gs {
		names[i] = g.DisplayName
	}
	return names
}

// sorted returns a sorted copy.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// isErr fails the test unless errors.Is(err, target).
func isErr(t *testing.T, err, target error, call string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s = %v; want an error wrapping %v", call, err, target)
	}
}

// isConflict fails the test unless err is a *store.ConflictError on field
// with value.
func isConflict(t *testing.T, err error, field, value, call string) {
	t.Helper()
	var ce *store.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, store.ErrConflict) {
		t.Errorf("%s = %v; want a *store.ConflictError", call, err)
		return
	}
	if ce.Field != field || ce.Value != value {
		t.Errorf("%s = conflict on %s %q; want on %s %q", call, ce.Field, ce.Value, field, value)
	}
}

// isMemberError fails the test unless err is a *store.MemberError for id.
func isMemberError(t *testing.T, err error, id string, nested bool, call string) {
	t.Helper()
	var me *store.MemberError
	if !errors.As(err, &me) || !errors.Is(err, store.ErrInvalidMember) {
		t.Errorf("%s = %v; want a *store.MemberError", call, err)
		return
	}
	if me.ID != id || me.Nested != nested {
		t.Errorf("%s = %+v; want MemberError{ID: %q, Nested: %v}", call, *me, id, nested)
	}
}

var equateEmpty = cmpopts.EquateEmpty()

// diff compares with nil and empty slices equal and times by Equal.
func diff(want, got any) string { return cmp.Diff(want, got, equateEmpty) }

func eq(p store.Field, v string) *store.Plan {
	return &store.Plan{Op: store.PlanLookup, Field: p, Value: v}
}

func sw(p store.Field, v string) *store.Plan {
	return &store.Plan{Op: store.PlanLookup, Field: p, Value: v, Prefix: true}
}

func and(subs ...*store.Plan) *store.Plan { return &store.Plan{Op: store.PlanAnd, Subs: subs} }
func or(subs ...*store.Plan) *store.Plan  { return &store.Plan{Op: store.PlanOr, Subs: subs} }
