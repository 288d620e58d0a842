package scim_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/scimbridge/scimbridge/scim"
)

func TestUserPatch(t *testing.T) {
	e := newEnv(t, scim.Config{})
	fresh := func() string {
		e.t.Helper()
		r := e.req("GET", "/Users?filter=userName%20eq%20%22p%40example.com%22", nil)
		if list := ids(r); len(list) == 1 {
			e.must(http.StatusNoContent, e.req("DELETE", "/Users/"+list[0], nil))
		}
		return e.createUser("p@example.com", map[string]any{
			"displayName": "P",
			"name":        map[string]any{"givenName": "Pat", "familyName": "Lee", "middleName": "Q"},
			"emails": []any{
				map[string]any{"value": "p@example.com", "type": "work", "primary": true},
				map[string]any{"value": "p@home.example", "type": "home"},
			},
		}).str("id")
	}
	cases := []struct {
		name  string
		ops   []map[string]any
		check func(t *testing.T, u map[string]any)
	}{
		{"replace with path", []map[string]any{op("replace", "displayName", "Pat Lee")}, func(t *testing.T, u map[string]any) {
			if u["displayName"] != "Pat Lee" {
				t.Errorf("displayName = %v", u["displayName"])
			}
		}},
		{"replace without path", []map[string]any{op("replace", "", map[string]any{"displayName": "X", "active": false})}, func(t *testing.T, u map[string]any) {
			if u["displayName"] != "X" || u["active"] != false {
				t.Errorf("user = %v", u)
			}
		}},
		{"complex replace keeps unmentioned sub-attributes", []map[string]any{op("replace", "name", map[string]any{"givenName": "Patricia"})}, func(t *testing.T, u map[string]any) {
			want := map[string]any{"givenName": "Patricia", "familyName": "Lee", "middleName": "Q"}
			if diff := cmp.Diff(want, u["name"]); diff != "" {
				t.Errorf("name (-want +got):\n%s", diff)
			}
		}},
		{"sub-attribute path", []map[string]any{op("replace", "name.familyName", "Li")}, func(t *testing.T, u map[string]any) {
			if u["name"].(map[string]any)["familyName"] != "Li" || u["name"].(map[string]any)["givenName"] != "Pat" {
				t.Errorf("name = %v", u["name"])
			}
		}},
		{"value filter sub-attribute replace", []map[string]any{op("replace", `emails[type eq "work"].value`, "pat@example.com")}, func(t *testing.T, u map[string]any) {
			emails := u["emails"].([]any)
			if len(emails) != 2 || emails[0].(map[string]any)["value"] != "pat@example.com" || emails[1].(map[string]any)["value"] != "p@home.example" {
				t.Errorf("emails = %v", emails)
			}
		}},
		{"add to multi-valued", []map[string]any{op("add", "emails", []any{map[string]any{"value": "p@other.example", "type": "other"}})}, func(t *testing.T, u map[string]any) {
			if len(u["emails"].([]any)) != 3 {
				t.Errorf("emails = %v", u["emails"])
			}
		}},
		{"add without path", []map[string]any{op("add", "", map[string]any{"nickName": "pq", "title": "Boss"})}, func(t *testing.T, u map[string]any) {
			if u["nickName"] != "pq" || u["title"] != "Boss" {
				t.Errorf("user = %v", u)
			}
		}},
		{"remove with value filter", []map[string]any{op("remove", `emails[type eq "home"]`, nil)}, func(t *testing.T, u map[string]any) {
			emails := u["emails"].([]any)
			if len(emails) != 1 || emails[0].(map[string]any)["type"] != "work" {
				t.Errorf("emails = %v", emails)
			}
		}},
		{"remove attribute", []map[string]any{op("remove", "name.middleName", nil), op("remove", "displayName", nil)}, func(t *testing.T, u map[string]any) {
			if u["displayName"] != nil || u["name"].(map[string]any)["middleName"] != nil {
				t.Errorf("user = %v", u)
			}
		}},
		{"enterprise extension by URN path", []map[string]any{op("add", entURN+":employeeNumber", "E-9"), op("replace", entURN+":manager", map[string]any{"value": "m-2"})}, func(t *testing.T, u map[string]any) {
			ent, _ := u[entURN].(map[string]any)
			if ent["employeeNumber"] != "E-9" || ent["manager"].(map[string]any)["value"] != "m-2" {
				t.Errorf("enterprise = %v", ent)
			}
		}},
		{"deactivate", []map[string]any{op("replace", "active", false)}, func(t *testing.T, u map[string]any) {
			if u["active"] != false {
				t.Errorf("active = %v", u["active"])
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := fresh()
			r := e.must(http.StatusOK, e.req("PATCH", "/Users/"+id, patchOps(c.ops...)))
			c.check(t, r.body)
			// The response is what is stored.
			got := e.must(http.StatusOK, e.req("GET", "/Users/"+id, nil))
			c.check(t, got.body)
		})
	}

	refused := []struct {
		name, scimType string
		ops            []map[string]any
	}{
		{"replace with non-matching filter", "noTarget", []map[string]any{op("replace", `emails[type eq "pager"].value`, "x")}},
		{"remove without path", "noTarget", []map[string]any{op("remove", "", nil)}},
		{"read-only groups", "mutability", []map[string]any{op("add", "groups", []any{map[string]any{"value": "g"}})}},
		{"read-only id", "", []map[string]any{op("replace", "id", "new-id")}},
		{"read-only meta", "", []map[string]any{op("replace", "meta", map[string]any{"version": "1"})}},
		{"unknown attribute", "invalidPath", []map[string]any{op("replace", "bogus", "x")}},
		{"wrong type", "invalidValue", []map[string]any{op("replace", "active", "yes")}},
		{"atomic: second op fails", "invalidPath", []map[string]any{op("replace", "displayName", "Changed"), op("replace", "bogus", "x")}},
		{"unknown op", "", []map[string]any{op("merge", "displayName", "x")}},
	}
	id := fresh()
	before := e.snapshot("/Users/" + id)
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			r := e.req("PATCH", "/Users/"+id, patchOps(c.ops...))
			if r.status != http.StatusBadRequest {
				t.Fatalf("status = %d; want 400\n%s", r.status, r.raw)
			}
			if c.scimType != "" {
				e.wantError(r, http.StatusBadRequest, c.scimType)
			}
			if after := e.snapshot("/Users/" + id); after != before {
				t.Errorf("refused PATCH changed the user:\n%s\n%s", before, after)
			}
		})
	}
	// A PATCH that changes nothing keeps the version.
	etag := e.must(http.StatusOK, e.req("GET", "/Users/"+id, nil)).header.Get("ETag")
	r := e.must(http.StatusOK, e.req("PATCH", "/Users/"+id, patchOps(op("replace", "displayName", "P"))))
	if r.header.Get("ETag") != etag {
		t.Errorf("no-op PATCH moved the ETag %s -> %s", etag, r.header.Get("ETag"))
	}
}

func TestGroupPatchMembers(t *testing.T) {
	e := newEnv(t, scim.Config{})
	a := e.createUser("a@example.com").str("id")
	b := e.createUser("b@example.com").str("id")
	c := e.createUser("c@example.com").str("id")
	gid := e.createGroup("team", a, b).str("id")

	// Entra's removal with a value list removes only the listed member.
	e.must(http.StatusNoContent, e.req("PATCH", "/Groups/"+gid, patchOps(
		map[string]any{"op": "Remove", "path": "members", "value": []any{map[string]any{"$ref": nil, "value": a}}})))
	if diff := cmp.Diff([]string{b}, e.memberIDs(gid)); diff != "" {
		t.Errorf("after Entra remove (-want +got):\n%s", diff)
	}
	// Okta's full replace.
	e.must(http.StatusNoContent, e.req("PATCH", "/Groups/"+gid, patchOps(op("replace", "members", []any{
		map[string]any{"value": a, "display": "a"}, map[string]any{"value": c, "display": "c"}}))))
	if diff := cmp.Diff(sorted(a, c), e.memberIDs(gid)); diff != "" {
		t.Errorf("after replace (-want +got):\n%s", diff)
	}
	// Okta's rename carries the id; it is ignored.
	e.must(http.StatusNoContent, e.req("PATCH", "/Groups/"+gid, patchOps(op("replace", "", map[string]any{"id": gid, "displayName": "team-renamed"}))))
	g := e.must(http.StatusOK, e.req("GET", "/Groups/"+gid+"?excludedAttributes=members", nil))
	if g.str("displayName") != "team-renamed" {
		t.Errorf("rename: %s", g.raw)
	}
	// Member sub-attributes are immutable.
	e.wantError(e.req("PATCH", "/Groups/"+gid, patchOps(op("replace", `members[value eq "`+a+`"].value`, b))), http.StatusBadRequest, "mutability")
	// remove members without a filter or value removes all (RFC 7644 3.5.2.2).
	e.must(http.StatusNoContent, e.req("PATCH", "/Groups/"+gid, patchOps(op("remove", "members", nil))))
	if got := e.memberIDs(gid); len(got) != 0 {
		t.Errorf("after remove all: %v", got)
	}
}
