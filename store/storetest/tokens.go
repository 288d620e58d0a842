package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// Token upkeep: TouchToken, RotateToken, MarkTokenExpiring.

// newTokens creates, in e's orgs, an acme SCIM token of acme/okta that
// expires in 90 days, an acme admin token without expiry, a globex admin
// token and a super token, and returns them by those names.
func (e *env) newTokens() map[string]store.Token {
	e.t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	toks := map[string]store.Token{
		"scim": {ID: "tok-scim", Kind: store.TokenSCIM, Org: "acme", Directory: "okta", Name: "okta sync",
			Prefix: "scb_scim01", Hash: hash("scim-secret"), Created: now, Expires: now.Add(90 * 24 * time.Hour)},
		"admin": {ID: "tok-admin", Kind: store.TokenAdmin, Org: "acme", Name: "terraform",
			Prefix: "scb_adm001", Hash: hash("admin-secret"), Created: now},
		"globex": {ID: "tok-globex", Kind: store.TokenAdmin, Org: "globex", Name: "globex admin",
			Prefix: "scb_glob01", Hash: hash("globex-secret"), Created: now, Expires: now.Add(10 * 24 * time.Hour)},
		"super": {ID: "tok-super", Kind: store.TokenSuper, Name: "backups",
			Prefix: "scb_sup001", Hash: hash("super-secret"), Created: now, Expires: now.Add(5 * 24 * time.Hour)},
	}
	for _, name := range []string{"scim", "admin", "globex", "super"} {
		if err := e.s.CreateToken(e.ctx, toks[name]); err != nil {
			e.t.Fatalf("CreateToken(%s) = %v", toks[name].ID, err)
		}
	}
	return toks
}

// tokenByHash reads a token that must exist.
func (e *env) tokenByHash(h []byte) store.Token {
	e.t.Helper()
	tok, err := e.s.TokenByHash(e.ctx, h)
	if err != nil {
		e.t.Fatalf("TokenByHash() = %v", err)
	}
	return tok
}

// tokenIDs lists the ids of Tokens(org).
func (e *env) tokenIDs(org string) []string {
	e.t.Helper()
	ts, err := e.s.Tokens(e.ctx, org)
	if err != nil {
		e.t.Fatalf("Tokens(%q) = %v", org, err)
	}
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return sorted(ids)
}

func testTokenTouch(t *testing.T, e *env) {
	e.setup()
	toks := e.newTokens()
	scim := toks["scim"]
	if got := e.tokenByHash(scim.Hash).LastUsed; !got.IsZero() {
		t.Errorf("LastUsed of a new token = %v; want zero", got)
	}
	before := e.last("acme")
	t1 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	if err := e.s.TouchToken(e.ctx, scim.ID, t1); err != nil {
		t.Fatalf("TouchToken(%s, t1) = %v", scim.ID, err)
	}
	got := e.tokenByHash(scim.Hash)
	if !got.LastUsed.Equal(t1) {
		t.Errorf("LastUsed after TouchToken(t1) = %v; want %v", got.LastUsed, t1)
	}
	// Nothing else of the token changes.
	want := scim
	want.LastUsed = got.LastUsed
	if d := diff(want, got); d != "" {
		t.Errorf("TokenByHash after TouchToken mismatch (-want +got):\n%s", d)
	}
	// An earlier time (a slow writer losing a race) never moves it back.
	if err := e.s.TouchToken(e.ctx, scim.ID, t1.Add(-time.Minute)); err != nil {
		t.Fatalf("TouchToken(%s, earlier) = %v", scim.ID, err)
	}
	if got := e.tokenByHash(scim.Hash).LastUsed; !got.Equal(t1) {
		t.Errorf("LastUsed after an earlier touch = %v; want %v", got, t1)
	}
	t2 := t1.Add(time.Hour)
	if err := e.s.TouchToken(e.ctx, scim.ID, t2); err != nil {
		t.Fatalf("TouchToken(%s, t2) = %v", scim.ID, err)
	}
	ts, err := e.s.Tokens(e.ctx, "acme")
	if err != nil {
		t.Fatalf("Tokens(acme) = %v", err)
	}
	for _, tok := range ts {
		if tok.ID == scim.ID && !tok.LastUsed.Equal(t2) {
			t.Errorf("Tokens(acme): LastUsed of %s = %v; want %v", tok.ID, tok.LastUsed, t2)
		}
		if tok.ID != scim.ID && !tok.LastUsed.IsZero() {
			t.Errorf("Tokens(acme): LastUsed of untouched %s = %v; want zero", tok.ID, tok.LastUsed)
		}
	}
	if got := e.last("acme"); got != before {
		t.Errorf("TouchToken appended events: last seq %d; want %d (a touch emits nothing)", got, before)
	}
	isErr(t, e.s.TouchToken(e.ctx, "nope", t2), store.ErrNotFound, "TouchToken(unknown)")
	isErr(t, e.s.TouchToken(e.ctx, "", t2), store.ErrNotFound, "TouchToken(\"\")")
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	if err := e.s.TouchToken(ctx, scim.ID, t2.Add(time.Hour)); err == nil {
		t.Errorf("TouchToken(canceled context) = nil; want an error")
	}
	if got := e.tokenByHash(scim.Hash).LastUsed; !got.Equal(t2) {
		t.Errorf("LastUsed after a canceled touch = %v; want %v", got, t2)
	}
	// A super token too.
	if err := e.s.TouchToken(e.ctx, toks["super"].ID, t2); err != nil {
		t.Errorf("TouchToken(super) = %v", err)
	}
	if got := e.tokenByHash(toks["super"].Hash).LastUsed; !got.Equal(t2) {
		t.Errorf("LastUsed of the super token = %v; want %v", got, t2)
	}
}

func testTokenRotate(t *testing.T, e *env) {
	e.setup()
	toks := e.newTokens()
	scim := toks["scim"]
	actor := store.WithActor(e.ctx, adminActor)
	acmeBefore, globexBefore := e.last("acme"), e.last("globex")

	newExp := time.Now().UTC().Truncate(time.Second).Add(180 * 24 * time.Hour)
	// The kind, org, directory and name of the replacement are the old
	// token's, whatever the caller says.
	repl := store.Token{ID: "tok-scim-2", Kind: store.TokenAdmin, Org: "globex", Directory: "entra", Name: "stolen",
		Prefix: "scb_scim02", Hash: hash("scim-secret-2"), Expires: newExp}
	start := time.Now()
	old, err := e.s.RotateToken(actor, scim.ID, repl, 24*time.Hour)
	end := time.Now()
	if err != nil {
		t.Fatalf("RotateToken(%s) = %v", scim.ID, err)
	}
	if old.ID != scim.ID || old.ReplacedBy != repl.ID || old.Org != "acme" || old.Directory != "okta" {
		t.Errorf("RotateToken(%s) = %+v; want the old token, replaced by %s", scim.ID, old, repl.ID)
	}
	if old.Expires.Before(start.Add(24*time.Hour).Truncate(time.Second)) || old.Expires.After(end.Add(24*time.Hour)) {
		t.Errorf("RotateToken: old Expires = %v; want now + 24h (between %v and %v)", old.Expires, start.Add(24*time.Hour), end.Add(24*time.Hour))
	}
	if got := e.tokenByHash(scim.Hash); got.ReplacedBy != repl.ID || !got.Expires.Equal(old.Expires) {
		t.Errorf("TokenByHash(old) = %+v; want ReplacedBy %s and Expires %v", got, repl.ID, old.Expires)
	}
	// Both authenticate during the overlap.
	nt := e.tokenByHash(repl.Hash)
	if nt.ID != repl.ID || nt.Kind != store.TokenSCIM || nt.Org != "acme" || nt.Directory != "okta" || nt.Name != scim.Name ||
		nt.Prefix != repl.Prefix || !nt.Expires.Equal(newExp) || nt.Created.IsZero() || nt.ReplacedBy != "" || !nt.LastUsed.IsZero() {
		t.Errorf("TokenByHash(new) = %+v; want a SCIM token of acme/okta named %q, expiring %v, with a Created time", nt, scim.Name, newExp)
	}
	if nt.Created.Before(start.Add(-time.Second)) || nt.Created.After(end.Add(time.Second)) {
		t.Errorf("new token Created = %v; want the store's now by default", nt.Created)
	}
	if got, want := e.tokenIDs("acme"), sorted([]string{"tok-admin", "tok-scim", "tok-scim-2"}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Tokens(acme) = %v; want %v", got, want)
	}
	if got := e.tokenIDs("globex"); fmt.Sprint(got) != fmt.Sprint([]string{"tok-globex"}) {
		t.Errorf("Tokens(globex) = %v; want only its own token", got)
	}

	// One token.rotated in acme's outbox, nothing in globex's.
	evs := e.since("acme", acmeBefore)
	if d := diff([]string{kind(store.EventTokenRotated, scim.ID)}, kinds(evs)); d != "" {
		t.Fatalf("events of RotateToken mismatch (-want +got):\n%s", d)
	}
	checkEnvelope(t, evs[0], "acme", "okta", adminActor, evs[0].OccurredAt)
	tokenJSON := func(tok store.Token) map[string]any {
		m := map[string]any{"id": tok.ID, "kind": string(tok.Kind), "org": tok.Org, "directory": tok.Directory,
			"name": tok.Name, "prefix": tok.Prefix, "created": tok.Created.Format(time.RFC3339Nano)}
		if !tok.Expires.IsZero() {
			m["expires"] = tok.Expires.Format(time.RFC3339Nano)
		}
		return m
	}
	wantData := map[string]any{"old": tokenJSON(old), "new": tokenJSON(nt)}
	if d := diff(wantData, dataOf(t, evs[0])); d != "" {
		t.Errorf("token.rotated data mismatch (-want +got):\n%s", d)
	}
	if got := e.last("globex"); got != globexBefore {
		t.Errorf("RotateToken in acme appended to globex's outbox (last %d; want %d)", got, globexBefore)
	}

	// A replaced token has one successor: rotating it again is a conflict
	// that writes nothing.
	_, err = e.s.RotateToken(e.ctx, scim.ID, store.Token{ID: "tok-scim-3", Hash: hash("scim-secret-3")}, time.Hour)
	isConflict(t, err, "replaced_by", repl.ID, "RotateToken(already replaced)")
	if _, err := e.s.TokenByHash(e.ctx, hash("scim-secret-3")); err == nil {
		t.Errorf("TokenByHash(replacement of a refused rotation) = nil; want ErrNotFound")
	}
	// The replacement rotates like any token.
	if _, err := e.s.RotateToken(e.ctx, repl.ID, store.Token{ID: "tok-scim-3", Hash: hash("scim-secret-3")}, time.Hour); err != nil {
		t.Errorf("RotateToken(replacement) = %v", err)
	}

	// The overlap never lengthens a token's life: a token that expires
	// sooner keeps its expiry.
	soon := store.Token{ID: "tok-soon", Kind: store.TokenAdmin, Org: "acme", Name: "soon", Prefix: "scb_soon01",
		Hash: hash("soon"), Created: time.Now().UTC(), Expires: time.Now().UTC().Add(time.Hour).Truncate(time.Second)}
	if err := e.s.CreateToken(e.ctx, soon); err != nil {
		t.Fatalf("CreateToken(soon) = %v", err)
	}
	old, err = e.s.RotateToken(e.ctx, soon.ID, store.Token{ID: "tok-soon-2", Hash: hash("soon-2")}, 24*time.Hour)
	if err != nil || !old.Expires.Equal(soon.Expires) {
		t.Errorf("RotateToken(expires in 1h, overlap 24h) = %v, Expires %v; want Expires kept at %v", err, old.Expires, soon.Expires)
	}
	// Overlap 0 ends a token without expiry at once.
	admin := toks["admin"]
	old, err = e.s.RotateToken(e.ctx, admin.ID, store.Token{ID: "tok-admin-2", Hash: hash("admin-2")}, 0)
	if err != nil {
		t.Fatalf("RotateToken(admin, overlap 0) = %v", err)
	}
	if after := time.Now().Add(time.Millisecond); !old.Expired(after) || old.Expires.Before(start) {
		t.Errorf("RotateToken(overlap 0): Expires = %v; want now", old.Expires)
	}

	// A super token's rotation goes to the outbox of org "".
	superBefore := e.last("")
	if _, err := e.s.RotateToken(e.ctx, toks["super"].ID, store.Token{ID: "tok-super-2", Hash: hash("super-2")}, time.Hour); err != nil {
		t.Fatalf("RotateToken(super) = %v", err)
	}
	if got := e.tokenByHash(hash("super-2")); got.Kind != store.TokenSuper || got.Org != "" {
		t.Errorf("replacement of a super token = %+v; want a super token", got)
	}
	sevs := e.since("", superBefore)
	if d := diff([]string{kind(store.EventTokenRotated, toks["super"].ID)}, kinds(sevs)); d != "" {
		t.Errorf("events of org \"\" after rotating the super token mismatch (-want +got):\n%s", d)
	}

	isErr(t, func() error {
		_, err := e.s.RotateToken(e.ctx, "nope", store.Token{ID: "x", Hash: hash("x")}, time.Hour)
		return err
	}(), store.ErrNotFound, "RotateToken(unknown)")
	if _, err := e.s.RotateToken(e.ctx, toks["globex"].ID, store.Token{ID: "x", Hash: hash("x")}, -time.Hour); err == nil {
		t.Errorf("RotateToken(negative overlap) = nil; want an error")
	}

	var all []store.Event
	for _, org := range []string{"acme", "globex", ""} {
		all = append(all, e.since(org, 0)...)
	}
	checkNoSecrets(t, all, hash("scim-secret"), hash("scim-secret-2"), hash("scim-secret-3"), hash("admin-secret"),
		hash("admin-2"), hash("soon"), hash("soon-2"), hash("super-secret"), hash("super-2"), hash("globex-secret"))
}

func testTokenRotateAtomic(t *testing.T, e *env) {
	e.setup()
	toks := e.newTokens()
	scim := toks["scim"]
	before := e.last("acme")
	for name, repl := range map[string]store.Token{
		"hash of another token": {ID: "tok-new", Hash: toks["globex"].Hash, Prefix: "scb_x"},
		"id of another token":   {ID: toks["admin"].ID, Hash: hash("fresh"), Prefix: "scb_x"},
		"its own id":            {ID: scim.ID, Hash: hash("fresh"), Prefix: "scb_x"},
		"no id":                 {Hash: hash("fresh"), Prefix: "scb_x"},
		"no hash":               {ID: "tok-new", Prefix: "scb_x"},
	} {
		_, err := e.s.RotateToken(e.ctx, scim.ID, repl, time.Hour)
		if err == nil {
			t.Errorf("RotateToken(%s) = nil; want an error", name)
			continue
		}
		if got := e.tokenByHash(scim.Hash); got.ReplacedBy != "" || !got.Expires.Equal(scim.Expires) {
			t.Errorf("after RotateToken(%s) failed: old token = %+v; want it unchanged", name, got)
		}
	}
	if got := e.tokenByHash(toks["globex"].Hash); got.ID != toks["globex"].ID {
		t.Errorf("TokenByHash(globex) = %s after a colliding rotation; want %s", got.ID, toks["globex"].ID)
	}
	if _, err := e.s.TokenByHash(e.ctx, hash("fresh")); err == nil {
		t.Errorf("TokenByHash(replacement of a failed rotation) = nil; want ErrNotFound")
	}
	if got := e.tokenIDs("acme"); fmt.Sprint(got) != fmt.Sprint([]string{"tok-admin", "tok-scim"}) {
		t.Errorf("Tokens(acme) after failed rotations = %v", got)
	}
	if got := e.last("acme"); got != before {
		t.Errorf("failed rotations appended events (last seq %d; want %d)", got, before)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	if _, err := e.s.RotateToken(ctx, scim.ID, store.Token{ID: "tok-new", Hash: hash("fresh")}, time.Hour); err == nil {
		t.Errorf("RotateToken(canceled context) = nil; want an error")
	}
	// Of concurrent rotations of one token exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = e.s.RotateToken(e.ctx, scim.ID, store.Token{ID: fmt.Sprintf("tok-c%d", i), Hash: hash(fmt.Sprintf("c%d", i))}, time.Hour)
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			isErr(t, err, store.ErrConflict, "concurrent RotateToken")
		}
	}
	if won != 1 || len(e.tokenIDs("acme")) != 3 || len(e.since("acme", before)) != 1 {
		t.Errorf("concurrent rotations: %d won, tokens %v, %d events; want 1 winner, 3 tokens, 1 event", won, e.tokenIDs("acme"), len(e.since("acme", before)))
	}
}

func testTokenExpiring(t *testing.T, e *env) {
	e.setup()
	toks := e.newTokens()
	scim, globex, super := toks["scim"], toks["globex"], toks["super"]
	acmeBefore, globexBefore, superBefore := e.last("acme"), e.last("globex"), e.last("")
	mark := func(id string, days int, want bool) {
		t.Helper()
		got, err := e.s.MarkTokenExpiring(e.ctx, id, days)
		if err != nil || got != want {
			t.Errorf("MarkTokenExpiring(%s, %d) = %v, %v; want %v", id, days, got, err, want)
		}
	}
	// Each threshold once, tighter ones after looser ones.
	mark(scim.ID, 14, true)
	mark(scim.ID, 14, false)
	mark(scim.ID, 7, true)
	mark(scim.ID, 14, false)
	mark(scim.ID, 7, false)
	mark(scim.ID, 1, true)
	mark(scim.ID, 1, false)
	mark(scim.ID, 7, false)
	// A tight threshold first covers the looser ones.
	mark(globex.ID, 1, true)
	mark(globex.ID, 7, false)
	mark(globex.ID, 14, false)
	mark(super.ID, 7, true)

	evs := e.since("acme", acmeBefore)
	want := []string{kind(store.EventTokenExpiring, scim.ID), kind(store.EventTokenExpiring, scim.ID), kind(store.EventTokenExpiring, scim.ID)}
	if d := diff(want, kinds(evs)); d != "" {
		t.Fatalf("acme events mismatch (-want +got):\n%s", d)
	}
	for i, days := range []int{14, 7, 1} {
		checkEnvelope(t, evs[i], "acme", "okta", system, evs[i].OccurredAt)
		wantData := map[string]any{"id": scim.ID, "kind": "scim", "directory": "okta", "name": scim.Name, "prefix": scim.Prefix,
			"expires": scim.Expires.Format(time.RFC3339Nano), "days": float64(days)}
		if d := diff(wantData, dataOf(t, evs[i])); d != "" {
			t.Errorf("token.expiring (%d days) data mismatch (-want +got):\n%s", days, d)
		}
	}
	gevs := e.since("globex", globexBefore)
	if d := diff([]string{kind(store.EventTokenExpiring, globex.ID)}, kinds(gevs)); d != "" {
		t.Errorf("globex events mismatch (-want +got):\n%s", d)
	} else if got := dataOf(t, gevs[0])["days"]; got != float64(1) {
		t.Errorf("globex token.expiring days = %v; want 1", got)
	}
	sevs := e.since("", superBefore)
	if d := diff([]string{kind(store.EventTokenExpiring, super.ID)}, kinds(sevs)); d != "" {
		t.Errorf("events of org \"\" mismatch (-want +got):\n%s", d)
	}

	// Concurrent announcers (two servers' timers, a retry) emit once.
	if err := e.s.CreateToken(e.ctx, store.Token{ID: "tok-race", Kind: store.TokenAdmin, Org: "acme", Name: "race", Prefix: "scb_race01",
		Hash: hash("race"), Created: time.Now().UTC(), Expires: time.Now().UTC().Add(3 * 24 * time.Hour)}); err != nil {
		t.Fatalf("CreateToken(race) = %v", err)
	}
	before := e.last("acme")
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 8 {
		wg.Go(func() {
			ok, err := e.s.MarkTokenExpiring(e.ctx, "tok-race", 7)
			if err != nil {
				t.Errorf("MarkTokenExpiring(race) = %v", err)
			}
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if n := len(e.since("acme", before)); won != 1 || n != 1 {
		t.Errorf("8 concurrent MarkTokenExpiring(7): %d returned true, %d events; want 1 and 1", won, n)
	}

	// The marks change nothing else of the token.
	if got := e.tokenByHash(scim.Hash); got.ReplacedBy != "" || !got.Expires.Equal(scim.Expires) {
		t.Errorf("TokenByHash after marks = %+v; want it otherwise unchanged", got)
	}

	before = e.last("acme")
	if _, err := e.s.MarkTokenExpiring(e.ctx, toks["admin"].ID, 14); err == nil {
		t.Errorf("MarkTokenExpiring(token without expiry) = nil; want an error")
	}
	if _, err := e.s.MarkTokenExpiring(e.ctx, "tok-race", 0); err == nil {
		t.Errorf("MarkTokenExpiring(days 0) = nil; want an error")
	}
	_, err := e.s.MarkTokenExpiring(e.ctx, "nope", 14)
	isErr(t, err, store.ErrNotFound, "MarkTokenExpiring(unknown)")
	if got := e.last("acme"); got != before {
		t.Errorf("refused marks appended events (last seq %d; want %d)", got, before)
	}

	var all []store.Event
	for _, org := range []string{"acme", "globex", ""} {
		all = append(all, e.since(org, 0)...)
	}
	checkNoSecrets(t, all, scim.Hash, globex.Hash, super.Hash, hash("race"), toks["admin"].Hash)
}
