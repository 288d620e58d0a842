package sso

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/reqlog"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

// harness is our server on loopback, as the serve command builds it: the
// real bbolt file in a temp dir, the SCIM API and the SSO handler on one
// mux. Org "acme" has directories "okta" and "entra"; org "other" has
// "main".
type harness struct {
	t       *testing.T
	db      *bolt.DB
	h       *Handler
	srv     *httptest.Server
	dir     store.DirKey // acme/okta
	sealer  *Sealer
	clock   *testClock
	scimTok map[string]string // "acme/okta" -> SCIM bearer token
}

// testClock is a clock tests can move; it starts at the real time.
type testClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	clock := &testClock{}
	db, err := bolt.Open(filepath.Join(t.TempDir(), "scimbridge.db"), bolt.Options{Timeout: time.Second, Now: clock.Now})
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	hs := &harness{t: t, db: db, dir: store.DirKey{Org: "acme", Directory: "okta"}, clock: clock, scimTok: map[string]string{}}
	for _, org := range []string{"acme", "other"} {
		if _, err := db.CreateOrg(ctx, org); err != nil {
			t.Fatalf("CreateOrg: %v", err)
		}
	}
	for _, d := range []store.Directory{
		{Org: "acme", Name: "okta", Profile: "okta"},
		{Org: "acme", Name: "entra", Profile: "entra"},
		{Org: "other", Name: "main", Profile: "generic"},
	} {
		if _, err := db.CreateDirectory(ctx, d); err != nil {
			t.Fatalf("CreateDirectory: %v", err)
		}
		secret, h, prefix, err := store.NewTokenSecret()
		if err != nil {
			t.Fatal(err)
		}
		id, _ := store.NewID()
		if err := db.CreateToken(ctx, store.Token{ID: id, Kind: store.TokenSCIM, Org: d.Org, Directory: d.Name, Name: "t", Prefix: prefix, Hash: h, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
		hs.scimTok[d.Org+"/"+d.Name] = secret
	}
	hs.sealer, err = LoadOrCreateKey(filepath.Join(t.TempDir(), "sso.key"))
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(zerolog.NewTestWriter(t))
	mux := http.NewServeMux()
	hs.srv = httptest.NewServer(reqlog.Wrap(log, mux, nil))
	t.Cleanup(hs.srv.Close)
	hs.h, err = New(Config{Store: db, PublicURL: hs.srv.URL, Sealer: hs.sealer, Log: log, Now: clock.Now})
	if err != nil {
		t.Fatalf("sso.New: %v", err)
	}
	mux.Handle(PathPrefix, hs.h)
	mux.Handle(scim.PathPrefix, scim.New(db, scim.Config{BaseURL: hs.srv.URL}))
	return hs
}

// browser returns a client with its own cookie jar that does not follow
// redirects (each hop is checked by the test).
func (hs *harness) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// configure changes the settings of a directory.
func (hs *harness) configure(k store.DirKey, fn func(c *store.SSOConfig)) {
	hs.t.Helper()
	if _, err := hs.db.UpdateSSOConfig(context.Background(), k, false, func(c *store.SSOConfig) error {
		fn(c)
		return nil
	}); err != nil {
		hs.t.Fatalf("UpdateSSOConfig: %v", err)
	}
}

// addUser provisions a user as a SCIM job would, in directory k.
func (hs *harness) addUser(k store.DirKey, userName string, active bool, emails ...string) store.User {
	hs.t.Helper()
	doc := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": userName, "active": active}
	if len(emails) > 0 {
		var list []map[string]any
		for _, e := range emails {
			list = append(list, map[string]any{"value": e, "type": "work"})
		}
		doc["emails"] = list
	}
	attrs, _ := json.Marshal(doc)
	u, err := hs.db.CreateUser(context.Background(), k, store.User{UserName: userName, Active: active, Emails: emails, Attributes: attrs})
	if err != nil {
		hs.t.Fatalf("CreateUser(%s): %v", userName, err)
	}
	return u
}

// addGroup provisions a group with members in directory k.
func (hs *harness) addGroup(k store.DirKey, displayName, externalID string, members ...string) store.Group {
	hs.t.Helper()
	doc := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": displayName}
	if externalID != "" {
		doc["externalId"] = externalID
	}
	attrs, _ := json.Marshal(doc)
	g, err := hs.db.CreateGroup(context.Background(), k, store.Group{DisplayName: displayName, ExternalID: externalID, Attributes: attrs}, members)
	if err != nil {
		hs.t.Fatalf("CreateGroup(%s): %v", displayName, err)
	}
	return g
}

// deactivate sets active false as a SCIM PATCH would.
func (hs *harness) deactivate(k store.DirKey, id string) {
	hs.t.Helper()
	if _, err := hs.db.UpdateUser(context.Background(), k, id, 0, func(u *store.User) error {
		u.Active = false
		var doc map[string]any
		_ = json.Unmarshal(u.Attributes, &doc)
		doc["active"] = false
		u.Attributes, _ = json.Marshal(doc)
		return nil
	}); err != nil {
		hs.t.Fatalf("deactivate: %v", err)
	}
}

// sessionRules maps workspace_* groups to workspaces and two admin groups
// to roles: enough to see group mapping through a login.
const sessionRules = `version: 1
create_workspaces: true
rules:
  - name: workspace-members
    match:
      group: {displayNamePattern: "^workspace_(?P<ws>[a-z0-9_-]+)$"}
    grant: {workspace: "${ws}", role: member}
  - name: workspace-admins
    match:
      group: {displayName: role_workspace_admin}
    grant: {workspace: "*", role: workspace_admin}
  - name: org-admins-by-entra-id
    match:
      group: {externalId: "3f2a9c1e-5b7d-4c11-9e0a-8d2f6b1c4a77"}
    grant: {role: org_admin}
`

// publish publishes rules for org.
func (hs *harness) publish(org, rules string) {
	hs.t.Helper()
	if _, _, err := hs.db.PublishRules(context.Background(), org, []byte(rules), store.PublishOptions{Force: true, Reason: "test"}); err != nil {
		hs.t.Fatalf("PublishRules: %v", err)
	}
}

// session reads GET /sso/session with b's cookies; status and view.
func (hs *harness) session(b *http.Client) (int, SessionView) {
	hs.t.Helper()
	resp, err := b.Get(hs.srv.URL + "/sso/session")
	if err != nil {
		hs.t.Fatalf("GET /sso/session: %v", err)
	}
	defer resp.Body.Close()
	var v SessionView
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			hs.t.Fatalf("decode session: %v", err)
		}
	}
	return resp.StatusCode, v
}

// events returns the events of org of the given types, in order.
func (hs *harness) events(org string, types ...string) []store.Event {
	hs.t.Helper()
	page, err := hs.db.Events(context.Background(), org, store.EventQuery{Limit: 1000})
	if err != nil {
		hs.t.Fatalf("Events: %v", err)
	}
	var out []store.Event
	for _, e := range page.Events {
		if len(types) == 0 || slices.Contains(types, e.Type) {
			out = append(out, e)
		}
	}
	return out
}

// lastFailure returns the reason of the last sso.login_failed of org, or "".
func (hs *harness) lastFailure(org string) string {
	hs.t.Helper()
	evs := hs.events(org, store.EventSSOLoginFailed)
	if len(evs) == 0 {
		return ""
	}
	var d struct{ Reason string }
	_ = json.Unmarshal(evs[len(evs)-1].Data, &d)
	return d.Reason
}

// workspaces flattens a session's access to "workspace:role" strings and
// "org:role" for org-wide roles, sorted.
func workspaces(v SessionView) []string {
	var out []string
	for _, r := range v.OrgRoles {
		out = append(out, "org:"+r)
	}
	for _, w := range v.Workspaces {
		out = append(out, w.Workspace+":"+w.Role)
	}
	slices.Sort(out)
	return out
}

// scimGet sends a SCIM GET with the directory's token.
func (hs *harness) scimGet(k store.DirKey, path string) (int, map[string]any) {
	hs.t.Helper()
	req, _ := http.NewRequest("GET", hs.srv.URL+"/scim/v2/"+k.Org+"/"+k.Directory+path, nil)
	req.Header.Set("Authorization", "Bearer "+hs.scimTok[k.String()])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		hs.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// scimCreateUser POSTs a user with the directory's token and returns the
// status.
func (hs *harness) scimCreateUser(k store.DirKey, userName string) int {
	hs.t.Helper()
	body, _ := json.Marshal(map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": userName})
	req, _ := http.NewRequest("POST", hs.srv.URL+"/scim/v2/"+k.Org+"/"+k.Directory+"/Users", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+hs.scimTok[k.String()])
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		hs.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
