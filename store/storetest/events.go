package storetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// Helpers for the outbox.

// readAll reads every event of org after after, page by page, checking
// that each page moves the cursor on.
func (e *env) readAll(org string, after uint64) []store.Event {
	e.t.Helper()
	var out []store.Event
	for {
		p, err := e.s.Events(e.ctx, org, store.EventQuery{After: after, Limit: store.MaxEventLimit})
		if err != nil {
			e.t.Fatalf("Events(%q, after %d) = %v", org, after, err)
		}
		out = append(out, p.Events...)
		if p.Next == p.Last {
			return out
		}
		if p.Next <= after || p.Next > p.Last {
			e.t.Fatalf("Events(%q, after %d) = Next %d, Last %d; want after < Next <= Last", org, after, p.Next, p.Last)
		}
		after = p.Next
	}
}

// last returns the org's highest seq.
func (e *env) last(org string) uint64 {
	e.t.Helper()
	p, err := e.s.Events(e.ctx, org, store.EventQuery{After: 0, Limit: 1})
	if errors.Is(err, store.ErrCursorExpired) {
		var ce *store.CursorExpiredError
		errors.As(err, &ce)
		p, err = e.s.Events(e.ctx, org, store.EventQuery{After: ce.Oldest - 1, Limit: 1})
	}
	if err != nil {
		e.t.Fatalf("Events(%q) = %v", org, err)
	}
	return p.Last
}

// since returns the events of org after seq, checking that they are
// numbered seq+1, seq+2, … up to the org's last seq.
func (e *env) since(org string, seq uint64) []store.Event {
	e.t.Helper()
	evs := e.readAll(org, seq)
	for i, ev := range evs {
		if want := seq + uint64(i) + 1; ev.Seq != want {
			e.t.Fatalf("events of %q after %d: event %d has seq %d; want %d (gap-free)", org, seq, i, ev.Seq, want)
		}
	}
	if last := e.last(org); seq+uint64(len(evs)) != last {
		e.t.Fatalf("events of %q after %d: %d events, but Last is %d", org, seq, len(evs), last)
	}
	return evs
}

// kinds returns "type resource-id" of each event.
func kinds(evs []store.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type + " " + ev.Resource.ID
	}
	return out
}

func kind(typ, id string) string { return typ + " " + id }

// dataOf decodes an event's data.
func dataOf(t *testing.T, ev store.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ev.Data, &m); err != nil {
		t.Fatalf("event %d (%s): data %s is not a JSON object: %v", ev.Seq, ev.Type, ev.Data, err)
	}
	return m
}

// jsonValue decodes one JSON value (for comparisons that ignore key order).
func jsonValue(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s is not JSON: %v", b, err)
	}
	return v
}

// change is a store.Change with decoded values.
type change struct {
	Attribute string
	Old, New  any
}

func changesOf(t *testing.T, ev store.Event) []change {
	t.Helper()
	var out []change
	for _, c := range ev.Changes {
		out = append(out, change{c.Attribute, jsonValue(t, c.Old), jsonValue(t, c.New)})
	}
	return out
}

// meta is the "meta" of a user's or group's event data.
func meta(created, modified time.Time, version uint64) map[string]any {
	return map[string]any{
		"created":      created.Format(time.RFC3339Nano),
		"lastModified": modified.Format(time.RFC3339Nano),
		"version":      float64(version),
	}
}

// checkEnvelope checks the fields every event of one write shares.
func checkEnvelope(t *testing.T, ev store.Event, org, dir string, actor store.Actor, at time.Time) {
	t.Helper()
	if !uuidV4.MatchString(ev.ID) {
		t.Errorf("event %d (%s): ID = %q; want a UUID v4", ev.Seq, ev.Type, ev.ID)
	}
	if ev.Org != org || ev.Directory != dir || ev.Actor != actor {
		t.Errorf("event %d (%s): org %q, directory %q, actor %+v; want %q, %q, %+v", ev.Seq, ev.Type, ev.Org, ev.Directory, ev.Actor, org, dir, actor)
	}
	if !ev.OccurredAt.Equal(at) || ev.OccurredAt.Location() != time.UTC {
		t.Errorf("event %d (%s): OccurredAt = %v; want %v in UTC (the write's time)", ev.Seq, ev.Type, ev.OccurredAt, at)
	}
}

// checkNoSecrets fails if an event carries a password attribute, a hash
// key, or any of the secrets in any usual encoding.
func checkNoSecrets(t *testing.T, evs []store.Event, secrets ...[]byte) {
	t.Helper()
	for _, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("json.Marshal(event %d) = %v", ev.Seq, err)
		}
		for _, s := range secrets {
			for _, form := range []string{string(s), base64.StdEncoding.EncodeToString(s), base64.RawURLEncoding.EncodeToString(s),
				base64.RawStdEncoding.EncodeToString(s), hex.EncodeToString(s)} {
				if bytes.Contains(b, []byte(form)) {
					t.Errorf("event %d (%s) = %s; it contains a secret (%q)", ev.Seq, ev.Type, b, form)
				}
			}
		}
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, sub := range v {
					if strings.EqualFold(k, "password") || strings.EqualFold(k, "hash") {
						t.Errorf("event %d (%s) = %s; it has a %q key", ev.Seq, ev.Type, b, k)
					}
					walk(sub)
				}
			case []any:
				for _, sub := range v {
					walk(sub)
				}
			}
		}
		walk(jsonValue(t, b))
		for _, c := range ev.Changes {
			if strings.Contains(strings.ToLower(c.Attribute), "password") {
				t.Errorf("event %d (%s) has a change of %q", ev.Seq, ev.Type, c.Attribute)
			}
		}
	}
}

var (
	tokenActor = store.Actor{Type: store.ActorToken, ID: "tok-okta", Name: "okta sync"}
	adminActor = store.Actor{Type: store.ActorAdmin, ID: "admin@acme.example", Name: "Ada Admin"}
	system     = store.Actor{Type: store.ActorSystem}
)

const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// Tests.

func testActorContext(t *testing.T, _ *env) {
	if got := store.ActorFrom(context.Background()); got != system {
		t.Errorf("ActorFrom(no actor) = %+v; want %+v", got, system)
	}
	ctx := store.WithActor(context.Background(), tokenActor)
	if got := store.ActorFrom(ctx); got != tokenActor {
		t.Errorf("ActorFrom(WithActor(%+v)) = %+v", tokenActor, got)
	}
	if got := store.ActorFrom(store.WithActor(ctx, adminActor)); got != adminActor {
		t.Errorf("ActorFrom(WithActor(WithActor(token), admin)) = %+v; want the admin", got)
	}
}

func testEventsTenancy(t *testing.T, e *env) {
	if _, err := e.s.CreateOrg(e.ctx, "acme"); err != nil {
		t.Fatalf("CreateOrg(acme) = %v", err)
	}
	// A new org has an empty outbox; an unknown org has none.
	p, err := e.s.Events(e.ctx, "acme", store.EventQuery{})
	if err != nil || len(p.Events) != 0 || p.Next != 0 || p.Last != 0 {
		t.Errorf("Events(new org) = %+v, %v; want an empty page at 0", p, err)
	}
	_, err = e.s.Events(e.ctx, "nope", store.EventQuery{})
	isErr(t, err, store.ErrNotFound, "Events(unknown org)")
	if _, err := e.s.CreateOrg(e.ctx, "globex"); err != nil {
		t.Fatalf("CreateOrg(globex) = %v", err)
	}

	admin := store.WithActor(e.ctx, adminActor)
	okta, err := e.s.CreateDirectory(admin, store.Directory{Org: "acme", Name: "okta", Profile: "okta"})
	if err != nil {
		t.Fatalf("CreateDirectory(acme/okta) = %v", err)
	}
	gokta, err := e.s.CreateDirectory(e.ctx, store.Directory{Org: "globex", Name: "okta", Profile: "generic"})
	if err != nil {
		t.Fatalf("CreateDirectory(globex/okta) = %v", err)
	}
	_, err = e.s.CreateDirectory(admin, store.Directory{Org: "acme", Name: "okta"})
	isConflict(t, err, "directory", "okta", "CreateDirectory(acme/okta) again")

	evs := e.since("acme", 0)
	if d := diff([]string{kind(store.EventDirectoryCreated, "okta")}, kinds(evs)); d != "" {
		t.Fatalf("acme events after CreateDirectory mismatch (-want +got):\n%s", d)
	}
	ev := evs[0]
	checkEnvelope(t, ev, "acme", "okta", adminActor, okta.Created)
	if ev.Resource != (store.ResourceRef{Type: store.ResourceDirectory, ID: "okta"}) {
		t.Errorf("directory.created: Resource = %+v; want directory okta", ev.Resource)
	}
	want := map[string]any{"org": "acme", "name": "okta", "profile": "okta", "created": okta.Created.Format(time.RFC3339Nano)}
	if d := diff(want, dataOf(t, ev)); d != "" {
		t.Errorf("directory.created data mismatch (-want +got):\n%s", d)
	}
	gevs := e.since("globex", 0)
	if len(gevs) != 1 || gevs[0].Type != store.EventDirectoryCreated || gevs[0].Org != "globex" {
		t.Fatalf("globex events = %v; want its own directory.created at seq 1", kinds(gevs))
	}
	checkEnvelope(t, gevs[0], "globex", "okta", system, gokta.Created)

	// Tokens: created and revoked, never with their hash.
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	scim := store.Token{ID: "tok-scim", Kind: store.TokenSCIM, Org: "acme", Directory: "okta", Name: "okta sync",
		Prefix: "scb_abcdef", Hash: hash("scim-secret"), Created: t0, Expires: t0.Add(90 * 24 * time.Hour)}
	adm := store.Token{ID: "tok-admin", Kind: store.TokenAdmin, Org: "acme", Name: "terraform",
		Prefix: "scb_ghijkl", Hash: hash("admin-secret"), Created: t0}
	super := store.Token{ID: "tok-super", Kind: store.TokenSuper, Name: "backup",
		Prefix: "scb_mnopqr", Hash: hash("super-secret"), Created: t0}
	for _, tok := range []store.Token{scim, adm, super} {
		if err := e.s.CreateToken(admin, tok); err != nil {
			t.Fatalf("CreateToken(%s) = %v", tok.ID, err)
		}
	}
	// Refused tokens emit nothing.
	isErr(t, e.s.CreateToken(admin, store.Token{ID: "dup", Kind: store.TokenAdmin, Org: "acme", Hash: hash("admin-secret"), Created: t0}),
		store.ErrConflict, "CreateToken(same hash)")
	isErr(t, e.s.CreateToken(admin, store.Token{ID: "x", Kind: store.TokenSCIM, Org: "acme", Directory: "nope", Hash: hash("x"), Created: t0}),
		store.ErrNotFound, "CreateToken(missing directory)")
	if err := e.s.DeleteToken(admin, scim.ID); err != nil {
		t.Fatalf("DeleteToken(%s) = %v", scim.ID, err)
	}
	if err := e.s.DeleteToken(e.ctx, super.ID); err != nil {
		t.Fatalf("DeleteToken(%s) = %v", super.ID, err)
	}
	isErr(t, e.s.DeleteToken(admin, scim.ID), store.ErrNotFound, "DeleteToken(deleted)")

	tokenData := func(tok store.Token) map[string]any {
		m := map[string]any{"id": tok.ID, "kind": string(tok.Kind), "name": tok.Name, "prefix": tok.Prefix, "created": tok.Created.Format(time.RFC3339Nano)}
		if tok.Org != "" {
			m["org"] = tok.Org
		}
		if tok.Directory != "" {
			m["directory"] = tok.Directory
		}
		if !tok.Expires.IsZero() {
			m["expires"] = tok.Expires.Format(time.RFC3339Nano)
		}
		return m
	}
	evs = e.since("acme", 1)
	wantKinds := []string{kind(store.EventTokenCreated, scim.ID), kind(store.EventTokenCreated, adm.ID), kind(store.EventTokenRevoked, scim.ID)}
	if d := diff(wantKinds, kinds(evs)); d != "" {
		t.Fatalf("acme token events mismatch (-want +got):\n%s", d)
	}
	for i, tok := range []store.Token{scim, adm, scim} {
		ev := evs[i]
		if ev.Org != "acme" || ev.Directory != tok.Directory || ev.Actor != adminActor || ev.Resource != (store.ResourceRef{Type: store.ResourceToken, ID: tok.ID}) {
			t.Errorf("%s: org %q directory %q actor %+v resource %+v; want acme, %q, the admin, token %s", ev.Type, ev.Org, ev.Directory, ev.Actor, ev.Resource, tok.Directory, tok.ID)
		}
		if d := diff(tokenData(tok), dataOf(t, ev)); d != "" {
			t.Errorf("%s %s data mismatch (-want +got):\n%s", ev.Type, tok.ID, d)
		}
	}
	// Super tokens belong to no org: their events are in the outbox of "".
	sevs := e.since("", 0)
	if d := diff([]string{kind(store.EventTokenCreated, super.ID), kind(store.EventTokenRevoked, super.ID)}, kinds(sevs)); d != "" {
		t.Fatalf("events of org \"\" mismatch (-want +got):\n%s", d)
	}
	if sevs[0].Org != "" || sevs[0].Actor != adminActor || sevs[1].Actor != system {
		t.Errorf("super token events: org %q, actors %+v, %+v; want \"\", the admin, system", sevs[0].Org, sevs[0].Actor, sevs[1].Actor)
	}
	if d := diff(tokenData(super), dataOf(t, sevs[0])); d != "" {
		t.Errorf("token.created (super) data mismatch (-want +got):\n%s", d)
	}
	all := append(append(e.since("acme", 0), e.since("globex", 0)...), sevs...)
	checkNoSecrets(t, all, scim.Hash, adm.Hash, super.Hash, hash("x"), []byte("scim-secret"), []byte("admin-secret"))
	// Nothing of acme went to globex.
	if got := e.since("globex", 0); len(got) != 1 {
		t.Errorf("globex events = %v; want only its directory.created", kinds(got))
	}
}

func testEventsUsers(t *testing.T, e *env) {
	e.setup()
	ctx := store.WithActor(e.ctx, tokenActor)
	base := e.last("acme")
	attrs := `{"userName":"alice@x.com","name":{"givenName":"Alice","familyName":"Liddell"},"title":"Engineer","nickName":"Al",` +
		`"password":"hunter2","` + enterprise + `":{"department":"R&D","costCenter":"42"}}`
	u, err := e.s.CreateUser(ctx, e.a, store.User{UserName: "alice@x.com", DisplayName: "Alice", Active: true, Attributes: []byte(attrs)})
	if err != nil {
		t.Fatalf("CreateUser() = %v", err)
	}
	evs := e.since("acme", base)
	if d := diff([]string{kind(store.EventUserCreated, u.ID)}, kinds(evs)); d != "" {
		t.Fatalf("events of CreateUser mismatch (-want +got):\n%s", d)
	}
	checkEnvelope(t, evs[0], "acme", "okta", tokenActor, u.Created)
	if evs[0].Resource != (store.ResourceRef{Type: store.ResourceUser, ID: u.ID}) || len(evs[0].Changes) != 0 {
		t.Errorf("user.created: Resource %+v, Changes %v; want user %s, no changes", evs[0].Resource, evs[0].Changes, u.ID)
	}
	state := map[string]any{
		"userName": "alice@x.com", "name": map[string]any{"givenName": "Alice", "familyName": "Liddell"},
		"title": "Engineer", "nickName": "Al", enterprise: map[string]any{"department": "R&D", "costCenter": "42"},
		"active": true, "id": u.ID, "meta": meta(u.Created, u.Modified, 1),
	}
	if d := diff(state, dataOf(t, evs[0])); d != "" {
		t.Errorf("user.created data mismatch (-want +got):\n%s", d)
	}

	update := func(name string, fn func(u *store.User)) (store.User, []store.Event) {
		t.Helper()
		before := e.last("acme")
		got, err := e.s.UpdateUser(ctx, e.a, u.ID, 0, func(u *store.User) error { fn(u); return nil })
		if err != nil {
			t.Fatalf("UpdateUser(%s) = %v", name, err)
		}
		evs := e.since("acme", before)
		for _, ev := range evs {
			checkEnvelope(t, ev, "acme", "okta", tokenActor, got.Modified)
			if ev.Resource != (store.ResourceRef{Type: store.ResourceUser, ID: u.ID}) {
				t.Errorf("UpdateUser(%s): %s resource = %+v; want the user", name, ev.Type, ev.Resource)
			}
		}
		return got, evs
	}

	// Changed, added and removed attributes, top-level and in an extension;
	// key order and white space do not count.
	u, evs = update("attributes", func(u *store.User) {
		u.Attributes = []byte(`{ "name":{"familyName":"Liddell","givenName":"Alice"},"userName":"alice@x.com","title":"Staff Engineer",` +
			`"displayName":"Alice L","password":"changed","` + enterprise + `":{"costCenter":"42","department":"Research","manager":{"value":"m1"}}}`)
	})
	if d := diff([]string{kind(store.EventUserUpdated, u.ID)}, kinds(evs)); d != "" {
		t.Fatalf("events of UpdateUser(attributes) mismatch (-want +got):\n%s", d)
	}
	wantChanges := []change{
		{"displayName", nil, "Alice L"},
		{"nickName", "Al", nil},
		{"title", "Engineer", "Staff Engineer"},
		{enterprise + ":department", "R&D", "Research"},
		{enterprise + ":manager", nil, map[string]any{"value": "m1"}},
	}
	slices.SortFunc(wantChanges, func(a, b change) int { return strings.Compare(a.Attribute, b.Attribute) })
	if d := diff(wantChanges, changesOf(t, evs[0])); d != "" {
		t.Errorf("user.updated changes mismatch (-want +got):\n%s", d)
	}
	state["title"], state["displayName"] = "Staff Engineer", "Alice L"
	delete(state, "nickName")
	state[enterprise] = map[string]any{"department": "Research", "costCenter": "42", "manager": map[string]any{"value": "m1"}}
	state["meta"] = meta(u.Created, u.Modified, u.Version)
	if d := diff(state, dataOf(t, evs[0])); d != "" {
		t.Errorf("user.updated data mismatch (-want +got):\n%s", d)
	}

	// The same document in another key order, or only a password change:
	// nothing changed, nothing emitted.
	u, evs = update("same document", func(u *store.User) {
		u.Attributes = []byte(`{"` + enterprise + `":{"manager":{"value":"m1"},"department":"Research","costCenter":"42"},"title":"Staff Engineer",` +
			`"displayName":"Alice L","userName":"alice@x.com","name":{"givenName":"Alice","familyName":"Liddell"},"password":"again"}`)
	})
	if len(evs) != 0 {
		t.Errorf("UpdateUser(same document) emitted %v; want nothing", kinds(evs))
	}

	// Deactivation alone: one user.deactivated with the active change.
	u, evs = update("deactivate", func(u *store.User) { u.Active = false })
	if d := diff([]string{kind(store.EventUserDeactivated, u.ID)}, kinds(evs)); d != "" {
		t.Fatalf("events of UpdateUser(deactivate) mismatch (-want +got):\n%s", d)
	}
	if d := diff([]change{{"active", true, false}}, changesOf(t, evs[0])); d != "" {
		t.Errorf("user.deactivated changes mismatch (-want +got):\n%s", d)
	}
	state["active"], state["meta"] = false, meta(u.Created, u.Modified, u.Version)
	if d := diff(state, dataOf(t, evs[0])); d != "" {
		t.Errorf("user.deactivated data mismatch (-want +got):\n%s", d)
	}

	// Reactivation with another change: user.updated with the other
	// change, then user.reactivated with the active change; both carry the
	// new state.
	u, evs = update("reactivate and retitle", func(u *store.User) {
		u.Active = true
		u.Attributes = bytes.Replace(u.Attributes, []byte(`"Staff Engineer"`), []byte(`"Principal"`), 1)
	})
	if d := diff([]string{kind(store.EventUserUpdated, u.ID), kind(store.EventUserReactivated, u.ID)}, kinds(evs)); d != "" {
		t.Fatalf("events of UpdateUser(reactivate, retitle) mismatch (-want +got):\n%s", d)
	}
	if d := diff([]change{{"title", "Staff Engineer", "Principal"}}, changesOf(t, evs[0])); d != "" {
		t.Errorf("user.updated changes mismatch (-want +got):\n%s", d)
	}
	if d := diff([]change{{"active", false, true}}, changesOf(t, evs[1])); d != "" {
		t.Errorf("user.reactivated changes mismatch (-want +got):\n%s", d)
	}
	state["active"], state["title"], state["meta"] = true, "Principal", meta(u.Created, u.Modified, u.Version)
	for _, ev := range evs {
		if d := diff(state, dataOf(t, ev)); d != "" {
			t.Errorf("%s data mismatch (-want +got):\n%s", ev.Type, d)
		}
	}

	// Deactivation with another change, the way a SCIM PUT would write it
	// (active in the document too).
	u, evs = update("deactivate and retitle", func(u *store.User) {
		u.Active = false
		u.Attributes = []byte(`{"userName":"alice@x.com","title":"Former","active":false}`)
	})
	if d := diff([]string{kind(store.EventUserUpdated, u.ID), kind(store.EventUserDeactivated, u.ID)}, kinds(evs)); d != "" {
		t.Fatalf("events of UpdateUser(deactivate, retitle) mismatch (-want +got):\n%s", d)
	}
	for _, c := range changesOf(t, evs[0]) {
		if c.Attribute == "active" {
			t.Errorf("user.updated lists the active change; want it only in user.deactivated")
		}
	}
	if d := diff([]change{{"active", true, false}}, changesOf(t, evs[1])); d != "" {
		t.Errorf("user.deactivated changes mismatch (-want +got):\n%s", d)
	}

	// Deleting a user: member_removed for each of its groups (in group id
	// order), then user.deleted with the last state.
	g1 := e.group(e.a, "G1", u.ID)
	g2 := e.group(e.a, "G2", u.ID)
	u = e.getUser(e.a, u.ID)
	before := e.last("acme")
	if err := e.s.DeleteUser(ctx, e.a, u.ID, 0); err != nil {
		t.Fatalf("DeleteUser() = %v", err)
	}
	evs = e.since("acme", before)
	groups := []store.Group{g1, g2}
	slices.SortFunc(groups, func(a, b store.Group) int { return strings.Compare(a.ID, b.ID) })
	wantKinds := []string{kind(store.EventGroupMemberRemoved, groups[0].ID), kind(store.EventGroupMemberRemoved, groups[1].ID), kind(store.EventUserDeleted, u.ID)}
	if d := diff(wantKinds, kinds(evs)); d != "" {
		t.Fatalf("events of DeleteUser mismatch (-want +got):\n%s", d)
	}
	for i, g := range groups {
		want := map[string]any{"group": map[string]any{"id": g.ID, "displayName": g.DisplayName}, "user": map[string]any{"id": u.ID, "userName": u.UserName}}
		if d := diff(want, dataOf(t, evs[i])); d != "" {
			t.Errorf("group.member_removed (%s) data mismatch (-want +got):\n%s", g.DisplayName, d)
		}
		if evs[i].Resource != (store.ResourceRef{Type: store.ResourceGroup, ID: g.ID}) || evs[i].Actor != tokenActor {
			t.Errorf("group.member_removed: resource %+v, actor %+v; want group %s, the token", evs[i].Resource, evs[i].Actor, g.ID)
		}
	}
	last := map[string]any{"userName": "alice@x.com", "title": "Former", "active": false, "id": u.ID, "meta": meta(u.Created, u.Modified, u.Version)}
	if d := diff(last, dataOf(t, evs[2])); d != "" {
		t.Errorf("user.deleted data mismatch (-want +got):\n%s", d)
	}
	if !evs[2].OccurredAt.Equal(evs[0].OccurredAt) || !evs[2].OccurredAt.After(u.Modified) && !evs[2].OccurredAt.Equal(u.Modified) {
		t.Errorf("DeleteUser events occurred at %v and %v; want one time, not before the user's last change %v", evs[0].OccurredAt, evs[2].OccurredAt, u.Modified)
	}
	checkNoSecrets(t, e.since("acme", 0), []byte("hunter2"), []byte("changed"), []byte("again"))
}

func testEventsGroups(t *testing.T, e *env) {
	e.setup()
	ctx := store.WithActor(e.ctx, tokenActor)
	a, b, c := e.user(e.a, "a"), e.user(e.a, "b"), e.user(e.a, "c")
	ids := sorted([]string{a.ID, c.ID})
	names := map[string]string{a.ID: "a", b.ID: "b", c.ID: "c"}
	member := func(g store.Group, name, uid string) map[string]any {
		return map[string]any{"group": map[string]any{"id": g.ID, "displayName": name}, "user": map[string]any{"id": uid, "userName": names[uid]}}
	}

	// Create: group.created (no members in its data), then one
	// member_added per distinct member in id order; no user.updated.
	before := e.last("acme")
	g, err := e.s.CreateGroup(ctx, e.a, store.Group{DisplayName: "Eng", ExternalID: "00g1",
		Attributes: []byte(`{"displayName":"Eng","externalId":"00g1","members":[{"value":"forged"}]}`)}, []string{c.ID, a.ID, a.ID})
	if err != nil {
		t.Fatalf("CreateGroup() = %v", err)
	}
	evs := e.since("acme", before)
	wantKinds := []string{kind(store.EventGroupCreated, g.ID), kind(store.EventGroupMemberAdded, g.ID), kind(store.EventGroupMemberAdded, g.ID)}
	if d := diff(wantKinds, kinds(evs)); d != "" {
		t.Fatalf("events of CreateGroup mismatch (-want +got):\n%s", d)
	}
	for _, ev := range evs {
		checkEnvelope(t, ev, "acme", "okta", tokenActor, g.Created)
		if ev.Resource != (store.ResourceRef{Type: store.ResourceGroup, ID: g.ID}) || len(ev.Changes) != 0 {
			t.Errorf("%s: resource %+v, changes %v; want group %s, none", ev.Type, ev.Resource, ev.Changes, g.ID)
		}
	}
	want := map[string]any{"displayName": "Eng", "externalId": "00g1", "id": g.ID, "meta": meta(g.Created, g.Modified, 1)}
	if d := diff(want, dataOf(t, evs[0])); d != "" {
		t.Errorf("group.created data mismatch (-want +got):\n%s", d)
	}
	for i, uid := range ids {
		if d := diff(member(g, "Eng", uid), dataOf(t, evs[i+1])); d != "" {
			t.Errorf("group.member_added %d data mismatch (-want +got):\n%s", i, d)
		}
	}

	// Rename, add b, remove c: group.updated, then the member events in
	// user id order, with the new name.
	before = e.last("acme")
	g, err = e.s.UpdateGroup(ctx, e.a, g.ID, 0, func(g *store.Group, _ store.Members) (store.MemberChange, error) {
		g.DisplayName, g.Attributes = "Engineering", []byte(`{"displayName":"Engineering","externalId":"00g1"}`)
		return store.MemberChange{Remove: []string{c.ID}, Add: []string{b.ID, a.ID}}, nil
	})
	if err != nil {
		t.Fatalf("UpdateGroup(rename, add b, remove c) = %v", err)
	}
	evs = e.since("acme", before)
	moved := sorted([]string{b.ID, c.ID})
	wantKinds = []string{kind(store.EventGroupUpdated, g.ID)}
	for _, uid := range moved {
		typ := store.EventGroupMemberAdded
		if uid == c.ID {
			typ = store.EventGroupMemberRemoved
		}
		wantKinds = append(wantKinds, kind(typ, g.ID))
	}
	if d := diff(wantKinds, kinds(evs)); d != "" {
		t.Fatalf("events of UpdateGroup(rename, add b, remove c) mismatch (-want +got):\n%s", d)
	}
	if d := diff([]change{{"displayName", "Eng", "Engineering"}}, changesOf(t, evs[0])); d != "" {
		t.Errorf("group.updated changes mismatch (-want +got):\n%s", d)
	}
	want = map[string]any{"displayName": "Engineering", "externalId": "00g1", "id": g.ID, "meta": meta(g.Created, g.Modified, g.Version)}
	if d := diff(want, dataOf(t, evs[0])); d != "" {
		t.Errorf("group.updated data mismatch (-want +got):\n%s", d)
	}
	for i, uid := range moved {
		if d := diff(member(g, "Engineering", uid), dataOf(t, evs[i+1])); d != "" {
			t.Errorf("%s data mismatch (-want +got):\n%s", evs[i+1].Type, d)
		}
		checkEnvelope(t, evs[i+1], "acme", "okta", tokenActor, g.Modified)
	}

	// A membership change alone is not a group.updated; a change that
	// changes nothing emits nothing.
	before = e.last("acme")
	e.change(e.a, g.ID, store.MemberChange{Add: []string{c.ID, a.ID}})
	evs = e.since("acme", before)
	if d := diff([]string{kind(store.EventGroupMemberAdded, g.ID)}, kinds(evs)); d != "" {
		t.Errorf("events of UpdateGroup(add c, a present) mismatch (-want +got):\n%s", d)
	}
	before = e.last("acme")
	e.change(e.a, g.ID, store.MemberChange{Add: []string{a.ID}, Remove: []string{"00000000-0000-4000-8000-000000000000"}})
	if _, err := e.s.UpdateGroup(ctx, e.a, g.ID, 0, func(g *store.Group, _ store.Members) (store.MemberChange, error) {
		g.Attributes = []byte(`{"externalId":"00g1", "displayName":"Engineering"}`)
		return store.MemberChange{}, nil
	}); err != nil {
		t.Fatalf("UpdateGroup(same document) = %v", err)
	}
	if evs := e.since("acme", before); len(evs) != 0 {
		t.Errorf("UpdateGroup(no change) emitted %v; want nothing", kinds(evs))
	}

	// Delete: member_removed for every member (id order), then
	// group.deleted with the last state.
	g = e.getGroup(e.a, g.ID)
	before = e.last("acme")
	if err := e.s.DeleteGroup(ctx, e.a, g.ID, 0); err != nil {
		t.Fatalf("DeleteGroup() = %v", err)
	}
	evs = e.since("acme", before)
	all := sorted([]string{a.ID, b.ID, c.ID})
	wantKinds = nil
	for range all {
		wantKinds = append(wantKinds, kind(store.EventGroupMemberRemoved, g.ID))
	}
	wantKinds = append(wantKinds, kind(store.EventGroupDeleted, g.ID))
	if d := diff(wantKinds, kinds(evs)); d != "" {
		t.Fatalf("events of DeleteGroup mismatch (-want +got):\n%s", d)
	}
	for i, uid := range all {
		if d := diff(member(g, "Engineering", uid), dataOf(t, evs[i])); d != "" {
			t.Errorf("group.member_removed %d data mismatch (-want +got):\n%s", i, d)
		}
	}
	want = map[string]any{"displayName": "Engineering", "externalId": "00g1", "id": g.ID, "meta": meta(g.Created, g.Modified, g.Version)}
	if d := diff(want, dataOf(t, evs[len(evs)-1])); d != "" {
		t.Errorf("group.deleted data mismatch (-want +got):\n%s", d)
	}
	// No user.* event was caused by the membership changes.
	for _, ev := range e.since("acme", 0) {
		if strings.HasPrefix(ev.Type, "user.") && ev.Type != store.EventUserCreated {
			t.Errorf("membership changes emitted %s for %s; want only group events", ev.Type, ev.Resource.ID)
		}
	}

	// A PATCH that adds 100 members: 100 member_added events, one write.
	var uids []string
	for i := range 100 {
		uid := e.user(e.a, fmt.Sprintf("m%03d", i)).ID
		uids = append(uids, uid)
		names[uid] = fmt.Sprintf("m%03d", i)
	}
	big := e.group(e.a, "Big")
	before = e.last("acme")
	e.change(e.a, big.ID, store.MemberChange{Add: uids})
	evs = e.since("acme", before)
	if len(evs) != 100 {
		t.Fatalf("UpdateGroup(add 100) emitted %d events; want 100", len(evs))
	}
	slices.Sort(uids)
	for i, ev := range evs {
		if ev.Type != store.EventGroupMemberAdded || !ev.OccurredAt.Equal(evs[0].OccurredAt) {
			t.Errorf("event %d of the 100-member add: %s at %v; want group.member_added at %v", i, ev.Type, ev.OccurredAt, evs[0].OccurredAt)
		}
		if got := dataOf(t, ev)["user"].(map[string]any)["id"]; got != uids[i] {
			t.Errorf("event %d of the 100-member add is for user %v; want %s (id order)", i, got, uids[i])
		}
	}
}

func testEventsSequence(t *testing.T, e *env) {
	e.setup()
	// Interleaved writes in two orgs: each org counts on its own.
	for i := range 5 {
		e.user(e.a, fmt.Sprintf("a%d", i))
		e.user(e.c, fmt.Sprintf("c%d", i))
		e.user(e.b, fmt.Sprintf("b%d", i))
	}
	acme, globex := e.since("acme", 0), e.since("globex", 0)
	if len(acme) != 2+10 || len(globex) != 1+5 {
		t.Fatalf("acme has %d events, globex %d; want 12 and 6", len(acme), len(globex))
	}
	seen := map[string]bool{}
	for _, ev := range slices.Concat(acme, globex) {
		if seen[ev.ID] {
			t.Errorf("event id %s given twice", ev.ID)
		}
		seen[ev.ID] = true
		if !uuidV4.MatchString(ev.ID) {
			t.Errorf("event %d: ID = %q; want a UUID v4", ev.Seq, ev.ID)
		}
	}
	for _, ev := range globex {
		if ev.Org != "globex" || ev.Directory != "okta" {
			t.Errorf("globex event %d is of %s/%s", ev.Seq, ev.Org, ev.Directory)
		}
	}
	// Reading again gives the same events, ids included.
	if d := diff(acme, e.since("acme", 0)); d != "" {
		t.Errorf("Events(acme) read twice mismatch (-first +second):\n%s", d)
	}
}

func testEventsAtomic(t *testing.T, e *env) {
	e.setup()
	u := e.user(e.a, "alice")
	e.user(e.a, "bob")
	g := e.group(e.a, "G", u.ID)
	other := e.user(e.b, "carol")
	canceled, cancel := context.WithCancel(e.ctx)
	cancel()
	const missing = "00000000-0000-4000-8000-000000000000"
	fails := map[string]func() error{
		"CreateUser(taken userName)": func() error {
			_, err := e.s.CreateUser(e.ctx, e.a, store.User{UserName: "ALICE"})
			return err
		},
		"UpdateUser(taken userName)": func() error {
			_, err := e.s.UpdateUser(e.ctx, e.a, u.ID, 0, func(u *store.User) error {
				u.UserName, u.Attributes = "bob", []byte(`{"userName":"bob"}`)
				return nil
			})
			return err
		},
		"UpdateUser(version mismatch)": func() error {
			_, err := e.s.UpdateUser(e.ctx, e.a, u.ID, 99, func(u *store.User) error { u.Active = false; return nil })
			return err
		},
		"UpdateUser(fn fails)": func() error {
			_, err := e.s.UpdateUser(e.ctx, e.a, u.ID, 0, func(u *store.User) error { u.Active = false; return errBoom })
			return err
		},
		"DeleteUser(version mismatch)": func() error { return e.s.DeleteUser(e.ctx, e.a, u.ID, 99) },
		"CreateGroup(invalid member)": func() error {
			_, err := e.s.CreateGroup(e.ctx, e.a, store.Group{DisplayName: "H"}, []string{u.ID, other.ID})
			return err
		},
		"CreateGroup(taken displayName)": func() error {
			_, err := e.s.CreateGroup(e.ctx, e.a, store.Group{DisplayName: "g"}, []string{u.ID})
			return err
		},
		"UpdateGroup(rename, invalid member)": func() error {
			_, err := e.s.UpdateGroup(e.ctx, e.a, g.ID, 0, func(g *store.Group, _ store.Members) (store.MemberChange, error) {
				g.DisplayName, g.Attributes = "Renamed", []byte(`{"displayName":"Renamed"}`)
				return store.MemberChange{RemoveAll: true, Add: []string{missing}}, nil
			})
			return err
		},
		"UpdateGroup(version mismatch)": func() error {
			_, err := e.s.UpdateGroup(e.ctx, e.a, g.ID, 99, func(*store.Group, store.Members) (store.MemberChange, error) {
				return store.MemberChange{RemoveAll: true}, nil
			})
			return err
		},
		"UpdateGroup(fn fails)": func() error {
			_, err := e.s.UpdateGroup(e.ctx, e.a, g.ID, 0, func(*store.Group, store.Members) (store.MemberChange, error) {
				return store.MemberChange{RemoveAll: true}, errBoom
			})
			return err
		},
		"DeleteGroup(version mismatch)": func() error { return e.s.DeleteGroup(e.ctx, e.a, g.ID, 99) },
		"CreateDirectory(taken name)": func() error {
			_, err := e.s.CreateDirectory(e.ctx, store.Directory{Org: "acme", Name: "okta"})
			return err
		},
		"CreateToken(missing directory)": func() error {
			return e.s.CreateToken(e.ctx, store.Token{ID: "t", Kind: store.TokenSCIM, Org: "acme", Directory: "nope", Hash: hash("t"), Created: time.Now()})
		},
		"DeleteToken(missing)":  func() error { return e.s.DeleteToken(e.ctx, "nope") },
		"CreateUser(canceled)":  func() error { _, err := e.s.CreateUser(canceled, e.a, store.User{UserName: "new"}); return err },
		"DeleteGroup(canceled)": func() error { return e.s.DeleteGroup(canceled, e.a, g.ID, 0) },
		"CreateDirectory(canceled)": func() error {
			_, err := e.s.CreateDirectory(canceled, store.Directory{Org: "acme", Name: "x"})
			return err
		},
		"DeleteUser(missing)": func() error { return e.s.DeleteUser(e.ctx, e.a, missing, 0) },
		"UpdateUser(other directory)": func() error {
			_, err := e.s.UpdateUser(e.ctx, e.b, u.ID, 0, func(u *store.User) error { u.Active = false; return nil })
			return err
		},
	}
	last := e.last("acme")
	for name, call := range fails {
		if err := call(); err == nil {
			t.Errorf("%s = nil; want an error", name)
		}
		if got := e.last("acme"); got != last {
			t.Errorf("after %s: last seq = %d; want %d (a failed write appends nothing)", name, got, last)
		}
	}
	// The next write takes the next number: nothing was used up.
	v := e.user(e.a, "dave")
	evs := e.since("acme", last)
	if len(evs) != 1 || evs[0].Seq != last+1 || evs[0].Resource.ID != v.ID {
		t.Errorf("events after the failed writes = %v; want user.created of dave at seq %d", kinds(evs), last+1)
	}
}

func testEventsPaging(t *testing.T, e *env) {
	e.setup()
	var okta, entra []string
	for i := range 20 {
		okta = append(okta, e.user(e.a, fmt.Sprintf("o%02d", i)).ID)
		if i%4 == 0 {
			entra = append(entra, e.user(e.b, fmt.Sprintf("e%02d", i)).ID)
		}
	}
	g := e.group(e.a, "G", okta[:3]...)
	all := e.since("acme", 0)
	last := uint64(len(all))
	if want := 2 + 20 + 5 + 1 + 3; len(all) != want {
		t.Fatalf("acme has %d events; want %d", len(all), want)
	}

	// Pages of 10 in seq order; Next is the last seq of the page.
	var got []store.Event
	after := uint64(0)
	for {
		p, err := e.s.Events(e.ctx, "acme", store.EventQuery{After: after, Limit: 10})
		if err != nil {
			t.Fatalf("Events(after %d, limit 10) = %v", after, err)
		}
		if p.Last != last {
			t.Errorf("Events(after %d).Last = %d; want %d", after, p.Last, last)
		}
		if want := min(10, int(last-after)); len(p.Events) != want {
			t.Errorf("Events(after %d, limit 10) = %d events; want %d", after, len(p.Events), want)
		}
		if len(p.Events) > 0 && p.Next != p.Events[len(p.Events)-1].Seq {
			t.Errorf("Events(after %d).Next = %d; want the last seq of the page %d", after, p.Next, p.Events[len(p.Events)-1].Seq)
		}
		got = append(got, p.Events...)
		if len(p.Events) == 0 {
			if p.Next != after {
				t.Errorf("Events(after %d) = empty page with Next %d; want Next %d", after, p.Next, after)
			}
			break
		}
		after = p.Next
	}
	if d := diff(all, got); d != "" {
		t.Errorf("paged events mismatch (-all +paged):\n%s", d)
	}
	if p, err := e.s.Events(e.ctx, "acme", store.EventQuery{}); err != nil || len(p.Events) != min(int(last), store.DefaultEventLimit) {
		t.Errorf("Events(limit 0) = %d events, %v; want %d", len(p.Events), err, min(int(last), store.DefaultEventLimit))
	}

	// Filters keep only what they ask for, and still move Next past what
	// they skip, up to Last.
	filter := func(q store.EventQuery) []store.Event {
		t.Helper()
		var out []store.Event
		for {
			p, err := e.s.Events(e.ctx, "acme", q)
			if err != nil {
				t.Fatalf("Events(%+v) = %v", q, err)
			}
			out = append(out, p.Events...)
			if p.Next < q.After || p.Next > p.Last || p.Next == q.After && p.Next != p.Last {
				t.Fatalf("Events(%+v) = Next %d, Last %d; want progress", q, p.Next, p.Last)
			}
			if p.Next == p.Last {
				return out
			}
			q.After = p.Next
		}
	}
	got = filter(store.EventQuery{Types: []string{store.EventUserCreated}, Limit: 7})
	if len(got) != 25 {
		t.Errorf("Events(types user.created) = %d events; want 25", len(got))
	}
	got = filter(store.EventQuery{Directory: "entra"})
	var gotIDs []string
	for _, ev := range got {
		if ev.Directory != "entra" {
			t.Errorf("Events(directory entra) returned an event of %q", ev.Directory)
		}
		if ev.Type == store.EventUserCreated {
			gotIDs = append(gotIDs, ev.Resource.ID)
		}
	}
	if d := diff(entra, gotIDs); d != "" || len(got) != 6 {
		t.Errorf("Events(directory entra) = %v; want its directory.created and 5 users", kinds(got))
	}
	got = filter(store.EventQuery{Types: []string{store.EventGroupCreated, store.EventGroupMemberAdded}, Directory: "okta"})
	if len(got) != 4 || got[0].Resource.ID != g.ID {
		t.Errorf("Events(group types, okta) = %v; want group.created and 3 member_added", kinds(got))
	}
	// A filter that matches nothing at the end still reaches Last at once.
	p, err := e.s.Events(e.ctx, "acme", store.EventQuery{After: last - 2, Types: []string{store.EventUserDeleted}})
	if err != nil || len(p.Events) != 0 || p.Next != last {
		t.Errorf("Events(after %d, types user.deleted) = %v, Next %d, %v; want nothing, Next %d", last-2, kinds(p.Events), p.Next, err, last)
	}

	// At the end: an empty page; past it: ErrCursorAhead.
	p, err = e.s.Events(e.ctx, "acme", store.EventQuery{After: last})
	if err != nil || len(p.Events) != 0 || p.Next != last || p.Last != last {
		t.Errorf("Events(after Last) = %+v, %v; want an empty page with Next = Last = %d", p, err, last)
	}
	_, err = e.s.Events(e.ctx, "acme", store.EventQuery{After: last + 1})
	isErr(t, err, store.ErrCursorAhead, "Events(after Last+1)")
	// A cursor of acme is past the end of globex: it is not globex's.
	_, err = e.s.Events(e.ctx, "globex", store.EventQuery{After: last})
	isErr(t, err, store.ErrCursorAhead, "Events(globex, cursor of acme)")

	// Limit is capped.
	var ids []string
	for i := range store.MaxEventLimit/3 + 1 { // 3 events each (created, added, removed): over the cap
		ids = append(ids, e.user(e.c, fmt.Sprintf("u%04d", i)).ID)
	}
	big := e.group(e.c, "Big", ids...)
	if err := e.s.DeleteGroup(e.ctx, e.c, big.ID, 0); err != nil {
		t.Fatalf("DeleteGroup(Big) = %v", err)
	}
	p, err = e.s.Events(e.ctx, "globex", store.EventQuery{Limit: store.MaxEventLimit + 500})
	if err != nil || len(p.Events) != store.MaxEventLimit || p.Last <= store.MaxEventLimit || p.Next != store.MaxEventLimit {
		t.Errorf("Events(limit %d) = %d events, Next %d, Last %d, %v; want %d events", store.MaxEventLimit+500, len(p.Events), p.Next, p.Last, err, store.MaxEventLimit)
	}
}

func testEventsPrune(t *testing.T, e *env) {
	e.setup()
	for i := range 5 {
		e.user(e.a, fmt.Sprintf("early%d", i))
	}
	time.Sleep(5 * time.Millisecond) // two batches at clearly different times
	for i := range 5 {
		e.user(e.a, fmt.Sprintf("late%d", i))
	}
	e.user(e.c, "globex user")
	all := e.since("acme", 0) // 2 directories, 5 early, 5 late
	globex := e.since("globex", 0)
	future := time.Now().Add(time.Hour)

	prune := func(org string, before time.Time, keepAfter uint64, want int) {
		t.Helper()
		n, err := e.s.PruneEvents(e.ctx, org, before, keepAfter)
		if err != nil || n != want {
			t.Fatalf("PruneEvents(%q, %v, %d) = %d, %v; want %d", org, before, keepAfter, n, err, want)
		}
	}
	expired := func(after, oldest uint64) {
		t.Helper()
		_, err := e.s.Events(e.ctx, "acme", store.EventQuery{After: after})
		var ce *store.CursorExpiredError
		if !errors.Is(err, store.ErrCursorExpired) || !errors.As(err, &ce) {
			t.Fatalf("Events(after %d) = %v; want a *store.CursorExpiredError", after, err)
		}
		if ce.After != after || ce.Oldest != oldest {
			t.Errorf("Events(after %d) = %+v; want After %d, Oldest %d", after, *ce, after, oldest)
		}
		if msg := err.Error(); !strings.Contains(msg, "retention") || !strings.Contains(msg, fmt.Sprint(oldest)) {
			t.Errorf("Events(after %d) = %q; want a message that names the retention window and the oldest seq %d", after, msg, oldest)
		}
	}

	// Nothing old enough, or nothing every subscriber has: nothing pruned.
	prune("acme", all[0].OccurredAt, math.MaxUint64, 0)
	prune("acme", future, 0, 0)
	if got := e.since("acme", 0); len(got) != len(all) {
		t.Fatalf("events after pruning nothing = %d; want %d", len(got), len(all))
	}

	// By time: the early batch (and the directories) occurred before the
	// first late event.
	boundary := all[7].OccurredAt
	var old int
	for _, ev := range all {
		if ev.OccurredAt.Before(boundary) {
			old++
		}
	}
	if old != 7 {
		t.Fatalf("%d events occurred before the late batch; want 7 (is the clock monotonic?)", old)
	}
	prune("acme", boundary, math.MaxUint64, 7)
	expired(0, 8)
	expired(6, 8)
	if got := e.since("acme", 7); len(got) != 5 {
		t.Errorf("events after 7 once 1..7 are pruned = %d; want 5", len(got))
	}

	// By subscriber: keepAfter holds back what the slowest has not read.
	prune("acme", future, 9, 2)
	expired(8, 10)
	if got := e.since("acme", 9); len(got) != 3 {
		t.Errorf("events after 9 = %d; want 3", len(got))
	}
	// Everything: the counter survives, the next write is seq 13.
	prune("acme", future, math.MaxUint64, 3)
	prune("acme", future, math.MaxUint64, 0)
	expired(11, 13)
	p, err := e.s.Events(e.ctx, "acme", store.EventQuery{After: 12})
	if err != nil || len(p.Events) != 0 || p.Last != 12 || p.Next != 12 {
		t.Errorf("Events(after 12) once all is pruned = %+v, %v; want an empty page, Last 12", p, err)
	}
	u := e.user(e.a, "after the prune")
	evs := e.since("acme", 12)
	if len(evs) != 1 || evs[0].Seq != 13 || evs[0].Resource.ID != u.ID {
		t.Errorf("events after pruning everything = %v; want user.created at seq 13", kinds(evs))
	}
	// Other orgs are untouched; unknown orgs are not found.
	if d := diff(globex, e.since("globex", 0)); d != "" {
		t.Errorf("globex events after pruning acme mismatch (-want +got):\n%s", d)
	}
	_, err = e.s.PruneEvents(e.ctx, "nope", future, math.MaxUint64)
	isErr(t, err, store.ErrNotFound, "PruneEvents(unknown org)")
}

// testEventsConcurrent has 16 writers (users, updates, memberships) in
// one org and a few in another while readers page through the outbox:
// every reader sees a gap-free prefix, and the end result is gap-free and
// duplicate-free.
func testEventsConcurrent(t *testing.T, e *env) {
	e.setup()
	g := e.group(e.a, "G")
	base := e.last("acme")
	const n = 16
	start := make(chan struct{})
	done := make(chan struct{})
	var writers, readers sync.WaitGroup
	for i := range n {
		writers.Go(func() {
			<-start
			ctx := store.WithActor(e.ctx, store.Actor{Type: store.ActorToken, ID: fmt.Sprintf("writer-%d", i)})
			u, err := e.s.CreateUser(ctx, e.a, store.User{UserName: fmt.Sprintf("w%02d", i), Active: true, Attributes: []byte(`{"title":"a"}`)})
			if err != nil {
				t.Errorf("concurrent CreateUser() = %v", err)
				return
			}
			if _, err := e.s.UpdateUser(ctx, e.a, u.ID, 0, func(u *store.User) error { u.Attributes = []byte(`{"title":"b"}`); return nil }); err != nil {
				t.Errorf("concurrent UpdateUser() = %v", err)
			}
			if _, err := e.s.UpdateGroup(ctx, e.a, g.ID, 0, func(*store.Group, store.Members) (store.MemberChange, error) {
				return store.MemberChange{Add: []string{u.ID}}, nil
			}); err != nil {
				t.Errorf("concurrent UpdateGroup() = %v", err)
			}
			if i%4 == 0 {
				if _, err := e.s.CreateUser(e.ctx, e.c, store.User{UserName: fmt.Sprintf("w%02d", i)}); err != nil {
					t.Errorf("concurrent CreateUser(globex) = %v", err)
				}
			}
		})
	}
	for range 2 {
		readers.Go(func() {
			<-start
			for {
				select {
				case <-done:
					return
				default:
				}
				var after uint64
				for {
					p, err := e.s.Events(e.ctx, "acme", store.EventQuery{After: after, Limit: 7})
					if err != nil {
						t.Errorf("concurrent Events() = %v", err)
						return
					}
					for i, ev := range p.Events {
						if ev.Seq != after+uint64(i)+1 {
							t.Errorf("concurrent Events(after %d): event %d has seq %d; want %d", after, i, ev.Seq, after+uint64(i)+1)
							return
						}
					}
					if len(p.Events) == 0 {
						break
					}
					after = p.Next
				}
			}
		})
	}
	close(start)
	writers.Wait()
	close(done)
	readers.Wait()

	evs := e.since("acme", base) // gap-free, checked by since
	if len(evs) != 3*n {
		t.Fatalf("%d writers × 3 writes left %d events; want %d", n, len(evs), 3*n)
	}
	ids := map[string]bool{}
	perWriter := map[string][]string{}
	for _, ev := range evs {
		if ids[ev.ID] {
			t.Errorf("event id %s given twice", ev.ID)
		}
		ids[ev.ID] = true
		perWriter[ev.Actor.ID] = append(perWriter[ev.Actor.ID], ev.Type)
	}
	for w, types := range perWriter {
		want := []string{store.EventUserCreated, store.EventUserUpdated, store.EventGroupMemberAdded}
		if !slices.Equal(types, want) {
			t.Errorf("events of %s = %v; want %v in that order", w, types, want)
		}
	}
	if got := e.since("globex", 0); len(got) != 1+n/4 {
		t.Errorf("globex has %d events; want %d", len(got), 1+n/4)
	}
}

// testEventsWait runs when the store can signal new events.
func testEventsWait(t *testing.T, e *env) {
	w, ok := e.s.(store.EventWaiter)
	if !ok {
		t.Skip("the store does not implement store.EventWaiter")
	}
	e.setup()
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	wait := func(org string, after uint64) <-chan struct{} {
		t.Helper()
		ch, err := w.WaitEvents(e.ctx, org, after)
		if err != nil {
			t.Fatalf("WaitEvents(%q, %d) = %v", org, after, err)
		}
		return ch
	}
	last := e.last("acme")
	if !closed(wait("acme", last-1)) {
		t.Errorf("WaitEvents(acme, Last-1) is not closed; want closed at once")
	}
	ch := wait("acme", last)
	ch2 := wait("acme", last)
	if closed(ch) {
		t.Fatalf("WaitEvents(acme, Last) is closed before any write")
	}
	e.user(e.c, "globex only")
	if closed(ch) {
		t.Errorf("WaitEvents(acme, Last) closed by a write in globex")
	}
	u := e.user(e.a, "alice")
	if !closed(ch) || !closed(ch2) {
		t.Errorf("WaitEvents(acme, Last) not closed when the write that appended returned")
	}
	// A write that emits nothing (or fails) wakes nobody.
	last = e.last("acme")
	ch = wait("acme", last)
	_, _ = e.s.CreateUser(e.ctx, e.a, store.User{UserName: "dup"})
	_, _ = e.s.CreateUser(e.ctx, e.a, store.User{UserName: "DUP"})
	if got := e.last("acme"); got != last+1 || !closed(ch) {
		t.Fatalf("one create and one conflict: last %d (want %d), channel closed %v", got, last+1, closed(ch))
	}
	ch = wait("acme", last+1)
	_, _ = e.s.CreateUser(e.ctx, e.a, store.User{UserName: "dup"})
	if _, err := e.s.UpdateUser(e.ctx, e.a, u.ID, 0, func(*store.User) error { return nil }); err != nil {
		t.Fatalf("UpdateUser(no change) = %v", err)
	}
	if closed(ch) {
		t.Errorf("a failed write or one that changed nothing closed WaitEvents")
	}
	_, err := w.WaitEvents(e.ctx, "nope", 0)
	isErr(t, err, store.ErrNotFound, "WaitEvents(unknown org)")
}
