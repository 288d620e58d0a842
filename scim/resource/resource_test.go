package resource

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolve(t *testing.T) {
	u := User()
	cases := []struct {
		uri, name, sub string
		want           string // Name(u), or "error"
	}{
		{"", "userName", "", "userName"},
		{"", "USERNAME", "", "userName"},
		{"", "name", "givenname", "name.givenName"},
		{"", "emails", "value", "emails.value"},
		{"", "id", "", "id"},
		{"", "externalId", "", "externalId"},
		{"", "meta", "lastModified", "meta.lastModified"},
		{UserSchema, "userName", "", "userName"},
		{EnterpriseUserSchema, "employeeNumber", "", EnterpriseUserSchema + ":employeeNumber"},
		{EnterpriseUserSchema, "manager", "value", EnterpriseUserSchema + ":manager.value"},
		{"", "bogus", "", "error"},
		{"", "userName", "x", "error"},
		{"", "name", "bogus", "error"},
		{"urn:example:bogus", "x", "", "error"},
		{EnterpriseUserSchema, "userName", "", "error"},
		{UserSchema, "id", "", "error"}, // common attributes are not in the core schema
	}
	for _, c := range cases {
		a, err := u.Resolve(c.uri, c.name, c.sub)
		got := "error"
		if err == nil {
			got = a.Name(u)
		}
		if got != c.want {
			t.Errorf("Resolve(%q, %q, %q) = %q (%v); want %q", c.uri, c.name, c.sub, got, err, c.want)
		}
	}
}

func TestResolveName(t *testing.T) {
	u := User()
	for full, want := range map[string]string{
		"name.givenName":                                      "name.givenName",
		EnterpriseUserSchema + ":manager.value":               EnterpriseUserSchema + ":manager.value",
		"urn:ietf:params:scim:schemas:core:2.0:User:userName": "userName",
		EnterpriseUserSchema:                                  "urn " + EnterpriseUserSchema,
		"a.b.c":                                               "error",
		"urn:example:x:y":                                     "error",
	} {
		a, urn, err := u.ResolveName(full)
		got := a.Name(u)
		switch {
		case err != nil:
			got = "error"
		case urn != "":
			got = "urn " + urn
		}
		if got != want {
			t.Errorf("ResolveName(%q) = %q; want %q", full, got, want)
		}
	}
}

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNormalize(t *testing.T) {
	in := decode(t, `{
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"id": "client-chosen", "meta": {"resourceType": "User"}, "groups": [{"value": "g"}],
		"UserName": "alice", "password": "secret", "isAdmin": true,
		"NAME": {"GivenName": "A", "bogus": 1},
		"emails": [{"value": "a@x", "primary": true}, null],
		"nickName": null, "title": "",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7", "manager": {"value": "m", "displayName": "ignored"}}
	}`)
	got, err := User().Normalize(in, Options{})
	if err != nil {
		t.Fatalf("Normalize: %v", err)
	}
	want := Doc{
		"userName":           "alice",
		"name":               map[string]any{"givenName": "A"},
		"emails":             []any{map[string]any{"value": "a@x", "primary": true}},
		EnterpriseUserSchema: map[string]any{"employeeNumber": "7", "manager": map[string]any{"value": "m"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Normalize (-want +got):\n%s", diff)
	}

	bad := map[string]string{
		"no schemas":          `{"userName": "a"}`,
		"core URN missing":    `{"schemas": ["` + EnterpriseUserSchema + `"], "userName": "a"}`,
		"unknown schema":      `{"schemas": ["` + UserSchema + `", "urn:x"], "userName": "a"}`,
		"missing userName":    `{"schemas": ["` + UserSchema + `"]}`,
		"blank userName":      `{"schemas": ["` + UserSchema + `"], "userName": " "}`,
		"boolean as string":   `{"schemas": ["` + UserSchema + `"], "userName": "a", "active": "true"}`,
		"object for array":    `{"schemas": ["` + UserSchema + `"], "userName": "a", "emails": {"value": "x"}}`,
		"string for complex":  `{"schemas": ["` + UserSchema + `"], "userName": "a", "name": "A B"}`,
		"number for string":   `{"schemas": ["` + UserSchema + `"], "userName": 5}`,
		"case duplicate":      `{"schemas": ["` + UserSchema + `"], "userName": "a", "USERNAME": "b"}`,
		"control in userName": `{"schemas": ["` + UserSchema + `"], "userName": "a\u0007b"}`,
		"format char":         `{"schemas": ["` + UserSchema + `"], "userName": "a\u200db"}`,
		"extension not obj":   `{"schemas": ["` + UserSchema + `"], "userName": "a", "` + EnterpriseUserSchema + `": "x"}`,
		"bad base64":          `{"schemas": ["` + UserSchema + `"], "userName": "a", "x509Certificates": [{"value": "!!"}]}`,
	}
	for name, body := range bad {
		if _, err := User().Normalize(decode(t, body), Options{}); err == nil || err.Status != 400 || err.Detail == "" {
			t.Errorf("Normalize(%s) = %v; want a 400 with a detail", name, err)
		}
	}
	// Entra's string booleans, only when the profile asks for them.
	got, err = User().Normalize(decode(t, `{"schemas": ["`+UserSchema+`"], "userName": "a", "active": "False"}`), Options{StringBooleans: true})
	if err != nil || got["active"] != false {
		t.Errorf("StringBooleans: %v %v", got, err)
	}
	if _, err := User().Normalize(decode(t, `{"schemas": ["`+UserSchema+`"], "userName": "a", "active": "no"}`), Options{StringBooleans: true}); err == nil {
		t.Errorf(`StringBooleans accepted "no"`)
	}
	// Entra's group schema is accepted and carries nothing.
	g, err := Group().Normalize(decode(t, `{"schemas": ["`+GroupSchema+`", "`+MicrosoftGroupSchema+`"], "displayName": "Eng", "members": [{"value": "u1", "type": "user"}]}`), Options{})
	if err != nil {
		t.Fatalf("group: %v", err)
	}
	if diff := cmp.Diff(Doc{"displayName": "Eng", "members": []any{map[string]any{"value": "u1", "type": "User"}}}, g); diff != "" {
		t.Errorf("group (-want +got):\n%s", diff)
	}
}

func TestCheckText(t *testing.T) {
	for s, want := range map[string]bool{
		"alice@example.com": true, "José": true, "a\tb": false, "a\x00b": false,
		"a\u200bb": false, "a\u202eb": false, "\ufeffa": false, "a\xffb": false,
	} {
		if got := CheckText(s, true) == nil; got != want {
			t.Errorf("CheckText(%q, true) ok = %v; want %v", s, got, want)
		}
	}
	if CheckText("line\nbreak\ttab", false) != nil {
		t.Errorf("CheckText refused newline and tab in free text")
	}
}

func TestLenientShapes(t *testing.T) {
	u := User()
	// Entra's manager shapes: a bare id, and a one-element array.
	for _, body := range []string{
		`{"schemas": ["` + UserSchema + `"], "userName": "a", "` + EnterpriseUserSchema + `": {"manager": "u-0012"}}`,
		`{"schemas": ["` + UserSchema + `"], "userName": "a", "` + EnterpriseUserSchema + `": {"manager": [{"value": "u-0012", "$ref": "https://x/Users/u-0012"}]}}`,
	} {
		got, err := u.Normalize(decode(t, body), Options{})
		if err != nil {
			t.Fatalf("Normalize(%s): %v", body, err)
		}
		m, _ := got[EnterpriseUserSchema].(map[string]any)["manager"].(map[string]any)
		if m["value"] != "u-0012" {
			t.Errorf("Normalize(%s) manager = %v; want value u-0012", body, m)
		}
	}
	// Two elements for a single-valued attribute stay an error.
	if _, err := u.Normalize(decode(t, `{"schemas": ["`+UserSchema+`"], "userName": ["a", "b"]}`), Options{}); err == nil {
		t.Errorf("two-element array for userName accepted")
	}
	// An unqualified extension attribute name resolves to the extension.
	a, err := u.Resolve("", "manager", "value")
	if err != nil || a.Name(u) != EnterpriseUserSchema+":manager.value" {
		t.Errorf(`Resolve("", "manager", "value") = %q, %v`, a.Name(u), err)
	}
}
