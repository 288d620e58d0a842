package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scimbridge/scimbridge/mapping"
)

// Errors owned by the store. Backends wrap them with context; callers test
// them with errors.Is and errors.As.
var (
	// ErrNotFound means the org, directory, token, user or group does not
	// exist in the scope that was asked.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a uniqueness constraint would be violated. The error
	// is a *ConflictError that names the field.
	ErrConflict = errors.New("store: conflict")
	// ErrVersionMismatch means the caller's expected version (If-Match) is
	// not the current version of the resource.
	ErrVersionMismatch = errors.New("store: version mismatch")
	// ErrInvalidMember means a member reference is not a user of the same
	// directory. The error is a *MemberError that names the reference.
	ErrInvalidMember = errors.New("store: invalid member")
	// ErrLocked means another process holds the database file.
	ErrLocked = errors.New("store: database is locked by another process")
)

// ConflictError is returned (wrapped in ErrConflict) when a uniqueness
// constraint is violated.
type ConflictError struct {
	Field string // "userName", "displayName", "org", "directory"
	Value string // the value the caller gave
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("store: %s %q is already in use", e.Field, e.Value)
}

// Is makes errors.Is(err, ErrConflict) true for a *ConflictError.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// MemberError is returned when a member reference is not acceptable.
type MemberError struct {
	ID     string // the reference as given
	Nested bool   // the reference is a group of the same directory (nested groups are refused)
}

func (e *MemberError) Error() string {
	if e.Nested {
		return fmt.Sprintf("store: member %q is a group; nested groups are not supported", e.ID)
	}
	return fmt.Sprintf("store: member %q is not a user of this directory", e.ID)
}

// Is makes errors.Is(err, ErrInvalidMember) true for a *MemberError.
func (e *MemberError) Is(target error) bool { return target == ErrInvalidMember }

// DirKey names one directory of one org: the scope of every user and group.
type DirKey struct {
	Org       string
	Directory string
}

func (k DirKey) String() string { return k.Org + "/" + k.Directory }

// Org is the isolation boundary.
type Org struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// Directory is one IdP connection inside an org.
type Directory struct {
	Org     string    `json:"org"`
	Name    string    `json:"name"`
	Profile string    `json:"profile"` // generic, okta, entra, google
	Created time.Time `json:"created"`
}

// Key returns the directory's DirKey.
func (d Directory) Key() DirKey { return DirKey{Org: d.Org, Directory: d.Name} }

// TokenKind says what a token may do.
type TokenKind string

// Token kinds.
const (
	TokenSCIM  TokenKind = "scim"  // SCIM API of one directory
	TokenAdmin TokenKind = "admin" // admin API of one org
	TokenSuper TokenKind = "super" // every org, backups
)

// Token is a bearer token as stored: only its hash is kept.
type Token struct {
	ID        string    `json:"id"`
	Kind      TokenKind `json:"kind"`
	Org       string    `json:"org,omitempty"`       // empty for super tokens
	Directory string    `json:"directory,omitempty"` // set for SCIM tokens only
	Name      string    `json:"name"`
	Prefix    string    `json:"prefix"` // the first characters of the secret, to tell tokens apart in listings
	Hash      []byte    `json:"hash"`   // SHA-256 of the secret
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires,omitzero"` // zero: never
	// LastUsed is when the token was last presented (TouchToken), to the
	// caller's throttle (a minute); zero: never since it was created.
	LastUsed time.Time `json:"last_used,omitzero"`
	// ReplacedBy is the id of the token that replaced this one
	// (RotateToken); empty unless it was rotated. A replaced token stays
	// valid until its Expires, which the rotation shortened.
	ReplacedBy string `json:"replaced_by,omitempty"`
}

// Expired reports whether the token is past its expiry at now.
func (t Token) Expired(now time.Time) bool {
	return !t.Expires.IsZero() && !now.Before(t.Expires)
}

// User is a SCIM user as stored. The indexed fields are filled by the caller
// from the SCIM document; Attributes is the document itself (canonical
// attribute names, without id, meta, groups and password). It must be a
// JSON object; the store does not interpret it (beyond comparing it,
// attribute by attribute, for events) but may store it normalised
// (compacted, keys reordered). UserName must not be empty; empty
// ExternalID and Emails values are not indexed. The store assigns ID: a
// lower-case UUID (version 4 or 7).
type User struct {
	ID          string
	UserName    string   // unique per directory under Fold
	ExternalID  string   // indexed case-exactly, not unique
	DisplayName string   // returned as the member display of groups
	Active      bool     //
	Emails      []string // indexed under Fold, not unique
	Attributes  []byte   // JSON object
	Version     uint64   // starts at 1, +1 on every change (also membership changes)
	Created     time.Time
	Modified    time.Time

	// Groups is filled on reads that ask for it (User, UpdateUser, and
	// ListUsers with Query.WithGroups); it is ignored on writes.
	Groups []GroupRef
}

// GroupRef is a group a user is a direct member of.
type GroupRef struct {
	ID          string
	DisplayName string
}

// Group is a SCIM group as stored, without its members (they are keys of
// their own). Attributes is the document without id, meta and members.
type Group struct {
	ID          string
	DisplayName string // unique per directory under Fold
	ExternalID  string // indexed case-exactly, not unique
	Attributes  []byte
	MemberCount int
	// LastPos is the highest position (MemberRef.Pos) the group ever gave
	// a member; a stream of the members that stops there lists each member
	// at most once, even if members are removed and added while it reads.
	LastPos  uint64
	Version  uint64
	Created  time.Time
	Modified time.Time
}

// MemberRef is one member of a group as listed.
type MemberRef struct {
	ID          string
	DisplayName string // the member's current displayName
	// Pos is the member's place in the group: each member added gets a
	// position above every one the group gave before (positions are never
	// reused), so a member removed and added again goes to the end.
	Pos uint64
}

// MemberChange is what a group update does to the membership. Every user
// whose membership changes gets a new Version, as its groups attribute
// changed (CreateGroup does the same for the initial members). RemoveAll is
// applied first, then Remove, then Add. Adding a present member or removing
// an absent one is not an error and changes nothing.
type MemberChange struct {
	RemoveAll bool
	Remove    []string
	Add       []string
}

// Members reads the current membership of a group inside an update
// transaction. It is valid only during the callback it is passed to.
type Members interface {
	Has(userID string) bool
	// Each calls fn for every member id, in the order they were added,
	// until fn returns false.
	Each(fn func(userID string) bool)
}

// Field is an indexed field that a Plan can look up.
type Field string

// Indexed fields. Users: ID, UserName (Fold), ExternalID (exact), Email
// (Fold). Groups: ID, DisplayName (Fold), ExternalID (exact).
const (
	FieldID          Field = "id"
	FieldUserName    Field = "userName"
	FieldExternalID  Field = "externalId"
	FieldEmail       Field = "email"
	FieldDisplayName Field = "displayName"
)

// PlanOp is the kind of a Plan node.
type PlanOp int

// Plan node kinds.
const (
	PlanLookup PlanOp = iota // one index lookup (Field, Value, Prefix)
	PlanAnd                  // intersection of Subs
	PlanOr                   // union of Subs
)

// Plan is a set of candidate ids computed from indexes only. A nil *Plan
// means every resource of the directory. The candidates are a superset of
// the real result: the caller's Match is always applied on top.
type Plan struct {
	Op     PlanOp
	Field  Field
	Value  string // raw value; the backend applies the field's fold
	Prefix bool   // match every key that starts with Value (sw)
	Subs   []*Plan
}

// Record is the view of a user or group that a Query's Match and SortKey
// see: the SCIM document and the attributes the store keeps beside it.
type Record struct {
	ID         string
	Attributes []byte // the JSON document; valid only during the call
	Version    uint64
	Created    time.Time
	Modified   time.Time
}

// Query selects, orders and pages a listing.
type Query struct {
	Plan  *Plan
	Match func(r Record) bool // nil: every candidate matches
	// SortKey, when set, orders the matches by the returned key (ascending,
	// ties by id; descending when Desc). Without it the order is by id,
	// which is stable across pages.
	SortKey    func(r Record) string
	Desc       bool
	StartIndex int // 1-based; values below 1 mean 1
	Count      int // page size; 0 means no resource, only the total
	WithGroups bool
}

// UserPage is one page of a user listing.
type UserPage struct {
	Total    int
	Users    []User
	Examined int // records read to answer (for tests and logs)
}

// GroupPage is one page of a group listing.
type GroupPage struct {
	Total    int
	Groups   []Group
	Examined int
}

// Store is the contract every backend implements. Every method takes the
// context first and returns before doing any work if it is done.
type Store interface {
	CreateOrg(ctx context.Context, name string) (Org, error)
	Orgs(ctx context.Context) ([]Org, error)
	CreateDirectory(ctx context.Context, d Directory) (Directory, error)
	Directory(ctx context.Context, k DirKey) (Directory, error)
	Directories(ctx context.Context, org string) ([]Directory, error)

	// CreateToken stores t (ID, Hash and Created must be set). Hashes are
	// unique across the database.
	CreateToken(ctx context.Context, t Token) error
	// TokenByHash finds a token by the SHA-256 of its secret.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	Tokens(ctx context.Context, org string) ([]Token, error)
	DeleteToken(ctx context.Context, id string) error
	// TouchToken records that token id was presented at at (LastUsed). A
	// time before the recorded one changes nothing. It emits no event, and
	// the caller throttles it (internal/bearer: once a minute per token).
	TouchToken(ctx context.Context, id string, at time.Time) error
	// RotateToken replaces token id with newTok in one transaction: it
	// stores newTok (ID and Hash set and unused, as for CreateToken;
	// Created defaults to the store's clock; Expires is the caller's) with
	// the Kind, Org, Directory and Name of the old token, whatever newTok
	// says; it sets the old token's Expires to the earlier of its own and
	// the store's now+overlap (overlap 0: at once) and its ReplacedBy to
	// newTok.ID; and it emits token.rotated in the old token's org. A
	// token that was already replaced is a *ConflictError on
	// "replaced_by" (its value the replacement's id), so a token has at
	// most one successor. It returns the old token as it is now. Nothing
	// is written when it fails.
	RotateToken(ctx context.Context, id string, newTok Token, overlap time.Duration) (old Token, err error)
	// MarkTokenExpiring announces that token id expires within days days.
	// Unless a threshold of days or fewer was already announced for the
	// token, it records days and emits token.expiring, and returns true;
	// otherwise it writes nothing and returns false. So each threshold is
	// announced at most once per token, across restarts and concurrent
	// callers, and never after a tighter one. Whether the token really
	// expires within days is the caller's to decide; a token without
	// expiry, or days below 1, is an error.
	MarkTokenExpiring(ctx context.Context, id string, days int) (bool, error)

	// CreateUser assigns ID, Version 1, Created and Modified, and stores u.
	CreateUser(ctx context.Context, dir DirKey, u User) (User, error)
	// User reads one user with its groups.
	User(ctx context.Context, dir DirKey, id string) (User, error)
	// UpdateUser reads the user, checks ifVersion (0: any), calls fn with
	// the current record and stores what fn left in it (ID, Version,
	// Created, Modified and Groups are the store's). fn runs inside the
	// write transaction: it must be pure CPU work, and may run more than
	// once. An error from fn aborts the update and is returned as is.
	UpdateUser(ctx context.Context, dir DirKey, id string, ifVersion uint64, fn func(u *User) error) (User, error)
	// DeleteUser removes the user and every membership it has.
	DeleteUser(ctx context.Context, dir DirKey, id string, ifVersion uint64) error
	ListUsers(ctx context.Context, dir DirKey, q Query) (UserPage, error)

	// CreateGroup stores g with the given members (user ids of dir).
	CreateGroup(ctx context.Context, dir DirKey, g Group, members []string) (Group, error)
	Group(ctx context.Context, dir DirKey, id string) (Group, error)
	// UpdateGroup is UpdateUser for groups; fn also returns the membership
	// change to apply in the same transaction.
	UpdateGroup(ctx context.Context, dir DirKey, id string, ifVersion uint64, fn func(g *Group, m Members) (MemberChange, error)) (Group, error)
	DeleteGroup(ctx context.Context, dir DirKey, id string, ifVersion uint64) error
	ListGroups(ctx context.Context, dir DirKey, q Query) (GroupPage, error)
	// GroupMembers lists up to limit members of a group in the order they
	// were added, from the first whose Pos is greater than after (0: from
	// the start), so a caller can stream a large group in chunks without
	// holding a transaction open between them: it passes the last Pos of
	// one chunk as after for the next.
	GroupMembers(ctx context.Context, dir DirKey, groupID string, after uint64, limit int) ([]MemberRef, error)

	// Events reads a page of the outbox of org in seq order (org "" is the
	// outbox of changes that belong to no org). A cursor before the oldest
	// retained event is a *CursorExpiredError, one past the org's last
	// event is ErrCursorAhead, an unknown org is ErrNotFound.
	Events(ctx context.Context, org string, q EventQuery) (EventPage, error)
	// PruneEvents deletes the oldest events of org, in seq order, as long
	// as they occurred before before and their seq is at most keepAfter
	// (the lowest cursor of the subscribers; math.MaxUint64 when there is
	// none). It stops at the first event that must stay, so what remains
	// is always every event after some seq, and it deletes at most
	// MaxEventPrune events per call. It returns how many it deleted.
	PruneEvents(ctx context.Context, org string, before time.Time, keepAfter uint64) (int, error)

	// Rules and access (see the package comment). Every write above that
	// can change a person's access recomputes it in its own transaction.

	// CreateDraft validates doc (mapping.Parse: YAML or JSON, sniffed) and
	// keeps it as a draft of org. An invalid document is a
	// *mapping.ValidationError (wrapped) and nothing is kept.
	CreateDraft(ctx context.Context, org string, doc []byte) (Draft, error)
	// Draft reads one draft of org.
	Draft(ctx context.Context, org, id string) (Draft, error)
	// PublishRules publishes doc as the next version of org's rules, in one
	// transaction: it evaluates every person of every directory of the org
	// under the current and the new rules, applies mapping.Guards (unless
	// opts.Force), writes the version, rewrites the access (and its
	// indexes) of the people whose access changes, and appends their
	// access.* events and one rules.published event. A refusal is a
	// *GuardError (wrapping ErrGuard) returned with the Diff, and nothing
	// is written.
	PublishRules(ctx context.Context, org string, doc []byte, opts PublishOptions) (RulesVersion, mapping.Diff, error)
	// Rollback publishes the document of an earlier version as a new
	// version (RolledBackFrom set), exactly as PublishRules does, guards
	// included.
	Rollback(ctx context.Context, org string, version int, opts PublishOptions) (RulesVersion, mapping.Diff, error)
	// Rules returns org's current rules version; ErrNotFound when none was
	// published.
	Rules(ctx context.Context, org string) (RulesVersion, error)
	// RulesVersions lists every version of org's rules, oldest first.
	RulesVersions(ctx context.Context, org string) ([]RulesVersion, error)
	// SimulateRules compares doc with org's current rules over the current
	// population, in a read-only transaction.
	SimulateRules(ctx context.Context, org string, doc []byte) (mapping.Diff, error)
	// Access returns the materialised access of one user. A user without
	// access has empty lists; an unknown user is ErrNotFound.
	Access(ctx context.Context, dir DirKey, userID string) (PersonAccess, error)
	// WorkspaceMembers lists up to limit holders of role ("" any) in
	// workspace (OrgWide for org-wide roles), ordered by role, directory
	// and user id, after the cursor after ("" from the start). next is
	// the cursor of the following page, "" when there is none.
	WorkspaceMembers(ctx context.Context, org, workspace, role, after string, limit int) (members []Member, next string, err error)
	// Workspaces lists the workspaces declared by org's current rules and
	// those anyone holds a role in, by name, with their counts.
	Workspaces(ctx context.Context, org string) ([]WorkspaceView, error)

	Close() error
}
