package filter

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

func lk(f store.Field, v string) *store.Plan {
	return &store.Plan{Op: store.PlanLookup, Field: f, Value: v}
}

func TestPlan(t *testing.T) {
	user, group := resource.User(), resource.Group()
	tests := []struct {
		typ    *resource.Type
		filter string
		want   *store.Plan
	}{
		{user, `userName eq "Alice@X"`, lk(store.FieldUserName, "Alice@X")},
		{user, `USERNAME EQ "a\"b"`, lk(store.FieldUserName, `a"b`)},
		{user, `userName eq jyoung`, lk(store.FieldUserName, "jyoung")},
		{user, `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, lk(store.FieldUserName, "x")},
		{user, `userName sw "ali"`, &store.Plan{Op: store.PlanLookup, Field: store.FieldUserName, Value: "ali", Prefix: true}},
		{user, `id eq "u1"`, lk(store.FieldID, "u1")},
		{user, `urn:ietf:params:scim:schemas:core:2.0:User:id eq "u1"`, lk(store.FieldID, "u1")},
		{user, `externalId eq "Ext-1"`, lk(store.FieldExternalID, "Ext-1")},
		{user, `externalId eq 3f2a9c1e-0000`, lk(store.FieldExternalID, "3f2a9c1e-0000")},
		{user, `emails.value eq "a@x"`, lk(store.FieldEmail, "a@x")},
		{user, `emails[value eq "a@x"]`, lk(store.FieldEmail, "a@x")},
		{user, `emails[type eq "work" and value eq "a@x"]`, lk(store.FieldEmail, "a@x")},
		{user, `emails[type eq "work"].value eq "a@x"`, lk(store.FieldEmail, "a@x")},
		{user, `emails[value eq "a@x" or value eq "b@x"]`, &store.Plan{Op: store.PlanOr, Subs: []*store.Plan{lk(store.FieldEmail, "a@x"), lk(store.FieldEmail, "b@x")}}},
		{user, `userName eq "a" and active eq true`, lk(store.FieldUserName, "a")},
		{user, `active eq true and userName eq "a"`, lk(store.FieldUserName, "a")},
		{user, `userName eq "a" and externalId eq "b"`, &store.Plan{Op: store.PlanAnd, Subs: []*store.Plan{lk(store.FieldUserName, "a"), lk(store.FieldExternalID, "b")}}},
		{user, `externalId eq "e" or userName eq "a"`, &store.Plan{Op: store.PlanOr, Subs: []*store.Plan{lk(store.FieldExternalID, "e"), lk(store.FieldUserName, "a")}}},
		{user, `id eq "1" or id eq "2" or id eq "3"`, &store.Plan{Op: store.PlanOr, Subs: []*store.Plan{lk(store.FieldID, "1"), lk(store.FieldID, "2"), lk(store.FieldID, "3")}}},
		{user, `(userName eq "a" or userName eq "b") and title pr`, &store.Plan{Op: store.PlanOr, Subs: []*store.Plan{lk(store.FieldUserName, "a"), lk(store.FieldUserName, "b")}}},
		{user, `id eq "u1" and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m"`, lk(store.FieldID, "u1")},
		// Full scans.
		{user, `title eq "x"`, nil},
		{user, `title eq "x" or userName eq "a"`, nil},
		{user, `not (userName eq "a")`, nil},
		{user, `userName ne "a"`, nil},
		{user, `userName co "a"`, nil},
		{user, `userName ew "a"`, nil},
		{user, `userName gt "a"`, nil},
		{user, `userName pr`, nil},
		{user, `userName eq null`, nil},
		{user, `externalId sw "a"`, nil},
		{user, `externalId eq ""`, nil},
		{user, `userName sw ""`, nil},
		{user, `id sw "a"`, nil},
		{user, `emails.value sw "a"`, nil},
		{user, `emails.type eq "work"`, nil},
		{user, `emails[type eq "work"]`, nil},
		{user, `emails[not (value eq "a@x")]`, nil},
		{user, `emails[type eq "work" or value eq "a@x"]`, nil},
		{user, `displayName eq "Alice"`, nil}, // users' displayName is not indexed
		{user, `name.givenName eq "a"`, nil},
		{user, `meta.lastModified gt "2011-05-13T04:42:34Z"`, nil},
		{user, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`, nil},
		// Groups.
		{group, `displayName eq "Eng"`, lk(store.FieldDisplayName, "Eng")},
		{group, `displayName sw "Eng"`, &store.Plan{Op: store.PlanLookup, Field: store.FieldDisplayName, Value: "Eng", Prefix: true}},
		{group, `externalId eq "GUID"`, lk(store.FieldExternalID, "GUID")},
		{group, `id eq "g1"`, lk(store.FieldID, "g1")},
		{group, `displayName eq "a" or externalId eq "b"`, &store.Plan{Op: store.PlanOr, Subs: []*store.Plan{lk(store.FieldDisplayName, "a"), lk(store.FieldExternalID, "b")}}},
		{group, `displayName co "a"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.typ.Name+" "+tt.filter, func(t *testing.T) {
			f, err := Parse(tt.typ, tt.filter, Limits{})
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.filter, err.Detail)
			}
			if diff := cmp.Diff(tt.want, f.Plan()); diff != "" {
				t.Errorf("Plan(%q) mismatch (-want +got):\n%s", tt.filter, diff)
			}
		})
	}
}

// TestPlanCaseExactness checks the rule that keeps the indexes and Match in
// agreement: a case-exact attribute is never looked up through a folded
// index and a case-insensitive one never through an exact index.
func TestPlanCaseExactness(t *testing.T) {
	for field, folded := range indexFolded {
		for _, exact := range []bool{false, true} {
			c := &comparison{op: "eq", kind: kindString, exact: exact, lit: literal{kind: litString, str: "v"}}
			got := lookup(field, c, true) != nil
			want := exact != folded
			if got != want {
				t.Errorf("lookup(%s, caseExact=%v) planned = %v; want %v", field, exact, got, want)
			}
		}
	}
	// The attributes the planner uses have the case-exactness of their index.
	for _, tt := range []struct {
		typ   *resource.Type
		name  string
		field store.Field
	}{
		{resource.User(), "userName", store.FieldUserName},
		{resource.User(), "emails.value", store.FieldEmail},
		{resource.User(), "externalId", store.FieldExternalID},
		{resource.User(), "id", store.FieldID},
		{resource.Group(), "displayName", store.FieldDisplayName},
		{resource.Group(), "externalId", store.FieldExternalID},
	} {
		a, _, err := tt.typ.ResolveName(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if a.CaseExact() == indexFolded[tt.field] {
			t.Errorf("%s %s: caseExact=%v but index %s folded=%v; the planner would skip it", tt.typ.Name, tt.name, a.CaseExact(), tt.field, indexFolded[tt.field])
		}
	}
}
