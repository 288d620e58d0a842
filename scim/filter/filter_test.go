package filter

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

const ent = resource.EnterpriseUserSchema

// record builds a stored record from a JSON document.
func record(t testing.TB, id string, created, modified string, version uint64, doc string) store.Record {
	t.Helper()
	if !json.Valid([]byte(doc)) {
		t.Fatalf("fixture %s is not JSON: %s", id, doc)
	}
	return store.Record{ID: id, Attributes: []byte(doc), Version: version, Created: mustTime(t, created), Modified: mustTime(t, modified)}
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// users are the fixtures of the match tables. u3 has values of unexpected
// types everywhere; it must never make Match panic and rarely match.
func users(t testing.TB) []store.Record {
	return []store.Record{
		record(t, "u1", "2011-05-13T04:42:34Z", "2020-01-01T00:00:00Z", 3, `{
			"userName": "alice@X.example", "externalId": "Ext-1", "displayName": "Alice Liddell",
			"title": "Engineer", "active": true,
			"name": {"givenName": "Alice", "familyName": "Liddell"},
			"emails": [
				{"value": "alice@work.example", "type": "work", "primary": true},
				{"value": "Alice@Home.example", "type": "home"}
			],
			"roles": [{"value": "admin", "primary": true}],
			"x509Certificates": [{"value": "TUlJQg=="}],
			"`+ent+`": {"employeeNumber": "1", "department": "R&D", "manager": {"value": "mgr-id"}}
		}`),
		record(t, "u2", "2019-01-01T00:00:00.500Z", "2024-06-01T12:00:00Z", 1, `{
			"userName": "BOB", "displayName": "Bob", "title": "", "active": false,
			"emails": [{"value": "bob@work.example", "type": "work"}],
			"`+ent+`": {"employeeNumber": "2"}
		}`),
		record(t, "u3", "2019-01-01T00:00:00Z", "2019-01-01T00:00:00Z", 7, `{
			"userName": "a\"b\\c", "externalId": "ext-1", "active": "true", "title": 5,
			"displayName": ["x"], "emails": {"value": "odd@x.example"},
			"name": "not an object", "phoneNumbers": [1, "2", null, {"value": 3}],
			"`+ent+`": "not an object"
		}`),
		record(t, "u4", "2021-01-01T00:00:00Z", "2021-01-01T00:00:00Z", 2, `{
			"userName": "STRASSE", "displayName": "Kelvin \u212a", "nickName": "Cafe\u0301",
			"emails": [{"value": "x@y.example", "type": "work"}, {"value": "z@y.example", "type": "work", "primary": true}]
		}`),
	}
}

func groups(t testing.TB) []store.Record {
	return []store.Record{
		record(t, "g1", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", 1, `{"displayName": "Engineering", "externalId": "GUID-1"}`),
		record(t, "g2", "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z", 1, `{"displayName": "engineering-EU", "externalId": "guid-1"}`),
	}
}

// matching returns the ids of the records f matches.
func matching(f *Filter, recs []store.Record) []string {
	var ids []string
	for _, r := range recs {
		if f.MatchRecord(r) {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

func TestMatchUsers(t *testing.T) {
	recs := users(t)
	tests := []struct {
		filter string
		want   []string
	}{
		// eq on case-insensitive and case-exact attributes.
		{`userName eq "ALICE@x.EXAMPLE"`, []string{"u1"}},
		{`userName eq "bob"`, []string{"u2"}},
		{`UserName EQ "bob"`, []string{"u2"}},
		{`userName eq "straße"`, []string{"u4"}},
		{`userName eq "a\"b\\c"`, []string{"u3"}},
		{`userName eq "x\" or \"1\" eq \"1"`, nil},
		{`externalId eq "Ext-1"`, []string{"u1"}},
		{`externalId eq "ext-1"`, []string{"u3"}},
		{`externalId eq "EXT-1"`, nil},
		{`id eq "u2"`, []string{"u2"}},
		{`id eq "U2"`, nil},
		{`displayName eq "kelvin k"`, []string{"u4"}},
		{`nickName eq "café"`, []string{"u4"}},
		// co, sw, ew fold too.
		{`userName co "X.EX"`, []string{"u1"}},
		{`userName sw "AL"`, []string{"u1"}},
		{`userName ew "AMPLE"`, []string{"u1"}},
		{`userName sw "stra"`, []string{"u4"}},
		{`userName sw "straß"`, []string{"u4"}}, // "strass" is a prefix of "strasse"
		{`userName sw "straßen"`, nil},
		{`userName sw "STRASS"`, []string{"u4"}},
		{`externalId sw "ext"`, []string{"u3"}},
		{`externalId co "xt-"`, []string{"u1", "u3"}},
		// ne: some value differs; absent attributes match neither eq nor ne.
		{`userName ne "bob"`, []string{"u1", "u3", "u4"}},
		{`title ne "Engineer"`, []string{"u2"}},
		{`not (title eq "Engineer")`, []string{"u2", "u3", "u4"}},
		// Ordering on strings compares folded code points.
		{`userName gt "b"`, []string{"u2", "u4"}},
		{`userName le "BOB"`, []string{"u1", "u2", "u3"}},
		// Booleans.
		{`active eq true`, []string{"u1"}},
		{`active eq false`, []string{"u2"}},
		{`active ne true`, []string{"u2"}},
		{`active eq TRUE`, []string{"u1"}},
		{`active eq "True"`, []string{"u1"}},
		// pr and null.
		{`title pr`, []string{"u1", "u3"}},
		{`title eq null`, []string{"u2", "u4"}},
		{`title ne null`, []string{"u1", "u3"}},
		{`emails pr`, []string{"u1", "u2", "u4"}}, // u3's emails is an object, not an array: no value
		{`name pr`, []string{"u1", "u3"}},
		{`name.givenName pr`, []string{"u1"}},
		{`phoneNumbers pr`, []string{"u3"}},
		{`emails.display eq null`, []string{"u1", "u2", "u3", "u4"}},
		{`externalId eq null`, []string{"u2", "u4"}},
		// Multi-valued sub-attributes: some element matches.
		{`emails.value eq "alice@home.EXAMPLE"`, []string{"u1"}},
		{`emails.value co "@work"`, []string{"u1", "u2"}},
		{`emails.value eq "odd@x.example"`, nil}, // no index would hold it either
		{`emails.type eq "home"`, []string{"u1"}},
		{`emails.primary eq true`, []string{"u1", "u4"}},
		{`emails.value ne "bob@work.example"`, []string{"u1", "u4"}},
		{`phoneNumbers.value eq "2"`, nil},
		// Value paths.
		{`emails[type eq "work"]`, []string{"u1", "u2", "u4"}},
		{`emails[type eq "work" and value co "alice"]`, []string{"u1"}},
		{`emails[type eq "home" and value co "bob"]`, nil},
		{`emails[type eq "work" or primary eq true]`, []string{"u1", "u2", "u4"}},
		{`emails[not (type eq "work")]`, []string{"u1"}},
		{`emails[type eq "work" and primary eq true]`, []string{"u1", "u4"}},
		{`emails[value eq null]`, nil},
		{`roles[primary eq "True"]`, []string{"u1"}},
		{`x509Certificates[value eq "TUlJQg=="]`, []string{"u1"}},
		{`x509Certificates[value eq "tuljqg=="]`, nil},
		{`name[givenName eq "alice"]`, []string{"u1"}},
		// The non-standard Entra form.
		{`emails[type eq "work"].value eq "ALICE@work.example"`, []string{"u1"}},
		{`emails[type eq "home"].value eq "bob@work.example"`, nil},
		{`emails[type eq "work"].value pr`, []string{"u1", "u2", "u4"}},
		{`emails[type eq "work"].value eq "z@y.example" and userName eq "strasse"`, []string{"u4"}},
		// Extension attributes, qualified or not, mixed with core ones.
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`, []string{"u1"}},
		{`URN:IETF:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "2"`, []string{"u2"}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "MGR-ID"`, []string{"u1"}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq "mgr-id"]`, []string{"u1"}},
		{`userName eq "bob" and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "2"`, []string{"u2"}},
		{`userName eq "bob" and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`, nil},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob"`, []string{"u2"}},
		{`urn:ietf:params:scim:schemas:core:2.0:User:id eq "u2"`, []string{"u2"}},
		{`urn:ietf:params:scim:schemas:core:2.0:User:meta.version eq "W/\"1\""`, []string{"u2"}},
		{`urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "LIDDELL"`, []string{"u1"}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "r&d"`, []string{"u1"}},
		// meta and times.
		{`meta.lastModified gt "2011-05-13T04:42:34Z"`, []string{"u1", "u2", "u3", "u4"}},
		{`meta.lastModified gt "2020-01-01T00:00:00Z"`, []string{"u2", "u4"}},
		{`meta.lastModified ge "2020-01-01T00:00:00Z"`, []string{"u1", "u2", "u4"}},
		{`meta.lastModified ge "2020-01-01T01:00:00+01:00"`, []string{"u1", "u2", "u4"}},
		{`meta.created eq "2011-05-13T04:42:34.000Z"`, []string{"u1"}},
		{`meta.created lt "2019-01-01T00:00:00.1Z"`, []string{"u1", "u3"}},
		{`meta.created gt "2019-01-01T00:00:00Z"`, []string{"u2", "u4"}},
		{`meta.resourceType eq "User"`, []string{"u1", "u2", "u3", "u4"}},
		{`meta.version eq "W/\"3\""`, []string{"u1"}},
		// Logic and grouping.
		{`userName eq "bob" or userName eq "strasse"`, []string{"u2", "u4"}},
		{`(userName eq "bob" or userName eq "strasse") and active eq false`, []string{"u2"}},
		{`userName eq "bob" or userName eq "strasse" and active eq false`, []string{"u2"}},
		{`not (userName eq "bob") and not (active pr)`, []string{"u4"}},
		{`not(active eq true)`, []string{"u2", "u3", "u4"}},
		// Lenient forms.
		{`externalId eq Ext-1`, []string{"u1"}},
		{`userName eq bob`, []string{"u2"}},
		{`userName eq alice@x.example`, []string{"u1"}},
		{"  userName eq \"bob\"\t", []string{"u2"}},
		{"userName\teq\n\"bob\"", []string{"u2"}},
		{`userName   eq   "bob"`, []string{"u2"}},
		{`nickName eq "caf\u00e9"`, []string{"u4"}},
		{`nickName eq "caf\u00e9" and userName eq "strasse"`, []string{"u4"}},
		{`(nickName eq "caf\u00e9")`, []string{"u4"}},
		{`nickName eq "CAF\u00C9"`, []string{"u4"}},
		{`userName eq "a\u0022b\u005cc"`, []string{"u3"}},
		// Values of the wrong type never match, and never panic.
		{`title eq "5"`, nil},
		{`displayName eq "x"`, nil},
		{`name.givenName eq "x"`, nil},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value pr`, []string{"u1"}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := Parse(resource.User(), tt.filter, Limits{})
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.filter, err.Detail)
			}
			if got := matching(f, recs); !slices.Equal(got, tt.want) {
				t.Errorf("Match(%q) = %v; want %v (canonical %q)", tt.filter, got, tt.want, f.String())
			}
			// The canonical form parses back into the same filter.
			g, err := Parse(resource.User(), f.String(), Limits{})
			if err != nil {
				t.Fatalf("Parse(String() = %q) error: %v", f.String(), err.Detail)
			}
			if got := matching(g, recs); !slices.Equal(got, tt.want) {
				t.Errorf("Match(%q) = %v; want %v", g.String(), got, tt.want)
			}
		})
	}
}

func TestMatchGroups(t *testing.T) {
	recs := groups(t)
	tests := []struct {
		filter string
		want   []string
	}{
		{`displayName eq "ENGINEERING"`, []string{"g1"}},
		{`displayName sw "engineering"`, []string{"g1", "g2"}},
		{`externalId eq "GUID-1"`, []string{"g1"}},
		{`externalId eq "guid-1"`, []string{"g2"}},
		{`id eq "g2"`, []string{"g2"}},
		{`meta.resourceType eq "Group"`, []string{"g1", "g2"}},
		{`displayName eq "engineering" or externalId eq "guid-1"`, []string{"g1", "g2"}},
		{`urn:ietf:params:scim:schemas:core:2.0:Group:externalId eq "GUID-1"`, []string{"g1"}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := Parse(resource.Group(), tt.filter, Limits{})
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.filter, err.Detail)
			}
			if got := matching(f, recs); !slices.Equal(got, tt.want) {
				t.Errorf("Match(%q) = %v; want %v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestMatchDocShapes(t *testing.T) {
	// Documents that resource.View would never produce still do not panic.
	docs := []resource.Doc{
		nil,
		{},
		{"userName": nil, "emails": nil, "meta": nil},
		{"userName": []any{"bob"}, "emails": []any{nil, 1, []any{}, map[string]any{"value": []any{"x"}}}},
		{"meta": map[string]any{"lastModified": 5, "created": "yesterday"}, "active": "true"},
		{ent: []any{map[string]any{"employeeNumber": "1"}}, "name": []any{map[string]any{"givenName": "x"}}},
		{"x509Certificates": "TUlJQg==", "roles": map[string]any{"primary": true}},
		{"meta": map[string]any{"lastModified": time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"emails": []any{map[string]any{"value": json.Number("5")}}, "title": json.Number("1e999")},
	}
	filters := []string{
		`userName eq "bob"`, `emails.value eq "x"`, `emails[value eq "x"]`, `emails pr`, `emails[type eq null]`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`, `meta.created pr`, `active eq true`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`,
		`name.givenName eq "x"`, `x509Certificates.value eq "TUlJQg=="`, `roles[primary eq true]`,
		`title eq "1"`, `not (emails.value ne "x")`,
	}
	for _, s := range filters {
		f, err := Parse(resource.User(), s, Limits{})
		if err != nil {
			t.Fatalf("Parse(%q) error: %v", s, err.Detail)
		}
		for i, d := range docs {
			t.Run(s, func(t *testing.T) {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("Match(%q) on doc %d panicked: %v", s, i, r)
					}
				}()
				f.Match(d)
			})
		}
	}
	// The one match among them that must hold: a time.Time counts.
	f, _ := Parse(resource.User(), `meta.lastModified gt "2029-01-01T00:00:00Z"`, Limits{})
	if !f.Match(docs[7]) {
		t.Errorf("Match(%q) on a time.Time lastModified = false; want true", f)
	}
	// A record that does not decode does not match.
	bad := store.Record{ID: "x", Attributes: []byte(`{"userName": `)}
	f, _ = Parse(resource.User(), `id eq "x"`, Limits{})
	if f.MatchRecord(bad) {
		t.Errorf("MatchRecord(undecodable) = true; want false")
	}
}

func TestNilFilter(t *testing.T) {
	var f *Filter
	if !f.Match(resource.Doc{}) || !f.MatchRecord(store.Record{}) || f.Plan() != nil || f.String() != "" {
		t.Errorf("nil *Filter: want match-all, nil plan, empty string")
	}
}

func TestParseErrors(t *testing.T) {
	long := `userName eq "` + strings.Repeat("a", DefaultMaxLength) + `"`
	tests := []struct {
		typ    *resource.Type
		filter string
		detail string // a fragment of the detail
	}{
		{resource.User(), ``, "empty"},
		{resource.User(), `   `, "empty"},
		{resource.User(), long, "longer than the limit of 4096 bytes"},
		{resource.User(), "userName eq \"\xff\"", "not valid UTF-8"},
		{resource.User(), `bogus eq "x"`, `unknown attribute "bogus"`},
		{resource.User(), `bogus[type eq "x"]`, `unknown attribute "bogus"`},
		{resource.User(), `emails[bogus eq "x"]`, `unknown attribute "emails.bogus"`},
		{resource.User(), `emails.bogus eq "x"`, `unknown attribute "emails.bogus"`},
		{resource.User(), `name.givenName.x eq "x"`, `not valid SCIM filter syntax`},
		{resource.User(), `foo:bar eq 1`, `unknown schema "foo"`},
		{resource.User(), `urn:ietf:params:scim:schemas:extension:other:2.0:User:x eq 1`, `unknown schema`},
		{resource.User(), `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName eq "x"`, `unknown attribute`},
		{resource.User(), `userName eq "x" and bogus pr`, `unknown attribute "bogus"`},
		{resource.User(), `not (bogus pr)`, `unknown attribute "bogus"`},
		{resource.User(), `password pr`, `"password" is never returned`},
		{resource.User(), `password eq "secret"`, `never returned`},
		{resource.User(), `groups.value eq "g1"`, `filtering users by groups is not supported`},
		{resource.User(), `groups[value eq "g1"]`, `filtering users by groups is not supported`},
		{resource.Group(), `members.value eq "u1"`, `filtering groups by members is not supported`},
		{resource.Group(), `members[value eq "u1"]`, `filtering groups by members is not supported`},
		{resource.Group(), `userName eq "x"`, `unknown attribute "userName"`},
		{resource.User(), `schemas eq "x"`, `"schemas" is not supported`},
		{resource.User(), `meta.location pr`, `meta.location`},
		{resource.User(), `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName eq "x"`, `read-only and not stored`},
		// Types.
		{resource.User(), `userName eq 5`, `"userName" is a string`},
		{resource.User(), `userName eq true`, `"userName" is a string`},
		{resource.User(), `userName gt 1.5`, `"userName" is a string`},
		{resource.User(), `active eq "yes"`, `"active" is a boolean`},
		{resource.User(), `active eq 1`, `"active" is a boolean`},
		{resource.User(), `active gt true`, `operator gt is not allowed on boolean attribute "active"`},
		{resource.User(), `active co "t"`, `operator co is not allowed on boolean`},
		{resource.User(), `emails[primary lt true]`, `not allowed on boolean`},
		{resource.User(), `x509Certificates.value gt "a"`, `not allowed on binary`},
		{resource.User(), `meta.lastModified gt "yesterday"`, `not an RFC 3339 time`},
		{resource.User(), `meta.lastModified gt "2011-05-13"`, `not an RFC 3339 time`},
		{resource.User(), `meta.lastModified gt 5`, `is a dateTime`},
		{resource.User(), `meta.created co "2011"`, `operator co is not allowed on dateTime`},
		{resource.User(), `emails eq "x"`, `"emails" is complex`},
		{resource.User(), `name co "x"`, `"name" is complex`},
		{resource.User(), `userName gt null`, `null can only be compared with eq`},
		{resource.User(), `emails.value[type eq "work"]`, `not a sub-attribute`},
		{resource.User(), `userName[value eq "x"]`, `not complex`},
		{resource.User(), `emails[urn:ietf:params:scim:schemas:core:2.0:User:type eq "x"]`, `without a schema URN`},
		{resource.User(), `userName eq "\x"`, `not valid SCIM filter syntax`},
		{resource.User(), `userName eq "\uD800"`, `lone surrogate`},
		// Syntax, with a diagnosis.
		{resource.User(), `userName eq 'x'`, `double quotes`},
		{resource.User(), `userName regex ".*"`, `unknown operator "regex"`},
		{resource.User(), `userName eq`, `needs a value`},
		{resource.User(), `userName eq "x`, `unterminated string`},
		{resource.User(), `(userName eq "x"`, `is never closed`},
		{resource.User(), `userName eq "x")`, `unexpected )`},
		{resource.User(), `emails[type eq "work")`, `unexpected )`},
		{resource.User(), `not userName eq "x"`, `not must be followed by a filter in parentheses`},
		{resource.User(), `emails[type eq "work" and primary eq true and value co "a"]`, `at most two comparisons`},
		{resource.User(), `emails[(type eq "work")]`, `cannot contain parentheses`},
		{resource.User(), `emails[type eq "work" or type eq "home"].value eq "x"`, `not valid SCIM filter syntax`},
		{resource.User(), `userName eq "x" and`, `not valid SCIM filter syntax`},
		{resource.User(), "userName eq \"a\tb\"", `not valid SCIM filter syntax`},
		// Caps.
		{resource.User(), strings.Repeat("(", 17) + `userName pr` + strings.Repeat(")", 17), `deeper than the limit of 16`},
		{resource.User(), strings.Repeat("not (", 17) + `userName pr` + strings.Repeat(")", 17), `deeper than the limit of 16`},
		{resource.User(), strings.TrimSuffix(strings.Repeat(`title pr or `, 65), " or "), `more than 64 comparisons`},
		{resource.User(), strings.TrimSuffix(strings.Repeat(`emails[type pr or value pr] or `, 33), " or "), `more than 64 comparisons`},
	}
	for _, tt := range tests {
		t.Run(tt.filter[:min(len(tt.filter), 80)], func(t *testing.T) {
			f, err := Parse(tt.typ, tt.filter, Limits{})
			if err == nil {
				t.Fatalf("Parse(%q) = %q, nil; want an error", tt.filter, f)
			}
			if err.Status != http.StatusBadRequest || err.ScimType != scimerrors.ScimTypeInvalidFilter {
				t.Errorf("Parse(%q) error = %d %q; want 400 invalidFilter", tt.filter, err.Status, err.ScimType)
			}
			if !strings.Contains(err.Detail, tt.detail) {
				t.Errorf("Parse(%q) detail = %q; want it to contain %q", tt.filter, err.Detail, tt.detail)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		lim    Limits
		ok     bool
	}{
		{"depth at the limit", strings.Repeat("(", 16) + `userName pr` + strings.Repeat(")", 16), Limits{}, true},
		{"depth over a custom limit", `((userName pr))`, Limits{MaxDepth: 1}, false},
		{"value path counts as a level", `(emails[type pr])`, Limits{MaxDepth: 1}, false},
		{"terms at the limit", strings.TrimSuffix(strings.Repeat(`title pr or `, 64), " or "), Limits{}, true},
		{"terms over a custom limit", `title pr and userName pr`, Limits{MaxTerms: 1}, false},
		{"entra form counts two terms", `emails[type eq "work"].value eq "x"`, Limits{MaxTerms: 1}, false},
		{"length at a custom limit", `title pr`, Limits{MaxLength: 8}, true},
		{"length over a custom limit", `title pr `, Limits{MaxLength: 8}, false},
		{"and in a value is not a term", `title eq and or title eq or`, Limits{MaxTerms: 2}, true},
		{"parentheses in strings do not nest", `title eq "((((((((((((((((((((("`, Limits{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(resource.User(), tt.filter, tt.lim)
			if (err == nil) != tt.ok {
				t.Errorf("Parse(%q, %+v) error = %v; want ok=%v", tt.filter, tt.lim, err, tt.ok)
			}
		})
	}
}

// TestHostileFilters checks that the shapes that take the parser seconds are
// refused before it runs.
func TestHostileFilters(t *testing.T) {
	nested := strings.Repeat("(", 50000) + `userName eq "x"` + strings.Repeat(")", 50000)
	nots := strings.Repeat("not (", 20000) + `userName eq "x"` + strings.Repeat(")", 20000)
	wide := strings.TrimSuffix(strings.Repeat(`userName eq "x" or `, 10000), " or ")
	huge := Limits{MaxLength: 1 << 20}
	tests := []struct {
		name   string
		filter string
		lim    Limits
	}{
		{"50000 nested parentheses", nested, Limits{}},
		{"50000 nested parentheses under a 1 MiB length cap", nested, huge},
		{"20000 nested not", nots, huge},
		{"10000 or terms", wide, Limits{}},
		{"10000 or terms under a 1 MiB length cap", wide, huge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := Parse(resource.User(), tt.filter, tt.lim)
			elapsed := time.Since(start)
			if err == nil {
				t.Fatalf("Parse(%d bytes) = nil error; want a 400", len(tt.filter))
			}
			// Microseconds in practice; the parser would take seconds on
			// these inputs. The bound leaves room for -race and a loaded
			// machine while still failing if the parser ran.
			if elapsed > 500*time.Millisecond {
				t.Errorf("Parse(%d bytes) took %v; want it refused before parsing", len(tt.filter), elapsed)
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		filter, want string
	}{
		{`UserName EQ "bob"`, `userName eq "bob"`},
		{`externalId eq jyoung`, `externalId eq "jyoung"`},
		{`emails[type eq "work"].value eq "x"`, `emails[type eq "work" and value eq "x"]`},
		{`EMAILS[TYPE eq "work"]`, `emails[type eq "work"]`},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName pr`, `userName pr`},
		{`URN:ietf:params:scim:schemas:extension:enterprise:2.0:user:EMPLOYEENUMBER eq "1"`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`},
		{`(title pr or nickName pr) and userName pr`, `(title pr or nickName pr) and userName pr`},
		{`title pr or (nickName pr and userName pr)`, `title pr or nickName pr and userName pr`},
		{`not(title pr)`, `not (title pr)`},
		{`userName eq "a\"b\\c\/d\u00e9\n"`, `userName eq "a\"b\\c/dé\n"`},
		{`userName eq "\u0001"`, `userName eq "\u0001"`},
		{`active eq "FALSE"`, `active eq false`},
		{`title eq null`, `title eq null`},
		{`meta.lastModified gt "2011-05-13T04:42:34Z"`, `meta.lastModified gt "2011-05-13T04:42:34Z"`},
		{`emails[not (type eq "work")]`, `emails[not (type eq "work")]`},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := Parse(resource.User(), tt.filter, Limits{})
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.filter, err.Detail)
			}
			if got := f.String(); got != tt.want {
				t.Errorf("Parse(%q).String() = %q; want %q", tt.filter, got, tt.want)
			}
			g, err := Parse(resource.User(), f.String(), Limits{})
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", f.String(), err.Detail)
			}
			if g.String() != f.String() {
				t.Errorf("String() is not stable: %q, then %q", f.String(), g.String())
			}
		})
	}
}

func TestLongDetailsAreClipped(t *testing.T) {
	for _, s := range []string{
		strings.Repeat("a:", 2000) + "b pr",
		`active eq "` + strings.Repeat("x", 3000) + `"`,
		strings.Repeat("a", 3000) + " pr",
	} {
		_, err := Parse(resource.User(), s, Limits{})
		if err == nil {
			t.Fatalf("Parse(%.40q…) = nil error; want one", s)
		}
		if len(err.Detail) > maxDetail+len("…") {
			t.Errorf("Parse(%.40q…) detail is %d bytes; want at most %d", s, len(err.Detail), maxDetail)
		}
	}
}

// TestConcurrentUse runs one Filter from many goroutines (under -race in
// CI): Filters are immutable.
func TestConcurrentUse(t *testing.T) {
	f, err := Parse(resource.User(), `emails[type eq "work" and value co "@WORK"] or userName sw "strass"`, Limits{})
	if err != nil {
		t.Fatal(err.Detail)
	}
	recs := users(t)
	done := make(chan []string)
	for range 8 {
		go func() {
			var got []string
			for range 20 {
				got = matching(f, recs)
				f.Plan()
				_ = f.String()
			}
			done <- got
		}()
	}
	for range 8 {
		if got, want := <-done, []string{"u1", "u2", "u4"}; !slices.Equal(got, want) {
			t.Errorf("concurrent Match = %v; want %v", got, want)
		}
	}
}
