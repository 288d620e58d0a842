package store

import (
	"context"
	"time"
)

// Subscription kinds.
const (
	// SubscriptionWebhook posts signed JSON batches to a URL.
	SubscriptionWebhook = "webhook"
	// SubscriptionSplunk posts to a Splunk HTTP Event Collector.
	SubscriptionSplunk = "splunk"
)

// Subscription states.
const (
	// SubscriptionActive is delivering (or waiting for events, or retrying
	// a recent failure).
	SubscriptionActive = "active"
	// SubscriptionFailing has failed many times in a row (or its cursor
	// expired); it is still retried, at the longest backoff.
	SubscriptionFailing = "failing"
	// SubscriptionPaused is no longer retried until an administrator
	// resumes or replays it. It still holds back pruning at its cursor.
	SubscriptionPaused = "paused"
)

// Subscription is a consumer of an org's outbox that the server pushes
// events to (package events): a webhook or a SIEM sink. Its Cursor is part
// of it, so delivery resumes where it stopped after a restart, and the
// lowest cursor of an org's subscriptions bounds what PruneEvents may
// delete.
type Subscription struct {
	ID   string // random UUID, set by the caller
	Org  string
	Kind string // SubscriptionWebhook or SubscriptionSplunk
	URL  string // the webhook URL, or the base URL of the Splunk HEC
	// Types, when not empty, keeps only events of these types; Directory,
	// when not empty, only events of that directory (EventQuery).
	Types     []string
	Directory string
	// Secret is the webhook's HMAC-SHA256 key (the secret string shown to
	// the administrator once, as bytes) or the Splunk HEC token. The
	// deliverer needs it in clear to sign, so it is stored as is, never
	// hashed; the admin API never returns it after creation and nothing
	// logs it.
	Secret       []byte
	SecretPrefix string // the first characters of the secret, for listings
	SourceType   string // Splunk sourcetype
	// Cursor is the seq of the last event delivered (or skipped by the
	// filter): delivery goes on after it.
	Cursor       uint64
	State        string // SubscriptionActive, SubscriptionFailing, SubscriptionPaused
	Failures     int    // failed attempts in a row
	LastError    string // of the last failed attempt; empty after a success
	LastAttempt  time.Time
	LastSuccess  time.Time
	NextAttempt  time.Time // zero: at once
	FailingSince time.Time // the first failure of the current streak; zero when the last attempt succeeded
	Created      time.Time
}

// Subscriptions is the optional capability of a backend to keep event
// subscriptions. Callers type-assert a Store to it. Nothing here emits an
// event.
type Subscriptions interface {
	// CreateSubscription stores s (ID and Org must be set; Created is set
	// to now when zero). An unknown org is ErrNotFound, a taken ID a
	// *ConflictError on "subscription".
	CreateSubscription(ctx context.Context, s Subscription) error
	// Subscription reads one subscription of org; ErrNotFound when org has
	// none with that id.
	Subscription(ctx context.Context, org, id string) (Subscription, error)
	// Subscriptions lists the subscriptions of org by Created, then ID.
	Subscriptions(ctx context.Context, org string) ([]Subscription, error)
	// AllSubscriptions lists the subscriptions of every org, by org, then
	// as Subscriptions.
	AllSubscriptions(ctx context.Context) ([]Subscription, error)
	// UpdateSubscription reads the subscription, calls fn with it and
	// stores what fn left (ID, Org and Created are the store's), in one
	// transaction: read-modify-write is atomic against other updates. fn
	// must be pure CPU work; an error from it aborts the update and is
	// returned as is.
	UpdateSubscription(ctx context.Context, org, id string, fn func(s *Subscription) error) (Subscription, error)
	// DeleteSubscription removes the subscription; ErrNotFound if absent.
	DeleteSubscription(ctx context.Context, org, id string) error
}
