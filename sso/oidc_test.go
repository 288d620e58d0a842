package sso

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/scimbridge/scimbridge/store"
)

// End-to-end tests of the relying party against the zitadel example OP
// (github.com/zitadel/oidc/v3/example/server), run in-process: real
// discovery, authorization endpoint with its login form, token endpoint
// (client authentication, PKCE, single-use codes, redirect URI check),
// JWKS and userinfo. Its user store has test-user2 / verysecure (email
// test-user2@zitadel.ch, verified) and emits no groups claim, and its ID
// tokens carry no profile or email claims (OIDC Core 5.4: they are in
// userinfo), so these logins also exercise the userinfo path and the
// SCIM-membership fallback for groups.

const (
	zopClient   = "web"
	zopSecret   = "secret"
	zopUser     = "test-user2"
	zopPassword = "verysecure"
)

// zitadelOP is the example OP on loopback.
type zitadelOP struct {
	issuer string
}

// startZitadel starts the example OP with one confidential web client
// whose only redirect URI is redirectURI.
func startZitadel(t *testing.T, redirectURI string) *zitadelOP {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	st := storage.NewStorageWithClients(storage.NewUserStore(issuer), map[string]*storage.Client{
		zopClient: storage.WebClient(zopClient, zopSecret, redirectURI),
	})
	srv.Config.Handler = exampleop.SetupServer(issuer, st, slog.New(slog.DiscardHandler), false)
	srv.Start()
	t.Cleanup(srv.Close)
	return &zitadelOP{issuer: issuer}
}

// newZitadelHarness is a harness whose directory acme/okta signs in at a
// fresh example OP, configured through SetOIDC.
func newZitadelHarness(t *testing.T) (*harness, *zitadelOP) {
	t.Helper()
	hs := newHarness(t)
	z := startZitadel(t, hs.h.DirURL(hs.dir, "oidc/callback"))
	if _, err := hs.h.SetOIDC(context.Background(), hs.dir, z.issuer, zopClient, zopSecret, nil, ""); err != nil {
		t.Fatalf("SetOIDC: %v", err)
	}
	return hs, z
}

// browserGet sends GET u with the browser b and returns the response
// with its body read (SAML and OIDC tests alike).
func browserGet(t *testing.T, b *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := b.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// location returns the absolute redirect target of resp, failing unless
// resp is a redirect.
func oidcLocation(t *testing.T, resp *http.Response) string {
	t.Helper()
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		t.Fatalf("%s %s = %d; want a redirect", resp.Request.Method, resp.Request.URL, resp.StatusCode)
	}
	u, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("Location %q: %v", resp.Header.Get("Location"), err)
	}
	return u.String()
}

// startOIDC starts a login of directory k in browser b and returns the
// authorization request our server redirected to.
func startOIDC(t *testing.T, hs *harness, b *http.Client, k store.DirKey) *url.URL {
	t.Helper()
	resp, body := browserGet(t, b, hs.h.DirURL(k, "oidc/login"))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET oidc/login = %d %s; want 302", resp.StatusCode, body)
	}
	u, err := url.Parse(oidcLocation(t, resp))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// authorize takes browser b through the OP's login form with the
// authorization request authURL and returns the authorization response
// (our callback URL with code and state), not yet delivered.
func (z *zitadelOP) authorize(t *testing.T, b *http.Client, authURL *url.URL, user, password string) string {
	t.Helper()
	resp, body := browserGet(t, b, authURL.String())
	loginURL, err := url.Parse(oidcLocation(t, resp))
	if err != nil || loginURL.Path != "/login/username" {
		t.Fatalf("OP /auth redirected to %s (%v); want its login form (body %s)", loginURL, err, body)
	}
	form := url.Values{"username": {user}, "password": {password}, "id": {loginURL.Query().Get("authRequestID")}}
	resp, err = b.PostForm(z.issuer+"/login/username", form)
	if err != nil {
		t.Fatalf("POST login form: %v", err)
	}
	resp.Body.Close()
	resp, _ = browserGet(t, b, oidcLocation(t, resp)) // the OP's /authorize/callback
	return oidcLocation(t, resp)
}

// signIn runs a whole login of acme/okta in b and returns our callback's
// response.
func (z *zitadelOP) signIn(t *testing.T, hs *harness, b *http.Client) *http.Response {
	t.Helper()
	cb := z.authorize(t, b, startOIDC(t, hs, b, hs.dir), zopUser, zopPassword)
	resp, _ := browserGet(t, b, cb)
	return resp
}

// wantSignedIn checks that resp ended a login with a redirect to
// /sso/session and that b now has a session.
func wantOIDCSession(t *testing.T, hs *harness, b *http.Client, resp *http.Response) SessionView {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != hs.srv.URL+"/sso/session" {
		t.Fatalf("callback = %d to %q (last failure %q); want 303 to /sso/session",
			resp.StatusCode, resp.Header.Get("Location"), hs.lastFailure("acme"))
	}
	status, v := hs.session(b)
	if status != http.StatusOK {
		t.Fatalf("GET /sso/session = %d after sign-in; want 200", status)
	}
	return v
}

// wantRefused checks a refused login: its status, no session for b, and
// the reason of the last sso.login_failed.
func wantOIDCRefused(t *testing.T, hs *harness, b *http.Client, resp *http.Response, status int, reason string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("callback status = %d; want %d", resp.StatusCode, status)
	}
	if s, _ := hs.session(b); s != http.StatusUnauthorized {
		t.Errorf("GET /sso/session = %d after a refused login; want 401", s)
	}
	if got := hs.lastFailure("acme"); got != reason {
		t.Errorf("sso.login_failed reason = %q; want %q", got, reason)
	}
}

func TestOIDCZitadelSignIn(t *testing.T) {
	hs, z := newZitadelHarness(t)
	u := hs.addUser(hs.dir, zopUser, true)
	hs.addGroup(hs.dir, "workspace_engineering", "", u.ID)
	hs.addGroup(hs.dir, "role_workspace_admin", "", u.ID)
	hs.publish("acme", sessionRules)

	b := hs.browser()
	authURL := startOIDC(t, hs, b, hs.dir)
	q := authURL.Query()
	if !strings.HasPrefix(authURL.String(), z.issuer+"/auth?") {
		t.Errorf("authorization request to %s; want the OP's /auth", authURL)
	}
	for k, want := range map[string]string{
		"response_type": "code", "client_id": zopClient, "code_challenge_method": "S256",
		"redirect_uri": hs.h.DirURL(hs.dir, "oidc/callback"), "scope": "openid email profile",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("authorization request %s = %q; want %q", k, got, want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 32 {
			t.Errorf("authorization request %s = %q; want a random value", k, q.Get(k))
		}
	}
	cb := z.authorize(t, b, authURL, zopUser, zopPassword)
	if cq := oidcQuery(t, cb); cq.Get("state") != q.Get("state") || cq.Get("code") == "" {
		t.Fatalf("authorization response %s; want a code and our state", cb)
	}
	resp, _ := browserGet(t, b, cb)
	v := wantOIDCSession(t, hs, b, resp)

	if v.User.ID != u.ID || v.User.UserName != zopUser || v.Session.Method != MethodOIDC {
		t.Errorf("session user %+v method %q; want %s (%s) by oidc", v.User, v.Session.Method, u.ID, zopUser)
	}
	// The example OP sends no groups claim: the SCIM memberships count.
	if v.GroupsSource != GroupsFromSCIM {
		t.Errorf("groups_source = %q; want %q", v.GroupsSource, GroupsFromSCIM)
	}
	if diff := cmp.Diff([]string{"engineering:workspace_admin"}, workspaces(v)); diff != "" {
		t.Errorf("workspaces (-want +got):\n%s", diff)
	}
	if n := len(hs.events("acme", store.EventSSOLoginSucceeded)); n != 1 {
		t.Errorf("%d sso.login_succeeded events; want 1", n)
	}

	// The same authorization response again (after logout): the state
	// was used.
	oidcLogout(t, hs, b)
	resp, _ = browserGet(t, b, cb)
	wantOIDCRefused(t, hs, b, resp, http.StatusUnauthorized, ReasonStateMismatch)

	// Deactivation after login ends the session.
	b2 := hs.browser()
	wantOIDCSession(t, hs, b2, z.signIn(t, hs, b2))
	hs.deactivate(hs.dir, u.ID)
	if s, _ := hs.session(b2); s != http.StatusUnauthorized {
		t.Errorf("GET /sso/session after deactivation = %d; want 401", s)
	}
	// And a deactivated person cannot sign in again.
	b3 := hs.browser()
	wantOIDCRefused(t, hs, b3, z.signIn(t, hs, b3), http.StatusForbidden, ReasonInactive)
}

func oidcQuery(t *testing.T, s string) url.Values {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func oidcLogout(t *testing.T, hs *harness, b *http.Client) {
	t.Helper()
	resp, err := b.Post(hs.srv.URL+"/sso/logout", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if s, _ := hs.session(b); s != http.StatusUnauthorized {
		t.Fatalf("GET /sso/session after logout = %d; want 401", s)
	}
}

func TestOIDCZitadelJIT(t *testing.T) {
	hs, z := newZitadelHarness(t)

	b := hs.browser()
	wantOIDCRefused(t, hs, b, z.signIn(t, hs, b), http.StatusForbidden, ReasonNotProvisioned)
	if status, list := hs.scimGet(hs.dir, "/Users?filter="+url.QueryEscape(`userName eq "`+zopUser+`"`)); status != http.StatusOK || list["totalResults"] != float64(0) {
		t.Fatalf("SCIM users after a refused login: %d %v; want none", status, list["totalResults"])
	}

	hs.configure(hs.dir, func(c *store.SSOConfig) { c.JIT = true })
	b = hs.browser()
	v := wantOIDCSession(t, hs, b, z.signIn(t, hs, b))
	if v.User.UserName != zopUser || v.User.DisplayName != "Test User2" || !slices.Equal(v.User.Emails, []string{"test-user2@zitadel.ch"}) {
		t.Errorf("JIT user %+v; want %s, Test User2, test-user2@zitadel.ch (from userinfo)", v.User, zopUser)
	}
	status, list := hs.scimGet(hs.dir, "/Users?filter="+url.QueryEscape(`userName eq "`+zopUser+`"`))
	if status != http.StatusOK || list["totalResults"] != float64(1) {
		t.Errorf("SCIM users after JIT: %d %v; want the new user", status, list["totalResults"])
	}
}

func TestOIDCZitadelRefusals(t *testing.T) {
	hs, z := newZitadelHarness(t)
	hs.addUser(hs.dir, zopUser, true)

	t.Run("state mismatch", func(t *testing.T) {
		b := hs.browser()
		cb := oidcQuery(t, z.authorize(t, b, startOIDC(t, hs, b, hs.dir), zopUser, zopPassword))
		forged, _ := randomString(24)
		resp, _ := browserGet(t, b, hs.h.DirURL(hs.dir, "oidc/callback")+"?"+url.Values{"code": {cb.Get("code")}, "state": {forged}}.Encode())
		wantOIDCRefused(t, hs, b, resp, http.StatusUnauthorized, ReasonStateMismatch)
	})
	t.Run("other browser", func(t *testing.T) {
		// The victim's browser is handed the attacker's authorization
		// response (login CSRF): it never started that login.
		attacker, victim := hs.browser(), hs.browser()
		cb := z.authorize(t, attacker, startOIDC(t, hs, attacker, hs.dir), zopUser, zopPassword)
		resp, _ := browserGet(t, victim, cb)
		wantOIDCRefused(t, hs, victim, resp, http.StatusUnauthorized, ReasonStateMismatch)
	})
	t.Run("code with another login's verifier", func(t *testing.T) {
		// A code obtained for one login, injected into another: the
		// second login's PKCE verifier does not match the code.
		b := hs.browser()
		cb := oidcQuery(t, z.authorize(t, b, startOIDC(t, hs, b, hs.dir), zopUser, zopPassword))
		other := startOIDC(t, hs, b, hs.dir).Query().Get("state")
		resp, _ := browserGet(t, b, hs.h.DirURL(hs.dir, "oidc/callback")+"?"+url.Values{"code": {cb.Get("code")}, "state": {other}}.Encode())
		wantOIDCRefused(t, hs, b, resp, http.StatusUnauthorized, ReasonTokenExchange)
	})
	t.Run("code replay", func(t *testing.T) {
		b := hs.browser()
		cbURL := z.authorize(t, b, startOIDC(t, hs, b, hs.dir), zopUser, zopPassword)
		resp, _ := browserGet(t, b, cbURL)
		wantOIDCSession(t, hs, b, resp)
		oidcLogout(t, hs, b)
		state := startOIDC(t, hs, b, hs.dir).Query().Get("state")
		resp, _ = browserGet(t, b, hs.h.DirURL(hs.dir, "oidc/callback")+"?"+url.Values{"code": {oidcQuery(t, cbURL).Get("code")}, "state": {state}}.Encode())
		wantOIDCRefused(t, hs, b, resp, http.StatusUnauthorized, ReasonTokenExchange)
	})
	t.Run("IdP error", func(t *testing.T) {
		b := hs.browser()
		state := startOIDC(t, hs, b, hs.dir).Query().Get("state")
		resp, _ := browserGet(t, b, hs.h.DirURL(hs.dir, "oidc/callback")+"?"+url.Values{"error": {"access_denied"}, "state": {state}}.Encode())
		wantOIDCRefused(t, hs, b, resp, http.StatusUnauthorized, ReasonIdPError)
	})
	t.Run("wrong client secret", func(t *testing.T) {
		hs2 := newHarness(t)
		z2 := startZitadel(t, hs2.h.DirURL(hs2.dir, "oidc/callback"))
		hs2.addUser(hs2.dir, zopUser, true)
		if _, err := hs2.h.SetOIDC(context.Background(), hs2.dir, z2.issuer, zopClient, "not-the-secret", nil, ""); err != nil {
			t.Fatal(err)
		}
		b := hs2.browser()
		wantOIDCRefused(t, hs2, b, z2.signIn(t, hs2, b), http.StatusUnauthorized, ReasonTokenExchange)
	})
	t.Run("not configured", func(t *testing.T) {
		b := hs.browser()
		resp, _ := browserGet(t, b, hs.h.DirURL(store.DirKey{Org: "acme", Directory: "entra"}, "oidc/login"))
		wantOIDCRefused(t, hs, b, resp, http.StatusNotFound, ReasonNotConfigured)
	})
}

func TestOIDCSettings(t *testing.T) {
	hs := newHarness(t)
	z := startZitadel(t, hs.h.DirURL(hs.dir, "oidc/callback"))
	ctx := context.Background()

	for _, c := range []struct {
		name, issuer, clientID, secret string
		scopes                         []string
		claim                          string
	}{
		{"http on a public host", "http://idp.example.com", "c", "", nil, ""},
		{"not a URL", "idp.example.com", "c", "", nil, ""},
		{"credentials in the issuer", "https://u:p@idp.example.com", "c", "", nil, ""},
		{"query in the issuer", "https://idp.example.com/?tenant=1", "c", "", nil, ""},
		{"no client id", z.issuer, "", "s", nil, ""},
		{"control character in the secret", z.issuer, "c", "a\nb", nil, ""},
		{"scope with a space", z.issuer, "c", "", []string{"email profile"}, ""},
		{"claim with a quote", z.issuer, "c", "", nil, `gr"oups`},
		{"issuer that does not answer", "http://127.0.0.1:1", "c", "", nil, ""},
		{"issuer that names another", z.issuer + "/", "c", "", nil, ""},
	} {
		_, err := hs.h.SetOIDC(ctx, hs.dir, c.issuer, c.clientID, c.secret, c.scopes, c.claim)
		if !errors.Is(err, ErrInvalidSettings) {
			t.Errorf("%s: SetOIDC(%q, %q) = %v; want ErrInvalidSettings", c.name, c.issuer, c.clientID, err)
		}
	}

	cfg, err := hs.h.SetOIDC(ctx, hs.dir, " "+z.issuer+" ", zopClient, zopSecret, []string{"openid", "email", "groups"}, "roles")
	if err != nil {
		t.Fatalf("SetOIDC: %v", err)
	}
	if cfg.OIDC.Issuer != z.issuer || cfg.OIDC.ClientID != zopClient || string(cfg.OIDC.ClientSecretSealed) == zopSecret {
		t.Errorf("stored %+v", cfg.OIDC)
	}
	if plain, err := hs.sealer.Open(cfg.OIDC.ClientSecretSealed, oidcSecretLabel(hs.dir)); err != nil || string(plain) != zopSecret {
		t.Errorf("Open(secret) = %q, %v; want the secret", plain, err)
	}
	if _, err := hs.sealer.Open(cfg.OIDC.ClientSecretSealed, oidcSecretLabel(store.DirKey{Org: "acme", Directory: "entra"})); err == nil {
		t.Errorf("the sealed secret opens under another directory's label")
	}
	want := OIDCInfo{
		Configured: true, Issuer: z.issuer, ClientID: zopClient, ClientSecretSet: true,
		Scopes: []string{"openid", "email", "groups"}, GroupsClaim: "roles",
		RedirectURI: hs.srv.URL + "/sso/acme/okta/oidc/callback", LoginURL: hs.srv.URL + "/sso/acme/okta/oidc/login",
	}
	if diff := cmp.Diff(want, hs.h.OIDCInfo(hs.dir, cfg)); diff != "" {
		t.Errorf("OIDCInfo (-want +got):\n%s", diff)
	}

	// An empty secret keeps the stored one for the same client.
	cfg2, err := hs.h.SetOIDC(ctx, hs.dir, z.issuer, zopClient, "", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if string(cfg2.OIDC.ClientSecretSealed) != string(cfg.OIDC.ClientSecretSealed) {
		t.Errorf("SetOIDC without a secret dropped the stored secret")
	}
	// A new client without a secret is a public client.
	cfg3, err := hs.h.SetOIDC(ctx, hs.dir, z.issuer, "other-client", "", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg3.OIDC.ClientSecretSealed) != 0 || hs.h.OIDCInfo(hs.dir, cfg3).ClientSecretSet {
		t.Errorf("a new client id kept the previous client's secret")
	}
	// Empty settings remove the provider.
	cfg4, err := hs.h.SetOIDC(ctx, hs.dir, "", "", "", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if info := hs.h.OIDCInfo(hs.dir, cfg4); info.Configured || info.ClientSecretSet {
		t.Errorf("OIDCInfo after removal = %+v; want not configured", info)
	}
}
