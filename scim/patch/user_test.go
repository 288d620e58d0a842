package patch

import (
	"strings"
	"testing"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/google/go-cmp/cmp"

	"github.com/scimbridge/scimbridge/scim/resource"
)

type userCase struct {
	name      string
	doc       string // the stored document; baseUser when empty
	ops       string // the Operations array
	lenient   bool   // Options.StringBooleans (Entra profile)
	want      string // the patched document; with err unset
	unchanged bool   // Result.Changed is false
	err       errWant
}

func runUserCases(t *testing.T, cases []userCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.doc
			if src == "" {
				src = baseUser
			}
			doc := decodeDoc(t, src)
			body := envelope(tc.ops)
			got, err := run(t, resource.User(), doc, nil, body, Options{Options: resource.Options{StringBooleans: tc.lenient}})
			if diff := cmp.Diff(decodeDoc(t, src), doc); diff != "" {
				t.Errorf("Apply(%s) modified its input (-before +after):\n%s", tc.ops, diff)
			}
			if tc.err.scimType != "" {
				checkErr(t, "Apply("+tc.ops+")", err, tc.err)
				return
			}
			if err != nil {
				t.Fatalf("Apply(%s) = %v; want success", tc.ops, err)
			}
			if diff := cmp.Diff(decodeDoc(t, tc.want), got.Doc); diff != "" {
				t.Errorf("Apply(%s) doc (-want +got):\n%s", tc.ops, diff)
			}
			if got.Changed == tc.unchanged {
				t.Errorf("Apply(%s).Changed = %v; want %v", tc.ops, got.Changed, !tc.unchanged)
			}
			if got.Members != nil {
				t.Errorf("Apply(%s).Members = %+v; want nil for a user", tc.ops, got.Members)
			}
		})
	}
}

// withUser returns baseUser with the top-level attributes of patch set
// (null deletes), as the expected document of a case.
func withUser(t *testing.T, patch string) string {
	t.Helper()
	doc := decodeDoc(t, baseUser)
	for k, v := range decodeDoc(t, patch) {
		if v == nil {
			delete(doc, k)
		} else {
			doc[k] = v
		}
	}
	return mustJSON(t, doc)
}

func TestApplyEntra(t *testing.T) {
	e3 := withUser(t, `{
		"displayName": "Tess Ng",
		"emails": [
			{"type": "work", "value": "tess.ng@contoso.example", "primary": true},
			{"type": "home", "value": "tess@home.example"}
		],
		"name": {"givenName": "Tess", "familyName": "Ng"},
		"externalId": "tng",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "ML", "employeeNumber": "E-1042"}
	}`)
	runUserCases(t, []userCase{
		{
			name:    "E1 deactivate, default mode",
			ops:     `[{"op": "Replace", "path": "active", "value": "False"}]`,
			lenient: true,
			want:    withUser(t, `{"active": false}`),
		},
		{
			name: "E1 string boolean without the Entra profile",
			ops:  `[{"op": "Replace", "path": "active", "value": "False"}]`,
			err:  errWant{scimerrors.ScimTypeInvalidValue, `"active" must be a boolean`},
		},
		{
			name:    "E1 string boolean is not any string",
			ops:     `[{"op": "Replace", "path": "active", "value": "yes"}]`,
			lenient: true,
			err:     errWant{scimerrors.ScimTypeInvalidValue, `"active" must be a boolean`},
		},
		{
			name:    "E1 string booleans inside a path-less value",
			ops:     `[{"op": "Replace", "value": {"active": "False", "emails": [{"type": "work", "value": "t@contoso.example", "primary": "True"}]}}]`,
			lenient: true,
			want:    withUser(t, `{"active": false, "emails": [{"type": "work", "value": "t@contoso.example", "primary": true}]}`),
		},
		{
			name: "E1 deactivate, aadOptscim062020",
			ops:  `[{"op": "replace", "path": "active", "value": false}]`,
			want: withUser(t, `{"active": false}`),
		},
		{
			name:      "E1 reactivate an active user",
			ops:       `[{"op": "Replace", "path": "active", "value": "True"}]`,
			lenient:   true,
			want:      baseUser,
			unchanged: true,
		},
		{
			name:    "E1 deactivate with Add (rancher#54025)",
			ops:     `[{"op": "Add", "path": "active", "value": "False"}]`,
			lenient: true,
			want:    withUser(t, `{"active": false}`),
		},
		{
			name: "E2 Add on a single-valued attribute sets it",
			ops:  `[{"op": "Add", "path": "nickName", "value": "Tess"}]`,
			want: withUser(t, `{"nickName": "Tess"}`),
		},
		{
			name: "E3 one op per attribute, default mode",
			ops: `[
				{"op": "Replace", "path": "displayName", "value": "Tess Ng"},
				{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "tess.ng@contoso.example"},
				{"op": "Replace", "path": "name.givenName", "value": "Tess"},
				{"op": "Replace", "path": "name.familyName", "value": "Ng"},
				{"op": "Replace", "path": "externalId", "value": "tng"},
				{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "E-1042"}
			]`,
			want: e3,
		},
		{
			name: "E3 path-less map of dotted and URN keys, aadOptscim062020",
			ops: `[
				{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "tess.ng@contoso.example"},
				{"op": "replace", "value": {
					"displayName": "Tess Ng",
					"name.givenName": "Tess",
					"name.familyName": "Ng",
					"externalId": "tng",
					"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "E-1042"}}
			]`,
			want: e3,
		},
		{
			name: "E3 filtered path as a path-less key",
			ops:  `[{"op": "replace", "value": {"emails[type eq \"work\"].value": "tess.ng@contoso.example", "displayName": "Tess Ng"}}]`,
			want: withUser(t, `{"displayName": "Tess Ng", "emails": [
				{"type": "work", "value": "tess.ng@contoso.example", "primary": true},
				{"type": "home", "value": "tess@home.example"}]}`),
		},
		{
			name: "E4 add through an eq filter creates the element",
			doc:  `{"userName": "tess@contoso.example", "emails": [{"type": "home", "value": "tess@home.example"}]}`,
			ops:  `[{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "tess@contoso.example"}]`,
			want: `{"userName": "tess@contoso.example", "emails": [
				{"type": "home", "value": "tess@home.example"},
				{"type": "work", "value": "tess@contoso.example"}]}`,
		},
		{
			name: "E4 several adds through one filter build one element",
			doc:  `{"userName": "tess@contoso.example"}`,
			ops: `[
				{"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
				{"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Springfield"},
				{"op": "Add", "path": "addresses[type eq \"work\"].postalCode", "value": "12345"},
				{"op": "Add", "path": "addresses[type eq \"work\"].country", "value": "US"}
			]`,
			want: `{"userName": "tess@contoso.example", "addresses": [
				{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield", "postalCode": "12345", "country": "US"}]}`,
		},
		{
			name: "E4 several filtered keys of one path-less add build one element",
			doc:  `{"userName": "tess@contoso.example"}`,
			ops: `[{"op": "add", "value": {
				"addresses[type eq \"work\"].locality": "Springfield",
				"addresses[type eq \"work\"].postalCode": "12345"}}]`,
			want: `{"userName": "tess@contoso.example", "addresses": [
				{"type": "work", "locality": "Springfield", "postalCode": "12345"}]}`,
		},
		{
			name: "E4 add through a filter that matches sets the sub-attribute only there",
			ops:  `[{"op": "Add", "path": "emails[type eq \"home\"].display", "value": "Home"}]`,
			want: withUser(t, `{"emails": [
				{"type": "work", "value": "tess@contoso.example", "primary": true},
				{"type": "home", "value": "tess@home.example", "display": "Home"}]}`),
		},
		{
			name: "E4 replace through a filter keeps the other emails",
			ops:  `[{"op": "Replace", "path": "emails[type eq \"home\"].value", "value": "t@home.example"}]`,
			want: withUser(t, `{"emails": [
				{"type": "work", "value": "tess@contoso.example", "primary": true},
				{"type": "home", "value": "t@home.example"}]}`),
		},
		{
			name: "E4/SCIM-26 replace through a filter that matches nothing",
			ops:  `[{"op": "Replace", "path": "emails[type eq \"other\"].value", "value": "t@other.example"}]`,
			err:  errWant{scimerrors.ScimTypeNoTarget, `no value of "emails" matches`},
		},
		{
			name: "E4 add through a non-eq filter that matches nothing",
			ops:  `[{"op": "Add", "path": "emails[value co \"nowhere\"].display", "value": "x"}]`,
			err:  errWant{scimerrors.ScimTypeNoTarget, "only a filter of eq comparisons"},
		},
		{
			name: "E6 manager as an object under its URN path",
			ops:  `[{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": "u-0012"}}]`,
			want: withUser(t, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
				"department": "ML", "employeeNumber": "E-1", "manager": {"value": "u-0012"}}}`),
		},
		{
			name: "E6 manager.value",
			ops:  `[{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "value": "u-0012"}]`,
			want: withUser(t, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
				"department": "ML", "employeeNumber": "E-1", "manager": {"value": "u-0012"}}}`),
		},
		{
			name: "E6 manager object drops the read-only displayName",
			ops:  `[{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": "u-0012", "displayName": "Boss", "$ref": "https://scim.example/Users/u-0012"}}]`,
			want: withUser(t, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
				"department": "ML", "employeeNumber": "E-1",
				"manager": {"value": "u-0012", "$ref": "https://scim.example/Users/u-0012"}}}`),
		},
		{
			name: "E6 manager.displayName is read-only",
			ops:  `[{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName", "value": "Boss"}]`,
			err:  errWant{scimerrors.ScimTypeMutability, "read-only"},
		},
		{
			name:    "E7 roles through a filter with a string boolean",
			ops:     `[{"op": "Add", "path": "roles[primary eq \"True\"].value", "value": "Admin"}]`,
			lenient: true,
			want:    withUser(t, `{"roles": [{"primary": true, "value": "Admin"}]}`),
		},
		{
			name: "E7 app roles added as values",
			ops: `[{"op": "Add", "path": "roles", "value": [
				{"value": "{\"id\":\"7b0c\",\"value\":\"workspace_admin\"}"},
				{"value": "{\"id\":\"91de\",\"value\":\"member\"}"}]}]`,
			want: withUser(t, `{"roles": [
				{"value": "{\"id\":\"7b0c\",\"value\":\"workspace_admin\"}"},
				{"value": "{\"id\":\"91de\",\"value\":\"member\"}"}]}`),
		},
		{
			name: "E11 UPN rename",
			ops:  `[{"op": "Replace", "path": "userName", "value": "tess.ng@contoso.example"}]`,
			want: withUser(t, `{"userName": "tess.ng@contoso.example"}`),
		},
	})
}

func TestApplyOkta(t *testing.T) {
	runUserCases(t, []userCase{
		{
			name: "O1 deactivate with a path-less replace",
			ops:  `[{"op": "replace", "value": {"active": false}}]`,
			want: withUser(t, `{"active": false}`),
		},
		{
			name: "O1 path-less replace with id, meta and schemas, which are ignored",
			ops:  `[{"op": "replace", "value": {"id": "u-1", "schemas": ["x"], "meta": {"version": "W/\"9\""}, "active": false}}]`,
			want: withUser(t, `{"active": false}`),
		},
		{
			name:      "O4-style idempotent replace changes nothing",
			ops:       `[{"op": "replace", "value": {"id": "u-1", "displayName": "Tess"}}]`,
			want:      baseUser,
			unchanged: true,
		},
		{
			name:      "password is checked and never stored",
			ops:       `[{"op": "replace", "value": {"password": "s3cret!"}}]`,
			want:      baseUser,
			unchanged: true,
		},
		{
			name: "password must still be a string",
			ops:  `[{"op": "replace", "path": "password", "value": 7}]`,
			err:  errWant{scimerrors.ScimTypeInvalidValue, `"password" must be a string`},
		},
	})
}

func TestApplySemantics(t *testing.T) {
	runUserCases(t, []userCase{
		{
			name: "path-less replace of a complex attribute merges",
			ops:  `[{"op": "replace", "value": {"name": {"familyName": "Ng"}}}]`,
			want: withUser(t, `{"name": {"givenName": "Tess", "familyName": "Ng"}}`),
		},
		{
			name: "replace of a complex attribute by path merges (RFC 7644 3.5.2.3)",
			ops:  `[{"op": "replace", "path": "name", "value": {"familyName": "Ng", "middleName": "T"}}]`,
			want: withUser(t, `{"name": {"givenName": "Tess", "familyName": "Ng", "middleName": "T"}}`),
		},
		{
			name: "a null sub-attribute is unassigned",
			ops:  `[{"op": "replace", "path": "name", "value": {"givenName": null}}]`,
			want: withUser(t, `{"name": {"familyName": "Nguyen"}}`),
		},
		{
			name: "a null key of a path-less value is unassigned",
			ops:  `[{"op": "replace", "value": {"displayName": null, "nickName": ""}}]`,
			want: withUser(t, `{"displayName": null}`),
		},
		{
			name: "a whole extension object under its URN key merges",
			ops:  `[{"op": "replace", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Research"}}}]`,
			want: withUser(t, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Research", "employeeNumber": "E-1"}}`),
		},
		{
			name: "the extension URN as a path",
			ops:  `[{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "value": {"costCenter": "42"}}]`,
			want: withUser(t, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "ML", "employeeNumber": "E-1", "costCenter": "42"}}`),
		},
		{
			name: "remove the extension URN",
			ops:  `[{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]`,
			want: withUser(t, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": null}`),
		},
		{
			name: "removing the last extension attribute drops the extension",
			ops: `[{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"},
				{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"}]`,
			want: withUser(t, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": null}`),
		},
		{
			name: "names in any case are stored canonically",
			ops:  `[{"op": "REPLACE", "path": "Name.GivenName", "value": "T"}, {"op": "add", "path": "NICKNAME", "value": "tt"}]`,
			want: withUser(t, `{"name": {"givenName": "T", "familyName": "Nguyen"}, "nickName": "tt"}`),
		},
		{
			name: "core URN-qualified path",
			ops:  `[{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:displayName", "value": "T"}]`,
			want: withUser(t, `{"displayName": "T"}`),
		},
		{
			name: "delete is read as remove",
			ops:  `[{"op": "delete", "path": "displayName"}]`,
			want: withUser(t, `{"displayName": null}`),
		},
		{
			name: "add to a multi-valued attribute appends",
			ops:  `[{"op": "add", "path": "emails", "value": [{"type": "other", "value": "t@other.example"}]}]`,
			want: withUser(t, `{"emails": [
				{"type": "work", "value": "tess@contoso.example", "primary": true},
				{"type": "home", "value": "tess@home.example"},
				{"type": "other", "value": "t@other.example"}]}`),
		},
		{
			name: "add of a single object to a multi-valued attribute",
			ops:  `[{"op": "add", "path": "phoneNumbers", "value": {"type": "work", "value": "+1 555 0100"}}]`,
			want: withUser(t, `{"phoneNumbers": [{"type": "work", "value": "+1 555 0100"}]}`),
		},
		{
			name:      "add of a value already present changes nothing",
			ops:       `[{"op": "add", "path": "emails", "value": [{"type": "home", "value": "tess@home.example"}]}]`,
			want:      baseUser,
			unchanged: true,
		},
		{
			name: "add of a new primary value clears the old primary",
			ops:  `[{"op": "add", "path": "emails", "value": [{"type": "other", "value": "t@other.example", "primary": true}]}]`,
			want: withUser(t, `{"emails": [
				{"type": "work", "value": "tess@contoso.example", "primary": false},
				{"type": "home", "value": "tess@home.example"},
				{"type": "other", "value": "t@other.example", "primary": true}]}`),
		},
		{
			name:    "setting primary through a filter clears the old primary",
			ops:     `[{"op": "Replace", "path": "emails[type eq \"home\"].primary", "value": "True"}]`,
			lenient: true,
			want: withUser(t, `{"emails": [
				{"type": "work", "value": "tess@contoso.example", "primary": false},
				{"type": "home", "value": "tess@home.example", "primary": true}]}`),
		},
		{
			name: "two primary values are refused",
			ops:  `[{"op": "replace", "path": "emails", "value": [{"value": "a@x.example", "primary": true}, {"value": "b@x.example", "primary": true}]}]`,
			err:  errWant{scimerrors.ScimTypeInvalidValue, "more than one value marked primary"},
		},
		{
			name: "replace of a multi-valued attribute replaces the set",
			ops:  `[{"op": "replace", "path": "emails", "value": [{"type": "work", "value": "new@contoso.example"}]}]`,
			want: withUser(t, `{"emails": [{"type": "work", "value": "new@contoso.example"}]}`),
		},
		{
			name: "replace of a whole element through a filter",
			ops:  `[{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"type": "other", "value": "t@other.example"}}]`,
			want: withUser(t, `{"emails": [
				{"type": "work", "value": "tess@contoso.example", "primary": true},
				{"type": "other", "value": "t@other.example"}]}`),
		},
		{
			name: "add of an object through a filter merges into the element",
			ops:  `[{"op": "add", "path": "emails[type eq \"home\"]", "value": {"display": "Home"}}]`,
			want: withUser(t, `{"emails": [
				{"type": "work", "value": "tess@contoso.example", "primary": true},
				{"type": "home", "value": "tess@home.example", "display": "Home"}]}`),
		},
		{
			name: "sub-attribute of a multi-valued attribute without a filter addresses every element",
			doc:  `{"userName": "tess@contoso.example", "emails": [{"type": "work", "value": "a@x.example"}]}`,
			ops:  `[{"op": "replace", "path": "emails.value", "value": "b@x.example"}]`,
			want: `{"userName": "tess@contoso.example", "emails": [{"type": "work", "value": "b@x.example"}]}`,
		},
		{
			name: "sub-attribute of an empty multi-valued attribute creates one element",
			doc:  `{"userName": "tess@contoso.example"}`,
			ops:  `[{"op": "replace", "path": "emails.value", "value": "b@x.example"}]`,
			want: `{"userName": "tess@contoso.example", "emails": [{"value": "b@x.example"}]}`,
		},
		{
			name: "remove through a filter",
			ops:  `[{"op": "remove", "path": "emails[type eq \"home\"]"}]`,
			want: withUser(t, `{"emails": [{"type": "work", "value": "tess@contoso.example", "primary": true}]}`),
		},
		{
			name: "remove of a sub-attribute through a filter",
			ops:  `[{"op": "remove", "path": "emails[type eq \"work\"].primary"}]`,
			want: withUser(t, `{"emails": [
				{"type": "work", "value": "tess@contoso.example"},
				{"type": "home", "value": "tess@home.example"}]}`),
		},
		{
			name:      "remove through a filter that matches nothing succeeds",
			ops:       `[{"op": "remove", "path": "emails[type eq \"other\"]"}]`,
			want:      baseUser,
			unchanged: true,
		},
		{
			name: "remove with a value list removes exactly those values",
			ops:  `[{"op": "Remove", "path": "emails", "value": [{"value": "tess@home.example", "$ref": null}]}]`,
			want: withUser(t, `{"emails": [{"type": "work", "value": "tess@contoso.example", "primary": true}]}`),
		},
		{
			name:      "remove with a value list that matches nothing removes nothing",
			ops:       `[{"op": "Remove", "path": "emails", "value": [{"value": "nobody@x.example"}]}]`,
			want:      baseUser,
			unchanged: true,
		},
		{
			name:      "remove with an empty value list removes nothing",
			ops:       `[{"op": "Remove", "path": "emails", "value": [{"$ref": null}]}]`,
			want:      baseUser,
			unchanged: true,
		},
		{
			name: "remove of a multi-valued attribute without a value removes all",
			ops:  `[{"op": "remove", "path": "emails"}]`,
			want: withUser(t, `{"emails": null}`),
		},
		{
			name:      "remove of an absent attribute succeeds",
			ops:       `[{"op": "remove", "path": "nickName"}, {"op": "remove", "path": "name.middleName"}, {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]`,
			want:      baseUser,
			unchanged: true,
		},
		{
			name: "operations apply in order",
			ops:  `[{"op": "remove", "path": "name"}, {"op": "add", "path": "name.givenName", "value": "T"}]`,
			want: withUser(t, `{"name": {"givenName": "T"}}`),
		},
		{
			name: "filter string literals are decoded",
			ops:  `[{"op": "add", "path": "roles[value eq \"a\\\"b\"].display", "value": "quoted"}]`,
			want: withUser(t, `{"roles": [{"value": "a\"b", "display": "quoted"}]}`),
		},
	})
}

func TestApplyErrors(t *testing.T) {
	runUserCases(t, []userCase{
		{name: "SCIM-21 add groups", ops: `[{"op": "add", "path": "groups", "value": [{"value": "g-1"}]}]`, err: errWant{scimerrors.ScimTypeMutability, `"groups" is read-only`}},
		{name: "SCIM-21 groups as a path-less key", ops: `[{"op": "add", "value": {"groups": [{"value": "g-1"}]}}]`, err: errWant{scimerrors.ScimTypeMutability, `"groups" is read-only`}},
		{name: "SCIM-21 replace meta", ops: `[{"op": "replace", "path": "meta", "value": {}}]`, err: errWant{scimerrors.ScimTypeMutability, `"meta" is read-only`}},
		{name: "SCIM-21 replace meta.version", ops: `[{"op": "replace", "path": "meta.version", "value": "W/\"1\""}]`, err: errWant{scimerrors.ScimTypeMutability, "read-only"}},
		{name: "SCIM-21 replace id", ops: `[{"op": "replace", "path": "id", "value": "u-2"}]`, err: errWant{scimerrors.ScimTypeMutability, `"id" is read-only`}},
		{name: "remove id", ops: `[{"op": "remove", "path": "id"}]`, err: errWant{scimerrors.ScimTypeMutability, `"id" is read-only`}},
		{name: "schemas", ops: `[{"op": "add", "path": "schemas", "value": ["urn:x"]}]`, err: errWant{scimerrors.ScimTypeMutability, "schemas"}},
		{name: "remove of a required attribute", ops: `[{"op": "remove", "path": "userName"}]`, err: errWant{scimerrors.ScimTypeMutability, `"userName" is required`}},
		{name: "blanking a required attribute", ops: `[{"op": "replace", "path": "userName", "value": ""}]`, err: errWant{scimerrors.ScimTypeInvalidValue, `"userName" is required`}},
		{name: "remove without a path", ops: `[{"op": "remove"}]`, err: errWant{scimerrors.ScimTypeNoTarget, "needs a path"}},
		{name: "add without a value", ops: `[{"op": "add", "path": "nickName"}]`, err: errWant{scimerrors.ScimTypeInvalidValue, "needs a value"}},
		{name: "path-less replace with a scalar", ops: `[{"op": "replace", "value": "x"}]`, err: errWant{scimerrors.ScimTypeInvalidValue, "needs an object value"}},
		{name: "unknown attribute", ops: `[{"op": "replace", "path": "isAdmin", "value": true}]`, err: errWant{scimerrors.ScimTypeInvalidPath, `unknown attribute "isAdmin"`}},
		{name: "unknown attribute as a path-less key", ops: `[{"op": "replace", "value": {"isAdmin": true}}]`, err: errWant{scimerrors.ScimTypeInvalidPath, `unknown attribute "isAdmin"`}},
		{name: "unknown sub-attribute", ops: `[{"op": "replace", "path": "name.nick", "value": "x"}]`, err: errWant{scimerrors.ScimTypeInvalidPath, `unknown attribute "name.nick"`}},
		{name: "unknown schema", ops: `[{"op": "replace", "path": "urn:example:custom:1.0:User:level", "value": "x"}]`, err: errWant{scimerrors.ScimTypeInvalidPath, "unknown schema"}},
		{name: "core schema URN as a path", ops: `[{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User", "value": {}}]`, err: errWant{scimerrors.ScimTypeInvalidPath, "core schema"}},
		{name: "malformed path", ops: `[{"op": "replace", "path": "name..givenName", "value": "x"}]`, err: errWant{scimerrors.ScimTypeInvalidPath, "not valid SCIM path syntax"}},
		{name: "trailing dot", ops: `[{"op": "replace", "path": "name.", "value": {}}]`, err: errWant{scimerrors.ScimTypeInvalidPath, "not valid SCIM path syntax"}},
		{name: "URN with nothing after it", ops: `[{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:", "value": "x"}]`, err: errWant{scimerrors.ScimTypeInvalidPath, "not valid SCIM path syntax"}},
		{name: "space in a name", ops: `[{"op": "replace", "path": "display Name", "value": "x"}]`, err: errWant{scimerrors.ScimTypeInvalidPath, "unknown attribute"}},
		{name: "path too long", ops: `[{"op": "remove", "path": "emails[value eq \"` + strings.Repeat("x", MaxPathLength) + `\"]"}]`, err: errWant{scimerrors.ScimTypeInvalidPath, "longer than 1024 bytes"}},
		{name: "path too deep", ops: `[{"op": "replace", "path": "emails[type eq \"work\"].value.x", "value": "x"}]`, err: errWant{scimerrors.ScimTypeInvalidPath, "not valid SCIM path syntax"}},
		{name: "three comparisons in a filter", ops: `[{"op": "remove", "path": "emails[type eq \"a\" or type eq \"b\" or type eq \"c\"]"}]`, err: errWant{scimerrors.ScimTypeInvalidPath, "at most two comparisons"}},
		{name: "filter on a single-valued attribute", ops: `[{"op": "remove", "path": "name[givenName eq \"Tess\"]"}]`, err: errWant{scimerrors.ScimTypeInvalidPath, "multi-valued complex"}},
		{name: "filter on an unknown sub-attribute", ops: `[{"op": "remove", "path": "emails[kind eq \"work\"]"}]`, err: errWant{scimerrors.ScimTypeInvalidFilter, "kind"}},
		{name: "wrong type", ops: `[{"op": "replace", "path": "displayName", "value": 5}]`, err: errWant{scimerrors.ScimTypeInvalidValue, `"displayName" must be a string`}},
		{name: "wrong type inside a path-less value", ops: `[{"op": "replace", "value": {"name": {"givenName": true}}}]`, err: errWant{scimerrors.ScimTypeInvalidValue, `"name.givenName" must be a string`}},
		{name: "wrong type through a filter", ops: `[{"op": "add", "path": "emails[type eq \"work\"].primary", "value": "maybe"}]`, err: errWant{scimerrors.ScimTypeInvalidValue, `"emails.primary" must be a boolean`}},
		{name: "multi-valued given a scalar", ops: `[{"op": "add", "path": "emails", "value": "a@x.example"}]`, err: errWant{scimerrors.ScimTypeInvalidValue, `"emails" is multi-valued`}},
		{name: "control characters", ops: `[{"op": "replace", "path": "userName", "value": "a\u0000b"}]`, err: errWant{scimerrors.ScimTypeInvalidValue, "control characters"}},
		{name: "unknown op", ops: `[{"op": "move", "path": "nickName"}]`, err: errWant{scimerrors.ScimTypeInvalidSyntax, `unknown op "move"`}},
		{name: "keys twice in different cases", ops: `[{"op": "replace", "value": {"displayName": "a", "DisplayName": "b"}}]`, err: errWant{scimerrors.ScimTypeInvalidSyntax, "given twice"}},
		{name: "operation index in the detail", ops: `[{"op": "add", "path": "nickName", "value": "ok"}, {"op": "add", "path": "bogus", "value": 1}]`, err: errWant{scimerrors.ScimTypeInvalidPath, "Operations[1]: "}},
		{name: "members on a user", ops: `[{"op": "add", "path": "members", "value": [{"value": "u-1"}]}]`, err: errWant{scimerrors.ScimTypeInvalidPath, `unknown attribute "members"`}},
	})
}

// TestApplyAtomic checks that a failing operation leaves nothing applied,
// and that the input document is never modified.
func TestApplyAtomic(t *testing.T) {
	doc := decodeDoc(t, baseUser)
	ops := []Op{
		{Op: "replace", Path: "displayName", Value: "changed"},
		{Op: "add", Path: "emails", Value: []any{map[string]any{"value": "x@x.example"}}},
		{Op: "replace", Path: "active", Value: "not a boolean"},
	}
	if _, err := Apply(resource.User(), doc, nil, ops, Options{}); err == nil {
		t.Fatalf("Apply(%v) = nil error; want invalidValue", ops)
	}
	if diff := cmp.Diff(decodeDoc(t, baseUser), doc); diff != "" {
		t.Errorf("Apply(%v) modified its input (-before +after):\n%s", ops, diff)
	}

	res, err := Apply(resource.User(), doc, nil, ops[:2], Options{})
	if err != nil {
		t.Fatalf("Apply(%v) = %v; want success", ops[:2], err)
	}
	// The result shares nothing with the input: changing it leaves doc alone.
	res.Doc["name"].(map[string]any)["givenName"] = "mutated"
	res.Doc["emails"].([]any)[0].(map[string]any)["value"] = "mutated"
	if diff := cmp.Diff(decodeDoc(t, baseUser), doc); diff != "" {
		t.Errorf("Apply(%v) result aliases its input (-before +after):\n%s", ops[:2], diff)
	}
}

// TestApplyViewDoc checks that a document carrying id, meta and schemas
// (a resource.View) patches like the stored document.
func TestApplyViewDoc(t *testing.T) {
	doc := decodeDoc(t, baseUser)
	doc["id"] = "u-1"
	doc["schemas"] = []any{resource.UserSchema}
	doc["meta"] = map[string]any{"version": `W/"3"`}
	ops := []Op{{Op: "Replace", Path: "displayName", Value: "Tess"}}
	got, err := Apply(resource.User(), doc, nil, ops, Options{})
	if err != nil {
		t.Fatalf("Apply(%v) = %v; want success", ops, err)
	}
	if diff := cmp.Diff(decodeDoc(t, baseUser), got.Doc); diff != "" || got.Changed {
		t.Errorf("Apply(%v) = %v, Changed %v; want the stored document unchanged (-want +got):\n%s", ops, got.Doc, got.Changed, diff)
	}
}

func TestApplyNilType(t *testing.T) {
	ops := []Op{{Op: "add", Path: "nickName", Value: "x"}}
	if _, err := Apply(nil, resource.Doc{}, nil, ops, Options{}); err == nil || err.Status != 500 {
		t.Errorf("Apply(nil type) = %v; want a 500 error", err)
	}
	if _, err := Apply(resource.User(), resource.Doc{}, nil, nil, Options{}); err == nil || err.ScimType != scimerrors.ScimTypeInvalidValue {
		t.Errorf("Apply(no ops) = %v; want invalidValue", err)
	}
	many := make([]Op, 3)
	if _, err := Apply(resource.User(), resource.Doc{}, nil, many, Options{MaxOperations: 2}); err == nil || err.ScimType != scimerrors.ScimTypeTooMany {
		t.Errorf("Apply(3 ops, max 2) = %v; want tooMany", err)
	}
}
