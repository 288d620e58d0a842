package storetest

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// RunSSO runs the conformance suite of store.SSO, for backends that
// implement it. open is as for Run; the store it returns must implement
// store.SSO.
func RunSSO(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env, s store.SSO)
	}{
		{"Config", testSSOConfig},
		{"LoginStateSingleUse", testLoginStateSingleUse},
		{"ConsumeOnce", testConsumeOnce},
		{"Sessions", testSessions},
		{"DeactivationRevokes", testDeactivationRevokes},
		{"DeletionRevokes", testDeletionRevokes},
		{"InactiveGetsNoSession", testInactiveGetsNoSession},
		{"Prune", testSSOPrune},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			t.Cleanup(func() {
				if err := st.Close(); err != nil {
					t.Errorf("Close() = %v", err)
				}
			})
			s, ok := st.(store.SSO)
			if !ok {
				t.Fatalf("%T does not implement store.SSO", st)
			}
			e := newEnv(t, st)
			e.setup()
			tc.fn(t, e, s)
		})
	}
}

func testSSOConfig(t *testing.T, e *env, s store.SSO) {
	c, err := s.SSOConfig(e.ctx, e.a)
	if err != nil || c.Version != 0 || c.Org != "acme" || c.Directory != "okta" {
		t.Fatalf("SSOConfig(new directory) = %+v, %v; want the zero config of acme/okta", c, err)
	}
	if _, err := s.SSOConfig(e.ctx, store.DirKey{Org: "acme", Directory: "nope"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SSOConfig(unknown directory) = %v; want ErrNotFound", err)
	}
	before := e.last("acme")
	c, err = s.UpdateSSOConfig(e.ctx, e.a, true, func(c *store.SSOConfig) error {
		c.JIT = true
		c.OIDC.Issuer, c.OIDC.ClientID = "https://idp.example.com", "client"
		c.OIDC.ClientSecretSealed = []byte("sealed-secret-bytes")
		c.Org, c.Version = "globex", 99 // the store's fields
		return nil
	})
	if err != nil || c.Version != 1 || c.Org != "acme" || !c.JIT {
		t.Fatalf("UpdateSSOConfig = %+v, %v", c, err)
	}
	got, _ := s.SSOConfig(e.ctx, e.a)
	if got.Version != 1 || got.OIDC.ClientID != "client" || string(got.OIDC.ClientSecretSealed) != "sealed-secret-bytes" {
		t.Fatalf("SSOConfig after update = %+v", got)
	}
	if other, _ := s.SSOConfig(e.ctx, e.b); other.Version != 0 || other.JIT {
		t.Fatalf("other directory changed: %+v", other)
	}
	evs := e.since("acme", before)
	if len(evs) != 1 || evs[0].Type != store.EventSSOConfigUpdated {
		t.Fatalf("events = %v; want one %s", kinds(evs), store.EventSSOConfigUpdated)
	}
	checkNoSecrets(t, evs, []byte("sealed-secret-bytes"), []byte("c2VhbGVk"))
	boom := errors.New("boom")
	if _, err := s.UpdateSSOConfig(e.ctx, e.a, true, func(c *store.SSOConfig) error { c.JIT = false; return boom }); !errors.Is(err, boom) {
		t.Fatalf("UpdateSSOConfig(fn fails) = %v; want boom", err)
	}
	if got, _ := s.SSOConfig(e.ctx, e.a); !got.JIT || got.Version != 1 {
		t.Fatalf("failed update changed the config: %+v", got)
	}
	if _, err := s.UpdateSSOConfig(e.ctx, e.a, false, func(c *store.SSOConfig) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n := len(e.since("acme", before)); n != 1 {
		t.Fatalf("update without emit appended events: %d", n-1)
	}
}

func testLoginStateSingleUse(t *testing.T, e *env, s store.SSO) {
	st := store.LoginState{ID: "state-1", Org: "acme", Directory: "okta", Method: "oidc",
		BrowserHash: []byte("b"), Nonce: "n", Verifier: "v", Expires: time.Now().Add(time.Minute)}
	if err := s.PutLoginState(e.ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := s.PutLoginState(e.ctx, st); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("PutLoginState(same id) = %v; want ErrConflict", err)
	}
	// Many takers race for one state: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			got, err := s.TakeLoginState(e.ctx, "state-1")
			if err == nil {
				wins.Add(1)
				if got.Nonce != "n" || got.Verifier != "v" || got.Directory != "okta" {
					t.Errorf("TakeLoginState = %+v", got)
				}
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("TakeLoginState = %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d takers won; want 1", wins.Load())
	}
	expired := st
	expired.ID, expired.Expires = "state-2", time.Now().Add(-time.Second)
	if err := s.PutLoginState(e.ctx, expired); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TakeLoginState(e.ctx, "state-2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TakeLoginState(expired) = %v; want ErrNotFound", err)
	}
}

func testConsumeOnce(t *testing.T, e *env, s store.SSO) {
	exp := time.Now().Add(time.Minute)
	if err := s.ConsumeOnce(e.ctx, "saml:acme/okta:_abc", exp); err != nil {
		t.Fatal(err)
	}
	if err := s.ConsumeOnce(e.ctx, "saml:acme/okta:_abc", exp); !errors.Is(err, store.ErrReplay) {
		t.Fatalf("ConsumeOnce(again) = %v; want ErrReplay", err)
	}
	if err := s.ConsumeOnce(e.ctx, "saml:acme/entra:_abc", exp); err != nil {
		t.Fatalf("ConsumeOnce(other key) = %v", err)
	}
	// An expired key may be used again (its assertion is refused for its
	// age anyway).
	if err := s.ConsumeOnce(e.ctx, "old", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.ConsumeOnce(e.ctx, "old", exp); err != nil {
		t.Fatalf("ConsumeOnce(expired key) = %v", err)
	}
}

// newSession returns a live session of u with a random secret's hash.
func newSession(t *testing.T, dir store.DirKey, u store.User, secret string) store.Session {
	t.Helper()
	id, err := store.NewID()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte(secret))
	now := time.Now().UTC()
	return store.Session{ID: id, Hash: h[:], Org: dir.Org, Directory: dir.Directory, UserID: u.ID,
		UserName: u.UserName, Method: "saml", Groups: json.RawMessage(`[{"DisplayName":"g"}]`),
		GroupsSource: "claim", Created: now, LastSeen: now, IdleTimeout: time.Hour, Expires: now.Add(2 * time.Hour)}
}

func loginEvent(s store.Session) store.SSOEvent {
	return store.SSOEvent{Type: store.EventSSOLoginSucceeded, Directory: s.Directory, SessionID: s.ID,
		Data: json.RawMessage(`{"method": "saml", "user": {"id": "` + s.UserID + `"}}`)}
}

func testSessions(t *testing.T, e *env, s store.SSO) {
	alice := e.user(e.a, "alice")
	before := e.last("acme")
	sess := newSession(t, e.a, alice, "secret-1")
	if err := s.CreateSession(e.ctx, sess, loginEvent(sess)); err != nil {
		t.Fatal(err)
	}
	evs := e.since("acme", before)
	if len(evs) != 1 || evs[0].Type != store.EventSSOLoginSucceeded || evs[0].Resource.ID != sess.ID || evs[0].Directory != "okta" {
		t.Fatalf("events = %+v; want one sso.login_succeeded of the session", evs)
	}
	got, err := s.SessionByHash(e.ctx, sess.Hash)
	if err != nil || got.UserID != alice.ID || got.ID != sess.ID || string(got.Groups) != string(sess.Groups) {
		t.Fatalf("SessionByHash = %+v, %v", got, err)
	}
	other := sha256.Sum256([]byte("secret-2"))
	if _, err := s.SessionByHash(e.ctx, other[:]); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SessionByHash(unknown) = %v; want ErrNotFound", err)
	}
	later := time.Now().Add(30 * time.Minute).UTC()
	if err := s.TouchSession(e.ctx, sess.Hash, later); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SessionByHash(e.ctx, sess.Hash); !got.LastSeen.Equal(later) {
		t.Fatalf("LastSeen = %v; want %v", got.LastSeen, later)
	}
	if list, err := s.UserSessions(e.ctx, e.a, alice.ID); err != nil || len(list) != 1 {
		t.Fatalf("UserSessions = %v, %v; want 1", list, err)
	}
	// Another user of another directory with the same id prefix is not
	// listed.
	if list, _ := s.UserSessions(e.ctx, e.b, alice.ID); len(list) != 0 {
		t.Fatalf("UserSessions(other directory) = %d; want 0", len(list))
	}
	before = e.last("acme")
	if err := s.DeleteSession(e.ctx, sess.Hash, store.SSOEvent{Type: store.EventSSOLogout, Directory: "okta", SessionID: sess.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(e.ctx, sess.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SessionByHash(after delete) = %v; want ErrNotFound", err)
	}
	if k := kinds(e.since("acme", before)); len(k) != 1 || k[0] != kind(store.EventSSOLogout, sess.ID) {
		t.Fatalf("events = %v; want sso.logout", k)
	}
	if err := s.DeleteSession(e.ctx, sess.Hash, store.SSOEvent{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteSession(again) = %v; want ErrNotFound", err)
	}
	// Expired sessions are not found.
	old := newSession(t, e.a, alice, "secret-3")
	old.LastSeen = time.Now().Add(-2 * time.Hour)
	if err := s.CreateSession(e.ctx, old, store.SSOEvent{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(e.ctx, old.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SessionByHash(idle expired) = %v; want ErrNotFound", err)
	}
	if err := s.AppendSSOEvent(e.ctx, "acme", store.SSOEvent{Type: store.EventSSOLoginFailed, Directory: "okta", Data: json.RawMessage(`{"reason":"replay"}`)}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendSSOEvent(e.ctx, "nope", store.SSOEvent{Type: store.EventSSOLoginFailed}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AppendSSOEvent(unknown org) = %v; want ErrNotFound", err)
	}
}

func testDeactivationRevokes(t *testing.T, e *env, s store.SSO) {
	alice, bob := e.user(e.a, "alice"), e.user(e.a, "bob")
	var hashes [][]byte
	for i, u := range []store.User{alice, alice, bob} {
		sess := newSession(t, e.a, u, "secret-"+string(rune('a'+i)))
		if err := s.CreateSession(e.ctx, sess, store.SSOEvent{}); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, sess.Hash)
	}
	// An update that keeps alice active keeps her sessions.
	if _, err := e.s.UpdateUser(e.ctx, e.a, alice.ID, 0, func(u *store.User) error { u.DisplayName = "Alice"; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(e.ctx, hashes[0]); err != nil {
		t.Fatalf("session after a plain update: %v", err)
	}
	if _, err := e.s.UpdateUser(e.ctx, e.a, alice.ID, 0, func(u *store.User) error { u.Active = false; return nil }); err != nil {
		t.Fatal(err)
	}
	for i, h := range hashes[:2] {
		if _, err := s.SessionByHash(e.ctx, h); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("alice's session %d after deactivation: %v; want ErrNotFound", i, err)
		}
	}
	if list, _ := s.UserSessions(e.ctx, e.a, alice.ID); len(list) != 0 {
		t.Fatalf("UserSessions(alice) = %d; want 0", len(list))
	}
	if _, err := s.SessionByHash(e.ctx, hashes[2]); err != nil {
		t.Fatalf("bob's session after alice's deactivation: %v", err)
	}
}

func testDeletionRevokes(t *testing.T, e *env, s store.SSO) {
	alice := e.user(e.a, "alice")
	sess := newSession(t, e.a, alice, "secret")
	if err := s.CreateSession(e.ctx, sess, store.SSOEvent{}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteUser(e.ctx, e.a, alice.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(e.ctx, sess.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session after deletion: %v; want ErrNotFound", err)
	}
	if n, err := s.RevokeUserSessions(e.ctx, e.a, alice.ID); err != nil || n != 0 {
		t.Fatalf("RevokeUserSessions = %d, %v; want 0", n, err)
	}
}

func testInactiveGetsNoSession(t *testing.T, e *env, s store.SSO) {
	carol := e.user(e.a, "carol", func(u *store.User) { u.Active = false })
	before := e.last("acme")
	sess := newSession(t, e.a, carol, "secret")
	if err := s.CreateSession(e.ctx, sess, loginEvent(sess)); !errors.Is(err, store.ErrInactive) {
		t.Fatalf("CreateSession(inactive) = %v; want ErrInactive", err)
	}
	ghost := store.User{ID: "00000000-0000-4000-8000-000000000000", UserName: "ghost"}
	if err := s.CreateSession(e.ctx, newSession(t, e.a, ghost, "x"), store.SSOEvent{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CreateSession(unknown user) = %v; want ErrNotFound", err)
	}
	if _, err := s.SessionByHash(e.ctx, sess.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session stored for an inactive user: %v", err)
	}
	if n := len(e.since("acme", before)); n != 0 {
		t.Fatalf("refused session appended %d events", n)
	}
}

func testSSOPrune(t *testing.T, e *env, s store.SSO) {
	alice := e.user(e.a, "alice")
	live := newSession(t, e.a, alice, "live")
	dead := newSession(t, e.a, alice, "dead")
	dead.Expires = time.Now().Add(time.Second)
	for _, x := range []store.Session{live, dead} {
		if err := s.CreateSession(e.ctx, x, store.SSOEvent{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutLoginState(e.ctx, store.LoginState{ID: "st", Expires: time.Now().Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if err := s.ConsumeOnce(e.ctx, "k", time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneSSO(e.ctx, time.Now().Add(2*time.Second))
	if err != nil || n != 3 {
		t.Fatalf("PruneSSO = %d, %v; want 3", n, err)
	}
	if list, _ := s.UserSessions(e.ctx, e.a, alice.ID); len(list) != 1 || list[0].ID != live.ID {
		t.Fatalf("UserSessions after prune = %v; want the live one", list)
	}
}
