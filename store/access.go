package store

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/mapping"
)

// Errors of rules and access.
var (
	// ErrGuard means a publish or a rollback was refused by a guard. The
	// error is a *GuardError that names every guard and its figures.
	ErrGuard = errors.New("store: refused by a guard")
	// ErrReasonRequired means PublishOptions.Force was set without a
	// Reason: overriding a guard is always explained.
	ErrReasonRequired = errors.New("store: force requires a reason")
	// ErrBadCursor means a WorkspaceMembers cursor is not one the store
	// gave.
	ErrBadCursor = errors.New("store: invalid cursor")
)

// GuardError is returned (wrapped in ErrGuard) when a publish or a rollback
// fails mapping.Guards.Check and was not forced. Nothing was written.
type GuardError struct {
	Violations []mapping.GuardViolation
}

func (e *GuardError) Error() string {
	msgs := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		msgs[i] = v.String()
	}
	return "store: refused by a guard (publish with force and a reason to override): " + strings.Join(msgs, "; ")
}

// Is makes errors.Is(err, ErrGuard) true for a *GuardError.
func (e *GuardError) Is(target error) bool { return target == ErrGuard }

// Event types of access that are not part of a change of access itself.
const (
	// EventAccessOrgAdminMissing is a warning: a write (a SCIM change, or a
	// forced publish or rollback) left the org with no active person
	// holding org_admin while it had one before. The SCIM write is never
	// refused for it (the IdP is the source of truth); admins alert on
	// this event. Its resource is the last person whose org_admin the
	// write revoked, and its data is {"user": {"id", "userName"},
	// "rules_version"}.
	EventAccessOrgAdminMissing = "access.org_admin_missing"
)

// ResourceRules is the resource type of rules.published: its id is the
// version number, in decimal.
const ResourceRules = "rules"

// OrgWide is the workspace name under which org-wide roles (org_admin,
// billing_admin, developer_admin) are indexed: WorkspaceMembers(ctx, org,
// OrgWide, "org_admin", …) lists the org admins. It is not a valid
// workspace name, so it never collides with one.
const OrgWide = ""

// Limits of rules and access.
const (
	// DefaultMemberLimit is the page size of WorkspaceMembers when limit is
	// zero or negative; MaxMemberLimit caps it.
	DefaultMemberLimit = 100
	MaxMemberLimit     = 1000
	// MaxDrafts is how many drafts an org keeps: creating one more deletes
	// the oldest.
	MaxDrafts = 100
	// MaxReasonBytes caps PublishOptions.Reason.
	MaxReasonBytes = 1000
)

// RulesVersion is one published version of an org's rules. Versions are
// numbered from 1 and never deleted; the current one is the highest.
type RulesVersion struct {
	Version int `json:"version"`
	// Document is the rules document in mapping's canonical JSON
	// (mapping.Rules.MarshalJSON): comments and formatting of the source
	// are not kept.
	Document  []byte    `json:"document"`
	Published time.Time `json:"published"`
	Actor     Actor     `json:"actor"`
	// Force and Reason record a publish that overrode the guards.
	Force  bool   `json:"force,omitempty"`
	Reason string `json:"reason,omitempty"`
	// RolledBackFrom is the version whose document this version
	// republished (Rollback), or 0.
	RolledBackFrom int `json:"rolled_back_from,omitempty"`
}

// Draft is a validated rules document that is not published. Document is
// the source as given (YAML or JSON, comments kept).
type Draft struct {
	ID       string    `json:"id"`
	Document []byte    `json:"document"`
	Created  time.Time `json:"created"`
	Actor    Actor     `json:"actor"`
}

// PublishOptions are the options of PublishRules and Rollback.
type PublishOptions struct {
	// Force publishes even though guards fail. It requires a Reason; both
	// are recorded in the version and in the rules.published event.
	Force  bool
	Reason string
	// MaxRevokeShare is the mass_revocation guard's share (see
	// mapping.Guards); 0 means mapping.DefaultMaxRevokeShare.
	MaxRevokeShare float64
	// RolledBackFrom is set by Rollback; callers of PublishRules leave it
	// zero.
	RolledBackFrom int
}

// ReasonView is why a role is held: the rule (its name, "rules[i]", or
// mapping.DefaultRule) and the group that matched it (empty for the default
// grant).
type ReasonView struct {
	Rule             string `json:"rule"`
	GroupID          string `json:"group_id,omitempty"`
	GroupExternalID  string `json:"group_external_id,omitempty"`
	GroupDisplayName string `json:"group_display_name,omitempty"`
	Directory        string `json:"directory,omitempty"`
}

// GrantView is one role a person holds: org-wide (Workspace OrgWide) or in
// one workspace, with every reason for it.
type GrantView struct {
	Workspace string       `json:"workspace,omitempty"`
	Role      string       `json:"role"`
	Reasons   []ReasonView `json:"reasons"`
}

// PersonAccess is the materialised access of one person (a user of one
// directory) under the org's current rules. OrgRoles are in role order
// (org_admin, billing_admin, developer_admin), Workspaces by name.
type PersonAccess struct {
	UserID     string      `json:"user_id"`
	Directory  string      `json:"directory"`
	UserName   string      `json:"user_name"`
	Active     bool        `json:"active"`
	OrgRoles   []GrantView `json:"org_roles"`
	Workspaces []GrantView `json:"workspaces"`
}

// Member is one holder of a role in a workspace, as WorkspaceMembers lists
// it.
type Member struct {
	UserID    string `json:"user_id"`
	Directory string `json:"directory"`
	UserName  string `json:"user_name"`
	Role      string `json:"role"`
}

// WorkspaceView is one workspace of an org: declared by the current rules,
// or held by someone (a name a pattern captured, with create_workspaces).
type WorkspaceView struct {
	Name     string `json:"name"`
	Declared bool   `json:"declared"`
	Members  int    `json:"members"` // people with any role in it
	Admins   int    `json:"admins"`  // people with workspace_admin
}

// ViewsFromAccess converts a mapping.Access to the views the store keeps
// (Denied and Skipped are not kept: explain re-evaluates for those).
func ViewsFromAccess(a mapping.Access) (orgRoles, workspaces []GrantView) {
	conv := func(gs []mapping.Grant) []GrantView {
		if len(gs) == 0 {
			return nil
		}
		out := make([]GrantView, len(gs))
		for i, g := range gs {
			out[i] = GrantView{Workspace: g.Workspace, Role: string(g.Role), Reasons: make([]ReasonView, len(g.Reasons))}
			for j, r := range g.Reasons {
				out[i].Reasons[j] = ReasonView{Rule: r.Rule, GroupID: r.Group.ID, GroupExternalID: r.Group.ExternalID,
					GroupDisplayName: r.Group.DisplayName, Directory: r.Group.Directory}
			}
		}
		return out
	}
	return conv(a.OrgRoles), conv(a.Workspaces)
}

// AccessFromViews is the inverse of ViewsFromAccess.
func AccessFromViews(orgRoles, workspaces []GrantView) mapping.Access {
	conv := func(gs []GrantView) []mapping.Grant {
		if len(gs) == 0 {
			return nil
		}
		out := make([]mapping.Grant, len(gs))
		for i, g := range gs {
			out[i] = mapping.Grant{Workspace: g.Workspace, Role: mapping.Role(g.Role), Reasons: make([]mapping.Reason, len(g.Reasons))}
			for j, r := range g.Reasons {
				out[i].Reasons[j] = mapping.Reason{Rule: r.Rule, Group: mapping.Group{ID: r.GroupID, ExternalID: r.GroupExternalID,
					DisplayName: r.GroupDisplayName, Directory: r.Directory}}
			}
		}
		return out
	}
	return mapping.Access{OrgRoles: conv(orgRoles), Workspaces: conv(workspaces)}
}

// CheckPublishOptions returns ErrReasonRequired for a Force without a
// Reason, or a Reason that is too long.
func CheckPublishOptions(o PublishOptions) error {
	if o.Force && strings.TrimSpace(o.Reason) == "" {
		return ErrReasonRequired
	}
	if len(o.Reason) > MaxReasonBytes {
		return fmt.Errorf("%w: the reason is %d bytes, above the limit of %d", ErrReasonRequired, len(o.Reason), MaxReasonBytes)
	}
	return nil
}
