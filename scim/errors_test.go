package scim_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/scim/filter"
)

func TestBadInputChangesNothing(t *testing.T) {
	e := newEnv(t, scim.Config{MaxBodyBytes: 64 << 10, MaxPatchOperations: 10, Filter: filter.Limits{MaxLength: 512}})
	u := e.createUser("keep@example.com")
	id := u.str("id")
	before := e.snapshot("/Users/" + id)

	big := user("big@example.com", map[string]any{"displayName": strings.Repeat("x", 70<<10)})
	manyOps := make([]map[string]any, 11)
	for i := range manyOps {
		manyOps[i] = op("replace", "displayName", fmt.Sprint(i))
	}
	cases := []struct {
		name, method, path string
		body               any
		status             int
		scimType           string
	}{
		{"malformed JSON", "POST", "/Users", `{"schemas": [`, 400, "invalidSyntax"},
		{"trailing data", "POST", "/Users", `{"schemas":["` + userURN + `"],"userName":"t@example.com"} {}`, 400, "invalidSyntax"},
		{"duplicate key", "POST", "/Users", `{"schemas":["` + userURN + `"],"userName":"a@example.com","userName":"b@example.com"}`, 400, "invalidSyntax"},
		{"case-variant duplicate key", "POST", "/Users", `{"schemas":["` + userURN + `"],"userName":"a@example.com","UserName":"b@example.com"}`, 400, "invalidSyntax"},
		{"not an object", "POST", "/Users", `["x"]`, 400, "invalidSyntax"},
		{"invalid UTF-8", "POST", "/Users", "{\"schemas\":[\"" + userURN + "\"],\"userName\":\"\xff\xfe@example.com\"}", 400, "invalidSyntax"},
		{"deep nesting", "POST", "/Users", strings.Repeat("[", 5000) + strings.Repeat("]", 5000), 400, "invalidSyntax"},
		{"missing schemas", "POST", "/Users", map[string]any{"userName": "n@example.com"}, 400, "invalidSyntax"},
		{"unknown schema", "POST", "/Users", map[string]any{"schemas": []string{userURN, "urn:example:bogus"}, "userName": "n@example.com"}, 400, "invalidSyntax"},
		{"unknown extension key", "POST", "/Users", map[string]any{"schemas": []string{userURN}, "userName": "n@example.com", "urn:example:bogus:User": map[string]any{}}, 400, "invalidSyntax"},
		{"missing userName", "POST", "/Users", map[string]any{"schemas": []string{userURN}}, 400, "invalidValue"},
		{"blank userName", "POST", "/Users", map[string]any{"schemas": []string{userURN}, "userName": "  "}, 400, "invalidValue"},
		{"wrong type", "POST", "/Users", user("w@example.com", map[string]any{"active": "yes"}), 400, "invalidValue"},
		{"object for multi-valued", "POST", "/Users", user("w@example.com", map[string]any{"emails": map[string]any{"value": "w@example.com"}}), 400, "invalidValue"},
		{"two primaries", "POST", "/Users", user("w@example.com", map[string]any{"emails": []any{map[string]any{"value": "a@x", "primary": true}, map[string]any{"value": "b@x", "primary": true}}}), 400, "invalidValue"},
		{"NUL in userName", "POST", "/Users", user("nul\x00@example.com"), 400, "invalidValue"},
		{"zero-width space in userName", "POST", "/Users", user("keep\u200b@example.com"), 400, "invalidValue"},
		{"bidi override in displayName", "POST", "/Users", user("bidi@example.com", map[string]any{"displayName": "abc\u202Edef"}), 400, "invalidValue"},
		{"body over the cap", "POST", "/Users", big, 413, ""},
		{"PATCH over the operation cap", "PATCH", "/Users/" + id, patchOps(manyOps...), 400, "tooMany"},
		{"PATCH path over the filter cap", "PATCH", "/Users/" + id, patchOps(op("remove", `emails[value eq "`+strings.Repeat("a", 600)+`"]`, nil)), 400, "invalidPath"},
		{"PATCH wrong schema", "PATCH", "/Users/" + id, map[string]any{"schemas": []string{userURN}, "Operations": []any{op("replace", "displayName", "x")}}, 400, "invalidSyntax"},
		{"PUT invalid", "PUT", "/Users/" + id, map[string]any{"schemas": []string{userURN}, "userName": 5}, 400, "invalidValue"},
		{"filter over the cap", "GET", "/Users?filter=" + url.QueryEscape(`userName eq "`+strings.Repeat("a", 600)+`"`), nil, 400, "invalidFilter"},
		{"filter nested deep", "GET", "/Users?filter=" + url.QueryEscape(strings.Repeat("(", 200)+`userName eq "a"`+strings.Repeat(")", 200)), nil, 400, "invalidFilter"},
		{"filter invalid UTF-8", "GET", "/Users?filter=userName%20eq%20%22%FF%22", nil, 400, "invalidFilter"},
		{"unsupported content type", "POST", "/Users", nil, 415, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := []string{}
			if c.status == 415 {
				hdr = []string{"Content-Type", "text/xml"}
				c.body = "<user/>"
			}
			r := e.req(c.method, c.path, c.body, hdr...)
			e.wantError(r, c.status, c.scimType)
			if after := e.snapshot("/Users/" + id); after != before {
				t.Errorf("store changed:\n%s\n%s", before, after)
			}
			if n := e.userCount(); n != 1 {
				t.Errorf("users stored = %d; want 1", n)
			}
		})
	}
}

func TestRoutesAndIDs(t *testing.T) {
	e := newEnv(t, scim.Config{})
	u := e.createUser("route@example.com")
	for _, path := range []string{
		"/Users/..%2F..%2Fetc",
		"/Users/a%2Fb",
		"/Users/%2525",
		"/Users/" + strings.Repeat("a", 10000),
		"/Users/" + strings.ToUpper(u.str("id")),
		"/Users/" + u.str("id") + "/extra",
		"/Nope",
		"/users",
		"",
	} {
		t.Run(path, func(t *testing.T) {
			e.wantError(e.req("GET", path, nil), http.StatusNotFound, "")
		})
	}
	e.wantError(e.req("GET", e.srv.URL+"/scim/v2/", nil), http.StatusNotFound, "")
	e.wantError(e.req("PUT", "/Users", nil), http.StatusMethodNotAllowed, "")
	e.wantError(e.req("POST", "/Users/"+u.str("id"), nil), http.StatusMethodNotAllowed, "")
	e.wantError(e.req("GET", "/Me", nil), http.StatusNotImplemented, "")
	e.wantError(e.req("POST", "/Bulk", nil), http.StatusNotImplemented, "")
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t, scim.Config{MaxPageSize: 200})
	spc := e.must(http.StatusOK, e.req("GET", "/ServiceProviderConfig", nil))
	want := map[string]any{"patch": true, "bulk": false, "filter": true, "changePassword": false, "sort": true, "etag": true}
	for k, v := range want {
		if got := spc.body[k].(map[string]any)["supported"]; got != v {
			t.Errorf("%s.supported = %v; want %v", k, got, v)
		}
	}
	if got := spc.body["filter"].(map[string]any)["maxResults"]; got != float64(200) {
		t.Errorf("filter.maxResults = %v; want 200", got)
	}
	if s := spc.body["authenticationSchemes"].([]any)[0].(map[string]any); s["type"] != "oauthbearertoken" {
		t.Errorf("authenticationSchemes = %v", s)
	}
	rt := e.must(http.StatusOK, e.req("GET", "/ResourceTypes", nil))
	if rt.body["totalResults"] != float64(2) {
		t.Errorf("ResourceTypes: %s", rt.raw)
	}
	u := e.must(http.StatusOK, e.req("GET", "/ResourceTypes/User", nil))
	if u.str("endpoint") != "/Users" || u.str("schema") != userURN {
		t.Errorf("ResourceTypes/User: %s", u.raw)
	}
	sc := e.must(http.StatusOK, e.req("GET", "/Schemas", nil))
	if sc.body["totalResults"] != float64(3) {
		t.Errorf("Schemas: %v schemas; want 3", sc.body["totalResults"])
	}
	ent := e.must(http.StatusOK, e.req("GET", "/Schemas/"+entURN, nil))
	if ent.str("id") != entURN {
		t.Errorf("Schemas/enterprise: %s", ent.raw)
	}
	e.wantError(e.req("GET", "/Schemas/urn:bogus", nil), http.StatusNotFound, "")
}
