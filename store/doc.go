// Package store owns the persistent state of scimbridge: orgs, directories,
// tokens, SCIM users and groups, the memberships between them, the
// published rules and the access they give (materialised, with its
// reasons, indexed by workspace and role), and the outbox of events that
// records every change. It imports mapping (pure) to compute access;
// mapping never imports store. It defines the contract (the
// Store interface, the record types and the errors) that every backend
// implements; store/bolt is the default backend and store/storetest the
// conformance suite that every backend runs.
//
// The package never imports an HTTP, SCIM, SAML or OIDC library and never
// logs: it speaks in records and errors. Callers in the scim package turn SCIM
// documents into records (filling the indexed fields) and records back into
// SCIM JSON; the store treats a record's Attributes as opaque bytes, except
// that it compares them attribute by attribute to describe an update in its
// event.
//
// Contract shared by every backend:
//   - Every write is atomic and durable (fsync'd) before it returns: a write
//     that returned nil survives a crash, a write that returned an error left
//     nothing behind.
//   - Uniqueness (userName by Fold, group displayName by Fold) is enforced in
//     the same transaction as the write, so of two concurrent creates with
//     colliding names exactly one succeeds and the other gets ErrConflict.
//   - Nothing crosses a directory: every lookup, listing, index and member
//     reference is scoped to the DirKey it is given. An id of another
//     directory is ErrNotFound, never a different error that would leak it.
//   - Membership changes write only the memberships that change (two keys
//     per member), never a whole group.
//
// # Events
//
// Every write appends the events of what it changed to the outbox of its
// org, in the same transaction as the change: a write that returned nil has
// its events on disk, a write that failed (a conflict, an invalid member, a
// version mismatch, an error of the caller's callback, a canceled context)
// appended none and used up no sequence number. Nothing is written anywhere
// else first, so the outbox is the one source of truth for delivery. Each
// org has its own sequence: its first event is seq 1 and every event takes
// the next number, without gaps or repeats, also under concurrent writers.
// Changes that belong to no org (super tokens) go to the outbox of org "".
// CreateOrg emits no event (there is no event type for it); it creates the
// org's empty outbox.
//
// The actor of every event is ActorFrom of the write's context: the HTTP
// layer puts the authenticated token or admin there with WithActor; writes
// without one are recorded as Actor{Type: "system"}.
//
// What each write emits, in this order within the write:
//   - CreateDirectory: directory.created. CreateToken: token.created.
//     DeleteToken: token.revoked. RotateToken: token.rotated.
//     MarkTokenExpiring: token.expiring (once per threshold).
//   - The optional capabilities: UpdateSSOConfig directory.sso_updated
//     (when asked), CreateSession sso.login_succeeded, DeleteSession
//     sso.logout, AppendSSOEvent sso.login_failed, UpdateDirectorySettings
//     directory.settings_updated, UpdateOrgSettings org.settings_updated,
//     AppendAudit admin.action and admin.request_refused. A deactivation
//     or deletion deletes the person's sessions without an event of its
//     own: user.deactivated or user.deleted is it.
//   - CreateUser: user.created.
//   - UpdateUser: the attributes that changed (see Changes below), as
//     user.updated; when active went from true to false, also
//     user.deactivated (after user.updated, if any) carrying only the
//     active change, and from false to true user.reactivated. A
//     deactivation with no other change is one user.deactivated event.
//     Both events carry the whole new state as data. An update that
//     changes no attribute emits nothing (it still gets a new version).
//   - DeleteUser: group.member_removed for each group the user was in (in
//     group id order), then user.deleted with the user's last state.
//   - CreateGroup: group.created, then group.member_added for each initial
//     member (in user id order).
//   - UpdateGroup: group.updated when an attribute changed, then one
//     group.member_added or group.member_removed per member whose
//     membership really changed (in user id order): a PATCH that adds 100
//     members emits 100 events. A membership change is not a group.updated,
//     and the version bump it gives each member is not a user.updated.
//   - DeleteGroup: group.member_removed for each member (in user id order),
//     then group.deleted with the group's last state; a consumer that
//     tracks memberships needs no special case for deleted groups.
//
// Data, by type:
//   - user.* and group.created, group.updated, group.deleted: the stored
//     document (Attributes) with "id" and "meta" {"created",
//     "lastModified", "version"} (version is the store's number, the one the
//     ETag is made of), for users with "active" set from User.Active. Never
//     the members of a group or the groups of a user, and never a
//     top-level "password" attribute (the store drops one if a caller left
//     it in Attributes).
//   - group.member_added, group.member_removed: {"group": {"id",
//     "displayName"}, "user": {"id", "userName"}}; the resource is the
//     group.
//   - directory.created: the Directory record {"org", "name", "profile",
//     "created"}; the resource id is the directory name.
//   - token.created, token.revoked: the token without its hash {"id",
//     "kind", "org", "directory", "name", "prefix", "created", "expires"}.
//
// Changes (user.updated, user.deactivated, user.reactivated,
// group.updated) compare the old and new documents top-level attribute by
// attribute, as JSON values (key order and white space do not count); the
// attributes of an extension (a top-level key that starts with "urn:" and
// holds an object) are compared one by one under "<urn>:<attribute>". Only
// changed attributes are listed, in name order, with JSON null for an
// absent side. For users, "active" is User.Active. Only the document and
// Active count: the indexed fields (UserName, ExternalID, Emails,
// DisplayName) are the caller's copies of what the document says. So that
// it can be compared, Attributes must be a JSON object (or empty): a write
// with anything else fails.
//
// Access and rules (access.go):
//   - Every write that can change a person's access recomputes it, with
//     the org's current rules (mapping), in its own transaction: a
//     membership added or removed (CreateGroup, UpdateGroup, DeleteGroup,
//     DeleteUser), a user created (the default grant), deactivated,
//     reactivated, renamed or deleted, a group renamed or given another
//     externalId (every member: O(members)). Only the people whose access
//     changes are rewritten. With no rules published, nobody has access and
//     nothing is computed.
//   - After the write's own events it appends, per person (in user id
//     order; for a publish in directory and user id order) and per changed
//     role (org-wide roles first, then workspaces by name),
//     access.granted, access.revoked or access.role_changed. The resource is
//     the user; data is {"user": {"id", "userName"}, "workspace" (absent
//     for an org-wide role), "role" (granted, revoked, or the new one),
//     "from", "to", "reasons" (why the role is held now: "rule",
//     "group_id", "group_external_id", "group_display_name", "directory"),
//     "previous_reasons" (why the role before was held), "rules_version"}.
//     A write that changes nobody's roles appends no access event (it may
//     still rewrite reasons).
//   - A write that leaves the org with no active org_admin while it had
//     one appends access.org_admin_missing last. SCIM writes are never
//     refused for it (the IdP is the source of truth).
//   - PublishRules and Rollback appear as one rules.published (resource
//     {"rules", version}; data {"version", "actor", "force", "reason",
//     "rolled_back_from", "guards" (the guards a forced publish
//     overrode), "diff" (the counts of mapping.Diff)}), then the access
//     events of the people whose access changed. Guards (mapping.Guards:
//     no_org_admin, mass_revocation with PublishOptions.MaxRevokeShare)
//     refuse with a *GuardError unless Force is set with a Reason, and a
//     refusal writes nothing. Drafts emit no event.
//
// Retention: events are read with Events and deleted with PruneEvents,
// oldest first. A cursor older than what was pruned gets ErrCursorExpired
// (a *CursorExpiredError naming the oldest available seq), never a page
// that silently skips events; the org's seq counter survives pruning, so
// sequence numbers are never reused. The retention window
// (DefaultEventRetention) and the lowest cursor of the subscribers are the
// caller's to pass.
package store
