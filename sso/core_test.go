package sso

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// The protocol-independent half of a login: what complete does with an
// identity that SAML or OIDC established, and the session it issues. The
// identity is handed to complete directly; the session is then used over
// HTTP like a browser would.

// coreLogin completes a login of id in directory k and returns a browser that
// holds the session cookie, with the recorded response.
func (hs *harness) coreLogin(k store.DirKey, id Identity) (*http.Client, *httptest.ResponseRecorder) {
	hs.t.Helper()
	dir, err := hs.db.Directory(context.Background(), k)
	if err != nil {
		hs.t.Fatal(err)
	}
	cfg, err := hs.db.SSOConfig(context.Background(), k)
	if err != nil {
		hs.t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", hs.srv.URL+"/sso/"+k.Org+"/"+k.Directory+"/saml/acs", nil)
	hs.h.complete(rec, req, &dirContext{Dir: dir, Cfg: cfg}, id, hs.srv.URL+"/app")
	b := hs.browser()
	u, _ := url.Parse(hs.srv.URL)
	b.Jar.SetCookies(u, rec.Result().Cookies())
	return b, rec
}

func TestCoreLoginLinksAndMapsClaimGroups(t *testing.T) {
	hs := newHarness(t)
	hs.publish("acme", sessionRules)
	alice := hs.addUser(hs.dir, "alice@acme.test", true)
	eng := hs.addGroup(hs.dir, "workspace_engineering", "00gENG", alice.ID)
	hs.addGroup(hs.dir, "Entra admins", "3f2a9c1e-5b7d-4c11-9e0a-8d2f6b1c4a77")

	// The claim names groups by displayName (any case), by externalId (as
	// Entra sends object ids) and by id, and one the SCIM job never sent.
	b, rec := hs.coreLogin(hs.dir, Identity{
		Method: MethodSAML, UserName: "ALICE@acme.test", GroupsPresent: true,
		Groups: []string{"Workspace_Engineering", "3f2a9c1e-5b7d-4c11-9e0a-8d2f6b1c4a77", eng.ID, "workspace_legal"},
	})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != hs.srv.URL+"/app" {
		t.Fatalf("complete = %d %q; want 303 to /app", rec.Code, rec.Header().Get("Location"))
	}
	c := rec.Result().Cookies()
	if len(c) != 1 || c[0].Name != SessionCookie || !c[0].HttpOnly || c[0].SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookies = %+v; want one HttpOnly SameSite=Lax session cookie", c)
	}
	status, v := hs.session(b)
	if status != http.StatusOK {
		t.Fatalf("GET /sso/session = %d", status)
	}
	if v.User.ID != alice.ID || v.GroupsSource != GroupsFromClaim {
		t.Fatalf("session = %+v; want alice from the claim", v)
	}
	if got, want := workspaces(v), []string{"engineering:member", "legal:member", "org:org_admin"}; !slices.Equal(got, want) {
		t.Fatalf("access = %v; want %v", got, want)
	}
	if len(v.Groups) != 3 {
		t.Fatalf("groups = %+v; want engineering (once), the Entra group and workspace_legal", v.Groups)
	}
	evs := hs.events("acme", store.EventSSOLoginSucceeded)
	if len(evs) != 1 || evs[0].Resource.ID != v.Session.ID {
		t.Fatalf("login events = %+v", evs)
	}
	if bytes.Contains(evs[0].Data, []byte(c[0].Value)) {
		t.Fatal("the login event carries the session secret")
	}
}

func TestCoreMissingOrOverflowedClaimUsesSCIMGroups(t *testing.T) {
	hs := newHarness(t)
	hs.publish("acme", sessionRules)
	bob := hs.addUser(hs.dir, "bob@acme.test", true)
	hs.addGroup(hs.dir, "workspace_finance", "", bob.ID)
	hs.addGroup(hs.dir, "role_workspace_admin", "", bob.ID)
	for name, id := range map[string]Identity{
		"missing":    {Method: MethodOIDC, UserName: "bob@acme.test"},
		"overflowed": {Method: MethodSAML, UserName: "bob@acme.test", GroupsPresent: true, GroupsOverflow: true},
	} {
		t.Run(name, func(t *testing.T) {
			b, _ := hs.coreLogin(hs.dir, id)
			status, v := hs.session(b)
			if status != http.StatusOK || v.GroupsSource != GroupsFromSCIM {
				t.Fatalf("session = %d %+v; want groups from SCIM", status, v)
			}
			if got, want := workspaces(v), []string{"finance:workspace_admin"}; !slices.Equal(got, want) {
				t.Fatalf("access = %v; want %v", got, want)
			}
		})
	}
	// An empty claim that is present is the IdP saying "no groups".
	b, _ := hs.coreLogin(hs.dir, Identity{Method: MethodSAML, UserName: "bob@acme.test", GroupsPresent: true})
	if _, v := hs.session(b); len(workspaces(v)) != 0 || v.GroupsSource != GroupsFromClaim {
		t.Fatalf("empty claim: %+v; want no access", v)
	}
}

func TestCoreLinkRules(t *testing.T) {
	hs := newHarness(t)
	carol := hs.addUser(hs.dir, "carol", true, "carol@acme.test")
	hs.addUser(hs.dir, "dave", false)
	hs.addUser(hs.dir, "twin1", true, "twins@acme.test")
	hs.addUser(hs.dir, "twin2", true, "twins@acme.test")
	other := store.DirKey{Org: "other", Directory: "main"}
	hs.addUser(other, "erin", true)

	t.Run("verified email links", func(t *testing.T) {
		b, rec := hs.coreLogin(hs.dir, Identity{Method: MethodOIDC, UserName: "c.smith", Email: "Carol@acme.test", EmailVerified: true})
		if _, v := hs.session(b); rec.Code != http.StatusSeeOther || v.User.ID != carol.ID {
			t.Fatalf("login = %d, session user %q; want carol", rec.Code, v.User.ID)
		}
	})
	for _, tc := range []struct {
		name   string
		dir    store.DirKey
		id     Identity
		reason string
	}{
		{"unverified email does not link", hs.dir, Identity{Method: MethodOIDC, UserName: "c.smith", Email: "carol@acme.test"}, ReasonNotProvisioned},
		{"unknown person without JIT", hs.dir, Identity{Method: MethodSAML, UserName: "mallory"}, ReasonNotProvisioned},
		{"deactivated person", hs.dir, Identity{Method: MethodSAML, UserName: "DAVE"}, ReasonInactive},
		{"email of two people", hs.dir, Identity{Method: MethodOIDC, UserName: "twin", Email: "twins@acme.test", EmailVerified: true}, ReasonAmbiguous},
		{"no user name", hs.dir, Identity{Method: MethodOIDC}, ReasonNoIdentity},
		{"person of another org", hs.dir, Identity{Method: MethodSAML, UserName: "erin"}, ReasonNotProvisioned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, rec := hs.coreLogin(tc.dir, tc.id)
			if rec.Code != http.StatusForbidden || len(rec.Result().Cookies()) != 0 {
				t.Fatalf("login = %d with cookies %v; want 403 and none", rec.Code, rec.Result().Cookies())
			}
			if status, _ := hs.session(b); status != http.StatusUnauthorized {
				t.Fatalf("GET /sso/session = %d; want 401", status)
			}
			if got := hs.lastFailure("acme"); got != tc.reason {
				t.Fatalf("reason = %q; want %q", got, tc.reason)
			}
		})
	}
}

func TestCoreJIT(t *testing.T) {
	hs := newHarness(t)
	hs.configure(hs.dir, func(c *store.SSOConfig) { c.JIT = true })
	b, rec := hs.coreLogin(hs.dir, Identity{Method: MethodOIDC, UserName: "Frank@acme.test", Email: "frank@acme.test",
		EmailVerified: true, GivenName: "Frank", FamilyName: "Ocean"})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("JIT login = %d", rec.Code)
	}
	_, v := hs.session(b)
	created := hs.events("acme", store.EventUserCreated)
	if len(created) != 1 || created[0].Resource.ID != v.User.ID || created[0].Actor.ID != "sso" {
		t.Fatalf("user.created events = %+v; want one by sso for the session's user", created)
	}
	// The IdP's SCIM job probes by userName before it creates: it finds
	// the person, so no duplicate is made; a blind POST is a conflict.
	status, list := hs.scimGet(hs.dir, `/Users?filter=`+url.QueryEscape(`userName eq "frank@ACME.test"`))
	if status != http.StatusOK || list["totalResults"] != float64(1) {
		t.Fatalf("SCIM probe = %d %v; want the JIT user", status, list)
	}
	res := list["Resources"].([]any)[0].(map[string]any)
	if res["id"] != v.User.ID || res["displayName"] != "Frank Ocean" || res["active"] != true {
		t.Fatalf("SCIM user = %v", res)
	}
	if code := hs.scimCreateUser(store.DirKey{Org: "acme", Directory: "okta"}, "frank@acme.test"); code != http.StatusConflict {
		t.Fatalf("SCIM POST of the JIT user = %d; want 409", code)
	}
	// A second login links to the same person.
	b2, _ := hs.coreLogin(hs.dir, Identity{Method: MethodSAML, UserName: "frank@acme.test"})
	if _, v2 := hs.session(b2); v2.User.ID != v.User.ID {
		t.Fatalf("second login user %q; want %q", v2.User.ID, v.User.ID)
	}
	if n := len(hs.events("acme", store.EventUserCreated)); n != 1 {
		t.Fatalf("%d users created; want 1", n)
	}
}

func TestCoreSessionLifecycle(t *testing.T) {
	hs := newHarness(t)
	hs.configure(hs.dir, func(c *store.SSOConfig) { c.SessionIdle, c.SessionAbsolute = time.Hour, 3*time.Hour })
	alice := hs.addUser(hs.dir, "alice", true)

	t.Run("idle timeout, kept alive by use", func(t *testing.T) {
		b, _ := hs.coreLogin(hs.dir, Identity{Method: MethodSAML, UserName: "alice"})
		hs.clock.Advance(50 * time.Minute)
		if s, _ := hs.session(b); s != http.StatusOK {
			t.Fatalf("after 50 min = %d; want 200", s)
		}
		hs.clock.Advance(50 * time.Minute) // 50 min after the last use
		if s, _ := hs.session(b); s != http.StatusOK {
			t.Fatalf("after 50 more min of use = %d; want 200", s)
		}
		hs.clock.Advance(61 * time.Minute)
		if s, _ := hs.session(b); s != http.StatusUnauthorized {
			t.Fatalf("after 61 idle min = %d; want 401", s)
		}
	})
	t.Run("absolute lifetime", func(t *testing.T) {
		b, _ := hs.coreLogin(hs.dir, Identity{Method: MethodSAML, UserName: "alice"})
		for range 6 {
			hs.clock.Advance(30 * time.Minute)
			hs.session(b)
		}
		hs.clock.Advance(time.Minute)
		if s, _ := hs.session(b); s != http.StatusUnauthorized {
			t.Fatalf("after 3 h 1 min of use = %d; want 401", s)
		}
	})
	t.Run("logout", func(t *testing.T) {
		b, _ := hs.coreLogin(hs.dir, Identity{Method: MethodSAML, UserName: "alice"})
		resp, err := b.Post(hs.srv.URL+"/sso/logout", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("logout = %d", resp.StatusCode)
		}
		if s, _ := hs.session(b); s != http.StatusUnauthorized {
			t.Fatalf("after logout = %d; want 401", s)
		}
		if n := len(hs.events("acme", store.EventSSOLogout)); n != 1 {
			t.Fatalf("%d sso.logout events; want 1", n)
		}
	})
	t.Run("deactivation revokes", func(t *testing.T) {
		b1, _ := hs.coreLogin(hs.dir, Identity{Method: MethodSAML, UserName: "alice"})
		b2, _ := hs.coreLogin(hs.dir, Identity{Method: MethodOIDC, UserName: "alice"})
		hs.deactivate(hs.dir, alice.ID)
		for _, b := range []*http.Client{b1, b2} {
			if s, _ := hs.session(b); s != http.StatusUnauthorized {
				t.Fatalf("after deactivation = %d; want 401", s)
			}
		}
		if list, _ := hs.db.UserSessions(context.Background(), hs.dir, alice.ID); len(list) != 0 {
			t.Fatalf("%d sessions left in the store", len(list))
		}
	})
	t.Run("forged cookie", func(t *testing.T) {
		b := hs.browser()
		u, _ := url.Parse(hs.srv.URL)
		b.Jar.SetCookies(u, []*http.Cookie{{Name: SessionCookie, Value: strings.Repeat("A", 43)}})
		if s, _ := hs.session(b); s != http.StatusUnauthorized {
			t.Fatalf("forged cookie = %d; want 401", s)
		}
	})
}

func TestReturnURL(t *testing.T) {
	hs := newHarness(t)
	d := &dirContext{Cfg: store.SSOConfig{ReturnURLs: []string{"https://app.acme.test/ai"}}}
	for in, want := range map[string]string{
		"":                                   "https://app.acme.test/ai",
		"/dashboard?tab=1":                   hs.srv.URL + "/dashboard?tab=1",
		"https://app.acme.test/ai":           "https://app.acme.test/ai",
		"https://app.acme.test/ai/chat?x=1":  "https://app.acme.test/ai/chat?x=1",
		"https://APP.acme.test/ai/":          "https://APP.acme.test/ai/",
		"https://app.acme.test/aix":          "",
		"https://app.acme.test.evil.test/ai": "",
		"https://evil.test/":                 "",
		"//evil.test/ai":                     "",
		"/\\evil.test":                       "",
		"javascript:alert(1)":                "",
		"http://app.acme.test/ai":            "",
		"https://user@app.acme.test/ai":      "",
	} {
		got, err := hs.h.returnURL(d, in)
		if want == "" && err == nil {
			t.Errorf("returnURL(%q) = %q; want refused", in, got)
		}
		if want != "" && (err != nil || got != want) {
			t.Errorf("returnURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if got, _ := hs.h.returnURL(&dirContext{}, ""); got != hs.srv.URL+"/sso/session" {
		t.Errorf("default return = %q", got)
	}
}

func TestSealer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	s1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s1.Seal([]byte("client-secret"), "oidc:acme/okta")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("client-secret")) {
		t.Fatal("sealed value holds the secret in clear")
	}
	s2, err := LoadOrCreateKey(path) // the same file again
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Open(sealed, "oidc:acme/okta"); err != nil || string(got) != "client-secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s2.Open(sealed, "oidc:acme/entra"); err == nil {
		t.Fatal("opened under another label")
	}
	other, _ := LoadOrCreateKey(filepath.Join(t.TempDir(), "other"))
	if _, err := other.Open(sealed, "oidc:acme/okta"); err == nil {
		t.Fatal("opened with another key")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := s2.Open(tampered, "oidc:acme/okta"); err == nil {
		t.Fatal("opened a tampered value")
	}
}

func TestCoreObserveReportsEveryLogin(t *testing.T) {
	hs := newHarness(t)
	var got []string
	hs.h.observe = func(method, result string) { got = append(got, method+":"+result) }
	hs.addUser(hs.dir, "alice", true)
	hs.addUser(hs.dir, "bob", false)
	hs.coreLogin(hs.dir, Identity{Method: MethodSAML, UserName: "alice"})
	hs.coreLogin(hs.dir, Identity{Method: MethodOIDC, UserName: "bob"})
	hs.coreLogin(hs.dir, Identity{Method: MethodOIDC, UserName: "carol"})
	want := []string{"saml:success", "oidc:" + ReasonInactive, "oidc:" + ReasonNotProvisioned}
	if !slices.Equal(got, want) {
		t.Fatalf("observed %v; want %v", got, want)
	}
}

// A SCIM removal takes a role away from live sessions at once.
func TestCoreSCIMRemovalReachesLiveSessions(t *testing.T) {
	hs := newHarness(t)
	hs.publish("acme", sessionRules)
	alice := hs.addUser(hs.dir, "alice", true)
	eng := hs.addGroup(hs.dir, "workspace_engineering", "", alice.ID)
	hs.addGroup(hs.dir, "workspace_legal", "") // alice is not a SCIM member
	fromSCIM, _ := hs.coreLogin(hs.dir, Identity{Method: MethodOIDC, UserName: "alice"})
	fromClaim, _ := hs.coreLogin(hs.dir, Identity{Method: MethodSAML, UserName: "alice", GroupsPresent: true,
		Groups: []string{"workspace_engineering", "workspace_legal"}})
	if _, v := hs.session(fromClaim); !slices.Equal(workspaces(v), []string{"engineering:member", "legal:member"}) {
		t.Fatalf("claim session before = %v", workspaces(v))
	}
	if _, err := hs.db.UpdateGroup(context.Background(), hs.dir, eng.ID, 0, func(g *store.Group, m store.Members) (store.MemberChange, error) {
		return store.MemberChange{Remove: []string{alice.ID}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, v := hs.session(fromSCIM); len(workspaces(v)) != 0 {
		t.Fatalf("SCIM-sourced session after the removal = %v; want nothing", workspaces(v))
	}
	// The claim's legal group was never a SCIM membership: it stays.
	if _, v := hs.session(fromClaim); !slices.Equal(workspaces(v), []string{"legal:member"}) {
		t.Fatalf("claim session after the removal = %v; want legal only", workspaces(v))
	}
}

// Behind a public URL with a path, the login cookie must reach the ACS and
// the callback under that path.
func TestCookiePathUnderPublicPath(t *testing.T) {
	hs := newHarness(t)
	h, err := New(Config{Store: hs.db, PublicURL: "https://sso.acme.test/bridge/", Sealer: hs.sealer})
	if err != nil {
		t.Fatal(err)
	}
	if got := h.cookiePath(); got != "/bridge/sso/" {
		t.Fatalf("cookie path = %q; want /bridge/sso/", got)
	}
	if got := hs.h.cookiePath(); got != "/sso/" {
		t.Fatalf("cookie path = %q; want /sso/", got)
	}
}
