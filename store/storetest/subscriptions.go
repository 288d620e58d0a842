package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/scimbridge/scimbridge/store"
)

// RunSubscriptions runs the conformance suite of store.Subscriptions, for
// backends that implement it. open is as for Run; the store it returns
// must implement store.Subscriptions.
func RunSubscriptions(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, subs store.Subscriptions)
	}{
		{"CRUD", testSubscriptionCRUD},
		{"Tenancy", testSubscriptionTenancy},
		{"UpdateAtomic", testSubscriptionUpdateAtomic},
		{"NoEvents", testSubscriptionNoEvents},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close() = %v", err)
				}
			})
			subs, ok := s.(store.Subscriptions)
			if !ok {
				t.Fatalf("%T does not implement store.Subscriptions", s)
			}
			for _, org := range []string{"acme", "globex"} {
				if _, err := s.CreateOrg(t.Context(), org); err != nil {
					t.Fatalf("CreateOrg(%q) = %v", org, err)
				}
			}
			tc.fn(t, s, subs)
		})
	}
}

func newSubscription(t *testing.T, org string) store.Subscription {
	t.Helper()
	id, err := store.NewID()
	if err != nil {
		t.Fatal(err)
	}
	return store.Subscription{
		ID: id, Org: org, Kind: store.SubscriptionWebhook, URL: "https://hooks.example.com/" + id,
		Types: []string{store.EventUserCreated, store.EventUserDeleted}, Directory: "okta",
		Secret: []byte("whsec_secret"), SecretPrefix: "whsec_se", Cursor: 7, State: store.SubscriptionActive,
		Created: time.Now().UTC().Truncate(time.Second),
	}
}

func testSubscriptionCRUD(t *testing.T, _ store.Store, subs store.Subscriptions) {
	ctx := t.Context()
	if got, err := subs.Subscriptions(ctx, "acme"); err != nil || len(got) != 0 {
		t.Fatalf("Subscriptions(acme) on an empty store = %v, %v; want none", got, err)
	}
	if got, err := subs.AllSubscriptions(ctx); err != nil || len(got) != 0 {
		t.Fatalf("AllSubscriptions() on an empty store = %v, %v; want none", got, err)
	}
	a := newSubscription(t, "acme")
	if err := subs.CreateSubscription(ctx, a); err != nil {
		t.Fatalf("CreateSubscription() = %v", err)
	}
	if err := subs.CreateSubscription(ctx, a); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateSubscription(same id) = %v; want ErrConflict", err)
	}
	noOrg := newSubscription(t, "nope")
	if err := subs.CreateSubscription(ctx, noOrg); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreateSubscription(unknown org) = %v; want ErrNotFound", err)
	}
	got, err := subs.Subscription(ctx, "acme", a.ID)
	if err != nil {
		t.Fatalf("Subscription() = %v", err)
	}
	if diff := cmp.Diff(a, got, cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("Subscription() differs from what was created (-want +got):\n%s", diff)
	}
	// Returned bytes are the caller's.
	got.Secret[0] = 'X'
	if again, _ := subs.Subscription(ctx, "acme", a.ID); string(again.Secret) != "whsec_secret" {
		t.Errorf("changing a returned Secret changed the stored one: %q", again.Secret)
	}

	b := newSubscription(t, "acme")
	b.Created = a.Created.Add(time.Second)
	if err := subs.CreateSubscription(ctx, b); err != nil {
		t.Fatal(err)
	}
	list, err := subs.Subscriptions(ctx, "acme")
	if err != nil || len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
		t.Errorf("Subscriptions(acme) = %v, %v; want [a b] by Created", subIDs(list), err)
	}

	now := time.Now().UTC().Truncate(time.Millisecond)
	upd, err := subs.UpdateSubscription(ctx, "acme", a.ID, func(s *store.Subscription) error {
		s.Cursor, s.State, s.Failures, s.LastError, s.NextAttempt = 42, store.SubscriptionFailing, 3, "boom", now
		s.ID, s.Org, s.Created = "other", "globex", time.Time{} // the store's: ignored
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateSubscription() = %v", err)
	}
	if upd.ID != a.ID || upd.Org != "acme" || !upd.Created.Equal(a.Created) || upd.Cursor != 42 || upd.State != store.SubscriptionFailing ||
		upd.Failures != 3 || upd.LastError != "boom" || !upd.NextAttempt.Equal(now) {
		t.Errorf("UpdateSubscription() = %+v", upd)
	}
	if got, _ := subs.Subscription(ctx, "acme", a.ID); got.Cursor != 42 || !got.NextAttempt.Equal(now) {
		t.Errorf("after UpdateSubscription: %+v", got)
	}
	boom := errors.New("boom")
	if _, err := subs.UpdateSubscription(ctx, "acme", a.ID, func(s *store.Subscription) error { s.Cursor = 1; return boom }); err != boom {
		t.Errorf("UpdateSubscription(fn fails) = %v; want fn's error as is", err)
	}
	if got, _ := subs.Subscription(ctx, "acme", a.ID); got.Cursor != 42 {
		t.Errorf("a failed update changed the cursor to %d", got.Cursor)
	}
	if _, err := subs.UpdateSubscription(ctx, "acme", "missing", func(*store.Subscription) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateSubscription(missing) = %v; want ErrNotFound", err)
	}

	if err := subs.DeleteSubscription(ctx, "acme", a.ID); err != nil {
		t.Fatalf("DeleteSubscription() = %v", err)
	}
	if err := subs.DeleteSubscription(ctx, "acme", a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteSubscription(again) = %v; want ErrNotFound", err)
	}
	if _, err := subs.Subscription(ctx, "acme", a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Subscription(deleted) = %v; want ErrNotFound", err)
	}
}

func subIDs(list []store.Subscription) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Org+"/"+s.ID)
	}
	return out
}

func testSubscriptionTenancy(t *testing.T, _ store.Store, subs store.Subscriptions) {
	ctx := t.Context()
	a, g := newSubscription(t, "acme"), newSubscription(t, "globex")
	for _, s := range []store.Subscription{a, g} {
		if err := subs.CreateSubscription(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := subs.Subscription(ctx, "globex", a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Subscription(other org's id) = %v; want ErrNotFound", err)
	}
	if _, err := subs.UpdateSubscription(ctx, "globex", a.ID, func(*store.Subscription) error { return nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateSubscription(other org's id) = %v; want ErrNotFound", err)
	}
	if err := subs.DeleteSubscription(ctx, "globex", a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteSubscription(other org's id) = %v; want ErrNotFound", err)
	}
	if list, _ := subs.Subscriptions(ctx, "acme"); len(list) != 1 || list[0].ID != a.ID {
		t.Errorf("Subscriptions(acme) = %v; want only acme's", subIDs(list))
	}
	if _, err := subs.Subscriptions(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Subscriptions(unknown org) = %v; want ErrNotFound", err)
	}
	all, err := subs.AllSubscriptions(ctx)
	if err != nil || len(all) != 2 || all[0].Org != "acme" || all[1].Org != "globex" {
		t.Errorf("AllSubscriptions() = %v, %v; want acme's then globex's", subIDs(all), err)
	}
}

// testSubscriptionUpdateAtomic checks that concurrent read-modify-writes
// do not lose updates.
func testSubscriptionUpdateAtomic(t *testing.T, _ store.Store, subs store.Subscriptions) {
	ctx := t.Context()
	a := newSubscription(t, "acme")
	a.Cursor = 0
	if err := subs.CreateSubscription(ctx, a); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := subs.UpdateSubscription(ctx, "acme", a.ID, func(s *store.Subscription) error { s.Cursor++; return nil })
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := subs.Subscription(ctx, "acme", a.ID); got.Cursor != n {
		t.Errorf("after %d concurrent increments the cursor is %d", n, got.Cursor)
	}
}

// testSubscriptionNoEvents checks that subscriptions are not in the outbox.
func testSubscriptionNoEvents(t *testing.T, s store.Store, subs store.Subscriptions) {
	ctx := t.Context()
	last := func() uint64 {
		p, err := s.Events(ctx, "acme", store.EventQuery{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		return p.Last
	}
	before := last()
	a := newSubscription(t, "acme")
	if err := subs.CreateSubscription(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := subs.UpdateSubscription(ctx, "acme", a.ID, func(s *store.Subscription) error { s.Cursor = 1; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := subs.DeleteSubscription(ctx, "acme", a.ID); err != nil {
		t.Fatal(err)
	}
	if after := last(); after != before {
		t.Errorf("subscription writes moved the last seq from %d to %d", before, after)
	}
}
