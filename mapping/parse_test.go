package mapping

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// population exercises every rule of testdata/example.yaml.
func population() []Person {
	return []Person{
		person(gEng),
		person(gEng, gWSAdmin, gLegal),
		person(gOrgAdmin),
		person(gOrgAdmin, gContractor, gEng, gWSAdmin),
		person(gNope),
		person(),
		{ID: "gone", Active: false, Groups: []Group{gOrgAdmin}},
	}
}

func TestParseExampleYAMLAndJSON(t *testing.T) {
	y, j := readFile(t, "testdata/example.yaml"), readFile(t, "testdata/example.json")
	for _, tc := range []struct {
		name        string
		data        []byte
		contentType string
	}{
		{"yaml", y, "application/yaml"},
		{"yaml with parameters", y, "application/yaml; charset=utf-8"},
		{"x-yaml", y, "application/x-yaml"},
		{"yaml sniffed", y, ""},
		{"json", j, "application/json"},
		{"json with parameters", j, "application/json; charset=utf-8"},
		{"json sniffed", j, ""},
		{"json as text/plain", j, "text/plain"},
		{"json with a BOM, sniffed", append([]byte("\xef\xbb\xbf"), j...), ""},
		{"json read as yaml", j, "application/yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := mustParse(t, string(y))
			got, err := Parse(tc.data, tc.contentType)
			if err != nil {
				t.Fatalf("Parse(%s, %q) = %v", tc.name, tc.contentType, err)
			}
			if diff := cmp.Diff(want.doc, got.doc); diff != "" {
				t.Errorf("Parse(%s, %q) document differs from the YAML one (-yaml +got):\n%s", tc.name, tc.contentType, diff)
			}
			if diff := cmp.Diff(want.Workspaces(), got.Workspaces()); diff != "" {
				t.Errorf("Workspaces() differ (-yaml +got):\n%s", diff)
			}
			for _, p := range population() {
				if w, g := want.Evaluate(p), got.Evaluate(p); !cmp.Equal(w, g) {
					t.Errorf("Evaluate(%v) = %v; want %v (as from the YAML)", p, g, w)
				}
			}
		})
	}
}

func TestParseExampleDetails(t *testing.T) {
	r := mustParse(t, string(readFile(t, "testdata/example.yaml")))
	if got, want := r.Workspaces(), []string{"engineering", "finance", "general", "legal", "support"}; !cmp.Equal(got, want) {
		t.Errorf("Workspaces() = %v; want %v (declared, plus the default's)", got, want)
	}
	if got, want := r.ProtectedRoles(), []Role{OrgAdmin}; !cmp.Equal(got, want) {
		t.Errorf("ProtectedRoles() = %v; want %v", got, want)
	}
	if r.CreateWorkspaces() {
		t.Errorf("CreateWorkspaces() = true; want false")
	}
	want := []Problem{{Rule: "default", Field: "default.grant.workspace", Line: 24, Message: `workspace "general" is not in workspaces; the default grant declares it`}}
	if diff := cmp.Diff(want, r.Warnings()); diff != "" {
		t.Errorf("Warnings() differ (-want +got):\n%s", diff)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
	}{
		{"example", string(readFile(t, "testdata/example.yaml"))},
		{"protected roles emptied", header + "protected_roles: []\nrules:\n  - {name: a, match: {group: {displayName: admins}}, grant: {role: org_admin}}\n"},
		{"protected roles listed", header + "protected_roles: [org_admin, workspace_admin]\n"},
		{"descriptions and odd ids", header + `create_workspaces: true
rules:
  - name: a
    description: "Okta ids look like numbers: <keep> & quote"
    match: {directory: okta, group: {id: "0012"}}
    grant: {workspace: research, role: member}
exclusions:
  - {description: "no name", match: {group: {externalId: "true"}}, deny: [member]}
default: {description: fallback, grant: {role: developer_admin}}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustParse(t, tc.doc)
			j, err := r.MarshalJSON()
			if err != nil {
				t.Fatalf("MarshalJSON() = %v", err)
			}
			fromJSON, err := Parse(j, "application/json")
			if err != nil {
				t.Fatalf("Parse(MarshalJSON()) = %v; JSON:\n%s", err, j)
			}
			if diff := cmp.Diff(r.doc, fromJSON.doc); diff != "" {
				t.Errorf("Parse(MarshalJSON()) differs (-want +got):\n%s", diff)
			}
			y, err := yaml.Marshal(r)
			if err != nil {
				t.Fatalf("yaml.Marshal() = %v", err)
			}
			fromYAML, err := Parse(y, "application/yaml")
			if err != nil {
				t.Fatalf("Parse(yaml.Marshal()) = %v; YAML:\n%s", err, y)
			}
			if diff := cmp.Diff(r.doc, fromYAML.doc); diff != "" {
				t.Errorf("Parse(yaml.Marshal()) differs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(r.ProtectedRoles(), fromJSON.ProtectedRoles()); diff != "" {
				t.Errorf("ProtectedRoles() after a round trip differ:\n%s", diff)
			}
		})
	}
}

func TestMarshalJSONCanonical(t *testing.T) {
	r := mustParse(t, "version: 1\nworkspaces: [legal]\nrules:\n  - {name: a, match: {group: {displayNamePattern: \"^(?P<ws>legal)$\"}}, grant: {workspace: \"${ws}\", role: member}}\n")
	got, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":1,"workspaces":["legal"],"create_workspaces":false,"rules":[{"name":"a","match":{"group":{"displayNamePattern":"^(?P<ws>legal)$"}},"grant":{"workspace":"${ws}","role":"member"}}]}`
	if string(got) != want {
		t.Errorf("MarshalJSON() = %s; want %s", got, want)
	}
	var nilRules *Rules
	if got, _ := nilRules.MarshalJSON(); string(got) != "null" {
		t.Errorf("(*Rules)(nil).MarshalJSON() = %s; want null", got)
	}
}

func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		want []Problem
	}{
		{
			name: "unanchored pattern",
			doc:  header + "rules:\n  - {name: a, match: {group: {displayNamePattern: \"legal\"}}, grant: {workspace: legal, role: member}}\n",
			want: []Problem{{Rule: "a", Field: "rules[0].match.group.displayNamePattern", Line: 4, Message: `displayNamePattern "legal" is not anchored with ^ and $`}},
		},
		{
			name: "anchored at one end only",
			doc:  header + "rules:\n  - {name: a, match: {group: {displayNamePattern: \"^legal\"}}, grant: {workspace: legal, role: member}}\n",
			want: []Problem{{Rule: "a", Field: "rules[0].match.group.displayNamePattern", Line: 4, Message: "not anchored"}},
		},
		{
			name: "anchored in every branch",
			doc:  header + "rules:\n  - {name: a, match: {group: {displayNamePattern: \"^legal$|^(finance)$\"}}, grant: {workspace: legal, role: member}}\n",
		},
		{
			name: "unnamed rule",
			doc:  header + "rules:\n  - {match: {group: {id: x}}, grant: {workspace: legal, role: member}}\n",
			want: []Problem{{Rule: "rules[0]", Field: "rules[0]", Line: 4, Message: "rule has no name"}},
		},
		{
			name: "captures may create workspaces",
			doc:  header + "create_workspaces: true\nrules:\n  - {name: a, match: {group: {displayNamePattern: \"^ws_(?P<ws>.+)$\"}}, grant: {workspace: \"${ws}\", role: member}}\n",
			want: []Problem{{Rule: "a", Field: "rules[0].grant.workspace", Line: 5, Message: "captured workspace names that are not declared create workspaces"}},
		},
		{
			name: "literal workspace created",
			doc:  header + "create_workspaces: true\nrules:\n  - {name: a, match: {group: {id: x}}, grant: {workspace: research, role: member}}\n",
			want: []Problem{{Rule: "a", Field: "rules[0].grant.workspace", Line: 5, Message: `workspace "research" is not declared: publishing creates it`}},
		},
		{
			name: "star with nothing to qualify",
			doc:  header + "rules:\n  - {name: a, match: {group: {id: x}}, grant: {workspace: \"*\", role: workspace_admin}}\n",
			want: []Problem{{Rule: "a", Field: "rules[0].grant.workspace", Line: 4, Message: "no rule grants a named workspace"}},
		},
		{
			name: "nothing granted at all",
			doc:  header,
			want: []Problem{{Field: "rules", Message: "grants nobody anything"}},
		},
		{
			name: "spaces around a name",
			doc:  header + "rules:\n  - {name: a, match: {group: {displayName: \"admins \"}}, grant: {role: billing_admin}}\n",
			want: []Problem{{Rule: "a", Field: "rules[0].match.group.displayName", Message: "leading or trailing spaces"}},
		},
		{
			name: "none",
			doc:  string(readFile(t, "testdata/example.json")),
			want: []Problem{{Rule: "default", Field: "default.grant.workspace", Message: "the default grant declares it"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustParse(t, tc.doc)
			if got := r.Warnings(); !problemsMatch(got, tc.want) {
				t.Errorf("Parse(%q).Warnings() =\n%s\nwant\n%s", tc.doc, render(got), render(tc.want))
			}
		})
	}
}

func TestParseYAMLAliases(t *testing.T) {
	doc := header + `rules:
  - name: a
    match: &m {group: {id: g-eng}}
    grant: {workspace: engineering, role: member}
  - name: b
    match: *m
    grant: {role: developer_admin}
`
	r := mustParse(t, doc)
	got := r.Evaluate(person(gEng))
	want := Access{
		OrgRoles:   []Grant{orgWide(DeveloperAdmin, why("b", gEng))},
		Workspaces: []Grant{inWS("engineering", Member, why("a", gEng))},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Evaluate() with an aliased match differs (-want +got):\n%s", diff)
	}

	// A billion laughs is refused, not expanded.
	bomb := "version: 1\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n" +
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
	if _, err := Parse([]byte(bomb), ""); err == nil {
		t.Errorf("Parse(alias bomb) = nil error; want a refusal")
	}
}

func TestParseLimits(t *testing.T) {
	big := make([]byte, MaxDocumentBytes+1)
	if _, err := Parse(big, ""); err == nil {
		t.Errorf("Parse(%d bytes) = nil error; want the size limit", len(big))
	}
	deep := "version: 1\nx: " + string(repeat('[', 100)) + string(repeat(']', 100)) + "\n"
	if _, err := Parse([]byte(deep), ""); err == nil {
		t.Errorf("Parse(100 nested lists) = nil error; want the depth limit")
	}
	deepJSON := `{"version": 1, "x": ` + string(repeat('[', 100)) + string(repeat(']', 100)) + "}"
	if _, err := Parse([]byte(deepJSON), "application/json"); err == nil {
		t.Errorf("Parse(100 nested JSON lists) = nil error; want the depth limit")
	}
	huge := "^" + strings.Repeat("[a-z]{1000}", 11) + "$"
	_, err := Parse([]byte(header+"rules:\n  - {name: a, match: {group: {displayNamePattern: \""+huge+"\"}}, grant: {workspace: legal, role: member}}\n"), "")
	if err == nil || !strings.Contains(err.Error(), "instructions, above the limit") {
		t.Errorf("Parse(pattern of 11,000 instructions) = %v; want the size limit", err)
	}
	var b strings.Builder
	b.WriteString(header + "rules:\n")
	nine := "^" + strings.Repeat("[a-z]{1000}", 9) + "$"
	for i := range MaxTotalPatternSize/9000 + 2 {
		fmt.Fprintf(&b, "  - {name: r%d, match: {group: {displayNamePattern: \"%s\"}}, grant: {workspace: legal, role: member}}\n", i, nine)
	}
	_, err = Parse([]byte(b.String()), "")
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || !strings.Contains(ve.Problems[0].Message, "together compile to more than") {
		t.Errorf("Parse(%d patterns of 9,000 instructions) = %v; want one problem with the total size", MaxTotalPatternSize/9000+2, err)
	}
	long := header + "rules:\n  - {name: a, match: {group: {displayNamePattern: \"^" + string(repeat('a', MaxPatternBytes)) + "$\"}}, grant: {workspace: legal, role: member}}\n"
	if _, err := Parse([]byte(long), ""); err == nil {
		t.Errorf("Parse(pattern of %d bytes) = nil error; want the pattern limit", MaxPatternBytes+2)
	}
}

func repeat(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }
