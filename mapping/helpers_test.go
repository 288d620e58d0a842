package mapping

import (
	"os"
	"testing"
)

// header declares the workspaces most test documents use.
const header = "version: 1\nworkspaces: [engineering, legal, finance, support]\n"

func mustParse(t testing.TB, src string) *Rules {
	t.Helper()
	r, err := Parse([]byte(src), "application/yaml")
	if err != nil {
		t.Fatalf("Parse(%q) = %v", src, err)
	}
	return r
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Groups used across the tests; their Directory is empty, so they belong to
// the person's directory.
var (
	gEng        = Group{ID: "g-eng", ExternalID: "x-eng", DisplayName: "workspace_engineering"}
	gLegal      = Group{ID: "g-legal", ExternalID: "x-legal", DisplayName: "workspace_legal"}
	gNope       = Group{ID: "g-nope", ExternalID: "x-nope", DisplayName: "workspace_nope"}
	gWSAdmin    = Group{ID: "g-wsa", ExternalID: "x-wsa", DisplayName: "role_workspace_admin"}
	gOrgAdmin   = Group{ID: "g-admins", ExternalID: "00g1a2b3c4", DisplayName: "Admins"}
	gContractor = Group{ID: "g-contractors", ExternalID: "x-contractors", DisplayName: "Contractors"}
	gBilling    = Group{ID: "g-billing", ExternalID: "x-billing", DisplayName: "billing"}
)

// person is an active person of directory okta.
func person(groups ...Group) Person {
	return Person{ID: "p1", Active: true, Directory: "okta", Groups: groups}
}

// okta returns g as a Reason shows it for a person of directory okta.
func okta(g Group) Group {
	if g.Directory == "" {
		g.Directory = "okta"
	}
	return g
}

func why(rule string, g Group) Reason { return Reason{Rule: rule, Group: okta(g)} }

func defaultWhy() Reason { return Reason{Rule: DefaultRule} }

func inWS(workspace string, role Role, reasons ...Reason) Grant {
	return Grant{Workspace: workspace, Role: role, Reasons: reasons}
}

func orgWide(role Role, reasons ...Reason) Grant {
	return Grant{Role: role, Reasons: reasons}
}

// over adds the reasons for the lower role that g outranks.
func over(g Grant, reasons ...Reason) Grant {
	g.Outranked = reasons
	return g
}
