package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bbolt "go.etcd.io/bbolt"

	"github.com/scimbridge/scimbridge/store"
)

// setupOrg creates org acme with directory okta.
func setupOrg(t testing.TB, db *DB) store.DirKey {
	t.Helper()
	ctx := context.Background()
	if _, err := db.CreateOrg(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateDirectory(ctx, store.Directory{Org: "acme", Name: "okta"}); err != nil {
		t.Fatal(err)
	}
	return store.DirKey{Org: "acme", Directory: "okta"}
}

// appendEvents appends n events of type typ to org in one write.
func appendEvents(t testing.TB, db *DB, org, typ string, n int) {
	t.Helper()
	err := db.write(context.Background(), org, func(_ *bbolt.Tx, ob *outbox) error {
		for range n {
			if err := ob.append("okta", typ, resourceRecord{Type: store.ResourceUser, ID: "u"}, nil, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMigrateSchema1 opens a file written by the schema-1 code (see
// testdata/schema1.md): its data is intact, every org has an empty
// outbox, and new writes are numbered from 1.
func TestMigrateSchema1(t *testing.T) {
	path := unpackFixture(t, "schema1.db")
	check, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := check.View(func(tx *bbolt.Tx) error {
		if v := schemaVersion(tx); v != 1 || tx.Bucket(bucketOutbox) != nil {
			t.Fatalf("fixture: schema %d, outbox %v; want a schema-1 file without an outbox", v, tx.Bucket(bucketOutbox) != nil)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check.Close()

	db := open(t, path, Options{})
	defer db.Close()
	ctx := t.Context()
	if err := db.bolt.View(func(tx *bbolt.Tx) error {
		if v := schemaVersion(tx); v != uint64(len(migrations)) {
			t.Errorf("schema after Open = %d; want %d", v, len(migrations))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	dir := store.DirKey{Org: "acme", Directory: "okta"}
	const alice = "e0af8718-b657-45a3-8f44-d8bc53e7290f"
	u, err := db.User(ctx, dir, alice)
	if err != nil || u.UserName != "alice@acme.example" || len(u.Groups) != 1 || u.Groups[0].DisplayName != "Engineering" || u.Version != 2 {
		t.Errorf("User(alice) after migration = %+v, %v; want alice v2 in Engineering", u, err)
	}
	if tok, err := db.TokenByHash(ctx, store.HashToken("scb_v1-secret")); err != nil || tok.ID != "tok-v1" {
		t.Errorf("TokenByHash() after migration = %+v, %v; want tok-v1", tok, err)
	}
	for _, org := range []string{"acme", "globex", ""} {
		p, err := db.Events(ctx, org, store.EventQuery{})
		if err != nil || len(p.Events) != 0 || p.Last != 0 {
			t.Errorf("Events(%q) after migration = %+v, %v; want an empty outbox", org, p, err)
		}
	}
	// History before the upgrade has no events; what follows starts at 1.
	if _, err := db.UpdateUser(ctx, dir, alice, 2, func(u *store.User) error { u.Active = false; return nil }); err != nil {
		t.Fatalf("UpdateUser() after migration = %v", err)
	}
	if _, err := db.CreateDirectory(ctx, store.Directory{Org: "globex", Name: "entra"}); err != nil {
		t.Fatalf("CreateDirectory(globex/entra) after migration = %v", err)
	}
	for org, want := range map[string]string{"acme": store.EventUserDeactivated, "globex": store.EventDirectoryCreated} {
		p, err := db.Events(ctx, org, store.EventQuery{})
		if err != nil || len(p.Events) != 1 || p.Events[0].Seq != 1 || p.Events[0].Type != want {
			t.Errorf("Events(%q) after the first write = %+v, %v; want %s at seq 1", org, p, err, want)
		}
	}
	if _, err := db.CreateOrg(ctx, "initech"); err != nil {
		t.Errorf("CreateOrg() after migration = %v", err)
	}
}

// TestEventLayout reads the outbox as stored: big-endian seq keys, and
// values that are exactly the JSON of the store.Event that Events returns.
func TestEventLayout(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{})
	defer db.Close()
	dir := setupOrg(t, db)
	ctx := store.WithActor(t.Context(), store.Actor{Type: store.ActorToken, ID: "tok", Name: "Okta <sync> & \"co\"\u2028"})
	u, err := db.CreateUser(ctx, dir, store.User{UserName: "a<b>&c", Attributes: []byte(`{"userName":"a<b>&c","title":"x\u2029y"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.UpdateUser(ctx, dir, u.ID, 0, func(u *store.User) error {
		u.Attributes = []byte(`{"userName":"a<b>&c","title":"\u00e9\t"}`)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateGroup(ctx, dir, store.Group{DisplayName: "G\x01"}, []string{u.ID}); err != nil {
		t.Fatal(err)
	}
	p, err := db.Events(ctx, "acme", store.EventQuery{})
	if err != nil || len(p.Events) != 5 {
		t.Fatalf("Events() = %d events, %v; want 5", len(p.Events), err)
	}
	var keys [][]byte
	var values [][]byte
	if err := db.bolt.View(func(tx *bbolt.Tx) error {
		return outboxBucket(tx, "acme").Bucket(bucketEvents).ForEach(func(k, v []byte) error {
			keys, values = append(keys, slices.Clone(k)), append(values, slices.Clone(v))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	for i, ev := range p.Events {
		if want := encodeUint(uint64(i + 1)); !bytes.Equal(keys[i], want) {
			t.Errorf("key %d = %x; want %x", i, keys[i], want)
		}
		want, err := encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(values[i], want) {
			t.Errorf("stored event %d =\n%s\nwant the JSON of the store.Event\n%s", i+1, values[i], want)
		}
	}
}

// TestEnvelopeMatchesEncode holds the hand-written envelope equal to
// encoding/json's output for the same record.
func TestEnvelopeMatchesEncode(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 123000000, time.UTC)
	strs := []string{"", "plain", "quote\" back\\slash", "<html>&amp;", "tab\tnl\ncr\r\b\f\x00\x1f\x7f", "é ü 日本",
		"\u2028\u2029", "bad \xff utf8 \xc3", "emoji 🦀"}
	for _, s := range strs {
		for _, actor := range []actorRecord{{Type: store.ActorSystem}, {Type: store.ActorToken, ID: s, Name: s}} {
			o := &outbox{org: s, actor: actor, now: now}
			o.head = o.appendHead(nil)
			m := &memberData{}
			m.Group.ID, m.Group.DisplayName, m.User.ID, m.User.UserName = "g", s, "u", s
			if want, err := encode(m); err != nil || !bytes.Equal(m.appendJSON(nil), want) {
				t.Errorf("memberData.appendJSON() = %s; want %s, %v", m.appendJSON(nil), want, err)
			}
			changes := []changeRecord{{Attribute: s, Old: jsonNull, New: json.RawMessage(`{"a":[1,2]}`)}}
			changesJSON, err := encode(changes)
			if err != nil {
				t.Fatal(err)
			}
			data, err := encodeData(map[string]string{"x": s})
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				dir     string
				data    eventData
				changes []changeRecord
			}{
				{s, m, nil},
				{"", nil, nil},
				{s, data, changes},
			} {
				var cj []byte
				if tc.changes != nil {
					cj = changesJSON
				}
				got := o.appendEvent(nil, 42, tc.dir, s, resourceRecord{Type: "user", ID: s}, tc.data, cj)
				var id struct{ ID string }
				if err := json.Unmarshal(got, &id); err != nil {
					t.Fatalf("appendEvent(%q) = %s, not JSON: %v", s, got, err)
				}
				rec := eventRecord{ID: id.ID, Seq: 42, Type: s, OccurredAt: now, Org: s, Directory: tc.dir,
					Actor: actor, Resource: resourceRecord{Type: "user", ID: s}, Changes: tc.changes}
				if tc.data != nil {
					rec.Data = tc.data.appendJSON(nil)
				}
				want, err := encode(rec)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("appendEvent(%q) =\n%s\nwant\n%s", s, got, want)
				}
			}
		}
	}
}

// TestEventsClock checks occurred_at against Options.Now and prunes by
// exact times.
func TestEventsClock(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	db := open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{Now: func() time.Time { return now }})
	defer db.Close()
	ctx := t.Context()
	dir := setupOrg(t, db) // seq 1 at now
	for i := range 4 {
		now = now.Add(time.Hour)
		if _, err := db.CreateUser(ctx, dir, store.User{UserName: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := db.Events(ctx, "acme", store.EventQuery{})
	if err != nil || len(p.Events) != 5 {
		t.Fatalf("Events() = %d, %v; want 5", len(p.Events), err)
	}
	start := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	for i, ev := range p.Events {
		if want := start.Add(time.Duration(i) * time.Hour); !ev.OccurredAt.Equal(want) || ev.OccurredAt.Location() != time.UTC {
			t.Errorf("event %d OccurredAt = %v; want %v in UTC", ev.Seq, ev.OccurredAt, want)
		}
	}
	// Before 12:00 UTC: seqs 1 and 2 (10:00, 11:00); 12:00 stays.
	if n, err := db.PruneEvents(ctx, "acme", start.Add(2*time.Hour), math.MaxUint64); err != nil || n != 2 {
		t.Errorf("PruneEvents(before 12:00) = %d, %v; want 2", n, err)
	}
	// A clock that went back does not let a later event go before an
	// earlier one: pruning stops at the first event that must stay.
	now = start.Add(-time.Hour)
	if _, err := db.CreateUser(ctx, dir, store.User{UserName: "late"}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PruneEvents(ctx, "acme", start.Add(3*time.Hour), math.MaxUint64); err != nil || n != 1 {
		t.Errorf("PruneEvents(before 13:00) = %d, %v; want 1 (seq 3 only)", n, err)
	}
	if p, err := db.Events(ctx, "acme", store.EventQuery{After: 3}); err != nil || len(p.Events) != 3 || p.Events[0].Seq != 4 {
		t.Errorf("Events(after 3) = %+v, %v; want seqs 4, 5, 6", p, err)
	}
}

// TestEventsScanAndPruneLimits checks MaxEventScan and MaxEventPrune.
func TestEventsScanAndPruneLimits(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{})
	defer db.Close()
	ctx := t.Context()
	setupOrg(t, db) // seq 1
	n := store.MaxEventScan + 50
	appendEvents(t, db, "acme", "x.noise", n)
	appendEvents(t, db, "acme", "x.signal", 1)
	last := uint64(n + 2)

	q := store.EventQuery{Types: []string{"x.signal"}}
	p, err := db.Events(ctx, "acme", q)
	if err != nil || len(p.Events) != 0 || p.Next != store.MaxEventScan || p.Last != last {
		t.Fatalf("Events(types x.signal) = %d events, Next %d, Last %d, %v; want none, Next %d (the scan cap)", len(p.Events), p.Next, p.Last, err, store.MaxEventScan)
	}
	q.After = p.Next
	p, err = db.Events(ctx, "acme", q)
	if err != nil || len(p.Events) != 1 || p.Events[0].Seq != last || p.Next != last {
		t.Errorf("Events(after %d, types x.signal) = %+v, %v; want the signal at %d", q.After, p, err, last)
	}

	future := time.Now().Add(time.Hour)
	var total int
	for i := 0; ; i++ {
		pruned, err := db.PruneEvents(ctx, "acme", future, math.MaxUint64)
		if err != nil {
			t.Fatal(err)
		}
		if pruned > store.MaxEventPrune {
			t.Fatalf("PruneEvents() = %d; want at most %d", pruned, store.MaxEventPrune)
		}
		if i == 0 && pruned != store.MaxEventPrune {
			t.Errorf("first PruneEvents() = %d; want %d", pruned, store.MaxEventPrune)
		}
		if pruned == 0 {
			break
		}
		total += pruned
	}
	if total != int(last) {
		t.Errorf("PruneEvents() deleted %d in all; want %d", total, last)
	}
	_, err = db.Events(ctx, "acme", store.EventQuery{After: last - 1})
	var ce *store.CursorExpiredError
	if !errors.As(err, &ce) || ce.Oldest != last+1 {
		t.Errorf("Events(after %d) once all is pruned = %v; want CursorExpiredError with Oldest %d", last-1, err, last+1)
	}
}

func TestWaitEventsClose(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "scimbridge.db"), Options{})
	setupOrg(t, db)
	ch, err := db.WaitEvents(t.Context(), "acme", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("WaitEvents channel not closed by Close")
	}
	if _, err := db.WaitEvents(t.Context(), "acme", 1); err == nil {
		t.Error("WaitEvents() after Close = nil error; want an error")
	}
}

func TestReopenKeepsEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scimbridge.db")
	db := open(t, path, Options{})
	dir := setupOrg(t, db)
	ctx := t.Context()
	if _, err := db.CreateUser(ctx, dir, store.User{UserName: "a"}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PruneEvents(ctx, "acme", time.Now().Add(time.Hour), 1); err != nil || n != 1 {
		t.Fatalf("PruneEvents() = %d, %v", n, err)
	}
	before, err := db.Events(ctx, "acme", store.EventQuery{After: 1})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = open(t, path, Options{})
	defer db.Close()
	after, err := db.Events(ctx, "acme", store.EventQuery{After: 1})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, after); d != "" {
		t.Errorf("Events() after reopen mismatch (-before +after):\n%s", d)
	}
	if _, err := db.Events(ctx, "acme", store.EventQuery{}); !errors.Is(err, store.ErrCursorExpired) {
		t.Errorf("Events(after 0) after reopen = %v; want ErrCursorExpired (the prune mark survives)", err)
	}
	if _, err := db.CreateUser(ctx, dir, store.User{UserName: "b"}); err != nil {
		t.Fatal(err)
	}
	if p, err := db.Events(ctx, "acme", store.EventQuery{After: 2}); err != nil || len(p.Events) != 1 || p.Events[0].Seq != 3 {
		t.Errorf("Events(after 2) = %+v, %v; want the new user at seq 3", p, err)
	}
}

func TestAttrChanges(t *testing.T) {
	const ext = "urn:x:ext"
	for _, tc := range []struct {
		old, new string
		want     []string // attribute old new
	}{
		{``, ``, nil},
		{`null`, `{}`, nil},
		{`{"a":1}`, `{"a":1.0}`, []string{"a 1 1.0"}}, // numbers compare by their text
		{`{"a":null}`, `{}`, nil},
		{`{"a":{"x":1,"y":[1,2]}}`, `{"a":{"y":[1,2],"x":1}}`, nil},
		{`{"a":[1,2]}`, `{"a":[2,1]}`, []string{"a [1,2] [2,1]"}},
		{`{"b":"x","a":true}`, `{"a":false,"c":"y"}`, []string{`a true false`, `b "x" null`, `c null "y"`}},
		{`{"` + ext + `":{"p":1,"q":2}}`, `{"` + ext + `":{"q":3,"r":4}}`, []string{ext + `:p 1 null`, ext + `:q 2 3`, ext + `:r null 4`}},
		{`{"` + ext + `":{"p":1}}`, `{"` + ext + `":"flat"}`, []string{ext + ` null "flat"`, ext + `:p 1 null`}},
		{`{"password":"a","Password":"b","id":"x","meta":{},"groups":[1],"members":[2],"t":1}`, `{"password":"c","t":1}`, nil},
	} {
		od, err := attrsDoc([]byte(tc.old))
		if err != nil {
			t.Fatal(err)
		}
		nd, err := attrsDoc([]byte(tc.new))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range attrChanges(od, nd) {
			got = append(got, c.Attribute+" "+string(c.Old)+" "+string(c.New))
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("attrChanges(%s, %s) mismatch (-want +got):\n%s", tc.old, tc.new, d)
		}
	}
	for _, bad := range []string{`[]`, `"x"`, `1`} {
		if _, err := attrsDoc([]byte(bad)); err == nil {
			t.Errorf("attrsDoc(%s) = nil error; want an error (not an object)", bad)
		}
	}
}
