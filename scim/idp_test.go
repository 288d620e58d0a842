package scim_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/scimbridge/scimbridge/scim"
)

// The requests below are the IdPs' own shapes, re-typed with invented
// values from ../shared/reference/idp-request-shapes.md (Entra: E1–E10,
// Microsoft's SCIM compatibility page; Okta: O1–O7 and Okta's SCIM 2.0
// guide; Google: the count=1 probe). Each test checks what was stored,
// by reading it back.

// entra points an env at the acme/entra directory (profile entra).
func entra(e *env) *env {
	c := *e
	c.token, c.base = e.tokens["acme/entra"], e.srv.URL+"/scim/v2/acme/entra"
	return &c
}

func raw(s string) []byte { return []byte(s) }

func TestEntraUserQuirks(t *testing.T) {
	e := entra(newEnv(t, scim.Config{}))
	// E8: create, with active as the string "True" (Entra's reference code does this).
	u := e.must(http.StatusCreated, e.req("POST", "/Users", raw(`{
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"externalId": "tng", "userName": "tess.ng@contoso.example", "active": "True",
		"displayName": "Tess Ng",
		"meta": {"resourceType": "User"},
		"name": {"formatted": "Tess Ng", "familyName": "Ng", "givenName": "Tess"},
		"roles": [],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "ML Platform", "employeeNumber": "E-1042"}}`)))
	id := u.str("id")
	if u.body["active"] != true {
		t.Fatalf("active \"True\" stored as %v", u.body["active"])
	}
	get := func() map[string]any { return e.must(http.StatusOK, e.req("GET", "/Users/"+id, nil)).body }

	steps := []struct {
		name  string
		body  string
		check func(u map[string]any) bool
	}{
		{"E1 deactivate: capitalised op and \"False\"", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
			func(u map[string]any) bool { return u["active"] == false }},
		{"E1 reactivate with \"True\"", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"True"}]}`,
			func(u map[string]any) bool { return u["active"] == true }},
		{"Add on active means set", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"active","value":"false"}]}`,
			func(u map[string]any) bool { return u["active"] == false }},
		{"flag mode: lower-case op and a real boolean", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":true}]}`,
			func(u map[string]any) bool { return u["active"] == true }},
		{"E2 Add on single-valued nickName", `{"Operations":[{"op":"Add","path":"nickName","value":"Tess"}],"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`,
			func(u map[string]any) bool { return u["nickName"] == "Tess" }},
		{"E3 one op per attribute, default mode", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
			{"op":"Replace","path":"displayName","value":"Tess Ng"},
			{"op":"Replace","path":"emails[type eq \"work\"].value","value":"tess.ng@contoso.example"},
			{"op":"Replace","path":"name.givenName","value":"Tessa"},
			{"op":"Replace","path":"name.familyName","value":"Ng"},
			{"op":"Replace","path":"externalId","value":"tng2"},
			{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"E-1043"}]}`,
			func(u map[string]any) bool {
				// No work email existed: the replace created it (upsert).
				emails, _ := u["emails"].([]any)
				ent, _ := u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any)
				return len(emails) == 1 && cmp.Equal(emails[0], map[string]any{"type": "work", "value": "tess.ng@contoso.example"}) &&
					u["name"].(map[string]any)["givenName"] == "Tessa" && u["externalId"] == "tng2" &&
					ent["employeeNumber"] == "E-1043" && ent["department"] == "ML Platform"
			}},
		{"E3 flag mode: path-less replace with dotted and URN keys", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
			{"op":"replace","path":"emails[type eq \"work\"].value","value":"tess@contoso.example"},
			{"op":"replace","value":{"displayName":"T. Ng","name.givenName":"T","name.familyName":"N",
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"E-2"}}]}`,
			func(u map[string]any) bool {
				emails, _ := u["emails"].([]any)
				ent, _ := u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any)
				return len(emails) == 1 && emails[0].(map[string]any)["value"] == "tess@contoso.example" &&
					u["displayName"] == "T. Ng" && u["name"].(map[string]any)["givenName"] == "T" && ent["employeeNumber"] == "E-2"
			}},
		{"E6 manager as an array with $ref", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
			{"op":"Add","path":"manager","value":[{"$ref":"https://scim.example/scim/Users/u-0012","value":"u-0012"}]}]}`,
			func(u map[string]any) bool {
				ent, _ := u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any)
				m, _ := ent["manager"].(map[string]any)
				return m["value"] == "u-0012"
			}},
		{"E6 manager as a plain string", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
			{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"u-0099"}]}`,
			func(u map[string]any) bool {
				ent, _ := u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].(map[string]any)
				return cmp.Equal(ent["manager"], map[string]any{"value": "u-0099"})
			}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := e.req("PATCH", "/Users/"+id, raw(s.body))
			if r.status != http.StatusOK {
				t.Fatalf("PATCH = %d %s", r.status, r.raw)
			}
			if got := get(); !s.check(got) {
				t.Errorf("stored user after %s:\n%v", s.name, got)
			}
		})
	}

	// E10: the matching probes.
	for _, f := range []string{`userName eq "TESS.NG@contoso.example"`, `externalId eq "tng2"`} {
		r := e.must(http.StatusOK, e.req("GET", "/Users?filter="+url.QueryEscape(f), nil))
		if r.body["totalResults"] != float64(1) {
			t.Errorf("probe %s: %s", f, r.raw)
		}
	}
	// Test connection: a random GUID, answered with an empty 200 list.
	r := e.must(http.StatusOK, e.req("GET", "/Users?filter="+url.QueryEscape(`userName eq "a1b2c3d4-0000-4000-8000-9f8e7d6c5b4a"`), nil))
	if r.body["totalResults"] != float64(0) || len(r.body["Resources"].([]any)) != 0 {
		t.Errorf("test-connection probe: %s", r.raw)
	}
	// The RFC answer stays for other profiles: replace through a filter
	// that matches nothing is noTarget outside the entra profile.
	o := e.tokensEnv("acme/okta")
	ou := o.createUser("nowork@example.com", map[string]any{"emails": nil})
	o.wantError(o.req("PATCH", "/Users/"+ou.str("id"), raw(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"x@example.com"}]}`)), http.StatusBadRequest, "noTarget")
}

// tokensEnv points a copy of e at another directory.
func (e *env) tokensEnv(key string) *env {
	c := *e
	c.token, c.base = e.tokens[key], e.srv.URL+"/scim/v2/"+key
	return &c
}

func TestEntraGroupQuirks(t *testing.T) {
	e := entra(newEnv(t, scim.Config{}))
	a := e.createUser("a@contoso.example").str("id")
	b := e.createUser("b@contoso.example").str("id")
	// E9: group create with the Microsoft schema URN and no members.
	g := e.must(http.StatusCreated, e.req("POST", "/Groups", raw(`{
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
		"externalId": "3f2a9c1e-5b7d-4c11-9e0a-8d2f6b1c4a77", "displayName": "workspace_engineering",
		"meta": {"resourceType": "Group"}}`)))
	gid := g.str("id")
	// The group probe with excludedAttributes=members.
	r := e.must(http.StatusOK, e.req("GET", "/Groups?excludedAttributes=members&filter="+url.QueryEscape(`displayName eq "workspace_engineering"`), nil))
	if ids(r)[0] != gid {
		t.Fatalf("group probe: %s", r.raw)
	}
	// E5: Add members with "$ref": null; then Remove with a value list.
	e.must(http.StatusNoContent, e.req("PATCH", "/Groups/"+gid, raw(fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"Add","path":"members","value":[{"$ref":null,"value":%q},{"$ref":null,"value":%q}]}]}`, a, b))))
	if diff := cmp.Diff(sorted(a, b), e.memberIDs(gid)); diff != "" {
		t.Errorf("after Add (-want +got):\n%s", diff)
	}
	e.must(http.StatusNoContent, e.req("PATCH", "/Groups/"+gid, raw(fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value":%q}]}]}`, a))))
	if diff := cmp.Diff([]string{b}, e.memberIDs(gid)); diff != "" {
		t.Errorf("Remove with a value list removed the wrong members (-want +got):\n%s", diff)
	}
	// Flag mode: removal by filter.
	e.must(http.StatusNoContent, e.req("PATCH", "/Groups/"+gid, raw(fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"remove","path":"members[value eq \"%s\"]"}]}`, b))))
	if got := e.memberIDs(gid); len(got) != 0 {
		t.Errorf("after filter removal: %v", got)
	}
	// Rename, answered 204.
	e.must(http.StatusNoContent, e.req("PATCH", "/Groups/"+gid, raw(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"Replace","path":"displayName","value":"workspace_eng"}]}`)))
	r = e.must(http.StatusOK, e.req("GET", "/Groups?excludedAttributes=members&filter="+url.QueryEscape(`externalId eq "3f2a9c1e-5b7d-4c11-9e0a-8d2f6b1c4a77"`), nil))
	if list := r.body["Resources"].([]any); len(list) != 1 || list[0].(map[string]any)["displayName"] != "workspace_eng" {
		t.Errorf("renamed group by externalId: %s", r.raw)
	}
}

func TestOktaQuirks(t *testing.T) {
	e := newEnv(t, scim.Config{})
	// Probe, then create with password and groups: [].
	r := e.must(http.StatusOK, e.req("GET", "/Users?filter=userName%20eq%20%22tess%40acme.example%22&startIndex=1&count=100", nil))
	if r.body["totalResults"] != float64(0) || r.body["startIndex"] != float64(1) {
		t.Fatalf("probe: %s", r.raw)
	}
	u := e.must(http.StatusCreated, e.req("POST", "/Users", raw(`{
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName": "tess@acme.example", "name": {"givenName": "Tess", "familyName": "Ng"},
		"emails": [{"primary": true, "value": "tess@acme.example", "type": "work"}],
		"displayName": "Tess Ng", "locale": "en-US", "externalId": "00u1a2b3c4", "groups": [],
		"password": "t1meMa$heen", "active": true}`), "Content-Type", "application/json"))
	id := u.str("id")
	if u.body["password"] != nil || u.body["groups"] != nil {
		t.Errorf("create echoed password or groups: %s", u.raw)
	}
	// Read-modify-write PUT with the full resource (id, meta, groups included).
	full := e.must(http.StatusOK, e.req("GET", "/Users/"+id, nil)).body
	full["displayName"] = "Tess N."
	full["password"] = "n3wRandom!"
	e.must(http.StatusOK, e.req("PUT", "/Users/"+id, full))
	// OIN deactivation: path-less replace {"active": false}.
	e.must(http.StatusOK, e.req("PATCH", "/Users/"+id, raw(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`)))
	got := e.must(http.StatusOK, e.req("GET", "/Users/"+id, nil)).body
	if got["active"] != false || got["displayName"] != "Tess N." || got["password"] != nil {
		t.Errorf("after PUT and deactivation: %v", got)
	}
	// AIW reactivation by PUT.
	got["active"] = true
	e.must(http.StatusOK, e.req("PUT", "/Users/"+id, got))
	if e.must(http.StatusOK, e.req("GET", "/Users/"+id, nil)).body["active"] != true {
		t.Errorf("PUT active=true did not reactivate")
	}

	// Group push: create with members: [], then the delta PATCH, then rename with id.
	other := e.createUser("li@acme.example").str("id")
	g := e.must(http.StatusCreated, e.req("POST", "/Groups", raw(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"workspace_engineering","members":[]}`)))
	gid := g.str("id")
	e.must(http.StatusNoContent, e.req("PATCH", "/Groups/"+gid, raw(fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"remove","path":"members[value eq \"%s\"]"},
		{"op":"add","path":"members","value":[{"value":%q,"display":"tess@acme.example"},{"value":%q,"display":"li@acme.example"}]}]}`, other, id, other))))
	if diff := cmp.Diff(sorted(id, other), e.memberIDs(gid)); diff != "" {
		t.Errorf("after delta (-want +got):\n%s", diff)
	}
	e.must(http.StatusNoContent, e.req("PATCH", "/Groups/"+gid, raw(fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"replace","path":"members","value":[{"value":%q,"display":"li@acme.example"}]}]}`, other))))
	if diff := cmp.Diff([]string{other}, e.memberIDs(gid)); diff != "" {
		t.Errorf("after full replace (-want +got):\n%s", diff)
	}
	before := e.must(http.StatusOK, e.req("GET", "/Groups/"+gid, nil)).header.Get("ETag")
	e.must(http.StatusNoContent, e.req("PATCH", "/Groups/"+gid, raw(fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"replace","value":{"id":%q,"displayName":"workspace_engineering"}}]}`, gid))))
	// O4: the rename sent with every membership update is a cheap no-op.
	if after := e.must(http.StatusOK, e.req("GET", "/Groups/"+gid, nil)).header.Get("ETag"); after != before {
		t.Errorf("no-op rename moved the version %s -> %s", before, after)
	}
}

func TestGoogleQuirks(t *testing.T) {
	e := newEnv(t, scim.Config{})
	r := e.must(http.StatusOK, e.req("GET", "/Users?count=1", nil))
	if r.body["totalResults"] != float64(0) || r.body["itemsPerPage"] != float64(0) {
		t.Errorf("count=1 probe on an empty directory: %s", r.raw)
	}
	a := e.createUser("a@example.com").str("id")
	e.createUser("b@example.com")
	r = e.must(http.StatusOK, e.req("GET", "/Users?count=1", nil))
	if r.body["totalResults"] != float64(2) || len(ids(r)) != 1 {
		t.Errorf("count=1 probe: %s", r.raw)
	}
	gid := e.createGroup("eng", a).str("id")
	e.must(http.StatusNoContent, e.req("PATCH", "/Groups/"+gid, patchOps(op("remove", `members[value eq "`+a+`"]`, nil))))
	if got := e.memberIDs(gid); len(got) != 0 {
		t.Errorf("members: %v", got)
	}
}
