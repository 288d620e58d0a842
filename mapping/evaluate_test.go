package mapping

import (
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEvaluate(t *testing.T) {
	example := string(readFile(t, "testdata/example.yaml"))
	for _, tc := range []struct {
		name string
		doc  string
		p    Person
		want Access
	}{
		{
			name: "example: member through a captured workspace",
			doc:  example,
			p:    person(gEng),
			want: Access{Workspaces: []Grant{inWS("engineering", Member, why("workspace-members", gEng))}},
		},
		{
			name: "example: workspace admin qualifies only the workspaces the person is a member of",
			doc:  example,
			p:    person(gEng, gWSAdmin),
			want: Access{Workspaces: []Grant{over(inWS("engineering", WorkspaceAdmin, why("workspace-admins", gWSAdmin)), why("workspace-members", gEng))}},
		},
		{
			name: "example: org admin by externalId, admin of each of two workspaces",
			doc:  example,
			p:    person(gLegal, gOrgAdmin, gEng, gWSAdmin),
			want: Access{
				OrgRoles: []Grant{orgWide(OrgAdmin, why("org-admins", gOrgAdmin))},
				Workspaces: []Grant{
					over(inWS("engineering", WorkspaceAdmin, why("workspace-admins", gWSAdmin)), why("workspace-members", gEng)),
					over(inWS("legal", WorkspaceAdmin, why("workspace-admins", gWSAdmin)), why("workspace-members", gLegal)),
				},
			},
		},
		{
			name: "example: a captured workspace that is not declared grants nothing and is listed",
			doc:  example,
			p:    person(gNope, gEng),
			want: Access{
				Workspaces: []Grant{inWS("engineering", Member, why("workspace-members", gEng))},
				Skipped:    []Skip{{Rule: "workspace-members", Group: okta(gNope), Workspace: "nope", Reason: SkipUndeclared}},
			},
		},
		{
			name: "example: workspace admin alone has nothing to qualify, so the default applies",
			doc:  example,
			p:    person(gWSAdmin),
			want: Access{Workspaces: []Grant{inWS("general", Member, defaultWhy())}},
		},
		{
			name: "example: no groups, default grant",
			doc:  example,
			p:    person(),
			want: Access{Workspaces: []Grant{inWS("general", Member, defaultWhy())}},
		},
		{
			name: "example: an org role alone is a grant, so no default",
			doc:  example,
			p:    person(gOrgAdmin),
			want: Access{OrgRoles: []Grant{orgWide(OrgAdmin, why("org-admins", gOrgAdmin))}},
		},
		{
			name: "example: contractors lose org_admin and fall back from workspace_admin to member",
			doc:  example,
			p:    person(gOrgAdmin, gEng, gWSAdmin, gContractor),
			want: Access{
				Workspaces: []Grant{inWS("engineering", Member, why("workspace-members", gEng))},
				Denied: []Denial{
					{Role: OrgAdmin, Exclusions: []Reason{why("contractors-never-admin", gContractor)}, Grants: []Reason{why("org-admins", gOrgAdmin)}},
					{Workspace: "engineering", Role: WorkspaceAdmin, Exclusions: []Reason{why("contractors-never-admin", gContractor)}, Grants: []Reason{why("workspace-admins", gWSAdmin)}},
				},
			},
		},
		{
			name: "example: deactivated person holds nothing, whatever the groups",
			doc:  example,
			p:    Person{ID: "p1", Active: false, Directory: "okta", Groups: []Group{gOrgAdmin, gEng, gWSAdmin}},
			want: Access{},
		},
		{
			name: "example: a renamed admin group still grants org_admin by externalId",
			doc:  example,
			p:    person(Group{ID: "g-admins", ExternalID: "00g1a2b3c4", DisplayName: "renamed"}),
			want: Access{OrgRoles: []Grant{orgWide(OrgAdmin, why("org-admins", Group{ID: "g-admins", ExternalID: "00g1a2b3c4", DisplayName: "renamed"}))}},
		},
		{
			name: "selector id is exact",
			doc: header + `rules:
  - {name: by-id, match: {group: {id: g-eng}}, grant: {workspace: engineering, role: member}}
  - {name: by-id-case, match: {group: {id: G-LEGAL}}, grant: {workspace: legal, role: member}}
`,
			p:    person(gEng, gLegal),
			want: Access{Workspaces: []Grant{inWS("engineering", Member, why("by-id", gEng))}},
		},
		{
			name: "selector externalId is exact",
			doc: header + `rules:
  - {name: by-ext, match: {group: {externalId: x-legal}}, grant: {workspace: legal, role: member}}
  - {name: by-ext-case, match: {group: {externalId: X-ENG}}, grant: {workspace: engineering, role: member}}
`,
			p:    person(gEng, gLegal),
			want: Access{Workspaces: []Grant{inWS("legal", Member, why("by-ext", gLegal))}},
		},
		{
			name: "selector displayName folds case, Unicode included",
			doc: header + `rules:
  - {name: ascii, match: {group: {displayName: CONTRACTORS}}, grant: {workspace: legal, role: member}}
  - {name: unicode, match: {group: {displayName: "STRASSE"}}, grant: {workspace: finance, role: member}}
  - {name: other, match: {group: {displayName: contractor}}, grant: {workspace: support, role: member}}
`,
			p: person(gContractor, Group{ID: "g-s", DisplayName: "straße"}),
			want: Access{Workspaces: []Grant{
				inWS("finance", Member, why("unicode", Group{ID: "g-s", DisplayName: "straße"})),
				inWS("legal", Member, why("ascii", gContractor)),
			}},
		},
		{
			name: "selector displayNamePattern is case-sensitive unless (?i); captures are lower-cased",
			doc: header + `rules:
  - {name: exact, match: {group: {displayNamePattern: "^workspace_(?P<ws>[a-z]+)$"}}, grant: {workspace: "${ws}", role: member}}
  - {name: folded, match: {group: {displayNamePattern: "(?i)^team_(?P<ws>[a-z]+)$"}}, grant: {workspace: "${ws}", role: member}}
`,
			p: person(Group{ID: "a", DisplayName: "Workspace_Legal"}, Group{ID: "b", DisplayName: "TEAM_Finance"}),
			want: Access{Workspaces: []Grant{
				inWS("finance", Member, why("folded", Group{ID: "b", DisplayName: "TEAM_Finance"})),
			}},
		},
		{
			name: "pattern is anchored as written: unanchored matches inside a name",
			doc: header + `rules:
  - {name: loose, match: {group: {displayNamePattern: "legal"}}, grant: {workspace: legal, role: member}}
`,
			p:    person(Group{ID: "a", DisplayName: "old-legal-team"}),
			want: Access{Workspaces: []Grant{inWS("legal", Member, why("loose", Group{ID: "a", DisplayName: "old-legal-team"}))}},
		},
		{
			name: "template with literal text around captures",
			doc: "version: 1\nworkspaces: [team-red-eu, team-blue-us]\n" + `rules:
  - name: teams
    match: {group: {displayNamePattern: "^(?P<color>[a-z]+) team \\((?P<region>[A-Z]{2})\\)$"}}
    grant: {workspace: "team-${color}-${region}", role: member}
`,
			p: person(Group{ID: "a", DisplayName: "red team (EU)"}, Group{ID: "b", DisplayName: "blue team (US)"}, Group{ID: "c", DisplayName: "red team (US)"}),
			want: Access{
				Workspaces: []Grant{
					inWS("team-blue-us", Member, why("teams", Group{ID: "b", DisplayName: "blue team (US)"})),
					inWS("team-red-eu", Member, why("teams", Group{ID: "a", DisplayName: "red team (EU)"})),
				},
				Skipped: []Skip{{Rule: "teams", Group: okta(Group{ID: "c", DisplayName: "red team (US)"}), Workspace: "team-red-us", Reason: SkipUndeclared}},
			},
		},
		{
			name: "create_workspaces true: a captured name creates a workspace",
			doc: header + `create_workspaces: true
rules:
  - {name: ws, match: {group: {displayNamePattern: "^workspace_(?P<ws>.+)$"}}, grant: {workspace: "${ws}", role: member}}
`,
			p: person(gNope, Group{ID: "bad", DisplayName: "workspace_two words"}),
			want: Access{
				Workspaces: []Grant{inWS("nope", Member, why("ws", gNope))},
				Skipped:    []Skip{{Rule: "ws", Group: okta(Group{ID: "bad", DisplayName: "workspace_two words"}), Workspace: "two words", Reason: SkipInvalidName}},
			},
		},
		{
			name: "create_workspaces true: an undeclared literal workspace is granted",
			doc: header + `create_workspaces: true
rules:
  - {name: lit, match: {group: {id: g-nope}}, grant: {workspace: research, role: member}}
`,
			p:    person(gNope),
			want: Access{Workspaces: []Grant{inWS("research", Member, why("lit", gNope))}},
		},
		{
			name: "a capture group that took no part gives an invalid name",
			doc: header + `rules:
  - {name: opt, match: {group: {displayNamePattern: "^ws(_(?P<ws>[a-z]+))?$"}}, grant: {workspace: "${ws}", role: member}}
`,
			p:    person(Group{ID: "a", DisplayName: "ws"}),
			want: Access{Skipped: []Skip{{Rule: "opt", Group: okta(Group{ID: "a", DisplayName: "ws"}), Workspace: "", Reason: SkipInvalidName}}},
		},
		{
			name: "highest role wins, the lower role's reasons outranked",
			doc: header + `rules:
  - {name: members, match: {group: {id: g-eng}}, grant: {workspace: engineering, role: member}}
  - {name: admins, match: {group: {id: g-wsa}}, grant: {workspace: engineering, role: workspace_admin}}
`,
			p:    person(gEng, gWSAdmin),
			want: Access{Workspaces: []Grant{over(inWS("engineering", WorkspaceAdmin, why("admins", gWSAdmin)), why("members", gEng))}},
		},
		{
			name: "star qualifies workspaces granted by literal and captured rules, not others",
			doc: header + `rules:
  - {name: star, match: {group: {id: g-wsa}}, grant: {workspace: "*", role: workspace_admin}}
  - {name: captured, match: {group: {displayNamePattern: "^workspace_(?P<ws>[a-z]+)$"}}, grant: {workspace: "${ws}", role: member}}
  - {name: literal, match: {group: {id: g-billing}}, grant: {workspace: finance, role: member}}
`,
			p: person(gWSAdmin, gEng, gBilling),
			want: Access{Workspaces: []Grant{
				over(inWS("engineering", WorkspaceAdmin, why("star", gWSAdmin)), why("captured", gEng)),
				over(inWS("finance", WorkspaceAdmin, why("star", gWSAdmin)), why("literal", gBilling)),
			}},
		},
		{
			name: "multiple reasons for one grant, by rule position then group",
			doc: header + `rules:
  - {name: z-by-name, match: {group: {displayName: workspace_legal}}, grant: {workspace: legal, role: member}}
  - {name: a-by-pattern, match: {group: {displayNamePattern: "^workspace_(?P<ws>[a-z]+)$"}}, grant: {workspace: "${ws}", role: member}}
  - {name: all-legal, match: {group: {displayNamePattern: "^(workspace_legal|legal-team)$"}}, grant: {workspace: legal, role: member}}
`,
			p: person(Group{ID: "g2", DisplayName: "legal-team"}, gLegal, gLegal),
			want: Access{Workspaces: []Grant{inWS("legal", Member,
				why("z-by-name", gLegal),
				why("a-by-pattern", gLegal),
				why("all-legal", gLegal),
				why("all-legal", Group{ID: "g2", DisplayName: "legal-team"}),
			)}},
		},
		{
			name: "unnamed rules are named by position",
			doc: header + `rules:
  - {match: {group: {id: g-eng}}, grant: {workspace: engineering, role: member}}
`,
			p:    person(gEng),
			want: Access{Workspaces: []Grant{inWS("engineering", Member, why("rules[0]", gEng))}},
		},
		{
			name: "org roles: several, in role order",
			doc: header + `rules:
  - {name: dev, match: {group: {id: g-eng}}, grant: {role: developer_admin}}
  - {name: billing, match: {group: {displayName: billing}}, grant: {role: billing_admin}}
  - {name: admin, match: {group: {externalId: 00g1a2b3c4}}, grant: {role: org_admin}}
`,
			p: person(gEng, gBilling, gOrgAdmin),
			want: Access{OrgRoles: []Grant{
				orgWide(OrgAdmin, why("admin", gOrgAdmin)),
				orgWide(BillingAdmin, why("billing", gBilling)),
				orgWide(DeveloperAdmin, why("dev", gEng)),
			}},
		},
		{
			name: "exclusion denying member removes every workspace role, admin included",
			doc: header + `rules:
  - {name: m, match: {group: {id: g-eng}}, grant: {workspace: engineering, role: member}}
  - {name: a, match: {group: {id: g-wsa}}, grant: {workspace: engineering, role: workspace_admin}}
  - {name: b, match: {group: {id: g-billing}}, grant: {role: billing_admin}}
exclusions:
  - {name: suspended, match: {group: {displayName: contractors}}, deny: [member]}
`,
			p: person(gEng, gWSAdmin, gBilling, gContractor),
			want: Access{
				OrgRoles: []Grant{orgWide(BillingAdmin, why("b", gBilling))},
				Denied: []Denial{
					{Workspace: "engineering", Role: WorkspaceAdmin, Exclusions: []Reason{why("suspended", gContractor)}, Grants: []Reason{why("a", gWSAdmin)}},
					{Workspace: "engineering", Role: Member, Exclusions: []Reason{why("suspended", gContractor)}, Grants: []Reason{why("m", gEng)}},
				},
			},
		},
		{
			name: "denied workspace_admin without member leaves nothing in that workspace",
			doc: header + `rules:
  - {name: a, match: {group: {id: g-wsa}}, grant: {workspace: legal, role: workspace_admin}}
exclusions:
  - {name: x, match: {group: {id: g-contractors}}, deny: [workspace_admin]}
`,
			p: person(gWSAdmin, gContractor),
			want: Access{Denied: []Denial{
				{Workspace: "legal", Role: WorkspaceAdmin, Exclusions: []Reason{why("x", gContractor)}, Grants: []Reason{why("a", gWSAdmin)}},
			}},
		},
		{
			name: "exclusions apply to the default grant too",
			doc: header + `default: {grant: {workspace: support, role: member}}
exclusions:
  - {name: nobody, match: {group: {displayNamePattern: "^Contract"}}, deny: [member]}
`,
			p: person(gContractor),
			want: Access{Denied: []Denial{
				{Workspace: "support", Role: Member, Exclusions: []Reason{why("nobody", gContractor)}, Grants: []Reason{defaultWhy()}},
			}},
		},
		{
			name: "a denied grant still counts as a grant: no default",
			doc: header + `default: {grant: {workspace: support, role: member}}
rules:
  - {name: dev, match: {group: {id: g-eng}}, grant: {role: developer_admin}}
exclusions:
  - {name: x, match: {group: {id: g-contractors}}, deny: [developer_admin]}
`,
			p: person(gEng, gContractor),
			want: Access{Denied: []Denial{
				{Role: DeveloperAdmin, Exclusions: []Reason{why("x", gContractor)}, Grants: []Reason{why("dev", gEng)}},
			}},
		},
		{
			name: "default grant of an org-wide role",
			doc:  header + "default: {grant: {role: developer_admin}}\n",
			p:    person(gEng),
			want: Access{OrgRoles: []Grant{orgWide(DeveloperAdmin, defaultWhy())}},
		},
		{
			name: "custom protected roles: workspace_admin by id is allowed, org_admin by name then too",
			doc: header + `protected_roles: [workspace_admin]
rules:
  - {name: a, match: {group: {id: g-wsa}}, grant: {workspace: legal, role: workspace_admin}}
  - {name: o, match: {group: {displayName: admins}}, grant: {role: org_admin}}
`,
			p: person(gWSAdmin, gOrgAdmin),
			want: Access{
				OrgRoles:   []Grant{orgWide(OrgAdmin, why("o", gOrgAdmin))},
				Workspaces: []Grant{inWS("legal", WorkspaceAdmin, why("a", gWSAdmin))},
			},
		},
		{
			name: "directory scoping: exact directory, group's own or the person's",
			doc: header + `rules:
  - {name: okta-only, match: {directory: okta, group: {displayName: staff}}, grant: {workspace: engineering, role: member}}
  - {name: entra-only, match: {directory: entra, group: {displayName: staff}}, grant: {workspace: legal, role: member}}
  - {name: any, match: {directory: "*", group: {displayName: staff}}, grant: {workspace: support, role: member}}
`,
			p: person(Group{ID: "s1", DisplayName: "Staff"}, Group{ID: "s2", DisplayName: "staff", Directory: "google"}),
			want: Access{Workspaces: []Grant{
				inWS("engineering", Member, why("okta-only", Group{ID: "s1", DisplayName: "Staff"})),
				inWS("support", Member,
					why("any", Group{ID: "s1", DisplayName: "Staff"}),
					why("any", Group{ID: "s2", DisplayName: "staff", Directory: "google"})),
			}},
		},
		{
			name: "groups without an id or externalId match no id rule",
			doc: header + `rules:
  - {name: id, match: {group: {id: g-eng}}, grant: {workspace: engineering, role: member}}
`,
			p:    person(Group{DisplayName: "g-eng"}, Group{}),
			want: Access{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustParse(t, tc.doc)
			got := r.Evaluate(tc.p)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Evaluate(%v) = %v; want %v; diff (-want +got):\n%s", tc.p, got, tc.want, diff)
			}
			// The index must give what trying every selector gives.
			lin := *r
			lin.linear = true
			if diff := cmp.Diff(got, lin.Evaluate(tc.p)); diff != "" {
				t.Errorf("Evaluate(%v) with the index and linearly differ (-index +linear):\n%s", tc.p, diff)
			}
		})
	}
}

func TestEvaluateDeterministic(t *testing.T) {
	r := mustParse(t, string(readFile(t, "testdata/example.yaml")))
	groups := []Group{gLegal, gOrgAdmin, gEng, gWSAdmin, gNope, gContractor, {ID: "x", DisplayName: "workspace_finance"}}
	want := r.Evaluate(person(groups...))
	for i := range 20 {
		g := slices.Clone(groups)
		// A fixed permutation per round, and duplicates.
		for j := range g {
			k := (j*7 + i*3) % len(g)
			g[j], g[k] = g[k], g[j]
		}
		g = append(g, g[i%len(g)])
		if got := r.Evaluate(person(g...)); !cmp.Equal(got, want) {
			t.Fatalf("Evaluate(%v) = %v; want %v (same groups, other order)", g, got, want)
		}
	}
}

func TestEvaluateNil(t *testing.T) {
	var r *Rules
	if got := r.Evaluate(person(gEng)); !cmp.Equal(got, Access{}) {
		t.Errorf("(*Rules)(nil).Evaluate() = %v; want no access", got)
	}
}

func TestAccessHelpers(t *testing.T) {
	r := mustParse(t, string(readFile(t, "testdata/example.yaml")))
	a := r.Evaluate(person(gOrgAdmin, gEng, gLegal, gWSAdmin))
	for _, tc := range []struct {
		ws   string
		want Role
	}{{"engineering", WorkspaceAdmin}, {"legal", WorkspaceAdmin}, {"finance", ""}, {"", ""}} {
		if got := a.Role(tc.ws); got != tc.want {
			t.Errorf("Access.Role(%q) = %q; want %q", tc.ws, got, tc.want)
		}
	}
	if !a.HasOrgRole(OrgAdmin) || a.HasOrgRole(BillingAdmin) {
		t.Errorf("HasOrgRole: got %v for org_admin, %v for billing_admin; want true, false", a.HasOrgRole(OrgAdmin), a.HasOrgRole(BillingAdmin))
	}
	if a.Empty() || !(Access{}).Empty() {
		t.Errorf("Empty() wrong")
	}
}

func TestRoles(t *testing.T) {
	for _, tc := range []struct {
		r                           Role
		valid, orgWide, inWorkspace bool
	}{
		{OrgAdmin, true, true, false},
		{BillingAdmin, true, true, false},
		{DeveloperAdmin, true, true, false},
		{WorkspaceAdmin, true, false, true},
		{Member, true, false, true},
		{"admin", false, false, false},
		{"", false, false, false},
	} {
		if got := [3]bool{tc.r.Valid(), tc.r.OrgWide(), tc.r.Workspace()}; got != [3]bool{tc.valid, tc.orgWide, tc.inWorkspace} {
			t.Errorf("Role(%q): Valid, OrgWide, Workspace = %v; want %v", tc.r, got, [3]bool{tc.valid, tc.orgWide, tc.inWorkspace})
		}
	}
	if !(WorkspaceAdmin.rank() > Member.rank()) {
		t.Errorf("workspace_admin must outrank member")
	}
}

// TestPatternIndexKeys checks the literal prefix, suffix and required
// literal that the index files a pattern under: every name the pattern
// matches, with its ASCII letters lower-cased, must start with, end with and
// contain them.
func TestPatternIndexKeys(t *testing.T) {
	for _, tc := range []struct{ pattern, prefix, suffix, needle string }{
		{`^workspace_(?P<ws>.+)$`, "workspace_", "", "workspace_"},
		{`workspace_(?P<ws>.+)$`, "", "", "workspace_"},
		{`(?P<ws>ws[0-9]+)@Site-12`, "", "", "@site-12"},
		{`(?i)(?P<ws>ws[0-9]+)@Site-12`, "", "", "w"}, // s folds to the long s
		{`x(?:ab|cd)y`, "", "", "x"},
		{`(?:legal)?team`, "", "", "team"},
		{`a*`, "", "", ""},
		{`(?P<a>abc(?P<b>defg))`, "", "", "defg"},
		{`^Team-A`, "team-a", "", "team-a"},
		{`(?i)^Proj-`, "proj-", "", "proj-"},
		{`(?i)^desk`, "de", "", "de"},                  // k also matches the Kelvin sign
		{`(?i)^sales`, "", "", ""},                     // s also matches the long s
		{`^Fin(?i)ance-K`, "finance-", "", "finance-"}, // case-sensitive, then folded
		{"^\uFFFDx", "", "", ""},                       // an invalid byte also reads as U+FFFD
		{`^éa`, "", "", ""},
		{`(?m)^abc$`, "", "", "abc"},
		{`^ab|^ac`, "", "", ""}, // an alternation at the top: nothing, which is safe
		{`^(?:ab|ac)$`, "a", "", "a"},
		{`^\bab`, "", "", "ab"},
		{`^(?:ab)+`, "", "", ""},
		{`^(?P<ws>[a-z]+)@Site-9$`, "", "@site-9", "@site-9"},
		{`(?i)(?P<ws>[a-z]+)-TEAM$`, "", "-team", "-team"},
		{`(?i)(?P<ws>[a-z]+)-desk$`, "", "", "-de"},
		{`^a(?P<ws>[a-z]+)-bc$`, "a", "-bc", "-bc"},
		{`(?P<ws>[a-z]+)é$`, "", "", ""},
		{`[a-z]+\z`, "", "", ""},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			doc := header + "rules:\n  - {name: p, match: {group: {displayNamePattern: " + strconv.Quote(tc.pattern) + "}}, grant: {workspace: legal, role: member}}\n"
			r := mustParse(t, doc)
			sel := r.rules[0].sel
			if got := [2]string{sel.prefix, sel.suffix}; got != [2]string{tc.prefix, tc.suffix} {
				t.Errorf("prefix, suffix of %q = %q; want %q, %q", tc.pattern, got, tc.prefix, tc.suffix)
			}
			if sel.needle != tc.needle {
				t.Errorf("required literal of %q = %q; want %q", tc.pattern, sel.needle, tc.needle)
			}
		})
	}
}
