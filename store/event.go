package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Event types: the contract with the governance modules and the SIEM. A
// write emits the events of what it changed, in the order listed in the
// package comment, and a write that changes nothing emits nothing.
const (
	EventUserCreated     = "user.created"
	EventUserUpdated     = "user.updated"
	EventUserDeactivated = "user.deactivated"
	EventUserReactivated = "user.reactivated"
	EventUserDeleted     = "user.deleted"

	EventGroupCreated       = "group.created"
	EventGroupUpdated       = "group.updated"
	EventGroupDeleted       = "group.deleted"
	EventGroupMemberAdded   = "group.member_added"
	EventGroupMemberRemoved = "group.member_removed"

	// The access and rules events are emitted by every write that changes
	// someone's access (SCIM writes, PublishRules, Rollback), after the
	// write's own events; see the package comment.
	EventAccessGranted     = "access.granted"
	EventAccessRevoked     = "access.revoked"
	EventAccessRoleChanged = "access.role_changed"
	EventRulesPublished    = "rules.published"

	EventDirectoryCreated = "directory.created"
	EventTokenCreated     = "token.created"
	EventTokenRevoked     = "token.revoked"
	// EventTokenRotated is emitted by RotateToken: the old token (with its
	// shortened expiry) and its replacement, never a hash.
	EventTokenRotated = "token.rotated"
	// EventTokenExpiring is emitted by MarkTokenExpiring, once per
	// threshold (days before expiry) and token.
	EventTokenExpiring = "token.expiring"
)

// Resource types of Event.Resource.
const (
	ResourceUser      = "user"
	ResourceGroup     = "group"
	ResourceDirectory = "directory"
	ResourceToken     = "token"
)

// Event is one entry of an org's outbox, as stored and as delivered. Its
// JSON form is the envelope consumers see.
type Event struct {
	// ID is a random UUID (version 4) given when the event is appended. It
	// never changes, so consumers deduplicate redeliveries by it.
	ID string `json:"id"`
	// Seq is the event's place in its org's outbox: 1 for the org's first
	// event, then +1 for every event, without gaps or repeats.
	Seq  uint64 `json:"seq"`
	Type string `json:"type"`
	// OccurredAt is the store's clock at the write (UTC); it equals the
	// Modified time the write gave the resource.
	OccurredAt time.Time   `json:"occurred_at"`
	Org        string      `json:"org"`
	Directory  string      `json:"directory,omitempty"`
	Actor      Actor       `json:"actor"`
	Resource   ResourceRef `json:"resource"`
	// Data is the state after the change (for deletions, the last state);
	// see the package comment for its shape per type. It never holds a
	// secret, a token hash or a password.
	Data json.RawMessage `json:"data,omitempty"`
	// Changes lists, for updates, each changed attribute with its old and
	// new value.
	Changes []Change `json:"changes,omitempty"`
}

// ResourceRef names the resource an event is about.
type ResourceRef struct {
	Type string `json:"type"` // ResourceUser, ResourceGroup, ResourceDirectory, ResourceToken
	ID   string `json:"id"`   // the user, group or token id; the directory name
}

// Change is one changed attribute of an update. Attribute is the top-level
// attribute name, or for an attribute of a schema extension its full
// name: the extension URN, a colon, and the attribute
// ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department").
// Old and New are JSON values; JSON null when the attribute was (or is now)
// absent.
type Change struct {
	Attribute string          `json:"attribute"`
	Old       json.RawMessage `json:"old"`
	New       json.RawMessage `json:"new"`
}

// Actor types.
const (
	ActorToken  = "token"  // a bearer token (SCIM or admin): ID is the token id
	ActorAdmin  = "admin"  // a signed-in administrator: ID is their identity
	ActorSystem = "system" // the server itself, or an offline command
)

// Actor is who made a change: recorded in every event the change emits.
type Actor struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

type actorKey struct{}

// WithActor returns a context that carries the actor of the writes made
// with it. The HTTP layer sets it once per request, after authentication.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor that ctx carries, or Actor{Type: ActorSystem}
// when it carries none (or one without a Type).
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok && a.Type != "" {
		return a
	}
	return Actor{Type: ActorSystem}
}

// Limits of Events and PruneEvents.
const (
	// DefaultEventLimit is the page size of Events when EventQuery.Limit is
	// zero or negative.
	DefaultEventLimit = 100
	// MaxEventLimit caps EventQuery.Limit.
	MaxEventLimit = 1000
	// MaxEventScan is how many events one Events call examines at most when
	// a filter skips some: a page may then hold fewer than Limit events
	// (even none) while Next is still below Last.
	MaxEventScan = 10 * MaxEventLimit
	// MaxEventPrune is how many events one PruneEvents call deletes at most,
	// so that pruning never holds the writer for long; call it again while
	// it returns MaxEventPrune.
	MaxEventPrune = 10_000
	// DefaultEventRetention is how long events are kept when the operator
	// does not configure it (the caller of PruneEvents applies it).
	DefaultEventRetention = 30 * 24 * time.Hour
)

// EventQuery selects a page of an org's outbox.
type EventQuery struct {
	// After is the cursor: the page starts at the first event with a
	// greater seq. 0 reads from the beginning.
	After uint64
	// Limit is the page size: DefaultEventLimit when 0 or less, at most
	// MaxEventLimit.
	Limit int
	// Types, when not empty, keeps only events of these types.
	Types []string
	// Directory, when not empty, keeps only events of that directory.
	Directory string
}

// EventPage is one page of an outbox.
type EventPage struct {
	// Events are in seq order.
	Events []Event
	// Next is the cursor to pass as After to read on. It is past every
	// event examined, also those a filter skipped, so a filtered consumer
	// never reads an event twice. Next == Last when the consumer is up to
	// date.
	Next uint64
	// Last is the highest seq the org has ever given (0: no event yet),
	// pruned or not.
	Last uint64
}

// Errors of the outbox.
var (
	// ErrCursorExpired means the cursor points before the oldest retained
	// event: events it has not seen were pruned. The error is a
	// *CursorExpiredError that says which seq is the oldest available.
	ErrCursorExpired = errors.New("store: cursor is older than the retention window")
	// ErrCursorAhead means the cursor is past the last event of the org:
	// it is not a cursor of this org (or of this copy of the database).
	ErrCursorAhead = errors.New("store: cursor is past the last event")
)

// CursorExpiredError is returned (wrapped in ErrCursorExpired) by Events
// when the events after the cursor were pruned.
type CursorExpiredError struct {
	After  uint64 // the cursor as given
	Oldest uint64 // the oldest seq still available (Last+1 when every event was pruned)
}

func (e *CursorExpiredError) Error() string {
	return fmt.Sprintf("store: cursor %d is older than the retention window: events up to %d were pruned; the oldest available seq is %d (read from there or resynchronise)",
		e.After, e.Oldest-1, e.Oldest)
}

// Is makes errors.Is(err, ErrCursorExpired) true for a *CursorExpiredError.
func (e *CursorExpiredError) Is(target error) bool { return target == ErrCursorExpired }

// EventWaiter is the optional capability of a backend to tell a live
// stream cheaply that events were committed, instead of polling.
type EventWaiter interface {
	// WaitEvents returns a channel that is closed once an event with a seq
	// greater than after is committed in org (at once if there is one
	// already), or the store is closed. The channel is only a signal: read
	// the events with Events. Waiting never slows a writer down.
	WaitEvents(ctx context.Context, org string, after uint64) (<-chan struct{}, error)
}
