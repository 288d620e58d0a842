package filter

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

// sorted orders recs as the store does: by key, ties by id.
func sorted(key func(store.Record) string, recs []store.Record, desc bool) []string {
	type kr struct{ key, id string }
	var ks []kr
	for _, r := range recs {
		ks = append(ks, kr{key(r), r.ID})
	}
	sort.SliceStable(ks, func(i, j int) bool {
		if ks[i].key != ks[j].key {
			return ks[i].key < ks[j].key
		}
		return ks[i].id < ks[j].id
	})
	var ids []string
	for _, k := range ks {
		ids = append(ids, k.id)
	}
	if desc {
		slices.Reverse(ids)
	}
	return ids
}

func TestSortKey(t *testing.T) {
	recs := []store.Record{
		record(t, "s1", "2020-01-01T00:00:00Z", "2022-01-01T00:00:00Z", 1, `{"userName": "bravo", "title": "b", "active": true,
			"emails": [{"value": "z@x", "type": "home"}, {"value": "A@x", "primary": true}],
			"name": {"familyName": "Émile"}, "`+ent+`": {"employeeNumber": "10"}}`),
		record(t, "s2", "2019-01-01T00:00:00Z", "2023-01-01T00:00:00Z", 1, `{"userName": "ALPHA", "title": "B", "active": false,
			"emails": [{"value": "m@x"}, {"value": "b@x"}], "name": {"familyName": "emile"}, "`+ent+`": {"employeeNumber": "9"}}`),
		record(t, "s3", "2021-01-01T00:00:00Z", "2021-01-01T00:00:00Z", 1, `{"userName": "charlie", "title": 5, "emails": {"value": "odd"}}`),
		record(t, "s4", "2018-01-01T00:00:00Z", "2024-01-01T00:00:00.5Z", 1, `{"userName": "Älpha"}`),
	}
	tests := []struct {
		sortBy string
		want   []string // ascending
	}{
		{"userName", []string{"s2", "s1", "s3", "s4"}}, // alpha < bravo < charlie < älpha (code points, folded)
		{"USERNAME", []string{"s2", "s1", "s3", "s4"}},
		{"urn:ietf:params:scim:schemas:core:2.0:User:userName", []string{"s2", "s1", "s3", "s4"}},
		{"id", []string{"s1", "s2", "s3", "s4"}},
		{"meta.created", []string{"s4", "s2", "s1", "s3"}},
		{"urn:ietf:params:scim:schemas:core:2.0:User:meta.created", []string{"s4", "s2", "s1", "s3"}},
		{"meta.lastModified", []string{"s3", "s1", "s2", "s4"}},
		{"title", []string{"s1", "s2", "s3", "s4"}}, // b and B tie (by id); 5 is not a string: missing, last
		{"active", []string{"s2", "s1", "s3", "s4"}},
		{"emails", []string{"s1", "s2", "s3", "s4"}},       // primary A@x < first m@x; s3's object is not an array
		{"emails.value", []string{"s1", "s2", "s3", "s4"}}, // same
		{"emails.type", []string{"s1", "s2", "s3", "s4"}},  // s1's primary has no type: all missing, by id
		{"name.familyName", []string{"s2", "s1", "s3", "s4"}},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", []string{"s1", "s2", "s3", "s4"}}, // strings: "10" < "9"
	}
	for _, tt := range tests {
		t.Run(tt.sortBy, func(t *testing.T) {
			key, err := SortKey(resource.User(), tt.sortBy)
			if err != nil {
				t.Fatalf("SortKey(%q) error: %v", tt.sortBy, err.Detail)
			}
			if got := sorted(key, recs, false); !slices.Equal(got, tt.want) {
				t.Errorf("SortKey(%q) ascending = %v; want %v", tt.sortBy, got, tt.want)
			}
		})
	}
	// Missing values sort last ascending and first descending.
	key, _ := SortKey(resource.User(), "name.familyName")
	if got, want := sorted(key, recs, true), []string{"s4", "s3", "s1", "s2"}; !slices.Equal(got, want) {
		t.Errorf("SortKey(name.familyName) descending = %v; want %v", got, want)
	}
	// A record that does not decode sorts as missing.
	if got := key(store.Record{ID: "x", Attributes: []byte("{")}); got != keyMissing {
		t.Errorf("key(undecodable) = %q; want %q", got, keyMissing)
	}
}

func TestSortKeyErrors(t *testing.T) {
	tests := []struct {
		typ    *resource.Type
		sortBy string
		detail string
	}{
		{resource.User(), "", "empty"},
		{resource.User(), "bogus", `unknown attribute "bogus"`},
		{resource.User(), "name.bogus", `unknown attribute "name.bogus"`},
		{resource.User(), "foo:bar", `unknown attribute "foo:bar"`},
		{resource.User(), "urn:x:y", `unknown schema "urn:x"`},
		{resource.User(), "name", `"name" is complex`},
		{resource.User(), "password", `never returned`},
		{resource.User(), "groups", `not supported`},
		{resource.Group(), "members.value", `not supported`},
		{resource.User(), "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", `names the schema`},
		{resource.User(), "a.b.c", `too deep`},
	}
	for _, tt := range tests {
		t.Run(tt.sortBy, func(t *testing.T) {
			_, err := SortKey(tt.typ, tt.sortBy)
			if err == nil {
				t.Fatalf("SortKey(%q) = nil error; want one containing %q", tt.sortBy, tt.detail)
			}
			if err.Status != http.StatusBadRequest || err.ScimType != scimerrors.ScimTypeInvalidValue || !strings.Contains(err.Detail, tt.detail) {
				t.Errorf("SortKey(%q) error = %d %s %q; want 400 invalidValue containing %q", tt.sortBy, err.Status, err.ScimType, err.Detail, tt.detail)
			}
		})
	}
}

func TestKeyEncodings(t *testing.T) {
	nums := []float64{-1e300, -5.5, -1, -0.0, 0, 1e-9, 1, 2, 10, 1e300}
	for i := 1; i < len(nums); i++ {
		if a, b := floatKey(nums[i-1]), floatKey(nums[i]); a > b {
			t.Errorf("floatKey(%v) = %s > floatKey(%v) = %s", nums[i-1], a, nums[i], b)
		}
	}
	if encodeKey("boolean", false, false) >= encodeKey("boolean", false, true) {
		t.Errorf("false must sort before true")
	}
	if encodeKey("integer", false, 5.0) >= encodeKey("decimal", false, 10.0) {
		t.Errorf("5 must sort before 10")
	}
	if k := encodeKey("dateTime", false, "2020-01-01T01:00:00+01:00"); k != encodeKey("dateTime", false, "2020-01-01T00:00:00Z") {
		t.Errorf("equal instants must have equal keys, got %q", k)
	}
	if encodeKey("dateTime", false, "garbage") != keyMissing || encodeKey("complex", false, map[string]any{}) != keyMissing {
		t.Errorf("values that do not encode must sort as missing")
	}
}
