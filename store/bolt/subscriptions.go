package bolt

// Subscriptions (store.Subscriptions) live in a top-level bucket of their
// own that is created lazily, by CreateSubscription's Update transaction
// (CreateBucketIfNotExists), not by a migration: the schema version does
// not change, a file without the bucket simply has no subscription, and an
// older build that opens a file with the bucket ignores it.
//
//	subscriptions  org name → bucket:
//	                 subscription id → subscription record (JSON)
//
// The record holds the webhook's HMAC key (or the Splunk HEC token) in
// clear: the deliverer must be able to sign with it, so it cannot be
// hashed like a bearer token. The file is created 0600 like the rest of
// the database; sealing these secrets with a server key is future work.
//
// The subscription records are not part of the outbox: creating, updating
// (every delivery advances a cursor) or deleting one emits no event.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

var _ store.Subscriptions = (*DB)(nil)

var bucketSubscriptions = []byte("subscriptions")

var errNoSubscription = fmt.Errorf("no such subscription: %w", store.ErrNotFound)

type subscriptionRecord struct {
	Kind         string    `json:"kind"`
	URL          string    `json:"url"`
	Types        []string  `json:"types,omitempty"`
	Directory    string    `json:"directory,omitempty"`
	Secret       []byte    `json:"secret,omitempty"`
	SecretPrefix string    `json:"secret_prefix,omitempty"`
	SourceType   string    `json:"sourcetype,omitempty"`
	Cursor       uint64    `json:"cursor"`
	State        string    `json:"state"`
	Failures     int       `json:"failures,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
	LastAttempt  time.Time `json:"last_attempt,omitzero"`
	LastSuccess  time.Time `json:"last_success,omitzero"`
	NextAttempt  time.Time `json:"next_attempt,omitzero"`
	FailingSince time.Time `json:"failing_since,omitzero"`
	Created      time.Time `json:"created"`
}

func newSubscriptionRecord(s store.Subscription) subscriptionRecord {
	return subscriptionRecord{
		Kind: s.Kind, URL: s.URL, Types: slices.Clone(s.Types), Directory: s.Directory,
		Secret: slices.Clone(s.Secret), SecretPrefix: s.SecretPrefix, SourceType: s.SourceType,
		Cursor: s.Cursor, State: s.State, Failures: s.Failures, LastError: s.LastError,
		LastAttempt: s.LastAttempt, LastSuccess: s.LastSuccess, NextAttempt: s.NextAttempt,
		FailingSince: s.FailingSince, Created: s.Created,
	}
}

func (r subscriptionRecord) subscription(org, id string) store.Subscription {
	return store.Subscription{
		ID: id, Org: org, Kind: r.Kind, URL: r.URL, Types: r.Types, Directory: r.Directory,
		Secret: r.Secret, SecretPrefix: r.SecretPrefix, SourceType: r.SourceType,
		Cursor: r.Cursor, State: r.State, Failures: r.Failures, LastError: r.LastError,
		LastAttempt: r.LastAttempt, LastSuccess: r.LastSuccess, NextAttempt: r.NextAttempt,
		FailingSince: r.FailingSince, Created: r.Created,
	}
}

// subscriptionBucket returns the subscriptions of org, or nil.
func subscriptionBucket(tx *bbolt.Tx, org string) *bbolt.Bucket {
	if b := tx.Bucket(bucketSubscriptions); b != nil {
		return b.Bucket([]byte(org))
	}
	return nil
}

func putSubscription(b *bbolt.Bucket, s store.Subscription) error {
	v, err := encode(newSubscriptionRecord(s))
	if err != nil {
		return err
	}
	return b.Put([]byte(s.ID), v)
}

// CreateSubscription stores s; see store.Subscriptions.
func (db *DB) CreateSubscription(ctx context.Context, s store.Subscription) error {
	if s.Created.IsZero() {
		s.Created = db.stamp()
	}
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		if s.ID == "" || s.Org == "" {
			return errors.New("subscription id and org are required")
		}
		if tx.Bucket(bucketOrgs).Get([]byte(s.Org)) == nil {
			return errNoOrg
		}
		all, err := tx.CreateBucketIfNotExists(bucketSubscriptions)
		if err != nil {
			return err
		}
		b, err := all.CreateBucketIfNotExists([]byte(s.Org))
		if err != nil {
			return err
		}
		if b.Get([]byte(s.ID)) != nil {
			return &store.ConflictError{Field: "subscription", Value: s.ID}
		}
		return putSubscription(b, s)
	})
	if err != nil {
		return fmt.Errorf("bolt: create subscription of %q: %w", s.Org, err)
	}
	return nil
}

// Subscription reads one subscription; see store.Subscriptions.
func (db *DB) Subscription(ctx context.Context, org, id string) (store.Subscription, error) {
	var s store.Subscription
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		b := subscriptionBucket(tx, org)
		if b == nil {
			return errNoSubscription
		}
		v := b.Get([]byte(id))
		if v == nil {
			return errNoSubscription
		}
		var r subscriptionRecord
		if err := decode(v, &r); err != nil {
			return err
		}
		s = r.subscription(org, id)
		return nil
	})
	if err != nil {
		return store.Subscription{}, fmt.Errorf("bolt: subscription %s of %q: %w", id, org, err)
	}
	return s, nil
}

func readSubscriptions(b *bbolt.Bucket, org string) ([]store.Subscription, error) {
	var out []store.Subscription
	err := b.ForEach(func(k, v []byte) error {
		var r subscriptionRecord
		if err := decode(v, &r); err != nil {
			return fmt.Errorf("subscription %s: %w", k, err)
		}
		out = append(out, r.subscription(org, string(k)))
		return nil
	})
	slices.SortStableFunc(out, func(a, b store.Subscription) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return out, err
}

// Subscriptions lists the subscriptions of org; see store.Subscriptions.
func (db *DB) Subscriptions(ctx context.Context, org string) ([]store.Subscription, error) {
	var out []store.Subscription
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketOrgs).Get([]byte(org)) == nil {
			return errNoOrg
		}
		b := subscriptionBucket(tx, org)
		if b == nil {
			return nil
		}
		var err error
		out, err = readSubscriptions(b, org)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: subscriptions of %q: %w", org, err)
	}
	return out, nil
}

// AllSubscriptions lists the subscriptions of every org; see
// store.Subscriptions.
func (db *DB) AllSubscriptions(ctx context.Context) ([]store.Subscription, error) {
	var out []store.Subscription
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		all := tx.Bucket(bucketSubscriptions)
		if all == nil {
			return nil
		}
		return all.ForEachBucket(func(org []byte) error {
			subs, err := readSubscriptions(all.Bucket(org), string(org))
			out = append(out, subs...)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: subscriptions: %w", err)
	}
	return out, nil
}

// UpdateSubscription changes one subscription; see store.Subscriptions.
func (db *DB) UpdateSubscription(ctx context.Context, org, id string, fn func(s *store.Subscription) error) (store.Subscription, error) {
	var s store.Subscription
	var fnErr error
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := subscriptionBucket(tx, org)
		if b == nil {
			return errNoSubscription
		}
		v := b.Get([]byte(id))
		if v == nil {
			return errNoSubscription
		}
		var r subscriptionRecord
		if err := decode(v, &r); err != nil {
			return err
		}
		s = r.subscription(org, id)
		if fnErr = fn(&s); fnErr != nil {
			return fnErr
		}
		s.ID, s.Org, s.Created = id, org, r.Created
		return putSubscription(b, s)
	})
	if fnErr != nil {
		return store.Subscription{}, fnErr
	}
	if err != nil {
		return store.Subscription{}, fmt.Errorf("bolt: update subscription %s of %q: %w", id, org, err)
	}
	return s, nil
}

// DeleteSubscription removes one subscription; see store.Subscriptions.
func (db *DB) DeleteSubscription(ctx context.Context, org, id string) error {
	err := db.update(ctx, func(tx *bbolt.Tx) error {
		b := subscriptionBucket(tx, org)
		if b == nil || b.Get([]byte(id)) == nil {
			return errNoSubscription
		}
		return b.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("bolt: delete subscription %s of %q: %w", id, org, err)
	}
	return nil
}
