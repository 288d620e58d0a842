package mapping

import (
	"cmp"
	"slices"
	"strings"
)

// ChangeKind is what a Change does; the names match the access.* event
// types.
type ChangeKind string

// The kinds of Change.
const (
	Granted     ChangeKind = "granted"      // a role the person did not hold
	Revoked     ChangeKind = "revoked"      // a role the person no longer holds
	RoleChanged ChangeKind = "role_changed" // another role in the same workspace
)

// Change is one difference in one person's access.
type Change struct {
	PersonID  string
	Workspace string // "" for an org-wide role
	Kind      ChangeKind
	// Role is the role granted or revoked, or the new role of a
	// role_changed; From and To are the roles before and after ("" for
	// none).
	Role     Role
	From, To Role
	// Reasons are the reasons for the role held after the change (none
	// for a revocation).
	Reasons []Reason
}

// Downgrade reports whether c moves a workspace role down
// (workspace_admin to member).
func (c Change) Downgrade() bool {
	return c.Kind == RoleChanged && c.To.rank() < c.From.rank()
}

// Changes returns how after differs from before for one person: org-wide
// roles first (in role order), then workspaces by name. A workspace whose
// role differs is one role_changed, not a revocation and a grant.
func Changes(personID string, before, after Access) []Change {
	var out []Change
	i, j := 0, 0
	for i < len(before.OrgRoles) || j < len(after.OrgRoles) {
		var c int
		switch {
		case i == len(before.OrgRoles):
			c = 1
		case j == len(after.OrgRoles):
			c = -1
		default:
			c = cmp.Compare(before.OrgRoles[i].Role.index(), after.OrgRoles[j].Role.index())
		}
		switch {
		case c < 0:
			r := before.OrgRoles[i].Role
			out = append(out, Change{PersonID: personID, Kind: Revoked, Role: r, From: r})
			i++
		case c > 0:
			g := after.OrgRoles[j]
			out = append(out, Change{PersonID: personID, Kind: Granted, Role: g.Role, To: g.Role, Reasons: g.Reasons})
			j++
		default:
			i, j = i+1, j+1
		}
	}
	i, j = 0, 0
	for i < len(before.Workspaces) || j < len(after.Workspaces) {
		var c int
		switch {
		case i == len(before.Workspaces):
			c = 1
		case j == len(after.Workspaces):
			c = -1
		default:
			c = strings.Compare(before.Workspaces[i].Workspace, after.Workspaces[j].Workspace)
		}
		switch {
		case c < 0:
			g := before.Workspaces[i]
			out = append(out, Change{PersonID: personID, Workspace: g.Workspace, Kind: Revoked, Role: g.Role, From: g.Role})
			i++
		case c > 0:
			g := after.Workspaces[j]
			out = append(out, Change{PersonID: personID, Workspace: g.Workspace, Kind: Granted, Role: g.Role, To: g.Role, Reasons: g.Reasons})
			j++
		default:
			b, a := before.Workspaces[i], after.Workspaces[j]
			if b.Role != a.Role {
				out = append(out, Change{PersonID: personID, Workspace: a.Workspace, Kind: RoleChanged, Role: a.Role, From: b.Role, To: a.Role, Reasons: a.Reasons})
			}
			i, j = i+1, j+1
		}
	}
	return out
}

// Tally counts, for one role in one workspace ("" for org-wide roles), the
// people who gain it and the people who lose it. A role_changed counts as
// losing the old role and gaining the new one.
type Tally struct {
	Workspace string
	Role      Role
	Gained    int
	Lost      int
}

// Diff is what publishing proposed rules in place of the current ones would
// change for a population.
type Diff struct {
	// Changes lists every change, by person (in the order given), then as
	// Changes orders them.
	Changes []Change
	// Gains, Losses and RoleChanges count Changes by kind; Downgrades
	// counts the role changes that move down (workspace_admin to member).
	Gains, Losses, RoleChanges, Downgrades int
	// ByRole tallies gains and losses per workspace and role, sorted by
	// workspace ("" first) and role.
	ByRole []Tally

	People       int // people evaluated
	ActivePeople int
	// PeopleWithAccessBefore and PeopleWithAccessAfter count the people
	// holding any role before and after.
	PeopleWithAccessBefore, PeopleWithAccessAfter int
	// PeopleGaining counts the people with a grant or an upgrade.
	PeopleGaining int
	// PeopleLosingAccess counts the people with a revocation or a
	// downgrade: they lose at least one grant.
	PeopleLosingAccess int
	// PeopleLosingAllAccess counts the people who held a role before and
	// hold none after.
	PeopleLosingAllAccess int
	// OrgAdminsBefore and OrgAdminsAfter count the active people holding
	// org_admin.
	OrgAdminsBefore, OrgAdminsAfter int
}

// Simulate evaluates the current and the proposed rules for every person
// and returns the difference. A nil *Rules stands for no rules: nobody has
// access (so Simulate(nil, r, people) is a first publish). It has no side
// effects; publishing is the caller's business.
func Simulate(current, proposed *Rules, people []Person) Diff {
	var d Diff
	type key struct {
		ws   string
		role Role
	}
	tallies := map[key]*Tally{}
	tally := func(ws string, role Role) *Tally {
		k := key{ws, role}
		t := tallies[k]
		if t == nil {
			t = &Tally{Workspace: ws, Role: role}
			tallies[k] = t
		}
		return t
	}
	for _, p := range people {
		d.People++
		if p.Active {
			d.ActivePeople++
		}
		before, after := current.Evaluate(p), proposed.Evaluate(p)
		if !before.Empty() {
			d.PeopleWithAccessBefore++
		}
		if !after.Empty() {
			d.PeopleWithAccessAfter++
		}
		if !before.Empty() && after.Empty() {
			d.PeopleLosingAllAccess++
		}
		if before.HasOrgRole(OrgAdmin) {
			d.OrgAdminsBefore++
		}
		if after.HasOrgRole(OrgAdmin) {
			d.OrgAdminsAfter++
		}
		gains, losses := false, false
		for _, c := range Changes(p.ID, before, after) {
			d.Changes = append(d.Changes, c)
			switch c.Kind {
			case Granted:
				d.Gains++
				gains = true
				tally(c.Workspace, c.To).Gained++
			case Revoked:
				d.Losses++
				losses = true
				tally(c.Workspace, c.From).Lost++
			case RoleChanged:
				d.RoleChanges++
				if c.Downgrade() {
					d.Downgrades++
					losses = true
				} else {
					gains = true
				}
				tally(c.Workspace, c.From).Lost++
				tally(c.Workspace, c.To).Gained++
			}
		}
		if gains {
			d.PeopleGaining++
		}
		if losses {
			d.PeopleLosingAccess++
		}
	}
	for _, t := range tallies {
		d.ByRole = append(d.ByRole, *t)
	}
	slices.SortFunc(d.ByRole, func(a, b Tally) int {
		return cmp.Or(strings.Compare(a.Workspace, b.Workspace), cmp.Compare(a.Role.index(), b.Role.index()))
	})
	return d
}
