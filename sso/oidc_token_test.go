package sso

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/scimbridge/scimbridge/store"
)

// Token-level tests: a fake OP whose discovery document, JWKS (go-oidc's
// oidctest server), token endpoint and optional userinfo endpoint are ours,
// so the ID token handed to the relying party can be forged at will. The
// RP still runs the whole flow: login (state, nonce, PKCE), callback,
// code exchange with client authentication and code_verifier, ID token
// verification, userinfo, Handler.complete.

const (
	fakeClient = "rp"
	fakeSecret = "rp-secret"
	fakeKID    = "key-1"
)

// Keys are generated once per test binary: RSA generation is slow.
var (
	oidcOPKey       = sync.OnceValue(func() *rsa.PrivateKey { return newOIDCKey() })
	oidcAttackerKey = sync.OnceValue(func() *rsa.PrivateKey { return newOIDCKey() })
)

func newOIDCKey() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// fakeOP is the OP of token-level tests.
type fakeOP struct {
	t      *testing.T
	issuer string
	keys   *oidctest.Server

	jwksHits  atomic.Int64
	tokenHits atomic.Int64

	mu          sync.Mutex
	idToken     string         // handed out for any code
	accessToken string         // handed out with it
	userinfo    map[string]any // nil: no userinfo endpoint
	verifier    string         // code_verifier of the last token request
}

func startFakeOP(t *testing.T, withUserinfo bool) *fakeOP {
	t.Helper()
	f := &fakeOP{t: t, accessToken: "access-token-1"}
	if withUserinfo {
		f.userinfo = map[string]any{}
	}
	f.keys = &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: oidcOPKey().Public(), KeyID: fakeKID, Algorithm: oidc.RS256}}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", f.discovery)
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		f.jwksHits.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.keys.ServeHTTP(w, r)
	})
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("GET /userinfo", f.serveUserinfo)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.issuer = srv.URL
	f.keys.SetIssuer(srv.URL)
	return f
}

func (f *fakeOP) discovery(w http.ResponseWriter, r *http.Request) {
	d := map[string]any{
		"issuer": f.issuer, "authorization_endpoint": f.issuer + "/auth", "token_endpoint": f.issuer + "/token",
		"jwks_uri": f.issuer + "/keys", "response_types_supported": []string{"code"},
		"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256", "HS256", "none"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic"},
	}
	f.mu.Lock()
	if f.userinfo != nil {
		d["userinfo_endpoint"] = f.issuer + "/userinfo"
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(d)
}

// token is the token endpoint: it checks the client and that a PKCE
// verifier came, and returns the current ID token for any code.
func (f *fakeOP) token(w http.ResponseWriter, r *http.Request) {
	f.tokenHits.Add(1)
	id, secret, ok := r.BasicAuth()
	if !ok || id != fakeClient || secret != fakeSecret {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	if r.FormValue("grant_type") != "authorization_code" || r.FormValue("code") == "" || r.FormValue("code_verifier") == "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_request"}`))
		return
	}
	f.mu.Lock()
	f.verifier = r.FormValue("code_verifier")
	resp := map[string]any{"access_token": f.accessToken, "token_type": "Bearer", "expires_in": 300, "id_token": f.idToken}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func (f *fakeOP) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.userinfo == nil || r.Header.Get("Authorization") != "Bearer "+f.accessToken {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(f.userinfo)
}

func (f *fakeOP) setToken(tok string) {
	f.mu.Lock()
	f.idToken = tok
	f.mu.Unlock()
}

func (f *fakeOP) setUserinfo(c map[string]any) {
	f.mu.Lock()
	f.userinfo = c
	f.mu.Unlock()
}

// claims returns valid claims for a login with nonce at the harness's now.
func (f *fakeOP) claims(hs *harness, nonce string) map[string]any {
	now := hs.clock.Now()
	return map[string]any{
		"iss": f.issuer, "aud": fakeClient, "sub": "00u-alice",
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "nonce": nonce,
		"at_hash": oidcATHash(f.accessToken), "preferred_username": "alice",
		"email": "alice@example.com", "email_verified": true,
		"given_name": "Alice", "family_name": "Liddell", "name": "Alice Liddell",
	}
}

func oidcATHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

func oidcJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// sign signs claims with the OP's key.
func signIDToken(claims map[string]any) string {
	return oidctest.SignIDToken(oidcOPKey(), fakeKID, oidc.RS256, oidcJSON(claims))
}

// newFakeHarness is a harness whose acme/okta uses a fake OP, with user
// alice provisioned.
func newFakeHarness(t *testing.T, withUserinfo bool) (*harness, *fakeOP) {
	t.Helper()
	hs := newHarness(t)
	f := startFakeOP(t, withUserinfo)
	if _, err := hs.h.SetOIDC(context.Background(), hs.dir, f.issuer, fakeClient, fakeSecret, nil, ""); err != nil {
		t.Fatalf("SetOIDC: %v", err)
	}
	hs.addUser(hs.dir, "alice", true, "alice@example.com")
	return hs, f
}

// tokenLogin starts a login in b, lets mint build the ID token from the
// login's nonce, and delivers an authorization response with a code to
// our callback.
func tokenLogin(t *testing.T, hs *harness, f *fakeOP, b *http.Client, mint func(nonce string) string) *http.Response {
	t.Helper()
	q := startOIDC(t, hs, b, hs.dir).Query()
	f.setToken(mint(q.Get("nonce")))
	resp, _ := browserGet(t, b, hs.h.DirURL(hs.dir, "oidc/callback")+"?"+url.Values{"code": {"any-code"}, "state": {q.Get("state")}}.Encode())
	return resp
}

// withClaims mints tokens from the valid claims changed by edit.
func withClaims(hs *harness, f *fakeOP, edit func(c map[string]any)) func(string) string {
	return func(nonce string) string {
		c := f.claims(hs, nonce)
		edit(c)
		return signIDToken(c)
	}
}

func TestOIDCTokenSignIn(t *testing.T) {
	hs, f := newFakeHarness(t, false)
	b := hs.browser()
	q := startOIDC(t, hs, b, hs.dir).Query()
	f.setToken(signIDToken(f.claims(hs, q.Get("nonce"))))
	resp, _ := browserGet(t, b, hs.h.DirURL(hs.dir, "oidc/callback")+"?"+url.Values{"code": {"c1"}, "state": {q.Get("state")}}.Encode())
	v := wantOIDCSession(t, hs, b, resp)
	if v.User.UserName != "alice" {
		t.Errorf("session user %q; want alice", v.User.UserName)
	}
	f.mu.Lock()
	verifier := f.verifier
	f.mu.Unlock()
	if got := oauth2.S256ChallengeFromVerifier(verifier); got != q.Get("code_challenge") || q.Get("code_challenge_method") != "S256" {
		t.Errorf("the token request's code_verifier does not match the S256 challenge of the login")
	}
}

// TestOIDCTokenRefusals drives forged ID tokens through the callback.
func TestOIDCTokenRefusals(t *testing.T) {
	hmacKey := func() []byte {
		der, err := x509.MarshalPKIXPublicKey(oidcOPKey().Public())
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}()
	for _, c := range []struct {
		name string
		mint func(hs *harness, f *fakeOP) func(string) string
	}{
		{"missing nonce", func(hs *harness, f *fakeOP) func(string) string {
			return withClaims(hs, f, func(c map[string]any) { delete(c, "nonce") })
		}},
		{"nonce mismatch", func(hs *harness, f *fakeOP) func(string) string {
			return withClaims(hs, f, func(c map[string]any) { c["nonce"] = "nonce-of-another-login-0123456789" })
		}},
		{"alg none", func(hs *harness, f *fakeOP) func(string) string {
			return func(nonce string) string {
				h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"` + fakeKID + `"}`))
				return h + "." + base64.RawURLEncoding.EncodeToString([]byte(oidcJSON(f.claims(hs, nonce)))) + "."
			}
		}},
		{"HS256 with the RSA public key as secret", func(hs *harness, f *fakeOP) func(string) string {
			return func(nonce string) string {
				return oidctest.SignIDToken(hmacKey, fakeKID, "HS256", oidcJSON(f.claims(hs, nonce)))
			}
		}},
		{"other key with the OP's kid", func(hs *harness, f *fakeOP) func(string) string {
			return func(nonce string) string {
				return oidctest.SignIDToken(oidcAttackerKey(), fakeKID, oidc.RS256, oidcJSON(f.claims(hs, nonce)))
			}
		}},
		{"wrong issuer", func(hs *harness, f *fakeOP) func(string) string {
			return withClaims(hs, f, func(c map[string]any) { c["iss"] = "https://login.evil.example" })
		}},
		{"wrong audience", func(hs *harness, f *fakeOP) func(string) string {
			return withClaims(hs, f, func(c map[string]any) { c["aud"] = "another-client" })
		}},
		{"expired", func(hs *harness, f *fakeOP) func(string) string {
			return withClaims(hs, f, func(c map[string]any) {
				c["exp"] = hs.clock.Now().Add(-DefaultClockSkew - time.Minute).Unix()
			})
		}},
		{"no exp", func(hs *harness, f *fakeOP) func(string) string {
			return withClaims(hs, f, func(c map[string]any) { delete(c, "exp") })
		}},
		{"nbf in the future", func(hs *harness, f *fakeOP) func(string) string {
			return withClaims(hs, f, func(c map[string]any) { c["nbf"] = hs.clock.Now().Add(10 * time.Minute).Unix() })
		}},
		{"nbf beyond the skew (within go-oidc's 5 min)", func(hs *harness, f *fakeOP) func(string) string {
			return withClaims(hs, f, func(c map[string]any) {
				c["nbf"] = hs.clock.Now().Add(DefaultClockSkew + time.Minute).Unix()
			})
		}},
		{"iat a year ahead", func(hs *harness, f *fakeOP) func(string) string {
			return withClaims(hs, f, func(c map[string]any) { c["iat"] = hs.clock.Now().AddDate(1, 0, 0).Unix() })
		}},
		{"iat beyond the skew", func(hs *harness, f *fakeOP) func(string) string {
			return withClaims(hs, f, func(c map[string]any) {
				c["iat"] = hs.clock.Now().Add(DefaultClockSkew + time.Minute).Unix()
			})
		}},
		{"no iat", func(hs *harness, f *fakeOP) func(string) string {
			return withClaims(hs, f, func(c map[string]any) { delete(c, "iat") })
		}},
		{"azp of another client, several audiences", func(hs *harness, f *fakeOP) func(string) string {
			return withClaims(hs, f, func(c map[string]any) {
				c["aud"], c["azp"] = []string{fakeClient, "another-client"}, "another-client"
			})
		}},
		{"several audiences, no azp", func(hs *harness, f *fakeOP) func(string) string {
			return withClaims(hs, f, func(c map[string]any) { c["aud"] = []string{fakeClient, "another-client"} })
		}},
		{"azp of another client, one audience", func(hs *harness, f *fakeOP) func(string) string {
			return withClaims(hs, f, func(c map[string]any) { c["azp"] = "another-client" })
		}},
		{"at_hash of another access token", func(hs *harness, f *fakeOP) func(string) string {
			return withClaims(hs, f, func(c map[string]any) { c["at_hash"] = oidcATHash("swapped-access-token") })
		}},
		{"no sub", func(hs *harness, f *fakeOP) func(string) string {
			return withClaims(hs, f, func(c map[string]any) { delete(c, "sub") })
		}},
		{"no id_token", func(hs *harness, f *fakeOP) func(string) string {
			return func(string) string { return "" }
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			hs, f := newFakeHarness(t, false)
			b := hs.browser()
			resp := tokenLogin(t, hs, f, b, c.mint(hs, f))
			wantOIDCRefused(t, hs, b, resp, http.StatusUnauthorized, ReasonInvalidToken)
		})
	}

	// Positive controls: the edits above are refused for what they
	// change, not because the forged tokens are broken otherwise.
	for _, c := range []struct {
		name string
		edit func(hs *harness, c map[string]any)
	}{
		{"azp equal to ours, several audiences", func(hs *harness, c map[string]any) {
			c["aud"], c["azp"] = []string{fakeClient, "another-client"}, fakeClient
		}},
		{"nbf and iat within the skew", func(hs *harness, c map[string]any) {
			c["nbf"] = hs.clock.Now().Add(DefaultClockSkew / 2).Unix()
			c["iat"] = hs.clock.Now().Add(DefaultClockSkew / 2).Unix()
		}},
		{"expired within the skew", func(hs *harness, c map[string]any) {
			c["exp"] = hs.clock.Now().Add(-DefaultClockSkew / 2).Unix()
		}},
		{"no at_hash", func(hs *harness, c map[string]any) { delete(c, "at_hash") }},
	} {
		t.Run("accepted/"+c.name, func(t *testing.T) {
			hs, f := newFakeHarness(t, false)
			b := hs.browser()
			wantOIDCSession(t, hs, b, tokenLogin(t, hs, f, b, withClaims(hs, f, func(m map[string]any) { c.edit(hs, m) })))
		})
	}
}

// TestOIDCTokenReplay presents one ID token (its nonce) twice. The login
// state is single use, so the second presentation needs a second state
// with the same nonce, which the RP never makes: it is stored directly,
// as a store that failed to keep states single-use would leave it. The
// nonce record refuses it.
func TestOIDCTokenReplay(t *testing.T) {
	hs, f := newFakeHarness(t, false)
	b := hs.browser()
	q := startOIDC(t, hs, b, hs.dir).Query()
	f.setToken(signIDToken(f.claims(hs, q.Get("nonce"))))
	resp, _ := browserGet(t, b, hs.h.DirURL(hs.dir, "oidc/callback")+"?"+url.Values{"code": {"c1"}, "state": {q.Get("state")}}.Encode())
	wantOIDCSession(t, hs, b, resp)
	oidcLogout(t, hs, b)

	u, _ := url.Parse(hs.srv.URL + "/sso/")
	var cookie string
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == BrowserCookie {
			cookie = c.Value
		}
	}
	if cookie == "" {
		t.Fatal("no browser cookie after login")
	}
	dup := store.LoginState{
		ID: "duplicated-state-0123456789abcdef", Org: "acme", Directory: "okta", Method: MethodOIDC,
		BrowserHash: hash(cookie), Issuer: f.issuer, Nonce: q.Get("nonce"), Verifier: oauth2.GenerateVerifier(),
		ReturnTo: hs.srv.URL + "/sso/session", Expires: hs.clock.Now().Add(time.Minute),
	}
	if err := hs.db.PutLoginState(context.Background(), dup); err != nil {
		t.Fatal(err)
	}
	resp, _ = browserGet(t, b, hs.h.DirURL(hs.dir, "oidc/callback")+"?"+url.Values{"code": {"c2"}, "state": {dup.ID}}.Encode())
	wantOIDCRefused(t, hs, b, resp, http.StatusUnauthorized, ReasonReplay)

	// The same token in a new login is refused too: its nonce is not the
	// new login's.
	q2 := startOIDC(t, hs, b, hs.dir).Query()
	resp, _ = browserGet(t, b, hs.h.DirURL(hs.dir, "oidc/callback")+"?"+url.Values{"code": {"c3"}, "state": {q2.Get("state")}}.Encode())
	wantOIDCRefused(t, hs, b, resp, http.StatusUnauthorized, ReasonInvalidToken)
}

// TestOIDCTokenMixUp: the answer must come from the OP the login was sent
// to.
func TestOIDCTokenMixUp(t *testing.T) {
	t.Run("provider changed during the login", func(t *testing.T) {
		hs, f := newFakeHarness(t, false)
		other := startFakeOP(t, false)
		b := hs.browser()
		q := startOIDC(t, hs, b, hs.dir).Query()
		if _, err := hs.h.SetOIDC(context.Background(), hs.dir, other.issuer, fakeClient, fakeSecret, nil, ""); err != nil {
			t.Fatal(err)
		}
		// A token that is valid for the new provider.
		c := f.claims(hs, q.Get("nonce"))
		c["iss"] = other.issuer
		other.setToken(signIDToken(c))
		resp, _ := browserGet(t, b, hs.h.DirURL(hs.dir, "oidc/callback")+"?"+url.Values{"code": {"c"}, "state": {q.Get("state")}}.Encode())
		wantOIDCRefused(t, hs, b, resp, http.StatusUnauthorized, ReasonStateMismatch)
		if n := other.tokenHits.Load(); n != 0 {
			t.Errorf("the code was sent to the other OP %d times; want 0", n)
		}
	})
	t.Run("iss parameter of another issuer", func(t *testing.T) {
		hs, f := newFakeHarness(t, false)
		b := hs.browser()
		q := startOIDC(t, hs, b, hs.dir).Query()
		f.setToken(signIDToken(f.claims(hs, q.Get("nonce"))))
		resp, _ := browserGet(t, b, hs.h.DirURL(hs.dir, "oidc/callback")+"?"+url.Values{
			"code": {"c"}, "state": {q.Get("state")}, "iss": {"https://login.evil.example"},
		}.Encode())
		wantOIDCRefused(t, hs, b, resp, http.StatusUnauthorized, ReasonStateMismatch)
		if n := f.tokenHits.Load(); n != 0 {
			t.Errorf("the code was exchanged %d times; want 0", n)
		}
	})
}

// TestOIDCTokenKidFlood: tokens with unknown key ids must not turn into
// one JWKS request each.
func TestOIDCTokenKidFlood(t *testing.T) {
	hs, f := newFakeHarness(t, false)
	b := hs.browser()
	wantOIDCSession(t, hs, b, tokenLogin(t, hs, f, b, withClaims(hs, f, func(map[string]any) {})))
	if n := f.jwksHits.Load(); n != 1 {
		t.Fatalf("%d JWKS requests after one login; want 1", n)
	}
	forged := func(nonce string) string {
		kid, _ := randomString(8)
		return oidctest.SignIDToken(oidcAttackerKey(), kid, oidc.RS256, oidcJSON(f.claims(hs, nonce)))
	}
	const flood = 25
	for range flood {
		b := hs.browser()
		wantOIDCRefused(t, hs, b, tokenLogin(t, hs, f, b, forged), http.StatusUnauthorized, ReasonInvalidToken)
	}
	if n := f.jwksHits.Load(); n != 1 {
		t.Errorf("%d JWKS requests after %d forged key ids within %v; want 1", n, flood, JWKSMinRefetch)
	}
	// Once the interval has passed, an unknown kid may fetch again, once.
	hs.clock.Advance(JWKSMinRefetch + time.Second)
	for range 5 {
		b := hs.browser()
		wantOIDCRefused(t, hs, b, tokenLogin(t, hs, f, b, forged), http.StatusUnauthorized, ReasonInvalidToken)
	}
	if n := f.jwksHits.Load(); n != 2 {
		t.Errorf("%d JWKS requests after the interval; want 2", n)
	}
	// Valid tokens still verify from the cached key set.
	b = hs.browser()
	wantOIDCSession(t, hs, b, tokenLogin(t, hs, f, b, withClaims(hs, f, func(map[string]any) {})))
}

// TestOIDCTokenRotation: a key the OP starts using is found by a refetch
// when the last fetch is older than JWKSMinRefetch.
func TestOIDCTokenRotation(t *testing.T) {
	hs, f := newFakeHarness(t, false)
	b := hs.browser()
	wantOIDCSession(t, hs, b, tokenLogin(t, hs, f, b, withClaims(hs, f, func(map[string]any) {})))
	f.mu.Lock()
	f.keys.PublicKeys = append(f.keys.PublicKeys, oidctest.PublicKey{PublicKey: oidcAttackerKey().Public(), KeyID: "key-2", Algorithm: oidc.RS256})
	f.mu.Unlock()
	hs.clock.Advance(JWKSMinRefetch + time.Second)
	b = hs.browser()
	resp := tokenLogin(t, hs, f, b, func(nonce string) string {
		return oidctest.SignIDToken(oidcAttackerKey(), "key-2", oidc.RS256, oidcJSON(f.claims(hs, nonce)))
	})
	wantOIDCSession(t, hs, b, resp)
}

// TestOIDCTokenIdentity covers claims → identity: linking by a verified
// email only, and the groups claim in its shapes.
func TestOIDCTokenIdentity(t *testing.T) {
	t.Run("unverified email is not linked", func(t *testing.T) {
		hs, f := newFakeHarness(t, false)
		b := hs.browser()
		resp := tokenLogin(t, hs, f, b, withClaims(hs, f, func(c map[string]any) {
			c["preferred_username"], c["email_verified"] = "mallory", false
		}))
		wantOIDCRefused(t, hs, b, resp, http.StatusForbidden, ReasonNotProvisioned)
	})
	t.Run("unverified email is no user name", func(t *testing.T) {
		hs, f := newFakeHarness(t, false)
		b := hs.browser()
		resp := tokenLogin(t, hs, f, b, withClaims(hs, f, func(c map[string]any) {
			delete(c, "preferred_username")
			c["email_verified"] = "false"
		}))
		wantOIDCRefused(t, hs, b, resp, http.StatusForbidden, ReasonNoIdentity)
	})
	t.Run("verified email is linked", func(t *testing.T) {
		hs, f := newFakeHarness(t, false)
		b := hs.browser()
		v := wantOIDCSession(t, hs, b, tokenLogin(t, hs, f, b, withClaims(hs, f, func(c map[string]any) {
			c["preferred_username"] = "alice.liddell@corp.example"
		})))
		if v.User.UserName != "alice" {
			t.Errorf("linked to %q; want alice (by verified email)", v.User.UserName)
		}
	})

	for _, c := range []struct {
		name       string
		claim      string // GroupsClaim setting
		edit       func(c map[string]any)
		userinfo   map[string]any // nil: no userinfo endpoint
		wantSource string
		want       []string
	}{
		{
			name: "groups array", edit: func(c map[string]any) {
				c["groups"] = []string{"Everyone", "workspace_engineering", "role_workspace_admin"}
			},
			wantSource: GroupsFromClaim, want: []string{"engineering:workspace_admin"},
		},
		{
			name: "Entra object id", edit: func(c map[string]any) {
				c["groups"] = []string{"3f2a9c1e-5b7d-4c11-9e0a-8d2f6b1c4a77"}
			},
			wantSource: GroupsFromClaim, want: []string{"org:org_admin"},
		},
		{
			name: "single string", edit: func(c map[string]any) { c["groups"] = "workspace_design" },
			wantSource: GroupsFromClaim, want: []string{"design:member"},
		},
		{
			name: "configured claim name", claim: "roles", edit: func(c map[string]any) {
				c["roles"] = []string{"workspace_design"}
				c["groups"] = []string{"workspace_engineering"}
			},
			wantSource: GroupsFromClaim, want: []string{"design:member"},
		},
		{
			name: "empty array means no groups", edit: func(c map[string]any) { c["groups"] = []string{} },
			wantSource: GroupsFromClaim, want: nil,
		},
		{
			name: "Entra overage", edit: func(c map[string]any) {
				c["_claim_names"] = map[string]string{"groups": "src1"}
				c["_claim_sources"] = map[string]any{"src1": map[string]string{"endpoint": "https://graph.windows.net/t/users/u/getMemberObjects"}}
			},
			wantSource: GroupsFromSCIM, want: []string{"sales:member"},
		},
		{
			name: "hasgroups", edit: func(c map[string]any) { c["hasgroups"] = true },
			wantSource: GroupsFromSCIM, want: []string{"sales:member"},
		},
		{
			name: "claim absent", edit: func(map[string]any) {},
			wantSource: GroupsFromSCIM, want: []string{"sales:member"},
		},
		{
			name: "claim of another type", edit: func(c map[string]any) { c["groups"] = map[string]any{"a": 1} },
			wantSource: GroupsFromSCIM, want: []string{"sales:member"},
		},
		{
			name: "groups from userinfo", edit: func(map[string]any) {},
			userinfo:   map[string]any{"sub": "00u-alice", "groups": []string{"workspace_design"}},
			wantSource: GroupsFromClaim, want: []string{"design:member"},
		},
		{
			name: "userinfo without groups", edit: func(map[string]any) {},
			userinfo:   map[string]any{"sub": "00u-alice"},
			wantSource: GroupsFromSCIM, want: []string{"sales:member"},
		},
	} {
		t.Run("groups/"+c.name, func(t *testing.T) {
			hs, f := newFakeHarness(t, c.userinfo != nil)
			if c.userinfo != nil {
				f.setUserinfo(c.userinfo)
			}
			if c.claim != "" {
				if _, err := hs.h.SetOIDC(context.Background(), hs.dir, f.issuer, fakeClient, "", nil, c.claim); err != nil {
					t.Fatal(err)
				}
			}
			alice := oidcUser(hs, "alice")
			hs.addGroup(hs.dir, "workspace_sales", "", alice.ID) // SCIM membership
			hs.addGroup(hs.dir, "workspace_engineering", "")
			hs.addGroup(hs.dir, "role_workspace_admin", "")
			hs.addGroup(hs.dir, "Org admins", "3f2a9c1e-5b7d-4c11-9e0a-8d2f6b1c4a77")
			hs.publish("acme", sessionRules)
			b := hs.browser()
			v := wantOIDCSession(t, hs, b, tokenLogin(t, hs, f, b, withClaims(hs, f, c.edit)))
			if v.GroupsSource != c.wantSource {
				t.Errorf("groups_source = %q; want %q", v.GroupsSource, c.wantSource)
			}
			if diff := cmp.Diff(c.want, workspaces(v)); diff != "" {
				t.Errorf("workspaces (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("userinfo completes the ID token", func(t *testing.T) {
		hs, f := newFakeHarness(t, true)
		hs.configure(hs.dir, func(c *store.SSOConfig) { c.JIT = true })
		f.setUserinfo(map[string]any{
			"sub": "00u-bob", "preferred_username": "bob", "email": "bob@example.com", "email_verified": true,
			"name": "Bob Builder", "groups": []string{"workspace_design"},
		})
		b := hs.browser()
		v := wantOIDCSession(t, hs, b, tokenLogin(t, hs, f, b, func(nonce string) string {
			c := f.claims(hs, nonce)
			for _, k := range []string{"preferred_username", "email", "email_verified", "given_name", "family_name", "name"} {
				delete(c, k)
			}
			c["sub"] = "00u-bob"
			return signIDToken(c)
		}))
		if v.User.UserName != "bob" || v.User.DisplayName != "Bob Builder" || len(v.User.Emails) != 1 {
			t.Errorf("JIT user from userinfo = %+v; want bob, Bob Builder, bob@example.com", v.User)
		}
	})
	t.Run("userinfo email_verified does not vouch for the ID token's email", func(t *testing.T) {
		hs, f := newFakeHarness(t, true)
		f.setUserinfo(map[string]any{"sub": "00u-alice", "email_verified": true})
		b := hs.browser()
		resp := tokenLogin(t, hs, f, b, withClaims(hs, f, func(c map[string]any) {
			c["preferred_username"] = "mallory"
			delete(c, "email_verified")
		}))
		wantOIDCRefused(t, hs, b, resp, http.StatusForbidden, ReasonNotProvisioned)
	})
	t.Run("userinfo of another subject", func(t *testing.T) {
		hs, f := newFakeHarness(t, true)
		f.setUserinfo(map[string]any{"sub": "00u-mallory", "groups": []string{"role_workspace_admin"}})
		b := hs.browser()
		resp := tokenLogin(t, hs, f, b, withClaims(hs, f, func(map[string]any) {}))
		wantOIDCRefused(t, hs, b, resp, http.StatusUnauthorized, ReasonInvalidToken)
	})
}

// oidcUser returns the user of directory acme/okta with userName.
func oidcUser(hs *harness, userName string) store.User {
	hs.t.Helper()
	p, err := hs.db.ListUsers(context.Background(), hs.dir, store.Query{
		Plan: &store.Plan{Op: store.PlanLookup, Field: store.FieldUserName, Value: userName}, Count: 2,
	})
	if err != nil || len(p.Users) != 1 {
		hs.t.Fatalf("find user %s: %v (%d found)", userName, err, len(p.Users))
	}
	return p.Users[0]
}

// TestOIDCTransportCap: a response larger than MaxOIDCResponseBytes is an
// error, not a truncated document.
func TestOIDCTransportCap(t *testing.T) {
	big := strings.Repeat("x", MaxOIDCResponseBytes+1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer":"` + big + `"}`))
	}))
	t.Cleanup(srv.Close)
	hs := newHarness(t)
	_, err := hs.h.SetOIDC(context.Background(), hs.dir, srv.URL, "c", "", nil, "")
	if !errors.Is(err, ErrInvalidSettings) || strings.Contains(err.Error(), "xxxx") {
		t.Errorf("SetOIDC with a %d-byte discovery document = %v; want refused, without the body", len(big), err)
	}
}

// SetOIDC must not become a way to read internal URLs: redirects are
// checked hop by hop, and what a failing URL answered is never shown.
func TestOIDCDiscoveryNoInternalFetch(t *testing.T) {
	hs := newHarness(t)
	redirect := httptest.NewServer(http.RedirectHandler("http://10.255.255.1/internal/admin", http.StatusFound))
	t.Cleanup(redirect.Close)
	_, err := hs.h.SetOIDC(context.Background(), hs.dir, redirect.URL, "c", "", nil, "")
	if !errors.Is(err, ErrInvalidSettings) {
		t.Fatalf("SetOIDC with an issuer redirecting to a private http URL = %v; want refused", err)
	}
	secret := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "INTERNAL-SECRET db_password=hunter2", http.StatusInternalServerError)
	}))
	t.Cleanup(secret.Close)
	_, err = hs.h.SetOIDC(context.Background(), hs.dir, secret.URL, "c", "", nil, "")
	if !errors.Is(err, ErrInvalidSettings) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("SetOIDC against a failing URL = %v; want refused without its body", err)
	}
}

// TestOIDCDiscoveryDown: a login against an OP whose discovery fails is
// refused with 502, and the failure is remembered so a flood of logins is
// not a flood of discovery requests.
func TestOIDCDiscoveryDown(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	hs := newHarness(t)
	// Stored directly: SetOIDC would refuse an issuer that does not answer.
	hs.configure(hs.dir, func(c *store.SSOConfig) {
		c.OIDC = store.OIDCConfig{Issuer: srv.URL, ClientID: "c"}
	})
	for range 5 {
		b := hs.browser()
		resp, _ := browserGet(t, b, hs.h.DirURL(hs.dir, "oidc/login"))
		wantOIDCRefused(t, hs, b, resp, http.StatusBadGateway, ReasonIdPError)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("%d discovery requests for 5 logins; want 1", n)
	}
	hs.clock.Advance(discoveryRetry + time.Second)
	b := hs.browser()
	resp, _ := browserGet(t, b, hs.h.DirURL(hs.dir, "oidc/login"))
	wantOIDCRefused(t, hs, b, resp, http.StatusBadGateway, ReasonIdPError)
	if n := hits.Load(); n != 2 {
		t.Errorf("%d discovery requests after the retry interval; want 2", n)
	}
	if n := len(hs.events("acme", store.EventSSOLoginFailed)); n != 6 {
		t.Errorf("%d sso.login_failed events; want 6", n)
	}
}
