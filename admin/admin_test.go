package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/admin"
	"github.com/scimbridge/scimbridge/internal/reqlog"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/sso"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

type env struct {
	t      *testing.T
	st     store.Store
	srv    *httptest.Server
	tokens map[string]string // "admin:acme", "admin:other", "super", "scim:acme/okta", "expired:acme"
	sso    *sso.Handler
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	e := &env{t: t, st: st, tokens: map[string]string{}}
	for _, org := range []string{"acme", "other"} {
		if _, err := st.CreateOrg(ctx, org); err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateDirectory(ctx, store.Directory{Org: org, Name: "okta", Profile: "okta"}); err != nil {
			t.Fatal(err)
		}
		e.tokens["admin:"+org] = e.token(store.TokenAdmin, org, "", time.Time{})
	}
	e.tokens["super"] = e.token(store.TokenSuper, "", "", time.Time{})
	e.tokens["scim:acme/okta"] = e.token(store.TokenSCIM, "acme", "okta", time.Time{})
	e.tokens["expired:acme"] = e.token(store.TokenAdmin, "acme", "", time.Now().Add(-time.Hour))
	sealer, err := sso.LoadOrCreateKey(filepath.Join(t.TempDir(), "sso-key"))
	if err != nil {
		t.Fatal(err)
	}
	e.sso, err = sso.New(sso.Config{Store: st, PublicURL: "https://scim.example.com", Sealer: sealer, Log: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(admin.PathPrefix, admin.New(st, admin.Config{PublicURL: "https://scim.example.com", Profiles: scim.Profiles, SSO: e.sso}))
	mux.Handle(sso.PathPrefix, e.sso)
	mux.Handle(scim.PathPrefix, scim.New(st, scim.Config{}))
	e.srv = httptest.NewServer(reqlog.Wrap(zerolog.New(zerolog.NewTestWriter(t)), mux, nil))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) token(kind store.TokenKind, org, dir string, exp time.Time) string {
	secret, hash, prefix, err := store.NewTokenSecret()
	if err != nil {
		e.t.Fatal(err)
	}
	id, _ := store.NewID()
	if err := e.st.CreateToken(context.Background(), store.Token{ID: id, Kind: kind, Org: org, Directory: dir, Name: "t",
		Prefix: prefix, Hash: hash, Created: time.Now().UTC(), Expires: exp}); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

var zeroTime time.Time

func (e *env) do(method, path, token, body string) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) (int, map[string]any) {
	e.t.Helper()
	method, path := req.Method, req.URL.Path
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			e.t.Fatalf("%s %s: not JSON: %s", method, path, raw)
		}
	}
	return res.StatusCode, out
}

func errCode(body map[string]any) string {
	m, _ := body["error"].(map[string]any)
	c, _ := m["code"].(string)
	return c
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	path := "/admin/v1/orgs/acme/directories"
	for name, c := range map[string]struct {
		token  string
		status int
		code   string
	}{
		"no token":            {"", 401, "unauthorized"},
		"wrong token":         {"scb_nope", 401, "unauthorized"},
		"SCIM token":          {e.tokens["scim:acme/okta"], 401, "unauthorized"},
		"expired admin token": {e.tokens["expired:acme"], 401, "unauthorized"},
		"other org's admin":   {e.tokens["admin:other"], 404, "not_found"},
		"own admin":           {e.tokens["admin:acme"], 200, ""},
		"super":               {e.tokens["super"], 200, ""},
	} {
		t.Run(name, func(t *testing.T) {
			status, body := e.do("GET", path, c.token, "")
			if status != c.status || errCode(body) != c.code {
				t.Errorf("GET %s = %d %v; want %d %q", path, status, body, c.status, c.code)
			}
		})
	}
	// An org that does not exist looks like one the token cannot see.
	if status, body := e.do("GET", "/admin/v1/orgs/nope/directories", e.tokens["super"], ""); status != 404 || errCode(body) != "not_found" {
		t.Errorf("super on a missing org = %d %v", status, body)
	}
	if status, body := e.do("GET", "/admin/v1/orgs/acme/nothing", e.tokens["admin:acme"], ""); status != 404 || errCode(body) != "not_found" {
		t.Errorf("unknown route = %d %v", status, body)
	}
	if status, body := e.do("PUT", path, e.tokens["admin:acme"], "{}"); status != 405 || errCode(body) != "method_not_allowed" {
		t.Errorf("wrong method = %d %v", status, body)
	}
}

func TestDirectoriesAndTokens(t *testing.T) {
	e := newEnv(t)
	tok := e.tokens["admin:acme"]
	status, body := e.do("POST", "/admin/v1/orgs/acme/directories", tok, `{"name": "entra-hq", "profile": "entra"}`)
	if status != 201 || body["scim_base_url"] != "https://scim.example.com/scim/v2/acme/entra-hq" || body["profile"] != "entra" {
		t.Fatalf("create directory = %d %v", status, body)
	}
	for body, code := range map[string]string{
		`{"name": "entra-hq"}`:              "conflict",
		`{"name": "a/b"}`:                   "invalid_request",
		`{"name": "x", "profile": "azure"}`: "invalid_request",
		`{"name": "x", "isAdmin": true}`:    "invalid_request",
		`{"name": "x"} {}`:                  "invalid_request",
		`not json`:                          "invalid_request",
	} {
		if _, got := e.do("POST", "/admin/v1/orgs/acme/directories", tok, body); errCode(got) != code {
			t.Errorf("create directory %s: %v; want %s", body, got, code)
		}
	}
	_, list := e.do("GET", "/admin/v1/orgs/acme/directories", tok, "")
	if n := len(list["directories"].([]any)); n != 2 {
		t.Errorf("directories = %v", list)
	}

	status, created := e.do("POST", "/admin/v1/orgs/acme/directories/entra-hq/tokens", tok, `{"name": "Entra provisioning"}`)
	secret, _ := created["token"].(string)
	if status != 201 || !strings.HasPrefix(secret, store.TokenPrefix) {
		t.Fatalf("create token = %d %v", status, created)
	}
	scimURL := "/scim/v2/acme/entra-hq/Users"
	if status, _ := e.do("GET", scimURL, secret, ""); status != 200 {
		t.Errorf("new token on its directory = %d", status)
	}
	_, tokens := e.do("GET", "/admin/v1/orgs/acme/directories/entra-hq/tokens", tok, "")
	listed := tokens["tokens"].([]any)
	if len(listed) != 1 || listed[0].(map[string]any)["token"] != nil || listed[0].(map[string]any)["prefix"] == "" {
		t.Errorf("token listing = %v; want one token, with a prefix and without its secret", tokens)
	}
	id := created["id"].(string)
	// Another org's admin cannot revoke it; revoking through the wrong directory is 404.
	if status, _ := e.do("DELETE", "/admin/v1/orgs/other/directories/okta/tokens/"+id, e.tokens["admin:other"], ""); status != 404 {
		t.Errorf("other org revoking = %d", status)
	}
	if status, _ := e.do("DELETE", "/admin/v1/orgs/acme/directories/okta/tokens/"+id, tok, ""); status != 404 {
		t.Errorf("revoke through the wrong directory = %d", status)
	}
	if status, _ := e.do("DELETE", "/admin/v1/orgs/acme/directories/entra-hq/tokens/"+id, tok, ""); status != 204 {
		t.Errorf("revoke = %d", status)
	}
	if status, _ := e.do("GET", scimURL, secret, ""); status != 401 {
		t.Errorf("revoked token on SCIM = %d; want 401 at once", status)
	}
	if status, _ := e.do("POST", "/admin/v1/orgs/acme/directories/nope/tokens", tok, `{"name": "x"}`); status != 404 {
		t.Errorf("token for a missing directory = %d", status)
	}
	if _, body := e.do("POST", "/admin/v1/orgs/acme/directories/entra-hq/tokens", tok, `{"expires": "2001-01-01T00:00:00Z"}`); errCode(body) != "invalid_request" {
		t.Errorf("past expiry: %v", body)
	}
}

func TestFindUsers(t *testing.T) {
	e := newEnv(t)
	u, err := e.st.CreateUser(context.Background(), store.DirKey{Org: "acme", Directory: "okta"},
		store.User{UserName: "Tess@Acme.example", Active: true, Attributes: []byte(`{"userName":"Tess@Acme.example","active":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	_, body := e.do("GET", "/admin/v1/orgs/acme/users?userName=tess@acme.EXAMPLE", e.tokens["admin:acme"], "")
	users := body["users"].([]any)
	if len(users) != 1 || users[0].(map[string]any)["id"] != u.ID || users[0].(map[string]any)["directory"] != "okta" {
		t.Errorf("find user = %v", body)
	}
	_, body = e.do("GET", "/admin/v1/orgs/other/users?userName=tess@acme.example", e.tokens["admin:other"], "")
	if len(body["users"].([]any)) != 0 {
		t.Errorf("other org sees acme's user: %v", body)
	}
}
