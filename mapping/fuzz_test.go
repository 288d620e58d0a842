package mapping

import (
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// fuzzRules is a fixed document that uses every feature, so that random
// groups reach every path of Evaluate.
const fuzzRules = `version: 1
workspaces: [engineering, legal, finance, support, team-red-eu]
protected_roles: [org_admin, billing_admin]
rules:
  - name: members
    match: {group: {displayNamePattern: "^workspace_(?P<ws>[a-zA-Z0-9_.-]*)$"}}
    grant: {workspace: "${ws}", role: member}
  - name: teams
    match: {directory: okta, group: {displayNamePattern: "(?i)^(?P<c>[a-z]+) team \\((?P<r>[a-z]{2})\\)"}}
    grant: {workspace: "team-${c}-${r}", role: member}
  - name: loose
    match: {group: {displayNamePattern: "legal|(?P<x>fin)ance"}}
    grant: {workspace: legal, role: member}
  - name: admins-everywhere
    match: {group: {displayName: role_workspace_admin}}
    grant: {workspace: "*", role: workspace_admin}
  - name: support-admins
    match: {directory: entra, group: {id: g-sa}}
    grant: {workspace: support, role: workspace_admin}
  - name: org-admins
    match: {group: {externalId: "00g1a2b3c4"}}
    grant: {role: org_admin}
  - name: billing
    match: {group: {id: g-billing}}
    grant: {role: billing_admin}
  - name: developers
    match: {group: {displayName: "STRASSE"}}
    grant: {role: developer_admin}
  - name: prefix-fffd
    match: {group: {displayNamePattern: "^\uFFFDx"}}
    grant: {workspace: finance, role: member}
  - name: folded-prefix
    match: {group: {displayNamePattern: "(?i)^SUPPORT-Desk"}}
    grant: {workspace: support, role: member}
  - name: mixed-prefix
    match: {group: {displayNamePattern: "^Fin(?i)ance-K"}}
    grant: {workspace: finance, role: member}
  - name: suffix
    match: {group: {displayNamePattern: "(?i)^(?P<ws>[a-z]+)-Team$"}}
    grant: {workspace: "${ws}", role: member}
  - name: folded-suffix
    match: {group: {displayNamePattern: "(?i)(?P<x>.)-desk$"}}
    grant: {workspace: support, role: member}
  - name: needle
    match: {group: {displayNamePattern: "(?P<x>(?i)a+)-Team"}}
    grant: {workspace: support, role: member}
exclusions:
  - name: contractors
    match: {group: {displayName: contractors}}
    deny: [org_admin, billing_admin, developer_admin, workspace_admin]
  - name: suspended
    match: {directory: okta, group: {displayNamePattern: "^suspended"}}
    deny: [member]
default:
  grant: {workspace: general, role: member}
`

var (
	fuzzIDs   = []string{"", "g-sa", "g-billing", "g-eng", "G-SA", "00g1a2b3c4"}
	fuzzExts  = []string{"", "00g1a2b3c4", "00G1A2B3C4", "x", "g-sa"}
	fuzzNames = []string{
		"", // replaced by the fuzzed string
		"workspace_engineering", "workspace_Legal", "workspace_nope", "workspace_", "workspace_a.b",
		"workspace_\xff", "\xffx", "\uFFFDx", "Red team (EU)", "blue team (us) extra", "legal", "old finance",
		"role_workspace_admin", "ROLE_WORKSPACE_ADMIN", "contractors", "Contractors", "straße", "STRASSE",
		"suspended-people", "general", "support-DESK", "\u017Fupport-desk", "SUPPORT-de\u212A", "Finance-k",
		"FinANCE-\u212A", "finance-K", "legal-TEAM", "Support-team", "a-DES\u212A", "b-desk", "\xff-desk", "xA-Teams", "a-team",
	}
	fuzzDirs = []string{"", "okta", "entra", "google"}
)

// fuzzPerson builds a person from bytes: the first byte gives the active
// flag and the directory, each following 4 bytes a group (id, externalId,
// displayName, directory), each chosen from a small set that the rules
// use; displayName choice 0 is s itself.
func fuzzPerson(b []byte, s string) Person {
	p := Person{ID: "p"}
	if len(b) == 0 {
		return p
	}
	p.Active = b[0]&1 == 0
	p.Directory = fuzzDirs[int(b[0]>>1)%len(fuzzDirs)]
	for b = b[1:]; len(b) >= 4 && len(p.Groups) < 64; b = b[4:] {
		g := Group{
			ID:          fuzzIDs[int(b[0])%len(fuzzIDs)],
			ExternalID:  fuzzExts[int(b[1])%len(fuzzExts)],
			DisplayName: fuzzNames[int(b[2])%len(fuzzNames)],
			Directory:   fuzzDirs[int(b[3])%len(fuzzDirs)],
		}
		if int(b[2])%len(fuzzNames) == 0 {
			g.DisplayName = s
		}
		p.Groups = append(p.Groups, g)
	}
	return p
}

// FuzzEvaluate evaluates random group sets against a fixed document, and
// random documents (the string, when it parses) against the same groups.
// Evaluate must not panic, the indexed and the linear evaluation must agree,
// the order of groups must not matter, and the invariants of checkAccess
// must hold. A document that parses must survive a JSON and a YAML round
// trip.
//
// The seed corpus is in testdata/fuzz/FuzzEvaluate.
func FuzzEvaluate(f *testing.F) {
	fixed, err := Parse([]byte(fuzzRules), "")
	if err != nil {
		f.Fatal(err)
	}
	// Small seeds: the fuzzer minimizes every new input, at a cost that
	// grows fast with its length.
	for _, s := range []string{
		"version: 1\nworkspaces: [a]\nrules:\n - {match: {group: {displayNamePattern: \"^w_(?P<w>.*)$\"}}, grant: {workspace: \"${w}\", role: member}}\n",
		"version: 1\ncreate_workspaces: true\nrules:\n - {match: {directory: okta, group: {displayNamePattern: \"(?P<w>[a-z]+)\"}}, grant: {workspace: \"x-${w}\", role: member}}\n",
		"version: 1\nworkspaces: [a]\nrules:\n - {match: {group: {displayName: legal}}, grant: {workspace: a, role: member}}\n - {match: {group: {id: g-sa}}, grant: {workspace: \"*\", role: workspace_admin}}\n",
		"version: 1\nworkspaces: [a]\nexclusions: [{match: {group: {externalId: x}}, deny: [member]}]\ndefault: {grant: {workspace: a, role: member}}\n",
		`{"version":1,"protected_roles":[],"rules":[{"match":{"group":{"displayName":"Contractors"}},"grant":{"role":"org_admin"}}]}`,
		"Red team (EU)",
		"workspace_Legal",
	} {
		f.Add(s, []byte{0, 1, 2, 1, 0, 2, 1, 15, 1, 3, 4, 13, 1, 0, 0, 0, 2})
	}
	f.Fuzz(func(t *testing.T, s string, b []byte) {
		p := fuzzPerson(b, s)
		checkEvaluate(t, fixed, p)
		r, err := Parse([]byte(s), "")
		if err != nil {
			return
		}
		checkEvaluate(t, r, p)
		checkRoundTrip(t, r)
	})
}

func checkEvaluate(t *testing.T, r *Rules, p Person) {
	t.Helper()
	a := r.Evaluate(p)
	checkAccess(t, r, p, a)

	// reflect.DeepEqual first: cmp is much slower, and the fuzzer runs
	// this body many times per input while minimizing.
	lin := *r
	lin.linear = true
	if l := lin.Evaluate(p); !reflect.DeepEqual(a, l) {
		t.Fatalf("Evaluate(%+v) with the index and linearly differ (-index +linear):\n%s", p, cmp.Diff(a, l))
	}
	rev := p
	rev.Groups = slices.Clone(p.Groups)
	slices.Reverse(rev.Groups)
	if ra := r.Evaluate(rev); !reflect.DeepEqual(a, ra) {
		t.Fatalf("Evaluate(%+v) depends on the order of groups (-forward +reversed):\n%s", p, cmp.Diff(a, ra))
	}
}

// checkAccess checks the invariants of Evaluate's result a for p.
func checkAccess(t *testing.T, r *Rules, p Person, a Access) {
	t.Helper()
	if !p.Active {
		if !reflect.DeepEqual(a, Access{}) {
			t.Fatalf("Evaluate(%+v) = %v for an inactive person; want nothing", p, a)
		}
		return
	}
	groups := make([]Group, len(p.Groups))
	for i, g := range p.Groups {
		if g.Directory == "" {
			g.Directory = p.Directory
		}
		groups[i] = g
	}

	// The roles denied by an exclusion matching a group, computed apart
	// from Evaluate.
	var denied roleSet
	for _, x := range r.exclusions {
		for i := range groups {
			if ok, _ := x.sel.match(&groups[i], fold(groups[i].DisplayName), false); ok {
				denied |= x.deny
			}
		}
	}
	if denied.has(Member) {
		denied.add(WorkspaceAdmin)
	}

	checkReasons := func(g Grant) {
		if len(g.Reasons) == 0 {
			t.Fatalf("Evaluate(%+v): grant %+v has no reason", p, g)
		}
		if len(g.Outranked) > 0 {
			if g.Role != WorkspaceAdmin {
				t.Fatalf("Evaluate(%+v): grant %+v outranks nothing", p, g)
			}
			g.Reasons = append(slices.Clip(g.Reasons), g.Outranked...)
		}
		for j, why := range g.Reasons {
			role := g.Role
			if j >= len(g.Reasons)-len(g.Outranked) {
				role = Member
			}
			if why.Rule == DefaultRule {
				if why.Group != (Group{}) || r.def == nil || r.def.role != role {
					t.Fatalf("Evaluate(%+v): grant %+v has a bad default reason", p, g)
				}
				continue
			}
			if !slices.Contains(groups, why.Group) {
				t.Fatalf("Evaluate(%+v): reason %+v names a group the person is not in", p, why)
			}
			i := slices.IndexFunc(r.rules, func(x rule) bool { return x.name == why.Rule })
			if i < 0 {
				t.Fatalf("Evaluate(%+v): reason %+v names no rule", p, why)
			}
			x := r.rules[i]
			if ok, _ := x.sel.match(&why.Group, fold(why.Group.DisplayName), false); !ok {
				t.Fatalf("Evaluate(%+v): reason %+v: the group does not match the rule", p, why)
			}
			if x.role != role {
				t.Fatalf("Evaluate(%+v): reason %+v for %s names a rule that grants %s", p, why, role, x.role)
			}
			if r.protected.has(role) {
				byID := x.sel.kind == selID && why.Group.ID == x.sel.value
				byExt := x.sel.kind == selExternalID && why.Group.ExternalID == x.sel.value
				if !byID && !byExt {
					t.Fatalf("Evaluate(%+v): protected role %s granted by %+v, not by id or externalId", p, role, why)
				}
			}
		}
	}

	for i, g := range a.OrgRoles {
		if !g.Role.OrgWide() || g.Workspace != "" {
			t.Fatalf("Evaluate(%+v): org grant %+v is not org-wide", p, g)
		}
		if i > 0 && a.OrgRoles[i-1].Role.index() >= g.Role.index() {
			t.Fatalf("Evaluate(%+v): org roles out of order: %v", p, a.OrgRoles)
		}
		if denied.has(g.Role) {
			t.Fatalf("Evaluate(%+v): denied role %s granted", p, g.Role)
		}
		checkReasons(g)
	}
	for i, g := range a.Workspaces {
		if !g.Role.Workspace() || !validWorkspace(g.Workspace) {
			t.Fatalf("Evaluate(%+v): workspace grant %+v is invalid", p, g)
		}
		if !r.create && !r.declared[g.Workspace] {
			t.Fatalf("Evaluate(%+v): undeclared workspace %q granted with create_workspaces false", p, g.Workspace)
		}
		if i > 0 && a.Workspaces[i-1].Workspace >= g.Workspace {
			t.Fatalf("Evaluate(%+v): workspaces out of order or repeated: %v", p, a.Workspaces)
		}
		if denied.has(g.Role) {
			t.Fatalf("Evaluate(%+v): denied role %s granted in %s", p, g.Role, g.Workspace)
		}
		checkReasons(g)
	}
	for _, d := range a.Denied {
		if len(d.Exclusions) == 0 || len(d.Grants) == 0 || !denied.has(d.Role) {
			t.Fatalf("Evaluate(%+v): denial %+v lacks its reasons", p, d)
		}
	}
}

func checkRoundTrip(t *testing.T, r *Rules) {
	t.Helper()
	j, err := r.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON() = %v", err)
	}
	back, err := Parse(j, "application/json")
	if err != nil {
		t.Fatalf("Parse(MarshalJSON()) = %v; JSON: %s", err, j)
	}
	if !reflect.DeepEqual(r.doc, back.doc) {
		t.Fatalf("Parse(MarshalJSON()) differs (-want +got):\n%s", cmp.Diff(r.doc, back.doc))
	}
	y, err := yaml.Marshal(r)
	if err != nil {
		t.Fatalf("yaml.Marshal() = %v", err)
	}
	back, err = Parse(y, "application/yaml")
	if err != nil {
		t.Fatalf("Parse(yaml.Marshal()) = %v; YAML:\n%s", err, y)
	}
	if !reflect.DeepEqual(r.doc, back.doc) {
		t.Fatalf("Parse(yaml.Marshal()) differs (-want +got):\n%s", cmp.Diff(r.doc, back.doc))
	}
}
