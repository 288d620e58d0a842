// Package mapping is the rules engine of scimbridge: it parses and validates
// the rules document that admins write, evaluates it for one person (their
// groups in, their roles out, each with the rule and group that produced
// it), compares two rule sets over a population (Simulate), and applies the
// guards that a publish or a rollback must pass.
//
// The package is pure. It does no I/O, never logs, reads no clock, keeps no
// mutable global state, and imports no HTTP, SAML, OIDC or SCIM library and
// not the store: Person and Group are its own small input types, which the
// store fills from its records. A *Rules is immutable and safe for
// concurrent use, so the store can evaluate inside its write transaction.
// Evaluate never panics, on any Person.
//
// # The document
//
// Admins write YAML (the CLI) or JSON (the API); both carry the same
// structure and field names:
//
//	version: 1                       # required; the only version
//	workspaces: [engineering, legal] # declared workspaces
//	create_workspaces: false         # may a name not declared create a workspace?
//	protected_roles: [org_admin]     # optional; this is the default
//	rules:
//	  - name: workspace-members      # optional, unique (ignoring case)
//	    description: free text       # optional, ignored
//	    match:
//	      directory: "*"             # "*" (the default) or one directory name
//	      group: {displayNamePattern: "^workspace_(?P<ws>[a-z0-9_-]+)$"}
//	    grant: {workspace: "${ws}", role: member}
//	exclusions:
//	  - name: contractors-never-admin
//	    match: {group: {displayName: contractors}}
//	    deny: [org_admin, billing_admin, developer_admin, workspace_admin]
//	default:
//	  grant: {workspace: general, role: member}
//
// Parse rejects unknown fields (suggesting the field meant, as for
// externalID), duplicate keys, values of the wrong type (a YAML number where
// a string belongs must be quoted, so that an id is never reformatted), YAML
// merge keys and custom tags, and more than one YAML document. A
// *ValidationError lists every problem, each with the rule (its name, or
// "rules[2]" when unnamed), the field path (rules[2].grant.workspace) and
// the line. Warnings (Rules.Warnings) flag what is legal but worth a look:
// an unanchored pattern, an unnamed rule (its reasons say "rules[2]", which
// changes when rules move), a literal or captured workspace that publishing
// would create, a "*" rule with nothing to qualify.
//
// MarshalJSON and MarshalYAML render the document canonically (fields as
// written, fixed order, no comments); Parse reads the rendering back into an
// equal document.
//
// # Roles
//
// Org-wide roles: org_admin, billing_admin, developer_admin; a person may
// hold any number of them. Workspace roles: workspace_admin and member,
// ordered workspace_admin > member; a person holds at most one role per
// workspace, the highest granted. A rule grants an org-wide role without a
// workspace and a workspace role with one; the other way round is a
// validation error.
//
// # Matching groups
//
// A rule or exclusion selects groups with exactly one of:
//   - id: the group's SCIM id, compared exactly;
//   - externalId: the IdP's id for the group, compared exactly;
//   - displayName: compared case-insensitively after Unicode folding (NFC,
//     full case folding, NFC: the store's Fold), so "Contractors",
//     "CONTRACTORS" and "contractors" match alike;
//   - displayNamePattern: an RE2 expression matched against the displayName
//     as received, case-sensitively unless the pattern says (?i). It is
//     anchored as written: "^workspace_" matches names that start so,
//     "workspace_" names that contain it anywhere (a warning says so). Its
//     named groups, (?P<ws>...), are captures for the grant.
//
// An empty value is an error: it would match the groups that have none.
// match.directory is "*" (or absent) for any directory, or one exact
// directory name; a wildcard inside a name (okta-*) is an error. A group's
// directory is Group.Directory, or the person's when that is empty.
//
// # Workspaces in a grant
//
//   - A literal name (engineering): lower-case letters, digits, '-' and '_',
//     at most 64 bytes. When create_workspaces is false it must be declared
//     (a validation error otherwise); when true, an undeclared name is a
//     warning: publishing creates it. The default grant's workspace counts
//     as declared (with a warning when it is not in workspaces): it is one
//     name, written for that purpose.
//   - A template (${ws}, or team-${team}): each ${name} is a named group of
//     the rule's displayNamePattern (a validation error otherwise). The
//     captured text is lower-cased (ASCII letters only), so workspace_Legal
//     and workspace_legal both give legal. A result that is not a valid
//     workspace name, or that is not declared while create_workspaces is
//     false, grants nothing and is listed in Access.Skipped, so explain can
//     show why.
//   - "*": the rule's role (workspace_admin; member with "*" would grant
//     nothing and is an error) applies in each workspace the person is
//     granted, in the same evaluation, by other rules that name a workspace
//     (literal or template). "*" rules do not qualify each other, nor the
//     default grant, and grant nothing to a person with no other workspace.
//
// # Protected roles
//
// protected_roles (default [org_admin]; the list replaces the default, and
// an empty list protects nothing) are roles that only a rule selecting its
// group by id or externalId may grant. A protected role granted through
// displayName or displayNamePattern is a validation error, and so is one in
// the default grant, so that renaming a group in the IdP can never make
// anyone an admin.
//
// # Evaluation
//
//  1. A deactivated person holds nothing, whatever their groups: Evaluate
//     returns the zero Access.
//  2. Every rule is matched against every group; each match is a
//     candidate grant with its Reason (rule, group).
//  3. "*" rules are applied to the workspaces of step 2.
//  4. The default grant applies only when steps 2 and 3 granted nothing at
//     all (before exclusions): an active person whom no rule grants
//     anything. Its Reason has Rule DefaultRule and a zero Group.
//  5. Exclusions win over every grant, the default's included. An
//     exclusion matching any of the person's groups denies its roles.
//     Denying an org-wide role removes it. In a workspace, denying member
//     denies every workspace role (a higher role includes membership), and
//     denying workspace_admin leaves member if member was also granted:
//     denied workspace_admin falls back to member. What exclusions removed
//     is listed in Access.Denied with both the exclusions' and the grants'
//     reasons.
//  6. Per workspace, the highest role left wins; its Grant carries every
//     reason for that role, and in Outranked those for member under
//     workspace_admin (so explain shows the membership a "*" rule
//     qualified).
//
// Output is deterministic: the same groups in any order, duplicates
// included, give an equal Access. OrgRoles are in role order, Workspaces by
// name, Reasons by rule position in the document and then by group.
//
// # Simulation and guards
//
// Simulate evaluates the current and the proposed rules for every person
// and returns every Change (granted, revoked, role_changed, as the access.*
// events name them) with counts overall and per workspace and role. A
// workspace whose role changes is one role_changed; in the per-role tallies
// it counts as losing the old role and gaining the new one.
//
// Guards.Check refuses a Diff that
//   - leaves no active person holding org_admin (no_org_admin), unless the
//     population has no active person at all;
//   - revokes access from more than MaxRevokeShare (default 10%) of the
//     people who held any role before (mass_revocation). "Revoking access"
//     means, by default, losing at least one grant: a role revoked or
//     workspace_admin downgraded to member. A broken rule typically strips
//     workspace memberships while the person keeps something (another
//     workspace, the default grant), which "lost all access" would miss.
//     Guards.Mode = RevokeAll counts only people left with nothing.
//
// Each violation names its guard and carries its figures, such as "would
// revoke access from 37 of 120 people (30.8%), above the 10% guard".
//
// # Limits
//
// MaxDocumentBytes, MaxRules, MaxWorkspaces, MaxNameBytes,
// MaxWorkspaceBytes, MaxPatternBytes, MaxPatternSize and
// MaxTotalPatternSize bound a document; nesting deeper than 32 levels, more
// than 2^20 values, or YAML aliases that expand to more than 2^16 values,
// are refused. RE2 matching is linear in the name and in the size of the
// pattern, so Evaluate costs at most groups × (the document's total pattern
// size) × name length, plus map lookups. Rules are indexed by id,
// externalId, folded displayName, and the literal prefix (after ^) or
// suffix (before $) of a pattern, compared with ASCII letters lower-cased,
// so a person is matched against the few rules that may apply; a pattern
// with neither, such as an unanchored one, is tried for every group.
// Evaluating one person in 200 groups against 1,000 rules takes well under
// a millisecond (BenchmarkEvaluate).
package mapping
