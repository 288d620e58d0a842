package scim_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/scimbridge/scimbridge/scim"
)

// population creates a fixed set of users and returns their ids by userName.
func population(e *env) map[string]string {
	ids := map[string]string{}
	add := func(name string, extra map[string]any) {
		ids[name] = e.createUser(name, extra).str("id")
	}
	add("alice@example.com", map[string]any{"externalId": "EXT-A", "title": "Engineer", "displayName": "Alice",
		"emails":  []any{map[string]any{"value": "alice@example.com", "type": "work", "primary": true}, map[string]any{"value": "alice@home.example", "type": "home"}},
		"schemas": []string{userURN, entURN}, entURN: map[string]any{"employeeNumber": "100", "department": "Eng", "manager": map[string]any{"value": "m-1"}}})
	add("bob@example.com", map[string]any{"externalId": "ext-b", "title": "Manager", "displayName": "Bob", "active": false,
		"schemas": []string{userURN, entURN}, entURN: map[string]any{"employeeNumber": "200", "department": "Legal"}})
	add("carol@sub.example.org", map[string]any{"title": "Engineer", "displayName": "Carol",
		"emails": []any{map[string]any{"value": "carol@sub.example.org", "type": "home"}}})
	add("dave@example.com", map[string]any{"displayName": "Dave", "nickName": "d"})
	return ids
}

func (e *env) filterNames(filter string) ([]string, resp) {
	e.t.Helper()
	r := e.req("GET", "/Users?filter="+url.QueryEscape(filter), nil)
	if r.status != http.StatusOK {
		return nil, r
	}
	var names []string
	for _, x := range r.body["Resources"].([]any) {
		names = append(names, x.(map[string]any)["userName"].(string))
	}
	sort.Strings(names)
	return names, r
}

func TestFilters(t *testing.T) {
	e := newEnv(t, scim.Config{})
	population(e)
	time.Sleep(5 * time.Millisecond)
	cutoff := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(5 * time.Millisecond)
	e.createUser("erin@example.com")

	cases := []struct {
		filter string
		want   []string
	}{
		{`userName eq "ALICE@example.com"`, []string{"alice@example.com"}},
		{`userName eq "nobody@example.com"`, nil},
		{`userName ne "alice@example.com"`, []string{"bob@example.com", "carol@sub.example.org", "dave@example.com", "erin@example.com"}},
		{`userName co "SUB.example"`, []string{"carol@sub.example.org"}},
		{`userName sw "B"`, []string{"bob@example.com"}},
		{`userName ew ".ORG"`, []string{"carol@sub.example.org"}},
		{`nickName pr`, []string{"dave@example.com"}},
		{`title gt "F"`, []string{"bob@example.com"}},
		{`title ge "Engineer"`, []string{"alice@example.com", "bob@example.com", "carol@sub.example.org"}},
		{`title lt "F"`, []string{"alice@example.com", "carol@sub.example.org"}},
		{`title le "Engineer"`, []string{"alice@example.com", "carol@sub.example.org"}},
		{`externalId eq "EXT-A"`, []string{"alice@example.com"}},
		{`externalId eq "ext-a"`, nil}, // case-exact
		{`title eq "Engineer" and active eq true`, []string{"alice@example.com", "carol@sub.example.org"}},
		{`title eq "Manager" or nickName pr`, []string{"bob@example.com", "dave@example.com"}},
		{`not (title pr)`, []string{"dave@example.com", "erin@example.com"}},
		{`(title eq "Engineer" or title eq "Manager") and not (active eq false)`, []string{"alice@example.com", "carol@sub.example.org"}},
		{`emails[type eq "work" and value co "@example.com"]`, []string{"alice@example.com", "bob@example.com", "dave@example.com", "erin@example.com"}},
		{`emails[type eq "home"]`, []string{"alice@example.com", "carol@sub.example.org"}},
		{`emails.value eq "alice@home.example"`, []string{"alice@example.com"}},
		{`emails[type eq "work"].value eq "alice@example.com"`, []string{"alice@example.com"}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "200"`, []string{"bob@example.com"}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m-1"`, []string{"alice@example.com"}},
		{`userName sw "a" and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Eng"`, []string{"alice@example.com"}},
		{`urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "family"`, []string{"alice@example.com", "bob@example.com", "carol@sub.example.org", "dave@example.com", "erin@example.com"}},
		{fmt.Sprintf(`meta.lastModified gt %q`, cutoff), []string{"erin@example.com"}},
		{fmt.Sprintf(`meta.created lt %q`, cutoff), []string{"alice@example.com", "bob@example.com", "carol@sub.example.org", "dave@example.com"}},
	}
	for _, c := range cases {
		t.Run(c.filter, func(t *testing.T) {
			got, r := e.filterNames(c.filter)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("filter %q (-want +got):\n%s", c.filter, diff)
			}
			// POST .search gives the same answer.
			s := e.must(http.StatusOK, e.req("POST", "/Users/.search", map[string]any{
				"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "filter": c.filter,
			}))
			if s.body["totalResults"] != r.body["totalResults"] {
				t.Errorf(".search totalResults = %v; GET gave %v", s.body["totalResults"], r.body["totalResults"])
			}
		})
	}

	bad := []string{
		`bogus eq "x"`,
		`bogus[type eq "x"]`,
		`emails[bogus eq "x"]`,
		`foo:bar eq 1`,
		`password pr`,
		`userName eq`,
		`userName xx "a"`,
		`(userName eq "a"`,
		`userName eq 5`,
		`active gt true`,
		`meta.lastModified gt "yesterday"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:bogus eq "1"`,
	}
	for _, f := range bad {
		t.Run("invalid "+f, func(t *testing.T) {
			_, r := e.filterNames(f)
			e.wantError(r, http.StatusBadRequest, "invalidFilter")
			s := e.req("POST", "/Users/.search", map[string]any{
				"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "filter": f,
			})
			e.wantError(s, http.StatusBadRequest, "invalidFilter")
		})
	}
}

func TestGroupFilters(t *testing.T) {
	e := newEnv(t, scim.Config{})
	e.must(http.StatusCreated, e.req("POST", "/Groups", map[string]any{
		"schemas":    []string{groupURN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"},
		"externalId": "3f2a9c1e-0000-4000-8000-000000000001", "displayName": "Engineering",
	}))
	e.createGroup("Legal")
	for _, c := range []struct{ filter, want string }{
		{`displayName eq "engineering"`, "Engineering"},
		{`externalId eq "3f2a9c1e-0000-4000-8000-000000000001"`, "Engineering"},
		{`displayName sw "Le"`, "Legal"},
	} {
		r := e.must(http.StatusOK, e.req("GET", "/Groups?excludedAttributes=members&filter="+url.QueryEscape(c.filter), nil))
		list := r.body["Resources"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["displayName"] != c.want {
			t.Errorf("filter %q = %s; want %s", c.filter, r.raw, c.want)
		}
	}
	e.wantError(e.req("GET", "/Groups?filter="+url.QueryEscape(`userName eq "x"`), nil), http.StatusBadRequest, "invalidFilter")
}

func TestPaginationAndSorting(t *testing.T) {
	e := newEnv(t, scim.Config{MaxPageSize: 5})
	for i := range 12 {
		e.createUser(fmt.Sprintf("user%02d@example.com", (i*7)%12))
	}
	r := e.must(http.StatusOK, e.req("GET", "/Users?startIndex=1&count=100", nil))
	if r.body["totalResults"] != float64(12) || r.body["itemsPerPage"] != float64(5) || r.body["startIndex"] != float64(1) {
		t.Errorf("clamped page: total %v items %v start %v", r.body["totalResults"], r.body["itemsPerPage"], r.body["startIndex"])
	}
	// Walking the pages gives every user once, in a stable order.
	var all []string
	for start := 1; start <= 12; start += 5 {
		p := e.must(http.StatusOK, e.req("GET", fmt.Sprintf("/Users?startIndex=%d&count=5", start), nil))
		all = append(all, ids(p)...)
	}
	again := append(ids(e.must(http.StatusOK, e.req("GET", "/Users?startIndex=1&count=5", nil))),
		ids(e.must(http.StatusOK, e.req("GET", "/Users?startIndex=6&count=5", nil)))...)
	if len(all) != 12 || !cmp.Equal(all[:10], again) {
		t.Errorf("pages not stable: %v vs %v", all, again)
	}
	seen := map[string]bool{}
	for _, id := range all {
		if seen[id] {
			t.Errorf("id %s on two pages", id)
		}
		seen[id] = true
	}
	r = e.must(http.StatusOK, e.req("GET", "/Users?count=0", nil))
	if r.body["totalResults"] != float64(12) || len(ids(r)) != 0 {
		t.Errorf("count=0: %s", r.raw)
	}
	r = e.must(http.StatusOK, e.req("GET", "/Users?startIndex=100", nil))
	if r.body["totalResults"] != float64(12) || len(ids(r)) != 0 || r.body["itemsPerPage"] != float64(0) {
		t.Errorf("startIndex past the end: %s", r.raw)
	}
	e.wantError(e.req("GET", "/Users?count=ten", nil), http.StatusBadRequest, "invalidValue")
	e.wantError(e.req("GET", "/Users?startIndex=x", nil), http.StatusBadRequest, "invalidValue")

	names := func(r resp) []string {
		var out []string
		for _, x := range r.body["Resources"].([]any) {
			out = append(out, x.(map[string]any)["userName"].(string))
		}
		return out
	}
	asc := names(e.must(http.StatusOK, e.req("GET", "/Users?sortBy=userName&count=3", nil)))
	if diff := cmp.Diff([]string{"user00@example.com", "user01@example.com", "user02@example.com"}, asc); diff != "" {
		t.Errorf("sortBy=userName (-want +got):\n%s", diff)
	}
	desc := names(e.must(http.StatusOK, e.req("GET", "/Users?sortBy=userName&sortOrder=descending&count=2&startIndex=2", nil)))
	if diff := cmp.Diff([]string{"user10@example.com", "user09@example.com"}, desc); diff != "" {
		t.Errorf("sortBy=userName descending, page 2 (-want +got):\n%s", diff)
	}
	e.wantError(e.req("GET", "/Users?sortBy=userName&sortOrder=sideways", nil), http.StatusBadRequest, "invalidValue")
	if r := e.req("GET", "/Users?sortBy=bogus", nil); r.status != http.StatusBadRequest {
		t.Errorf("sortBy=bogus: status %d", r.status)
	}
}

func TestProjection(t *testing.T) {
	e := newEnv(t, scim.Config{})
	ids := population(e)
	id := ids["alice@example.com"]
	keys := func(m map[string]any) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	cases := []struct {
		query string
		want  []string
	}{
		{"attributes=userName", []string{"id", "schemas", "userName"}},
		{"attributes=name.givenName,emails.value", []string{"emails", "id", "name", "schemas"}},
		{"attributes=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", []string{"id", "schemas", entURN}},
		{"attributes=password", []string{"id", "schemas"}},
		{"excludedAttributes=emails,name,meta,groups", []string{"active", "displayName", "externalId", "id", "schemas", "title", entURN, "userName"}},
		{"excludedAttributes=id,schemas,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", []string{"active", "displayName", "emails", "externalId", "id", "meta", "name", "schemas", "title", "userName"}},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			r := e.must(http.StatusOK, e.req("GET", "/Users/"+id+"?"+c.query, nil))
			if diff := cmp.Diff(c.want, keys(r.body)); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			// The same projection applies to lists and .search.
			l := e.must(http.StatusOK, e.req("GET", "/Users?filter="+url.QueryEscape(`id eq "`+id+`"`)+"&"+c.query, nil))
			if diff := cmp.Diff(c.want, keys(l.body["Resources"].([]any)[0].(map[string]any))); diff != "" {
				t.Errorf("list keys (-want +got):\n%s", diff)
			}
		})
	}
	r := e.must(http.StatusOK, e.req("GET", "/Users/"+id+"?attributes=name.givenName,emails.value", nil))
	if diff := cmp.Diff(map[string]any{"givenName": "Given"}, r.body["name"]); diff != "" {
		t.Errorf("name (-want +got):\n%s", diff)
	}
	if e0 := r.body["emails"].([]any)[0].(map[string]any); len(e0) != 1 || e0["value"] == nil {
		t.Errorf("emails[0] = %v; want only value", e0)
	}
	s := e.must(http.StatusOK, e.req("POST", "/Users/.search", map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
		"filter":     `userName eq "alice@example.com"`,
		"attributes": []string{"userName"},
	}))
	if got := keys(s.body["Resources"].([]any)[0].(map[string]any)); !cmp.Equal(got, []string{"id", "schemas", "userName"}) {
		t.Errorf(".search attributes: %v", got)
	}
}

func TestRootSearch(t *testing.T) {
	e := newEnv(t, scim.Config{})
	e.createUser("root@example.com", map[string]any{"displayName": "Shared"})
	e.createGroup("Shared")
	e.createGroup("Other")
	r := e.must(http.StatusOK, e.req("POST", "/.search", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
		"filter":  `displayName eq "shared"`,
	}))
	if r.body["totalResults"] != float64(2) {
		t.Fatalf("root search: %s", r.raw)
	}
	types := map[string]bool{}
	for _, x := range r.body["Resources"].([]any) {
		types[x.(map[string]any)["meta"].(map[string]any)["resourceType"].(string)] = true
	}
	if !types["User"] || !types["Group"] {
		t.Errorf("root search types = %v; want User and Group", types)
	}
	// userName exists only on users: groups simply do not match.
	r = e.must(http.StatusOK, e.req("POST", "/.search", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
		"filter":  `userName eq "root@example.com"`,
	}))
	if r.body["totalResults"] != float64(1) {
		t.Errorf("root search by userName: %s", r.raw)
	}
	e.wantError(e.req("POST", "/.search", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
		"filter":  `bogus eq "x"`,
	}), http.StatusBadRequest, "invalidFilter")
	e.wantError(e.req("GET", "/.search", nil), http.StatusMethodNotAllowed, "")
}
