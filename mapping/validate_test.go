package mapping

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// problemsMatch compares got with want, where a want Message is a substring
// that the got Message must contain; a want Line of 0 is not compared.
func problemsMatch(got, want []Problem) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Rule != w.Rule || g.Field != w.Field || (w.Line != 0 && g.Line != w.Line) || !strings.Contains(g.Message, w.Message) {
			return false
		}
	}
	return true
}

func TestParseProblems(t *testing.T) {
	for _, tc := range []struct {
		name        string
		doc         string
		contentType string
		want        []Problem
	}{
		{
			name: "unknown role, with a suggestion",
			doc: header + `rules:
  - {name: r, match: {group: {id: g}}, grant: {workspace: legal, role: Member}}
  - {name: s, match: {group: {id: g}}, grant: {role: superadmin}}
`,
			want: []Problem{
				{Rule: "r", Field: "rules[0].grant.role", Line: 4, Message: `unknown role "Member"; did you mean "member"?`},
				{Rule: "s", Field: "rules[1].grant.role", Line: 5, Message: `unknown role "superadmin"; the roles are org_admin`},
			},
		},
		{
			name: "literal workspace not declared while create_workspaces is false",
			doc: header + `rules:
  - {name: r, match: {group: {id: g}}, grant: {workspace: research, role: member}}
`,
			want: []Problem{{Rule: "r", Field: "rules[0].grant.workspace", Message: `workspace "research" is not declared and create_workspaces is false`}},
		},
		{
			name: "capture not defined in the pattern",
			doc: header + `rules:
  - {name: r, match: {group: {displayNamePattern: "^ws_(?P<name>.+)$"}}, grant: {workspace: "${ws}", role: member}}
  - {name: s, match: {group: {displayNamePattern: "^ws_(.+)$"}}, grant: {workspace: "${ws}", role: member}}
`,
			want: []Problem{
				{Rule: "r", Field: "rules[0].grant.workspace", Message: "capture ${ws} is not defined in displayNamePattern; its named groups are name"},
				{Rule: "s", Field: "rules[1].grant.workspace", Message: "displayNamePattern has no named group; add (?P<ws>...)"},
			},
		},
		{
			name: "capture without a pattern selector",
			doc: header + `rules:
  - {name: r, match: {group: {displayName: x}}, grant: {workspace: "${ws}", role: member}}
`,
			want: []Problem{{Rule: "r", Field: "rules[0].grant.workspace", Message: "${ws} captures from a displayNamePattern, and this rule selects by displayName"}},
		},
		{
			name: "bad template syntax",
			doc: header + `rules:
  - {name: a, match: {group: {displayNamePattern: "^(?P<ws>.+)$"}}, grant: {workspace: "$ws", role: member}}
  - {name: b, match: {group: {displayNamePattern: "^(?P<ws>.+)$"}}, grant: {workspace: "${ws}-*", role: member}}
  - {name: c, match: {group: {displayNamePattern: "^(?P<ws>.+)$"}}, grant: {workspace: "${w-s}", role: member}}
  - {name: d, match: {group: {displayNamePattern: "^(?P<ws>.+)$"}}, grant: {workspace: "Team-${ws}", role: member}}
`,
			want: []Problem{
				{Rule: "a", Field: "rules[0].grant.workspace", Message: `a "$" must start a capture reference`},
				{Rule: "b", Field: "rules[1].grant.workspace", Message: `"*" stands alone`},
				{Rule: "c", Field: "rules[2].grant.workspace", Message: "${w-s} is not a capture name"},
				{Rule: "d", Field: "rules[3].grant.workspace", Message: "may hold only lower-case letters"},
			},
		},
		{
			name: "invalid RE2",
			doc: header + `rules:
  - {name: r, match: {group: {displayNamePattern: "^(ws"}}, grant: {workspace: legal, role: member}}
  - {name: s, match: {group: {displayNamePattern: "^(?!x)"}}, grant: {workspace: legal, role: member}}
`,
			want: []Problem{
				{Rule: "r", Field: "rules[0].match.group.displayNamePattern", Message: "not a valid RE2 expression: missing closing )"},
				{Rule: "s", Field: "rules[1].match.group.displayNamePattern", Message: "RE2 has no lookahead"},
			},
		},
		{
			name: "protected role granted by displayName or pattern",
			doc: header + `rules:
  - {name: by-name, match: {group: {displayName: super-admin}}, grant: {role: org_admin}}
  - {name: by-pattern, match: {group: {displayNamePattern: "^admins$"}}, grant: {role: org_admin}}
  - {name: by-id, match: {group: {id: g}}, grant: {role: org_admin}}
  - {name: by-ext, match: {group: {externalId: g}}, grant: {role: org_admin}}
  - {name: unprotected, match: {group: {displayName: billing}}, grant: {role: billing_admin}}
`,
			want: []Problem{
				{Rule: "by-name", Field: "rules[0].match.group.displayName", Message: "role org_admin is protected: grant it only by a group's id or externalId, never by displayName"},
				{Rule: "by-pattern", Field: "rules[1].match.group.displayNamePattern", Message: "never by displayNamePattern"},
			},
		},
		{
			name: "custom protected roles replace the default",
			doc: header + `protected_roles: [billing_admin, workspace_admin]
rules:
  - {name: a, match: {group: {displayName: billing}}, grant: {role: billing_admin}}
  - {name: b, match: {group: {displayName: x}}, grant: {workspace: "*", role: workspace_admin}}
  - {name: c, match: {group: {displayName: y}}, grant: {role: org_admin}}
  - {name: d, match: {group: {displayName: z}}, grant: {workspace: legal, role: member}}
`,
			want: []Problem{
				{Rule: "a", Field: "rules[0].match.group.displayName", Message: "role billing_admin is protected"},
				{Rule: "b", Field: "rules[1].match.group.displayName", Message: "role workspace_admin is protected"},
			},
		},
		{
			name: "protected roles list: unknown and duplicate roles",
			doc:  header + "protected_roles: [org_admin, root, org_admin]\n",
			want: []Problem{
				{Field: "protected_roles[1]", Message: `unknown role "root"`},
				{Field: "protected_roles[2]", Message: "role org_admin is listed twice"},
			},
		},
		{
			name: "duplicate names, ignoring case, across rules and exclusions",
			doc: header + `rules:
  - {name: admins, match: {group: {id: a}}, grant: {role: billing_admin}}
  - {name: Admins, match: {group: {id: b}}, grant: {role: billing_admin}}
exclusions:
  - {name: admins, match: {group: {id: c}}, deny: [member]}
`,
			want: []Problem{
				{Rule: "Admins", Field: "rules[1].name", Message: `name "Admins" is already used by rules[0]`},
				{Rule: "admins", Field: "exclusions[0].name", Message: `name "admins" is already used by rules[0]`},
			},
		},
		{
			name: "names: reserved, empty, bad characters",
			doc: header + `rules:
  - {name: default, match: {group: {id: a}}, grant: {role: billing_admin}}
  - {name: "", match: {group: {id: a}}, grant: {role: billing_admin}}
  - {name: "rules[0]", match: {group: {id: a}}, grant: {role: billing_admin}}
`,
			want: []Problem{
				{Rule: "rules[0]", Field: "rules[0].name", Message: "reserved for the default grant"},
				{Rule: "rules[1]", Field: "rules[1].name", Message: "name is empty"},
				{Rule: "rules[2]", Field: "rules[2].name", Message: "may hold only letters, digits"},
			},
		},
		{
			name: "empty match, missing match, missing group, two selectors, empty selector",
			doc: header + `rules:
  - {name: a, match: {group: {}}, grant: {role: billing_admin}}
  - {name: b, grant: {role: billing_admin}}
  - {name: c, match: {directory: okta}, grant: {role: billing_admin}}
  - {name: d, match: {group: {id: x, displayName: y}}, grant: {role: billing_admin}}
  - {name: e, match: {group: {externalId: ""}}, grant: {role: billing_admin}}
`,
			want: []Problem{
				{Rule: "a", Field: "rules[0].match.group", Message: "group selects nothing: set one of id, externalId, displayName or displayNamePattern"},
				{Rule: "b", Field: "rules[1].match", Message: "match is required"},
				{Rule: "c", Field: "rules[2].match.group", Message: "match selects no group"},
				{Rule: "d", Field: "rules[3].match.group", Message: "group sets id and displayName: set exactly one selector"},
				{Rule: "e", Field: "rules[4].match.group.externalId", Message: "externalId is empty"},
			},
		},
		{
			name: "directory wildcards and bad names",
			doc: header + `rules:
  - {name: a, match: {directory: "okta-*", group: {id: x}}, grant: {role: billing_admin}}
  - {name: b, match: {directory: "okta prod", group: {id: x}}, grant: {role: billing_admin}}
  - {name: c, match: {directory: "?", group: {id: x}}, grant: {role: billing_admin}}
`,
			want: []Problem{
				{Rule: "a", Field: "rules[0].match.directory", Message: `write "*" for any directory or one exact directory name; wildcards inside a name are not supported`},
				{Rule: "b", Field: "rules[1].match.directory", Message: "is not a directory name"},
				{Rule: "c", Field: "rules[2].match.directory", Message: "wildcards inside a name are not supported"},
			},
		},
		{
			name: "org role with a workspace, workspace role without, member with star",
			doc: header + `rules:
  - {name: a, match: {group: {id: x}}, grant: {role: org_admin, workspace: legal}}
  - {name: b, match: {group: {id: x}}, grant: {role: workspace_admin}}
  - {name: c, match: {group: {id: x}}, grant: {role: member, workspace: "*"}}
  - {name: d, match: {group: {id: x}}, grant: {workspace: legal}}
  - {name: e, match: {group: {id: x}}}
`,
			want: []Problem{
				{Rule: "a", Field: "rules[0].grant.workspace", Message: "role org_admin is org-wide: remove workspace"},
				{Rule: "b", Field: "rules[1].grant.workspace", Message: `role workspace_admin is granted in a workspace: set workspace to a workspace name, a ${capture} or "*"`},
				{Rule: "c", Field: "rules[2].grant.workspace", Message: `workspace "*" with role member grants nothing`},
				{Rule: "d", Field: "rules[3].grant.role", Message: "role is required"},
				{Rule: "e", Field: "rules[4].grant", Message: "grant is required"},
			},
		},
		{
			name: "version",
			doc:  "workspaces: [a]\n",
			want: []Problem{{Field: "version", Message: "version is required"}},
		},
		{
			name: "version 2",
			doc:  "version: 2\n",
			want: []Problem{{Field: "version", Line: 1, Message: "unsupported version 2"}},
		},
		{
			name: "unknown fields, with suggestions",
			doc: header + `create_workspace: true
rules:
  - {name: a, match: {group: {externalID: x}}, grant: {role: billing_admin}, priority: 3}
`,
			want: []Problem{
				{Field: "create_workspace", Line: 3, Message: `unknown field "create_workspace"; did you mean "create_workspaces"?`},
				{Rule: "a", Field: "rules[0].priority", Line: 5, Message: `unknown field "priority"; the fields here are name, description, match, grant`},
				{Rule: "a", Field: "rules[0].match.group.externalID", Line: 5, Message: `unknown field "externalID"; did you mean "externalId"?`},
				{Rule: "a", Field: "rules[0].match.group", Line: 5, Message: "group selects nothing"},
			},
		},
		{
			name: "wrong types",
			doc: header + `create_workspaces: "yes"
rules:
  - {name: a, match: {group: {id: 12345}}, grant: {role: billing_admin}}
  - just a string
exclusions: {name: x}
`,
			want: []Problem{
				{Field: "create_workspaces", Line: 3, Message: "expected true or false, got a string"},
				{Rule: "a", Field: "rules[0].match.group.id", Line: 5, Message: `expected a string, got a number; quote it: "12345"`},
				{Rule: "rules[1]", Field: "rules[1]", Line: 6, Message: "expected an object with the fields name, description, match, grant; got a string"},
				{Field: "exclusions", Line: 7, Message: "expected a list, got an object"},
			},
		},
		{
			name: "exclusions: missing, empty and bad deny lists",
			doc: header + `exclusions:
  - {name: a, match: {group: {id: x}}}
  - {name: b, match: {group: {id: x}}, deny: []}
  - {name: c, match: {group: {id: x}}, deny: [member, admin, member]}
  - {name: d, deny: [member]}
`,
			want: []Problem{
				{Rule: "a", Field: "exclusions[0].deny", Message: "deny is required"},
				{Rule: "b", Field: "exclusions[1].deny", Message: "deny is empty"},
				{Rule: "c", Field: "exclusions[2].deny[1]", Message: `unknown role "admin"`},
				{Rule: "c", Field: "exclusions[2].deny[2]", Message: "role member is listed twice"},
				{Rule: "d", Field: "exclusions[3].match", Message: "match is required"},
			},
		},
		{
			name: "default: protected role, capture, star, workspace role without workspace",
			doc:  header + "default: {grant: {role: org_admin}}\n",
			want: []Problem{{Rule: "default", Field: "default.grant.role", Message: "role org_admin is protected: only a rule that selects a group by id or externalId can grant it, and the default grant has no group"}},
		},
		{
			name: "default with a capture",
			doc:  header + "default: {grant: {workspace: \"${ws}\", role: member}}\n",
			want: []Problem{{Rule: "default", Field: "default.grant.workspace", Message: "the default grant has no group to capture from"}},
		},
		{
			name: "default with star",
			doc:  header + "default: {grant: {workspace: \"*\", role: workspace_admin}}\n",
			want: []Problem{{Rule: "default", Field: "default.grant.workspace", Message: `the default grant needs a named workspace, not "*"`}},
		},
		{
			name: "declared workspaces: case, characters, duplicates, star, type",
			doc:  "version: 1\nworkspaces: [Legal, legal, legal, \"a b\", \"*\", 7]\n",
			want: []Problem{
				{Field: "workspaces[0]", Message: `workspace names are lower case: write "legal"`},
				{Field: "workspaces[2]", Message: `workspace "legal" is declared twice`},
				{Field: "workspaces[3]", Message: "may hold only lower-case letters, digits"},
				{Field: "workspaces[4]", Message: `"*" cannot be declared`},
				{Field: "workspaces[5]", Message: "expected a string, got a number"},
			},
		},
		{
			name: "every problem of a document at once, in line order",
			doc: `version: 1
workspaces: [legal]
rules:
  - name: one
    match: {group: {displayName: admins}}
    grant: {role: org_admin}
  - name: two
    match: {directory: "*-prod", group: {id: x}}
    grant: {workspace: finance, role: member}
  - name: one
    match: {group: {displayNamePattern: "^ws_(?P<ws>[a-z]+$"}}
    grant: {workspace: "${ws}", role: viewer}
`,
			want: []Problem{
				{Rule: "one", Field: "rules[0].match.group.displayName", Line: 5, Message: "role org_admin is protected"},
				{Rule: "two", Field: "rules[1].match.directory", Line: 8, Message: "wildcards inside a name are not supported"},
				{Rule: "two", Field: "rules[1].grant.workspace", Line: 9, Message: `workspace "finance" is not declared`},
				{Rule: "one", Field: "rules[2].name", Line: 10, Message: `name "one" is already used by rules[0]`},
				{Rule: "rules[2]", Field: "rules[2].match.group.displayNamePattern", Line: 11, Message: "not a valid RE2 expression"},
				{Rule: "rules[2]", Field: "rules[2].grant.role", Line: 12, Message: `unknown role "viewer"`},
			},
		},
		{
			name:        "JSON: problems carry lines too",
			contentType: "application/json",
			doc: `{"version": 1,
 "workspaces": ["legal"],
 "rules": [
  {"name": "a",
   "match": {"group": {"id": "x"}},
   "grant": {"workspace": "finance", "role": "member"}}
 ]}`,
			want: []Problem{{Rule: "a", Field: "rules[0].grant.workspace", Line: 6, Message: `workspace "finance" is not declared`}},
		},
		{
			name: "YAML syntax error",
			doc:  "version: 1\nrules: [\n",
			want: []Problem{{Message: "invalid YAML"}},
		},
		{
			name: "YAML duplicate key",
			doc:  "version: 1\nworkspaces: [a]\nworkspaces: [b]\n",
			want: []Problem{{Line: 3, Message: `key "workspaces" appears twice in one mapping (lines 2 and 3)`}},
		},
		{
			name: "YAML: two documents",
			doc:  "version: 1\n---\nversion: 1\n",
			want: []Problem{{Message: "more than one YAML document"}},
		},
		{
			name: "YAML merge keys",
			doc:  "version: 1\nrules:\n  - &r {name: a, match: {group: {id: x}}, grant: {role: billing_admin}}\n  - <<: *r\n    name: b\n",
			want: []Problem{{Line: 4, Message: "merge keys (<<) are not supported"}},
		},
		{
			name: "empty document",
			doc:  "# nothing\n",
			want: []Problem{{Message: "the document is empty"}},
		},
		{
			name: "not an object",
			doc:  "- version: 1\n",
			want: []Problem{{Message: "expected an object with the fields version, workspaces"}},
		},
		{
			name:        "JSON syntax error",
			contentType: "application/json",
			doc:         "{\"version\": 1,\n \"rules\": [}\n",
			want:        []Problem{{Line: 2, Message: "invalid JSON"}},
		},
		{
			name:        "JSON duplicate key",
			contentType: "application/json",
			doc:         "{\"version\": 1, \"version\": 1}",
			want:        []Problem{{Message: `key "version" appears twice in one object`}},
		},
		{
			name:        "JSON keys are case-sensitive",
			contentType: "application/json",
			doc:         `{"Version": 1}`,
			want: []Problem{
				{Field: "Version", Message: `unknown field "Version"; did you mean "version"?`},
				{Field: "version", Message: "version is required"},
			},
		},
		{
			name:        "JSON: data after the document",
			contentType: "application/json",
			doc:         `{"version": 1} {}`,
			want:        []Problem{{Message: "data after the document"}},
		},
		{
			name:        "unsupported content type",
			contentType: "text/html",
			doc:         `version: 1`,
			want:        []Problem{{Message: `unsupported content type "text/html"`}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := tc.contentType
			if ct == "" {
				ct = "application/yaml"
			}
			r, err := Parse([]byte(tc.doc), ct)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse(%q) = %v, %v; want a *ValidationError", tc.doc, r, err)
			}
			if !problemsMatch(ve.Problems, tc.want) {
				t.Errorf("Parse(%q) problems =\n%s\nwant\n%s", tc.doc, render(ve.Problems), render(tc.want))
			}
		})
	}
}

func render(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %q | %q | %d | %s\n", p.Rule, p.Field, p.Line, p.Message)
	}
	return b.String()
}

func TestValidationErrorText(t *testing.T) {
	_, err := Parse([]byte("version: 1\nrules:\n  - {name: a, match: {group: {displayName: x}}, grant: {role: org_admin}}\n  - {match: {group: {id: x}}, grant: {role: boss}}\n"), "")
	want := `invalid rules document: 2 problems:
  line 3: rules[0].match.group.displayName (a): role org_admin is protected: grant it only by a group's id or externalId, never by displayName, so that renaming a group in the IdP cannot grant it
  line 4: rules[1].grant.role: unknown role "boss"; the roles are org_admin, billing_admin and developer_admin (org-wide), workspace_admin and member (in a workspace)`
	if err == nil || err.Error() != want {
		t.Errorf("Parse().Error() = %v; want %s", err, want)
	}
}

func TestProblemLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nrules:\n")
	for range MaxProblems + 50 {
		b.WriteString("  - {match: {group: {id: x}}, grant: {role: nope}}\n")
	}
	_, err := Parse([]byte(b.String()), "")
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Parse() = %v; want a *ValidationError", err)
	}
	if len(ve.Problems) != MaxProblems+1 || ve.Problems[MaxProblems].Message != "50 more problems not listed" {
		t.Errorf("Parse() gave %d problems, last %q; want %d and a count of the rest", len(ve.Problems), ve.Problems[len(ve.Problems)-1].Message, MaxProblems+1)
	}
}
