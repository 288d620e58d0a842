package patch

import (
	"fmt"
	"testing"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

func TestApplyGroup(t *testing.T) {
	current := memberSet{"u-1": true, "u-2": true}
	for _, tc := range []struct {
		name      string
		ops       string
		want      string              // the patched document; baseGroup when empty
		members   *store.MemberChange // nil: the request does not touch members
		unchanged bool
		err       errWant
	}{
		{
			name:    "E5 remove with a value list, default mode",
			ops:     `[{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "u-1"}]}]`,
			members: &store.MemberChange{Remove: []string{"u-1"}},
		},
		{
			name:    "E5 remove by filter, aadOptscim062020",
			ops:     `[{"op": "remove", "path": "members[value eq \"u-1\"]"}]`,
			members: &store.MemberChange{Remove: []string{"u-1"}},
		},
		{
			name:    "E5 add with a value list",
			ops:     `[{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "u-3"}]}]`,
			members: &store.MemberChange{Add: []string{"u-3"}},
		},
		{
			name:    "E9 the Microsoft group schema as a path-less key is ignored",
			ops:     `[{"op": "Add", "value": {"http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group": {}, "members": [{"value": "u-3"}]}}]`,
			members: &store.MemberChange{Add: []string{"u-3"}},
		},
		{
			name: "Entra rename",
			ops:  `[{"op": "Replace", "path": "displayName", "value": "workspace_eng"}]`,
			want: `{"displayName": "workspace_eng", "externalId": "3f2a9c1e"}`,
		},
		{
			name: "O2 membership delta in one request",
			ops: `[
				{"op": "remove", "path": "members[value eq \"u-1\"]"},
				{"op": "add", "path": "members", "value": [{"value": "u-3", "display": "tess@acme.example"}]}]`,
			members: &store.MemberChange{Remove: []string{"u-1"}, Add: []string{"u-3"}},
		},
		{
			name: "O3 full membership replace",
			ops: `[{"op": "replace", "path": "members", "value": [
				{"value": "u-3", "display": "tess@acme.example"}, {"value": "u-1", "display": "li@acme.example"}]}]`,
			members: &store.MemberChange{RemoveAll: true, Add: []string{"u-3", "u-1"}},
		},
		{
			name:      "O3 full replace with the current members changes nothing",
			ops:       `[{"op": "replace", "path": "members", "value": [{"value": "u-2"}, {"value": "u-1"}]}]`,
			members:   &store.MemberChange{RemoveAll: true, Add: []string{"u-2", "u-1"}},
			unchanged: true,
		},
		{
			name:    "O3 full replace with a subset",
			ops:     `[{"op": "replace", "path": "members", "value": [{"value": "u-2"}]}]`,
			members: &store.MemberChange{RemoveAll: true, Add: []string{"u-2"}},
		},
		{
			name:      "O4 rename with the same name that comes with every membership update",
			ops:       `[{"op": "replace", "value": {"id": "g-0c41", "displayName": "workspace_engineering"}}]`,
			unchanged: true,
		},
		{
			name: "O4 rename",
			ops:  `[{"op": "replace", "value": {"id": "g-0c41", "displayName": "workspace_eng"}}]`,
			want: `{"displayName": "workspace_eng", "externalId": "3f2a9c1e"}`,
		},
		{
			name:    "path-less replace with members",
			ops:     `[{"op": "replace", "value": {"id": "g-0c41", "displayName": "workspace_engineering", "members": [{"value": "u-9"}]}}]`,
			members: &store.MemberChange{RemoveAll: true, Add: []string{"u-9"}},
		},
		{
			name:    "add of one object instead of an array",
			ops:     `[{"op": "add", "path": "members", "value": {"value": "u-3"}}]`,
			members: &store.MemberChange{Add: []string{"u-3"}},
		},
		{
			name:    "remove by a filter of two ids",
			ops:     `[{"op": "remove", "path": "members[value eq \"u-1\" or value eq \"u-2\"]"}]`,
			members: &store.MemberChange{Remove: []string{"u-1", "u-2"}},
		},
		{
			name:    "SCIM-25 remove members without a filter or a value removes all",
			ops:     `[{"op": "remove", "path": "members"}]`,
			members: &store.MemberChange{RemoveAll: true},
		},
		{
			name:      "remove members with an empty list removes nothing",
			ops:       `[{"op": "remove", "path": "members", "value": []}]`,
			members:   &store.MemberChange{},
			unchanged: true,
		},
		{
			name:      "add of a present member changes nothing",
			ops:       `[{"op": "add", "path": "members", "value": [{"value": "u-1"}]}]`,
			members:   &store.MemberChange{Add: []string{"u-1"}},
			unchanged: true,
		},
		{
			name:      "remove of an absent member changes nothing",
			ops:       `[{"op": "remove", "path": "members[value eq \"u-7\"]"}]`,
			members:   &store.MemberChange{Remove: []string{"u-7"}},
			unchanged: true,
		},
		{
			name: "add then remove of the same id leaves it out",
			ops: `[{"op": "add", "path": "members", "value": [{"value": "u-3"}, {"value": "u-4"}]},
				{"op": "remove", "path": "members[value eq \"u-3\"]"}]`,
			members: &store.MemberChange{Remove: []string{"u-3"}, Add: []string{"u-4"}},
		},
		{
			name: "remove then add of the same id leaves it in",
			ops: `[{"op": "remove", "path": "members", "value": [{"value": "u-1"}]},
				{"op": "add", "path": "members", "value": [{"value": "u-1"}]}]`,
			members:   &store.MemberChange{Add: []string{"u-1"}},
			unchanged: true,
		},
		{
			name: "a later remove of all clears earlier adds",
			ops: `[{"op": "add", "path": "members", "value": [{"value": "u-3"}]},
				{"op": "remove", "path": "members[value eq \"u-1\"]"},
				{"op": "remove", "path": "members"},
				{"op": "add", "path": "members", "value": [{"value": "u-4"}]},
				{"op": "remove", "path": "members[value eq \"u-9\"]"}]`,
			members: &store.MemberChange{RemoveAll: true, Add: []string{"u-4"}},
		},
		{
			name: "members and attributes in one request",
			ops: `[{"op": "Replace", "path": "displayName", "value": "eng"},
				{"op": "Add", "path": "members", "value": [{"value": "u-3", "type": "user"}]}]`,
			want:    `{"displayName": "eng", "externalId": "3f2a9c1e"}`,
			members: &store.MemberChange{Add: []string{"u-3"}},
		},
		{name: "SCIM-22 replace of an immutable member sub-attribute", ops: `[{"op": "replace", "path": "members[value eq \"u-1\"].value", "value": "u-9"}]`, err: errWant{scimerrors.ScimTypeMutability, "immutable"}},
		{name: "remove of a member sub-attribute", ops: `[{"op": "remove", "path": "members[value eq \"u-1\"].display"}]`, err: errWant{scimerrors.ScimTypeMutability, "immutable"}},
		{name: "members.value without a filter", ops: `[{"op": "add", "path": "members.value", "value": "u-1"}]`, err: errWant{scimerrors.ScimTypeMutability, "immutable"}},
		{name: "replace through a member filter", ops: `[{"op": "replace", "path": "members[value eq \"u-1\"]", "value": {"value": "u-9"}}]`, err: errWant{scimerrors.ScimTypeMutability, "immutable"}},
		{name: "member filter on display", ops: `[{"op": "remove", "path": "members[display eq \"Tess\"]"}]`, err: errWant{scimerrors.ScimTypeInvalidFilter, "only filters on value"}},
		{name: "member filter with another operator", ops: `[{"op": "remove", "path": "members[value sw \"u-\"]"}]`, err: errWant{scimerrors.ScimTypeInvalidFilter, "only filters on value"}},
		{name: "member filter with and", ops: `[{"op": "remove", "path": "members[value eq \"u-1\" and value eq \"u-2\"]"}]`, err: errWant{scimerrors.ScimTypeInvalidFilter, "only filters on value"}},
		{name: "member filter on an unknown sub-attribute", ops: `[{"op": "remove", "path": "members[bogus eq \"x\"]"}]`, err: errWant{scimerrors.ScimTypeInvalidFilter, "bogus"}},
		{name: "member without a value", ops: `[{"op": "add", "path": "members", "value": [{"display": "Tess"}]}]`, err: errWant{scimerrors.ScimTypeInvalidValue, `members[0] has no string "value"`}},
		{name: "member with a null value", ops: `[{"op": "Remove", "path": "members", "value": [{"value": "u-1"}, {"$ref": null, "value": null}]}]`, err: errWant{scimerrors.ScimTypeInvalidValue, `members[1] has no string "value"`}},
		{name: "member value that is a number", ops: `[{"op": "add", "path": "members", "value": [{"value": 7}]}]`, err: errWant{scimerrors.ScimTypeInvalidValue, `"members.value" must be a string`}},
		{name: "member as a bare string", ops: `[{"op": "add", "path": "members", "value": ["u-1"]}]`, err: errWant{scimerrors.ScimTypeInvalidValue, `"members" must be an object`}},
		{name: "members as a string", ops: `[{"op": "add", "path": "members", "value": "u-1"}]`, err: errWant{scimerrors.ScimTypeInvalidValue, "members must be an array"}},
		{name: "member type outside its canonical values", ops: `[{"op": "add", "path": "members", "value": [{"value": "u-1", "type": "Robot"}]}]`, err: errWant{scimerrors.ScimTypeInvalidValue, `"members.type" must be one of`}},
		{name: "remove of the required displayName", ops: `[{"op": "remove", "path": "displayName"}]`, err: errWant{scimerrors.ScimTypeMutability, `"displayName" is required`}},
		{name: "a failing member operation fails the request", ops: `[{"op": "add", "path": "members", "value": [{"value": "u-3"}]}, {"op": "remove", "path": "members[display eq \"x\"]"}]`, err: errWant{scimerrors.ScimTypeInvalidFilter, "Operations[1]: "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := decodeDoc(t, baseGroup)
			got, err := run(t, resource.Group(), doc, current, envelope(tc.ops), Options{})
			if tc.err.scimType != "" {
				checkErr(t, "Apply("+tc.ops+")", err, tc.err)
				return
			}
			if err != nil {
				t.Fatalf("Apply(%s) = %v; want success", tc.ops, err)
			}
			want := tc.want
			if want == "" {
				want = baseGroup
			}
			if diff := cmp.Diff(decodeDoc(t, want), got.Doc); diff != "" {
				t.Errorf("Apply(%s) doc (-want +got):\n%s", tc.ops, diff)
			}
			if diff := cmp.Diff(tc.members, got.Members, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Apply(%s).Members (-want +got):\n%s", tc.ops, diff)
			}
			if got.Changed == tc.unchanged {
				t.Errorf("Apply(%s).Changed = %v; want %v", tc.ops, got.Changed, !tc.unchanged)
			}
		})
	}
}

// TestApplyGroupDocMembers checks that members in the stored document are
// not the engine's: they are dropped from the result.
func TestApplyGroupDocMembers(t *testing.T) {
	doc := decodeDoc(t, `{"displayName": "eng", "members": [{"value": "u-1"}]}`)
	ops := []Op{{Op: "replace", Path: "displayName", Value: "eng"}}
	got, err := Apply(resource.Group(), doc, memberSet{"u-1": true}, ops, Options{})
	if err != nil {
		t.Fatalf("Apply(%v) = %v; want success", ops, err)
	}
	if diff := cmp.Diff(decodeDoc(t, `{"displayName": "eng"}`), got.Doc); diff != "" || got.Changed || got.Members != nil {
		t.Errorf("Apply(%v) = %v, Changed %v, Members %v; want no members, unchanged (-want +got):\n%s", ops, got.Doc, got.Changed, got.Members, diff)
	}
}

// TestApplyMembersLookups checks that m is consulted only for the ids the
// request names, even for a large group.
func TestApplyMembersLookups(t *testing.T) {
	big := memberSet{}
	for i := range 10000 {
		big[fmt.Sprintf("u-%05d", i)] = true
	}
	for _, tc := range []struct {
		name            string
		ops             []Op
		visits, lookups int
		changed         bool
	}{
		{"add", []Op{{Op: "add", Path: "members", Value: []any{map[string]any{"value": "u-00001"}, map[string]any{"value": "new"}}}}, 0, 2, true},
		{"remove", []Op{{Op: "remove", Path: `members[value eq "u-00001"]`}}, 0, 1, true},
		{"replace", []Op{{Op: "replace", Path: "members", Value: []any{map[string]any{"value": "u-00001"}}}}, 2, 0, true},
		{"remove all", []Op{{Op: "remove", Path: "members"}}, 1, 0, true},
		{"rename", []Op{{Op: "replace", Value: map[string]any{"displayName": "eng"}}}, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &counting{memberSet: big}
			got, err := Apply(resource.Group(), decodeDoc(t, baseGroup), m, tc.ops, Options{})
			if err != nil {
				t.Fatalf("Apply(%v) = %v; want success", tc.ops, err)
			}
			if m.visited != tc.visits || m.lookups > tc.lookups || got.Changed != tc.changed {
				t.Errorf("Apply(%v): %d members visited, %d lookups, Changed %v; want %d visited, at most %d lookups, Changed %v",
					tc.ops, m.visited, m.lookups, got.Changed, tc.visits, tc.lookups, tc.changed)
			}
		})
	}
}

// TestApplyMembersNil checks Changed when the caller cannot read the
// membership: any member operation counts as a change.
func TestApplyMembersNil(t *testing.T) {
	ops := []Op{{Op: "add", Path: "members", Value: []any{map[string]any{"value": "u-1"}}}}
	got, err := Apply(resource.Group(), decodeDoc(t, baseGroup), nil, ops, Options{})
	if err != nil || !got.Changed || got.Members == nil {
		t.Errorf("Apply(%v, nil members) = %+v, %v; want Changed with a member change", ops, got, err)
	}
}

func BenchmarkApplyGroupAdd100(b *testing.B) {
	members := make([]any, 100)
	for i := range members {
		members[i] = map[string]any{"value": fmt.Sprintf("5c3e%04d-89ab-4cde-8f01-23456789abcd", i), "$ref": nil}
	}
	ops := []Op{{Op: "Add", Path: "members", Value: members}}
	doc := decodeDoc(b, baseGroup)
	m := memberSet{}
	b.ReportAllocs()
	for b.Loop() {
		res, err := Apply(resource.Group(), doc, m, ops, Options{})
		if err != nil || len(res.Members.Add) != 100 {
			b.Fatalf("Apply = %v, %v", res.Members, err)
		}
	}
}

func BenchmarkApplyEntraUser(b *testing.B) {
	body := decode(b, envelope(`[
		{"op": "Replace", "path": "displayName", "value": "Tess Ng"},
		{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "tess.ng@contoso.example"},
		{"op": "Replace", "path": "name.givenName", "value": "Tess"},
		{"op": "Replace", "path": "name.familyName", "value": "Ng"},
		{"op": "Replace", "path": "externalId", "value": "tng"},
		{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "E-1042"}]`)).(map[string]any)
	ops, err := Request(body, Options{})
	if err != nil {
		b.Fatal(err)
	}
	doc := decodeDoc(b, baseUser)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Apply(resource.User(), doc, nil, ops, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
