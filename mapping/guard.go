package mapping

import (
	"fmt"
	"math"
	"strconv"
)

// DefaultMaxRevokeShare is the share of people with access that a publish
// or rollback may revoke access from before the mass_revocation guard
// refuses it.
const DefaultMaxRevokeShare = 0.10

// The guards Check applies.
const (
	GuardNoOrgAdmin     = "no_org_admin"
	GuardMassRevocation = "mass_revocation"
)

// RevokeMode says what counts as revoking a person's access for the
// mass_revocation guard.
type RevokeMode uint8

const (
	// RevokeAny counts a person who loses at least one grant: a role
	// revoked in a workspace or org-wide, or workspace_admin downgraded to
	// member (Diff.PeopleLosingAccess). It is the default: a broken rule
	// usually strips workspace memberships while the person keeps
	// something else (another workspace, or the default grant).
	RevokeAny RevokeMode = iota
	// RevokeAll counts only a person left with no role at all
	// (Diff.PeopleLosingAllAccess).
	RevokeAll
)

// Guards are the checks a publish or a rollback must pass. The zero value
// is the default: at most 10% of people revoked, counted as RevokeAny.
type Guards struct {
	// MaxRevokeShare is the largest share (0 to 1) of the people who hold
	// any role now that may have their access revoked. Zero, a negative
	// value or NaN means DefaultMaxRevokeShare; 1 or more turns the guard
	// off. To refuse any revocation at all, use a tiny positive value such
	// as 1e-9.
	MaxRevokeShare float64
	// Mode says what counts as a revocation.
	Mode RevokeMode
}

// GuardViolation is one guard a Diff fails, with its figures.
type GuardViolation struct {
	Guard   string // GuardNoOrgAdmin or GuardMassRevocation
	Message string // the figures, for a person

	// no_org_admin: active people holding org_admin before and after.
	OrgAdminsBefore, OrgAdminsAfter int
	// mass_revocation: people losing access, of the people with access
	// before, their share, and the share allowed.
	PeopleLosing, PeopleWithAccess int
	Share, MaxShare                float64
}

// String renders the violation as "guard: message".
func (v GuardViolation) String() string { return v.Guard + ": " + v.Message }

// Check returns the guards d fails, in a fixed order (no_org_admin, then
// mass_revocation), or nil.
//
// no_org_admin fails when the result leaves no active person holding
// org_admin while the population has at least one active person (with
// nobody active there is nobody to hold it, and rules may be published
// before the IdP has pushed anyone). mass_revocation fails when the people
// who lose access (see RevokeMode) are more than MaxRevokeShare of the
// people who held any role before; with nobody holding a role before it
// cannot fail.
func (g Guards) Check(d Diff) []GuardViolation {
	var out []GuardViolation
	if d.ActivePeople > 0 && d.OrgAdminsAfter == 0 {
		msg := fmt.Sprintf("would leave the org without an org_admin: no active person would hold it (%d do now)", d.OrgAdminsBefore)
		out = append(out, GuardViolation{Guard: GuardNoOrgAdmin, Message: msg, OrgAdminsBefore: d.OrgAdminsBefore, OrgAdminsAfter: d.OrgAdminsAfter})
	}
	limit := g.MaxRevokeShare
	if limit <= 0 || math.IsNaN(limit) {
		limit = DefaultMaxRevokeShare
	}
	losing, verb := d.PeopleLosingAccess, "revoke access from"
	if g.Mode == RevokeAll {
		losing, verb = d.PeopleLosingAllAccess, "remove all access from"
	}
	if d.PeopleWithAccessBefore > 0 && limit < 1 {
		share := float64(losing) / float64(d.PeopleWithAccessBefore)
		if share > limit {
			msg := fmt.Sprintf("would %s %d of %d people (%.1f%%), above the %s%% guard",
				verb, losing, d.PeopleWithAccessBefore, 100*share, strconv.FormatFloat(math.Round(100000*limit)/1000, 'f', -1, 64))
			out = append(out, GuardViolation{Guard: GuardMassRevocation, Message: msg,
				PeopleLosing: losing, PeopleWithAccess: d.PeopleWithAccessBefore, Share: share, MaxShare: limit})
		}
	}
	return out
}
