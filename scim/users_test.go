package scim_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
)

func TestUserLifecycle(t *testing.T) {
	e := newEnv(t, scim.Config{})
	created := e.createUser("Tess.Ng@example.com", map[string]any{
		"schemas":     []string{userURN, entURN},
		"externalId":  "00u1abc",
		"displayName": "Tess Ng",
		"password":    "Sup3r-secret!",
		"groups":      []any{},
		entURN: map[string]any{
			"employeeNumber": "E-1042", "costCenter": "CC1", "organization": "Acme",
			"division": "R&D", "department": "ML Platform",
			"manager": map[string]any{"value": "boss-1"},
		},
	})
	id := created.str("id")
	if len(id) != 36 {
		t.Fatalf("id = %q; want a UUID", id)
	}
	if got, want := created.header.Get("Location"), e.base+"/Users/"+id; got != want {
		t.Errorf("Location = %q; want %q", got, want)
	}
	meta, _ := created.body["meta"].(map[string]any)
	for _, k := range []string{"resourceType", "created", "lastModified", "location", "version"} {
		if meta[k] == nil || meta[k] == "" {
			t.Errorf("meta.%s missing: %v", k, meta)
		}
	}
	if meta["resourceType"] != "User" || meta["location"] != e.base+"/Users/"+id {
		t.Errorf("meta = %v", meta)
	}
	if got := created.header.Get("ETag"); got == "" || got != meta["version"] {
		t.Errorf("ETag = %q; meta.version = %v; want equal and set", got, meta["version"])
	}
	if strings.Contains(string(created.raw), "Sup3r-secret") || created.body["password"] != nil {
		t.Errorf("password echoed: %s", created.raw)
	}
	ent, _ := created.body[entURN].(map[string]any)
	if ent["employeeNumber"] != "E-1042" || ent["department"] != "ML Platform" {
		t.Errorf("enterprise extension = %v", ent)
	}
	if s, _ := created.body["schemas"].([]any); len(s) != 2 {
		t.Errorf("schemas = %v; want core and enterprise", created.body["schemas"])
	}
	if created.body["active"] != true || created.str("externalId") != "00u1abc" {
		t.Errorf("active/externalId = %v/%v", created.body["active"], created.body["externalId"])
	}

	got := e.must(http.StatusOK, e.req("GET", "/Users/"+id, nil))
	if got.str("userName") != "Tess.Ng@example.com" || got.header.Get("ETag") != created.header.Get("ETag") {
		t.Errorf("GET = %s", got.raw)
	}
	if strings.Contains(string(got.raw), "Sup3r-secret") {
		t.Errorf("password returned by GET")
	}

	// PUT replaces: name given, no enterprise extension, no active (kept).
	put := e.must(http.StatusOK, e.req("PUT", "/Users/"+id, map[string]any{
		"schemas": []string{userURN}, "id": id, "userName": "tess@example.com",
		"name": map[string]any{"givenName": "Tess"},
	}))
	if put.str("userName") != "tess@example.com" || put.body[entURN] != nil || put.body["active"] != true {
		t.Errorf("PUT = %s", put.raw)
	}
	if put.header.Get("ETag") == created.header.Get("ETag") {
		t.Errorf("ETag did not change on PUT")
	}
	// PUT with active false deactivates (Okta AIW apps deactivate by PUT).
	put = e.must(http.StatusOK, e.req("PUT", "/Users/"+id, map[string]any{
		"schemas": []string{userURN}, "userName": "tess@example.com", "active": false,
	}))
	if put.body["active"] != false {
		t.Errorf("PUT active=false: %s", put.raw)
	}

	e.must(http.StatusNoContent, e.req("DELETE", "/Users/"+id, nil))
	e.wantError(e.req("GET", "/Users/"+id, nil), http.StatusNotFound, "")
	e.wantError(e.req("DELETE", "/Users/"+id, nil), http.StatusNotFound, "")
}

func TestUserNameUniqueness(t *testing.T) {
	e := newEnv(t, scim.Config{})
	e.createUser("Alice@Example.com")
	for _, name := range []string{"alice@example.com", "ALICE@EXAMPLE.COM", "Alice@Example.com"} {
		e.wantError(e.req("POST", "/Users", user(name)), http.StatusConflict, "uniqueness")
	}
	e.createUser("straße@example.com")
	e.wantError(e.req("POST", "/Users", user("STRASSE@example.com")), http.StatusConflict, "uniqueness")

	// Renaming onto another user's name is a conflict too, and changes nothing.
	b := e.createUser("bob@example.com")
	before := e.snapshot("/Users/" + b.str("id"))
	e.wantError(e.req("PUT", "/Users/"+b.str("id"), user("ALICE@example.com")), http.StatusConflict, "uniqueness")
	e.wantError(e.req("PATCH", "/Users/"+b.str("id"), patchOps(op("replace", "userName", "alice@EXAMPLE.com"))), http.StatusConflict, "uniqueness")
	if after := e.snapshot("/Users/" + b.str("id")); after != before {
		t.Errorf("refused rename changed the user:\n%s\n%s", before, after)
	}

	// The same userName in another directory is another person.
	e2 := *e
	e2.token, e2.base = e.tokens["acme/entra"], e.srv.URL+"/scim/v2/acme/entra"
	e2.createUser("alice@example.com")
}

func TestConcurrentDuplicateCreates(t *testing.T) {
	e := newEnv(t, scim.Config{})
	const n = 16
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Case variants of one name: the fold makes them one.
			name := []string{"race@example.com", "RACE@example.com", "Race@Example.COM", "race@EXAMPLE.com"}[i%4]
			statuses[i] = e.req("POST", "/Users", user(name)).status
		}()
	}
	wg.Wait()
	created, conflicts := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
			conflicts++
		default:
			t.Errorf("unexpected status %d", s)
		}
	}
	if created != 1 || conflicts != n-1 {
		t.Errorf("created %d, conflicts %d; want 1 and %d", created, conflicts, n-1)
	}
	if got := e.userCount(); got != 1 {
		t.Errorf("users stored = %d; want 1", got)
	}
}

func TestETags(t *testing.T) {
	e := newEnv(t, scim.Config{})
	u := e.createUser("etag@example.com")
	id, etag := u.str("id"), u.header.Get("ETag")

	r := e.req("GET", "/Users/"+id, nil, "If-None-Match", etag)
	if r.status != http.StatusNotModified || len(r.raw) != 0 {
		t.Errorf("If-None-Match current: status %d, body %q; want 304, empty", r.status, r.raw)
	}
	e.must(http.StatusOK, e.req("GET", "/Users/"+id, nil, "If-None-Match", `W/"999"`))

	e.wantError(e.req("PATCH", "/Users/"+id, patchOps(op("replace", "displayName", "X")), "If-Match", `W/"999"`), http.StatusPreconditionFailed, "")
	e.wantError(e.req("PUT", "/Users/"+id, user("etag@example.com"), "If-Match", `W/"999"`), http.StatusPreconditionFailed, "")
	e.wantError(e.req("DELETE", "/Users/"+id, nil, "If-Match", `"garbage`), http.StatusPreconditionFailed, "")
	if got := e.must(http.StatusOK, e.req("GET", "/Users/"+id, nil)).header.Get("ETag"); got != etag {
		t.Errorf("ETag moved after refused writes: %s -> %s", etag, got)
	}

	r = e.must(http.StatusOK, e.req("PATCH", "/Users/"+id, patchOps(op("replace", "displayName", "X")), "If-Match", etag))
	next := r.header.Get("ETag")
	if next == etag || r.body["meta"].(map[string]any)["version"] != next {
		t.Errorf("after PATCH ETag %q, meta.version %v; want a new equal version", next, r.body["meta"])
	}
	// The old tag no longer matches; a list with the current one does.
	e.wantError(e.req("DELETE", "/Users/"+id, nil, "If-Match", etag), http.StatusPreconditionFailed, "")
	e.must(http.StatusNoContent, e.req("DELETE", "/Users/"+id, nil, "If-Match", etag+", "+next))

	spc := e.must(http.StatusOK, e.req("GET", "/ServiceProviderConfig", nil))
	if spc.body["etag"].(map[string]any)["supported"] != true {
		t.Errorf("etag not advertised: %s", spc.raw)
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t, scim.Config{})
	u := e.createUser("auth@example.com")
	expired := e.newToken(store.TokenSCIM, "acme", "okta", time.Now().Add(-time.Minute))
	admin := e.newToken(store.TokenAdmin, "acme", "", time.Time{})
	cases := []struct {
		name, auth, path string
	}{
		{"no header", "", "/Users"},
		{"empty bearer", "Bearer ", "/Users"},
		{"basic", "Basic dXNlcjpwYXNz", "/Users"},
		{"wrong token", "Bearer scb_nottherealtoken", "/Users"},
		{"expired", "Bearer " + expired, "/Users"},
		{"admin token", "Bearer " + admin, "/Users"},
		{"other directory's token", "Bearer " + e.tokens["acme/entra"], "/Users/" + u.str("id")},
		{"other org's token", "Bearer " + e.tokens["other/main"], "/Users"},
		{"discovery without token", "", "/ServiceProviderConfig"},
		{"schemas without token", "", "/Schemas"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.req("GET", c.path, nil, "Authorization", c.auth)
			e.wantError(r, http.StatusUnauthorized, "")
			if r.header.Get("WWW-Authenticate") == "" {
				t.Errorf("no WWW-Authenticate header")
			}
		})
	}
	// A token used on a directory URL that does not exist is refused the same way.
	e.wantError(e.req("GET", e.srv.URL+"/scim/v2/acme/nope/Users", nil), http.StatusUnauthorized, "")
	// The other directory's token works on its own URL and sees none of acme/okta's users.
	r := e.must(http.StatusOK, e.req("GET", e.srv.URL+"/scim/v2/acme/entra/Users", nil, "Authorization", "Bearer "+e.tokens["acme/entra"]))
	if r.body["totalResults"] != float64(0) {
		t.Errorf("acme/entra sees %v users; want 0", r.body["totalResults"])
	}
	e.wantError(e.req("GET", e.srv.URL+"/scim/v2/acme/entra/Users/"+u.str("id"), nil, "Authorization", "Bearer "+e.tokens["acme/entra"]), http.StatusNotFound, "")
	e.wantError(e.req("DELETE", e.srv.URL+"/scim/v2/acme/entra/Users/"+u.str("id"), nil, "Authorization", "Bearer "+e.tokens["acme/entra"]), http.StatusNotFound, "")
	e.must(http.StatusOK, e.req("GET", "/Users/"+u.str("id"), nil))
}

// HEAD answers as GET without a body (RFC 9110 section 9.3.2).
func TestHead(t *testing.T) {
	e := newEnv(t, scim.Config{})
	u := e.must(http.StatusCreated, e.createUser("head@example.com"))
	id := u.str("id")
	r := e.req(http.MethodHead, "/Users/"+id, nil)
	if r.status != http.StatusOK || len(r.raw) != 0 || r.header.Get("ETag") != u.header.Get("ETag") {
		t.Fatalf("HEAD /Users/{id} = %d, %d bytes, ETag %q; want 200, no body, ETag %q", r.status, len(r.raw), r.header.Get("ETag"), u.header.Get("ETag"))
	}
	if r := e.req(http.MethodHead, "/Users?filter=userName%20eq%20%22head@example.com%22", nil); r.status != http.StatusOK || len(r.raw) != 0 {
		t.Fatalf("HEAD /Users = %d, %d bytes; want 200 and no body", r.status, len(r.raw))
	}
	if r := e.req(http.MethodHead, "/Users/00000000-0000-4000-8000-000000000000", nil); r.status != http.StatusNotFound {
		t.Fatalf("HEAD of an unknown user = %d; want 404", r.status)
	}
}
