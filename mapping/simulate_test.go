package mapping

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// proposed drops workspace-admins (its admins fall back to member), moves
// the default from general to support, and adds billing admins.
const proposed = `version: 1
workspaces: [engineering, legal, finance, support]
rules:
  - name: workspace-members
    match: {group: {displayNamePattern: "^workspace_(?P<ws>[a-z0-9_-]+)$"}}
    grant: {workspace: "${ws}", role: member}
  - name: org-admins
    match: {group: {externalId: "00g1a2b3c4"}}
    grant: {role: org_admin}
  - name: billing
    match: {group: {displayName: billing}}
    grant: {role: billing_admin}
exclusions:
  - name: contractors-never-admin
    match: {group: {displayName: contractors}}
    deny: [org_admin, billing_admin, developer_admin, workspace_admin]
default:
  grant: {workspace: support, role: member}
`

func simPeople() []Person {
	id := func(id string, p Person) Person { p.ID = id; return p }
	return []Person{
		id("p1", person(gEng)),
		id("p2", person(gEng, gWSAdmin, gLegal)),
		id("p3", person(gOrgAdmin)),
		id("p4", person(gOrgAdmin, gContractor, gEng, gWSAdmin)),
		id("p5", person(gNope)),
		id("p6", person()),
		{ID: "p7", Active: false, Directory: "okta", Groups: []Group{gOrgAdmin, gEng}},
		id("p8", person(gBilling)),
	}
}

func TestSimulate(t *testing.T) {
	current := mustParse(t, string(readFile(t, "testdata/example.yaml")))
	next := mustParse(t, proposed)
	got := Simulate(current, next, simPeople())
	member := func(g Group) []Reason { return []Reason{why("workspace-members", g)} }
	want := Diff{
		Changes: []Change{
			{PersonID: "p2", Workspace: "engineering", Kind: RoleChanged, Role: Member, From: WorkspaceAdmin, To: Member, Reasons: member(gEng)},
			{PersonID: "p2", Workspace: "legal", Kind: RoleChanged, Role: Member, From: WorkspaceAdmin, To: Member, Reasons: member(gLegal)},
			{PersonID: "p5", Workspace: "general", Kind: Revoked, Role: Member, From: Member},
			{PersonID: "p5", Workspace: "support", Kind: Granted, Role: Member, To: Member, Reasons: []Reason{defaultWhy()}},
			{PersonID: "p6", Workspace: "general", Kind: Revoked, Role: Member, From: Member},
			{PersonID: "p6", Workspace: "support", Kind: Granted, Role: Member, To: Member, Reasons: []Reason{defaultWhy()}},
			{PersonID: "p8", Kind: Granted, Role: BillingAdmin, To: BillingAdmin, Reasons: []Reason{why("billing", gBilling)}},
			{PersonID: "p8", Workspace: "general", Kind: Revoked, Role: Member, From: Member},
		},
		Gains: 3, Losses: 3, RoleChanges: 2, Downgrades: 2,
		ByRole: []Tally{
			{Workspace: "", Role: BillingAdmin, Gained: 1},
			{Workspace: "engineering", Role: WorkspaceAdmin, Lost: 1},
			{Workspace: "engineering", Role: Member, Gained: 1},
			{Workspace: "general", Role: Member, Lost: 3},
			{Workspace: "legal", Role: WorkspaceAdmin, Lost: 1},
			{Workspace: "legal", Role: Member, Gained: 1},
			{Workspace: "support", Role: Member, Gained: 2},
		},
		People: 8, ActivePeople: 7,
		PeopleWithAccessBefore: 7, PeopleWithAccessAfter: 7,
		PeopleGaining: 3, PeopleLosingAccess: 4, PeopleLosingAllAccess: 0,
		OrgAdminsBefore: 1, OrgAdminsAfter: 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Simulate(example, proposed) differs (-want +got):\n%s", diff)
	}

	if got := Simulate(current, current, simPeople()); len(got.Changes) != 0 || got.Gains+got.Losses+got.RoleChanges != 0 || got.ByRole != nil {
		t.Errorf("Simulate(r, r) = %+v; want no changes", got)
	}
}

func TestSimulateFromAndToNothing(t *testing.T) {
	r := mustParse(t, string(readFile(t, "testdata/example.yaml")))
	first := Simulate(nil, r, simPeople())
	if first.Losses != 0 || first.PeopleWithAccessBefore != 0 || first.PeopleWithAccessAfter != 7 || first.Gains != 8 || first.OrgAdminsAfter != 1 {
		t.Errorf("Simulate(nil, example) = %+v; want 8 gains for 7 people and no losses", first)
	}
	if g := (Guards{}).Check(first); g != nil {
		t.Errorf("Guards{}.Check(first publish) = %v; want none", g)
	}
	none := Simulate(r, nil, simPeople())
	if none.PeopleLosingAllAccess != 7 || none.PeopleLosingAccess != 7 || none.Losses != 8 || none.OrgAdminsAfter != 0 {
		t.Errorf("Simulate(example, nil) = %+v; want everyone to lose everything", none)
	}
}

func TestChanges(t *testing.T) {
	before := Access{
		OrgRoles:   []Grant{orgWide(OrgAdmin), orgWide(DeveloperAdmin)},
		Workspaces: []Grant{inWS("a", Member), inWS("b", WorkspaceAdmin), inWS("c", Member)},
	}
	after := Access{
		OrgRoles:   []Grant{orgWide(BillingAdmin), orgWide(DeveloperAdmin)},
		Workspaces: []Grant{inWS("b", Member), inWS("c", WorkspaceAdmin), inWS("d", Member, defaultWhy())},
	}
	got := Changes("p", before, after)
	want := []Change{
		{PersonID: "p", Kind: Revoked, Role: OrgAdmin, From: OrgAdmin},
		{PersonID: "p", Kind: Granted, Role: BillingAdmin, To: BillingAdmin},
		{PersonID: "p", Workspace: "a", Kind: Revoked, Role: Member, From: Member},
		{PersonID: "p", Workspace: "b", Kind: RoleChanged, Role: Member, From: WorkspaceAdmin, To: Member},
		{PersonID: "p", Workspace: "c", Kind: RoleChanged, Role: WorkspaceAdmin, From: Member, To: WorkspaceAdmin},
		{PersonID: "p", Workspace: "d", Kind: Granted, Role: Member, To: Member, Reasons: []Reason{defaultWhy()}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Changes(before, after) differs (-want +got):\n%s", diff)
	}
	for _, c := range got {
		if wantDown := c.Workspace == "b"; c.Downgrade() != wantDown {
			t.Errorf("%+v.Downgrade() = %v; want %v", c, c.Downgrade(), wantDown)
		}
	}
	if got := Changes("p", after, after); got != nil {
		t.Errorf("Changes(a, a) = %v; want none", got)
	}
}

func TestGuards(t *testing.T) {
	for _, tc := range []struct {
		name   string
		guards Guards
		diff   Diff
		want   []GuardViolation
	}{
		{
			name: "no org_admin left",
			diff: Diff{ActivePeople: 5, OrgAdminsBefore: 2, OrgAdminsAfter: 0, PeopleWithAccessBefore: 5},
			want: []GuardViolation{{Guard: GuardNoOrgAdmin, OrgAdminsBefore: 2,
				Message: "would leave the org without an org_admin: no active person would hold it (2 do now)"}},
		},
		{
			name: "no org_admin before either: still refused",
			diff: Diff{ActivePeople: 5},
			want: []GuardViolation{{Guard: GuardNoOrgAdmin,
				Message: "would leave the org without an org_admin: no active person would hold it (0 do now)"}},
		},
		{
			name: "nobody active: nobody can hold org_admin",
			diff: Diff{People: 3},
		},
		{
			name: "mass revocation above the default 10%",
			diff: Diff{ActivePeople: 120, OrgAdminsAfter: 1, PeopleWithAccessBefore: 120, PeopleLosingAccess: 37},
			want: []GuardViolation{{Guard: GuardMassRevocation, PeopleLosing: 37, PeopleWithAccess: 120, Share: 37.0 / 120, MaxShare: 0.1,
				Message: "would revoke access from 37 of 120 people (30.8%), above the 10% guard"}},
		},
		{
			name: "exactly at the limit passes",
			diff: Diff{ActivePeople: 120, OrgAdminsAfter: 1, PeopleWithAccessBefore: 120, PeopleLosingAccess: 12},
		},
		{
			name: "one above the limit",
			diff: Diff{ActivePeople: 120, OrgAdminsAfter: 1, PeopleWithAccessBefore: 120, PeopleLosingAccess: 13},
			want: []GuardViolation{{Guard: GuardMassRevocation, PeopleLosing: 13, PeopleWithAccess: 120, Share: 13.0 / 120, MaxShare: 0.1,
				Message: "would revoke access from 13 of 120 people (10.8%), above the 10% guard"}},
		},
		{
			name:   "a configured share",
			guards: Guards{MaxRevokeShare: 0.125},
			diff:   Diff{ActivePeople: 120, OrgAdminsAfter: 1, PeopleWithAccessBefore: 120, PeopleLosingAccess: 37},
			want: []GuardViolation{{Guard: GuardMassRevocation, PeopleLosing: 37, PeopleWithAccess: 120, Share: 37.0 / 120, MaxShare: 0.125,
				Message: "would revoke access from 37 of 120 people (30.8%), above the 12.5% guard"}},
		},
		{
			name:   "a share of 1 turns the guard off",
			guards: Guards{MaxRevokeShare: 1},
			diff:   Diff{ActivePeople: 120, OrgAdminsAfter: 1, PeopleWithAccessBefore: 120, PeopleLosingAccess: 120},
		},
		{
			name:   "NaN means the default",
			guards: Guards{MaxRevokeShare: math.NaN()},
			diff:   Diff{ActivePeople: 10, OrgAdminsAfter: 1, PeopleWithAccessBefore: 10, PeopleLosingAccess: 2},
			want: []GuardViolation{{Guard: GuardMassRevocation, PeopleLosing: 2, PeopleWithAccess: 10, Share: 0.2, MaxShare: 0.1,
				Message: "would revoke access from 2 of 10 people (20.0%), above the 10% guard"}},
		},
		{
			name:   "RevokeAll counts only people left with nothing",
			guards: Guards{Mode: RevokeAll},
			diff:   Diff{ActivePeople: 120, OrgAdminsAfter: 1, PeopleWithAccessBefore: 120, PeopleLosingAccess: 100, PeopleLosingAllAccess: 30},
			want: []GuardViolation{{Guard: GuardMassRevocation, PeopleLosing: 30, PeopleWithAccess: 120, Share: 0.25, MaxShare: 0.1,
				Message: "would remove all access from 30 of 120 people (25.0%), above the 10% guard"}},
		},
		{
			name:   "RevokeAll under the limit",
			guards: Guards{Mode: RevokeAll},
			diff:   Diff{ActivePeople: 120, OrgAdminsAfter: 1, PeopleWithAccessBefore: 120, PeopleLosingAccess: 100, PeopleLosingAllAccess: 3},
		},
		{
			name: "both guards, in order",
			diff: Diff{ActivePeople: 4, OrgAdminsBefore: 1, PeopleWithAccessBefore: 4, PeopleLosingAccess: 4, PeopleLosingAllAccess: 4},
			want: []GuardViolation{
				{Guard: GuardNoOrgAdmin, OrgAdminsBefore: 1, Message: "would leave the org without an org_admin: no active person would hold it (1 do now)"},
				{Guard: GuardMassRevocation, PeopleLosing: 4, PeopleWithAccess: 4, Share: 1, MaxShare: 0.1,
					Message: "would revoke access from 4 of 4 people (100.0%), above the 10% guard"},
			},
		},
		{
			name: "nobody had access: nothing to revoke",
			diff: Diff{ActivePeople: 4, OrgAdminsAfter: 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.guards.Check(tc.diff)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%+v.Check(%+v) = %v; want %v; diff (-want +got):\n%s", tc.guards, tc.diff, got, tc.want, diff)
			}
		})
	}
}

// TestGuardsOnSimulation runs the guards on a real simulation: dropping the
// workspace-admins rule and moving the default downgrades or revokes 4 of
// the 7 people with access.
func TestGuardsOnSimulation(t *testing.T) {
	d := Simulate(mustParse(t, string(readFile(t, "testdata/example.yaml"))), mustParse(t, proposed), simPeople())
	got := Guards{}.Check(d)
	want := []GuardViolation{{Guard: GuardMassRevocation, PeopleLosing: 4, PeopleWithAccess: 7, Share: 4.0 / 7, MaxShare: 0.1,
		Message: "would revoke access from 4 of 7 people (57.1%), above the 10% guard"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Guards{}.Check(Simulate(example, proposed)) differs (-want +got):\n%s", diff)
	}
	if got := (Guards{Mode: RevokeAll}).Check(d); got != nil {
		t.Errorf("Guards{Mode: RevokeAll}.Check() = %v; want none (nobody loses everything)", got)
	}
	if s := want[0].String(); s != "mass_revocation: would revoke access from 4 of 7 people (57.1%), above the 10% guard" {
		t.Errorf("GuardViolation.String() = %q", s)
	}
}
