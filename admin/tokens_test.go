package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/admin"
	"github.com/scimbridge/scimbridge/internal/reqlog"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

// clock is a settable now for a server under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// clocked starts a second admin API and SCIM API over e's store whose
// clock the test moves, and returns their root URL.
func (e *env) clocked(c *clock) string {
	e.t.Helper()
	mux := http.NewServeMux()
	mux.Handle(admin.PathPrefix, admin.New(e.st, admin.Config{PublicURL: "https://scim.example.com", Profiles: scim.Profiles, Now: c.now}))
	mux.Handle(scim.PathPrefix, scim.New(e.st, scim.Config{Now: c.now}))
	srv := httptest.NewServer(reqlog.Wrap(zerolog.New(zerolog.NewTestWriter(e.t)), mux, nil))
	e.t.Cleanup(srv.Close)
	return srv.URL
}

// doAt is do against another server.
func (e *env) doAt(base, method, path, token, body string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	if body == "" {
		req, _ = http.NewRequest(method, base+path, nil)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(req)
}

// listed returns the tokens of a listing by id.
func listed(body map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	ts, _ := body["tokens"].([]any)
	for _, t := range ts {
		m := t.(map[string]any)
		out[m["id"].(string)] = m
	}
	return out
}

// allEvents reads the whole outbox of org.
func (e *env) allEvents(org string) []store.Event {
	e.t.Helper()
	p, err := e.st.Events(context.Background(), org, store.EventQuery{Limit: store.MaxEventLimit})
	if err != nil {
		e.t.Fatalf("Events(%q) = %v", org, err)
	}
	return p.Events
}

// checkEvents fails unless org's outbox has events of each type in want
// (at least as many), none with a hash key or any of the secrets.
func (e *env) checkEvents(org string, want map[string]int, secrets ...string) []store.Event {
	e.t.Helper()
	evs := e.allEvents(org)
	got := map[string]int{}
	for _, ev := range evs {
		got[ev.Type]++
		raw, _ := json.Marshal(ev)
		for _, s := range secrets {
			if strings.Contains(string(raw), s) || strings.Contains(string(raw), s[len(store.TokenPrefix):]) {
				e.t.Errorf("event %s carries a token secret: %s", ev.Type, raw)
			}
		}
		if strings.Contains(string(raw), `"hash"`) {
			e.t.Errorf("event %s carries a hash: %s", ev.Type, raw)
		}
	}
	for typ, n := range want {
		if got[typ] < n {
			e.t.Errorf("outbox of %q has %d %s events; want at least %d (all: %v)", org, got[typ], typ, n, got)
		}
	}
	return evs
}

// waitLastUsed polls a listing until the token shows a last use.
func (e *env) waitLastUsed(path, token, id string) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, body := e.do("GET", path, token, "")
		if tok := listed(body)[id]; tok != nil && tok["last_used"] != nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("GET %s: token %s shows no last_used after use: %v", path, id, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func parseTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %v: %v", v, err)
	}
	return tm
}

func TestSCIMTokenRotation(t *testing.T) {
	e := newEnv(t)
	adm := e.tokens["admin:acme"]
	tokens := "/admin/v1/orgs/acme/directories/okta/tokens"
	status, a := e.do("POST", tokens, adm, `{"name": "okta sync"}`)
	secretA, _ := a["token"].(string)
	if status != 201 || secretA == "" {
		t.Fatalf("create = %d %v", status, a)
	}
	idA := a["id"].(string)
	users := "/scim/v2/acme/okta/Users"
	if status, _ := e.do("GET", users, secretA, ""); status != 200 {
		t.Fatalf("new token on SCIM = %d", status)
	}

	// The listing: name, prefix, created, last use, no secret, no hash.
	e.waitLastUsed(tokens, adm, idA)
	_, list := e.do("GET", tokens, adm, "")
	la := listed(list)[idA]
	if la["name"] != "okta sync" || !strings.HasPrefix(secretA, la["prefix"].(string)) || la["created"] == nil ||
		la["token"] != nil || la["hash"] != nil || la["expires"] != nil || la["replaced_by"] != nil {
		t.Errorf("listed token = %v; want name, prefix, created, last_used, and no secret, hash, expires or replaced_by", la)
	}

	// Rotate: both work during the overlap.
	start := time.Now()
	status, b := e.do("POST", tokens+"/"+idA+"/rotate", adm, `{"overlap": "1h"}`)
	secretB, _ := b["token"].(string)
	if status != 201 || secretB == "" || secretB == secretA || b["name"] != "okta sync" || b["directory"] != "okta" {
		t.Fatalf("rotate = %d %v; want 201 with a new secret, the same name and directory", status, b)
	}
	idB := b["id"].(string)
	replaces, _ := b["replaces"].(map[string]any)
	if replaces["id"] != idA || replaces["replaced_by"] != idB || replaces["token"] != nil {
		t.Errorf("rotate: replaces = %v; want the old token, replaced by %s, without its secret", replaces, idB)
	}
	if exp := parseTime(t, replaces["expires"]); exp.Before(start.Add(time.Hour-time.Second)) || exp.After(time.Now().Add(time.Hour)) {
		t.Errorf("rotate: old token expires %v; want now + 1h", exp)
	}
	for name, secret := range map[string]string{"old": secretA, "new": secretB} {
		if status, _ := e.do("GET", users, secret, ""); status != 200 {
			t.Errorf("%s token during the overlap = %d; want 200", name, status)
		}
	}
	_, list = e.do("GET", tokens, adm, "")
	if got := listed(list); len(got) != 3 || got[idA]["replaced_by"] != idB || got[idB] == nil || got[idB]["replaced_by"] != nil {
		t.Errorf("listing after rotation = %v; want the env's token and both, the old one replaced by the new", list)
	}
	if status, body := e.do("POST", tokens+"/"+idA+"/rotate", adm, `{}`); status != 409 || errCode(body) != "already_rotated" {
		t.Errorf("rotating a replaced token = %d %v; want 409 already_rotated", status, body)
	}

	// An overlap of 0s ends the old token at once.
	status, c := e.do("POST", tokens+"/"+idB+"/rotate", adm, `{"overlap": "0s"}`)
	secretC, _ := c["token"].(string)
	if status != 201 {
		t.Fatalf("rotate with overlap 0s = %d %v", status, c)
	}
	if status, _ := e.do("GET", users, secretB, ""); status != 401 {
		t.Errorf("token rotated with no overlap = %d; want 401", status)
	}
	if status, _ := e.do("GET", users, secretC, ""); status != 200 {
		t.Errorf("its replacement = %d; want 200", status)
	}

	for _, overlap := range []string{`"31d"`, `"721h"`, `"-1h"`, `"soon"`, `12`} {
		if status, body := e.do("POST", tokens+"/"+c["id"].(string)+"/rotate", adm, `{"overlap": `+overlap+`}`); status != 400 || errCode(body) != "invalid_request" {
			t.Errorf("rotate with overlap %s = %d %v; want 400", overlap, status, body)
		}
	}

	// Nothing crosses an org or a directory.
	idC := c["id"].(string)
	for _, tc := range []struct{ path, token string }{
		{"/admin/v1/orgs/other/directories/okta/tokens/" + idC + "/rotate", e.tokens["admin:other"]},
		{"/admin/v1/orgs/acme/directories/okta/tokens/" + idC + "/rotate", e.tokens["admin:other"]},
		{"/admin/v1/orgs/acme/directories/nope/tokens/" + idC + "/rotate", adm},
		{"/admin/v1/orgs/acme/tokens/" + idC + "/rotate", adm}, // a SCIM token is not an admin token
	} {
		if status, body := e.do("POST", tc.path, tc.token, `{}`); status != 404 || errCode(body) != "not_found" {
			t.Errorf("POST %s = %d %v; want 404", tc.path, status, body)
		}
	}
	_, other := e.do("GET", "/admin/v1/orgs/other/directories/okta/tokens", e.tokens["admin:other"], "")
	if got := listed(other); got[idA] != nil || got[idB] != nil || got[idC] != nil {
		t.Errorf("other org's listing shows acme's tokens: %v", other)
	}

	// Revoke.
	if status, _ := e.do("DELETE", tokens+"/"+idC, adm, ""); status != 204 {
		t.Errorf("revoke = %d", status)
	}
	if status, _ := e.do("GET", users, secretC, ""); status != 401 {
		t.Errorf("revoked token = %d; want 401", status)
	}

	evs := e.checkEvents("acme", map[string]int{store.EventTokenCreated: 1, store.EventTokenRotated: 2, store.EventTokenRevoked: 1}, secretA, secretB, secretC)
	for _, ev := range evs {
		if ev.Type == store.EventTokenRotated && (ev.Directory != "okta" || ev.Actor.Type != store.ActorToken || ev.Actor.ID == "") {
			t.Errorf("token.rotated directory %q, actor %+v; want okta and the admin token", ev.Directory, ev.Actor)
		}
	}
	if evs := e.allEvents("other"); slices.ContainsFunc(evs, func(ev store.Event) bool { return ev.Resource.ID == idA || ev.Resource.ID == idB }) {
		t.Errorf("other org's outbox has acme's token events")
	}
}

func TestAdminTokens(t *testing.T) {
	e := newEnv(t)
	c := &clock{t: time.Now()}
	base := e.clocked(c)
	adm := e.tokens["admin:acme"]
	tokens := "/admin/v1/orgs/acme/tokens"

	exp := c.now().Add(90 * 24 * time.Hour).UTC().Format(time.RFC3339)
	status, a := e.doAt(base, "POST", tokens, adm, `{"name": "terraform", "expires": "`+exp+`"}`)
	secretA, _ := a["token"].(string)
	if status != 201 || secretA == "" || a["expires"] == nil {
		t.Fatalf("create admin token = %d %v", status, a)
	}
	idA := a["id"].(string)
	dirs := "/admin/v1/orgs/acme/directories"
	if status, _ := e.doAt(base, "GET", dirs, secretA, ""); status != 200 {
		t.Errorf("new admin token on its org = %d", status)
	}
	if status, _ := e.doAt(base, "GET", "/admin/v1/orgs/other/directories", secretA, ""); status != 404 {
		t.Errorf("new admin token on another org = %d; want 404", status)
	}

	// The listing holds the org's admin tokens only.
	_, list := e.doAt(base, "GET", tokens, adm, "")
	got := listed(list)
	if len(got) != 3 || got[idA] == nil || got[idA]["token"] != nil || got[idA]["prefix"] == "" {
		t.Errorf("GET %s = %v; want acme's three admin tokens (two of the env, one new), without secrets", tokens, list)
	}
	if status, body := e.doAt(base, "GET", tokens, e.tokens["super"], ""); status != 200 || len(listed(body)) != 3 {
		t.Errorf("super token lists acme's admin tokens = %d %v", status, body)
	}

	// Another org's admin sees nothing of acme.
	for _, tc := range []struct{ method, path string }{
		{"GET", tokens},
		{"POST", tokens},
		{"DELETE", tokens + "/" + idA},
		{"POST", tokens + "/" + idA + "/rotate"},
		{"DELETE", "/admin/v1/orgs/other/tokens/" + idA},
		{"POST", "/admin/v1/orgs/other/tokens/" + idA + "/rotate"},
	} {
		if status, body := e.doAt(base, tc.method, tc.path, e.tokens["admin:other"], `{}`); status != 404 || errCode(body) != "not_found" {
			t.Errorf("other org's admin: %s %s = %d %v; want 404", tc.method, tc.path, status, body)
		}
	}
	_, otherList := e.doAt(base, "GET", "/admin/v1/orgs/other/tokens", e.tokens["admin:other"], "")
	if got := listed(otherList); len(got) != 1 || got[idA] != nil {
		t.Errorf("other's listing = %v; want only its own admin token", otherList)
	}

	// Rotation: by default 24h of overlap and the old token's lifetime.
	status, b := e.doAt(base, "POST", tokens+"/"+idA+"/rotate", adm, "")
	secretB, _ := b["token"].(string)
	if status != 201 || secretB == "" {
		t.Fatalf("rotate admin token = %d %v", status, b)
	}
	if exp := parseTime(t, b["expires"]); exp.Sub(c.now()) < 90*24*time.Hour-time.Minute || exp.Sub(c.now()) > 90*24*time.Hour+time.Minute {
		t.Errorf("replacement expires %v; want the old token's 90 days from now", exp)
	}
	if old := parseTime(t, b["replaces"].(map[string]any)["expires"]); old.Sub(time.Now()) > 24*time.Hour || old.Sub(time.Now()) < 23*time.Hour {
		t.Errorf("old token expires %v; want in 24h (the default overlap)", old)
	}
	c.add(23 * time.Hour)
	for name, secret := range map[string]string{"old": secretA, "new": secretB} {
		if status, _ := e.doAt(base, "GET", dirs, secret, ""); status != 200 {
			t.Errorf("%s admin token 23h into the overlap = %d; want 200", name, status)
		}
	}
	c.add(2 * time.Hour)
	if status, _ := e.doAt(base, "GET", dirs, secretA, ""); status != 401 {
		t.Errorf("old admin token after the overlap = %d; want 401", status)
	}
	if status, _ := e.doAt(base, "GET", dirs, secretB, ""); status != 200 {
		t.Errorf("new admin token after the overlap = %d; want 200", status)
	}

	// "never" drops the expiry; a past or malformed one is refused.
	idB := b["id"].(string)
	if status, body := e.doAt(base, "POST", tokens+"/"+idB+"/rotate", secretB, `{"expires": "2001-01-01T00:00:00Z"}`); status != 400 {
		t.Errorf("rotate with a past expiry = %d %v; want 400", status, body)
	}
	status, cc := e.doAt(base, "POST", tokens+"/"+idB+"/rotate", secretB, `{"expires": "never", "overlap": "2d"}`)
	if status != 201 || cc["expires"] != nil {
		t.Fatalf("rotate with expires never = %d %v", status, cc)
	}
	secretC := cc["token"].(string)

	// Revoke.
	if status, _ := e.doAt(base, "DELETE", tokens+"/"+cc["id"].(string), adm, ""); status != 204 {
		t.Errorf("revoke = %d", status)
	}
	if status, _ := e.doAt(base, "GET", dirs, secretC, ""); status != 401 {
		t.Errorf("revoked admin token = %d; want 401", status)
	}
	if status, _ := e.doAt(base, "DELETE", tokens+"/"+cc["id"].(string), adm, ""); status != 404 {
		t.Errorf("revoke again = %d; want 404", status)
	}
	e.checkEvents("acme", map[string]int{store.EventTokenCreated: 1, store.EventTokenRotated: 2, store.EventTokenRevoked: 1}, secretA, secretB, secretC)
}

func TestSuperRoutes(t *testing.T) {
	e := newEnv(t)
	super := e.tokens["super"]
	for name, tc := range map[string]struct {
		token  string
		status int
	}{
		"no token":  {"", 401},
		"SCIM":      {e.tokens["scim:acme/okta"], 401},
		"expired":   {e.tokens["expired:acme"], 401},
		"org admin": {e.tokens["admin:acme"], 404},
		"super":     {super, 200},
	} {
		for _, path := range []string{"/admin/v1/orgs", "/admin/v1/super/tokens"} {
			if status, body := e.do("GET", path, tc.token, ""); status != tc.status {
				t.Errorf("%s: GET %s = %d %v; want %d", name, path, status, body, tc.status)
			}
		}
		if tc.status != 200 {
			for _, req := range [][3]string{
				{"POST", "/admin/v1/orgs", `{"name": "evil"}`},
				{"POST", "/admin/v1/super/tokens", `{"name": "evil"}`},
			} {
				if status, _ := e.do(req[0], req[1], tc.token, req[2]); status != tc.status {
					t.Errorf("%s: %s %s = %d; want %d", name, req[0], req[1], status, tc.status)
				}
			}
		}
	}
	if orgs, _ := e.st.Orgs(context.Background()); len(orgs) != 2 {
		t.Errorf("orgs after refused creations = %v", orgs)
	}

	_, body := e.do("GET", "/admin/v1/orgs", super, "")
	var names []string
	for _, o := range body["orgs"].([]any) {
		names = append(names, o.(map[string]any)["name"].(string))
	}
	if !slices.Equal(names, []string{"acme", "other"}) {
		t.Errorf("GET /admin/v1/orgs = %v; want acme, other", body)
	}
	if status, body := e.do("POST", "/admin/v1/orgs", super, `{"name": "initech"}`); status != 201 || body["name"] != "initech" {
		t.Errorf("create org = %d %v", status, body)
	}
	if status, body := e.do("POST", "/admin/v1/orgs", super, `{"name": "initech"}`); status != 409 || errCode(body) != "conflict" {
		t.Errorf("create org again = %d %v; want 409", status, body)
	}
	if status, _ := e.do("POST", "/admin/v1/orgs", super, `{"name": "a/b"}`); status != 400 {
		t.Errorf("create org with a bad name = %d; want 400", status)
	}
	// The super token gives the new org its first admin token.
	status, adm := e.do("POST", "/admin/v1/orgs/initech/tokens", super, `{"name": "first"}`)
	if status != 201 {
		t.Fatalf("admin token for the new org = %d %v", status, adm)
	}
	if status, _ := e.do("GET", "/admin/v1/orgs/initech/directories", adm["token"].(string), ""); status != 200 {
		t.Errorf("new org's admin token = %d", status)
	}
	if status, _ := e.do("GET", "/admin/v1/orgs", adm["token"].(string), ""); status != 404 {
		t.Errorf("new org's admin token on GET /orgs = %d; want 404", status)
	}

	// Super tokens: create, rotate, revoke; never the last one.
	status, ops := e.do("POST", "/admin/v1/super/tokens", super, `{"name": "ops"}`)
	if status != 201 || ops["token"] == nil {
		t.Fatalf("create super token = %d %v", status, ops)
	}
	opsSecret := ops["token"].(string)
	status, ops2 := e.do("POST", "/admin/v1/super/tokens/"+ops["id"].(string)+"/rotate", opsSecret, `{"overlap": "0s"}`)
	if status != 201 {
		t.Fatalf("rotate super token = %d %v", status, ops2)
	}
	ops2Secret := ops2["token"].(string)
	if status, _ := e.do("GET", "/admin/v1/orgs", opsSecret, ""); status != 401 {
		t.Errorf("rotated super token = %d; want 401", status)
	}
	if status, _ := e.do("GET", "/admin/v1/orgs", ops2Secret, ""); status != 200 {
		t.Errorf("its replacement = %d; want 200", status)
	}
	_, list := e.do("GET", "/admin/v1/super/tokens", ops2Secret, "")
	if got := listed(list); len(got) != 3 {
		t.Errorf("super token listing = %v; want the env's, ops and its replacement", list)
	}
	if status, _ := e.do("DELETE", "/admin/v1/super/tokens/"+ops["id"].(string), "", ""); status != 401 {
		t.Errorf("revoke without a token = %d", status)
	}
	_, list = e.do("GET", "/admin/v1/super/tokens", ops2Secret, "")
	var envSuper string
	for id, tok := range listed(list) {
		if id != ops["id"] && id != ops2["id"] {
			envSuper = tok["id"].(string)
		}
	}
	if status, _ := e.do("DELETE", "/admin/v1/super/tokens/"+envSuper, ops2Secret, ""); status != 204 {
		t.Errorf("revoke the env's super token = %d", status)
	}
	if status, body := e.do("DELETE", "/admin/v1/super/tokens/"+ops2["id"].(string), ops2Secret, ""); status != 409 || errCode(body) != "last_super_token" {
		t.Errorf("revoke the last valid super token = %d %v; want 409 last_super_token", status, body)
	}
	// An org's admin token cannot touch super tokens, even by id.
	if status, _ := e.do("DELETE", "/admin/v1/super/tokens/"+ops2["id"].(string), e.tokens["admin:acme"], ""); status != 404 {
		t.Errorf("admin token revoking a super token = %d; want 404", status)
	}
	if status, _ := e.do("DELETE", "/admin/v1/orgs/acme/tokens/"+ops2["id"].(string), e.tokens["admin:acme"], ""); status != 404 {
		t.Errorf("super token id through an org's route = %d; want 404", status)
	}
	e.checkEvents("", map[string]int{store.EventTokenCreated: 2, store.EventTokenRotated: 1, store.EventTokenRevoked: 1}, super, opsSecret, ops2Secret)
}

func TestCheckExpiring(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	open := func() store.Store {
		t.Helper()
		st, err := bolt.Open(path, bolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	ctx := context.Background()
	st := open()
	for _, org := range []string{"acme", "globex"} {
		if _, err := st.CreateOrg(ctx, org); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.CreateDirectory(ctx, store.Directory{Org: "acme", Name: "entra", Profile: "entra"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	ids := map[string]string{}
	mk := func(name string, kind store.TokenKind, org, dir string, left time.Duration) {
		t.Helper()
		_, hash, prefix, _ := store.NewTokenSecret()
		id, _ := store.NewID()
		tok := store.Token{ID: id, Kind: kind, Org: org, Directory: dir, Name: name, Prefix: prefix, Hash: hash, Created: now.Add(-time.Hour)}
		if left != 0 {
			tok.Expires = now.Add(left)
		}
		if err := st.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	day := 24 * time.Hour
	mk("10d", store.TokenSCIM, "acme", "entra", 10*day)
	mk("6d", store.TokenAdmin, "acme", "", 6*day)
	mk("12h", store.TokenSCIM, "acme", "entra", 12*time.Hour)
	mk("40d", store.TokenSCIM, "acme", "entra", 40*day)
	mk("never", store.TokenAdmin, "acme", "", 0)
	mk("expired", store.TokenAdmin, "acme", "", -time.Hour)
	mk("globex 6d", store.TokenAdmin, "globex", "", 6*day)
	mk("super 10d", store.TokenSuper, "", "", 10*day)
	// A rotated token's end is planned: not announced.
	mk("rotated", store.TokenAdmin, "acme", "", 40*day)
	_, hash, prefix, _ := store.NewTokenSecret()
	if _, err := st.RotateToken(ctx, ids["rotated"], store.Token{ID: "replacement", Hash: hash, Prefix: prefix}, time.Hour); err != nil {
		t.Fatal(err)
	}

	announced := func(org string) map[string][]float64 {
		t.Helper()
		p, err := st.Events(ctx, org, store.EventQuery{Limit: store.MaxEventLimit, Types: []string{store.EventTokenExpiring}})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]float64{}
		for _, ev := range p.Events {
			var d map[string]any
			json.Unmarshal(ev.Data, &d)
			out[d["name"].(string)] = append(out[d["name"].(string)], d["days"].(float64))
			if d["id"] != ev.Resource.ID || d["expires"] == nil || d["kind"] == nil || d["hash"] != nil {
				t.Errorf("token.expiring data = %v", d)
			}
		}
		return out
	}
	check := func(call string, gotN, wantN int, err error, want map[string]map[string][]float64) {
		t.Helper()
		if err != nil || gotN != wantN {
			t.Errorf("%s = %d, %v; want %d, nil", call, gotN, err, wantN)
		}
		for org, w := range want {
			got := announced(org)
			if len(got) != len(w) {
				t.Errorf("%s: announced in %q = %v; want %v", call, org, got, w)
				continue
			}
			for name, days := range w {
				if !slices.Equal(got[name], days) {
					t.Errorf("%s: announced in %q = %v; want %v", call, org, got, w)
				}
			}
		}
	}

	n, err := admin.CheckExpiring(ctx, st, now)
	check("CheckExpiring(now)", n, 5, err, map[string]map[string][]float64{
		"acme":   {"10d": {14}, "6d": {7}, "12h": {1}},
		"globex": {"globex 6d": {7}},
		"":       {"super 10d": {14}},
	})
	// Hourly runs announce nothing new, also after a restart.
	n, err = admin.CheckExpiring(ctx, st, now.Add(time.Hour))
	check("CheckExpiring(now+1h)", n, 0, err, nil)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = open()
	defer st.Close()
	n, err = admin.CheckExpiring(ctx, st, now.Add(2*time.Hour))
	check("CheckExpiring(now+2h) after a restart", n, 0, err, nil)

	// Five days on: the 10-day tokens cross 7 days, the 6-day ones 1 day;
	// the 12-hour one has expired, the 40-day one is still far.
	n, err = admin.CheckExpiring(ctx, st, now.Add(5*day))
	check("CheckExpiring(now+5d)", n, 4, err, map[string]map[string][]float64{
		"acme":   {"10d": {14, 7}, "6d": {7, 1}, "12h": {1}},
		"globex": {"globex 6d": {7, 1}},
		"":       {"super 10d": {14, 7}},
	})
	n, err = admin.CheckExpiring(ctx, st, now.Add(9*day+time.Hour))
	check("CheckExpiring(now+9d1h)", n, 2, err, map[string]map[string][]float64{
		"acme": {"10d": {14, 7, 1}, "6d": {7, 1}, "12h": {1}},
		"":     {"super 10d": {14, 7, 1}},
	})
}
