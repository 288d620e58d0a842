package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/scimbridge/scimbridge/store"
)

// testConcurrentMixedWrites runs 32 writers that mix successful creates
// with writes that must fail (a taken userName, an invalid member, a
// version mismatch, an error of the caller's callback). A store that
// shares transactions between concurrent writes must still give every
// write its own result: each success is there with exactly its events,
// each failure left nothing and returned its own error, and the seqs are
// gap-free without duplicates.
func testConcurrentMixedWrites(t *testing.T, e *env) {
	e.setup()
	taken := e.user(e.a, "taken@example.com")
	base := e.last("acme")

	const writers, rounds = 32, 25
	type result struct {
		kind int
		name string // what was asked
		id   string // of a success
		err  error
		want error // for kind 6: the callback's own error
	}
	results := make(chan result, writers*rounds)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			<-start
			for r := range rounds {
				res := result{kind: (w + r) % 7, name: fmt.Sprintf("w%02d-r%02d", w, r)}
				switch res.kind {
				case 0, 1: // a new user: succeeds
					var u store.User
					u, res.err = e.s.CreateUser(e.ctx, e.a, store.User{UserName: res.name + "@example.com", Active: true})
					res.id = u.ID
					if res.err == nil && u.UserName != res.name+"@example.com" {
						res.err = fmt.Errorf("CreateUser returned userName %q", u.UserName)
					}
				case 2: // a new group: succeeds
					var g store.Group
					g, res.err = e.s.CreateGroup(e.ctx, e.a, store.Group{DisplayName: res.name}, nil)
					res.id = g.ID
					if res.err == nil && g.DisplayName != res.name {
						res.err = fmt.Errorf("CreateGroup returned displayName %q", g.DisplayName)
					}
				case 3: // a taken userName
					_, res.err = e.s.CreateUser(e.ctx, e.a, store.User{UserName: "TAKEN@example.com"})
				case 4: // an invalid member
					_, res.err = e.s.CreateGroup(e.ctx, e.a, store.Group{DisplayName: res.name}, []string{"no-such-user-" + res.name})
				case 5: // a version mismatch
					_, res.err = e.s.UpdateUser(e.ctx, e.a, taken.ID, 99, func(u *store.User) error {
						u.DisplayName = res.name
						return nil
					})
				case 6: // the callback fails, with an error of its own
					res.want = errors.New("refused by " + res.name)
					_, res.err = e.s.UpdateUser(e.ctx, e.a, taken.ID, 0, func(u *store.User) error {
						u.DisplayName = res.name
						return res.want
					})
				}
				results <- res
			}
		})
	}
	close(start)
	wg.Wait()
	close(results)

	users, groups := map[string]string{}, map[string]string{} // id → name
	for res := range results {
		switch res.kind {
		case 0, 1, 2:
			if res.err != nil {
				t.Errorf("%s (kind %d) = %v; want success", res.name, res.kind, res.err)
				continue
			}
			if res.kind == 2 {
				groups[res.id] = res.name
			} else {
				users[res.id] = res.name + "@example.com"
			}
		case 3:
			var ce *store.ConflictError
			if !errors.As(res.err, &ce) || ce.Field != "userName" || ce.Value != "TAKEN@example.com" {
				t.Errorf("%s: CreateUser of a taken userName = %v; want its own *store.ConflictError on userName", res.name, res.err)
			}
		case 4:
			var me *store.MemberError
			if !errors.As(res.err, &me) || me.ID != "no-such-user-"+res.name {
				t.Errorf("%s: CreateGroup with an invalid member = %v; want its own *store.MemberError", res.name, res.err)
			}
		case 5:
			if !errors.Is(res.err, store.ErrVersionMismatch) {
				t.Errorf("%s: UpdateUser with a stale version = %v; want ErrVersionMismatch", res.name, res.err)
			}
		case 6:
			if res.err != res.want { //nolint:errorlint // its own error, as is
				t.Errorf("%s: UpdateUser whose callback fails = %v; want its own %v", res.name, res.err, res.want)
			}
		}
	}

	// Every success is there; every failure left nothing.
	for id, name := range users {
		if u := e.getUser(e.a, id); u.UserName != name || u.Version != 1 {
			t.Errorf("user %s = %q version %d; want %q version 1", id, u.UserName, u.Version, name)
		}
	}
	for id, name := range groups {
		if g := e.getGroup(e.a, id); g.DisplayName != name || g.Version != 1 || g.MemberCount != 0 {
			t.Errorf("group %s = %q version %d, %d members; want %q version 1, no members", id, g.DisplayName, g.Version, g.MemberCount, name)
		}
	}
	if u := e.getUser(e.a, taken.ID); u.Version != 1 || u.DisplayName != taken.DisplayName {
		t.Errorf("the user of the failed updates = version %d, displayName %q; want it untouched", u.Version, u.DisplayName)
	}
	if p := e.listUsers(e.a, store.Query{Count: 1}); p.Total != 1+len(users) {
		t.Errorf("ListUsers total = %d; want %d", p.Total, 1+len(users))
	}
	if p := e.listGroups(e.a, store.Query{Count: 1}); p.Total != len(groups) {
		t.Errorf("ListGroups total = %d; want %d", p.Total, len(groups))
	}

	// Exactly the events of the successes, gap-free (since), each once.
	evs := e.since("acme", base)
	if len(evs) != len(users)+len(groups) {
		t.Errorf("%d events after the race; want %d (one per success)", len(evs), len(users)+len(groups))
	}
	seen := map[string]bool{}
	eventIDs := map[string]bool{}
	for _, ev := range evs {
		if eventIDs[ev.ID] {
			t.Errorf("event id %s appears twice", ev.ID)
		}
		eventIDs[ev.ID] = true
		want := store.EventUserCreated
		if _, ok := users[ev.Resource.ID]; !ok {
			want = store.EventGroupCreated
			if _, ok := groups[ev.Resource.ID]; !ok {
				t.Errorf("event %d %s of %s, which no successful write created", ev.Seq, ev.Type, ev.Resource.ID)
				continue
			}
		}
		if ev.Type != want || seen[ev.Resource.ID] {
			t.Errorf("event %d %s of %s; want one %s", ev.Seq, ev.Type, ev.Resource.ID, want)
		}
		seen[ev.Resource.ID] = true
	}
}
