package mapping

import (
	"fmt"
	"strings"
	"testing"
)

// benchDoc builds a document of 1,000 rules and 10 exclusions over 200
// declared workspaces: 200 rules by id, 200 by externalId, 200 by
// displayName, 200 anchored patterns with a literal prefix, 100 (?i) ones,
// and 100 that start with a capture and end with a literal. With worst set,
// all 1,000 rules are unanchored patterns, which the maps cannot find: each
// is a candidate for every group that contains its required literal.
func benchDoc(worst bool) string {
	var b strings.Builder
	b.WriteString("version: 1\nworkspaces: [")
	for i := range 200 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "ws%d", i)
	}
	b.WriteString("]\nrules:\n")
	for i := range 1000 {
		ws := i % 200
		switch {
		case worst:
			fmt.Fprintf(&b, "  - {name: r%d, match: {group: {displayNamePattern: \"(?P<ws>ws[0-9]+)@site-%d\"}}, grant: {workspace: \"${ws}\", role: member}}\n", i, i)
		case i >= 900:
			fmt.Fprintf(&b, "  - {name: r%d, match: {group: {displayNamePattern: \"^(?P<ws>ws[0-9]+)@site-%d$\"}}, grant: {workspace: \"${ws}\", role: member}}\n", i, i)
		case i < 200:
			fmt.Fprintf(&b, "  - {name: r%d, match: {group: {id: g-%d}}, grant: {workspace: ws%d, role: member}}\n", i, i, ws)
		case i < 400:
			fmt.Fprintf(&b, "  - {name: r%d, match: {group: {externalId: x-%d}}, grant: {workspace: ws%d, role: workspace_admin}}\n", i, i, ws)
		case i < 600:
			fmt.Fprintf(&b, "  - {name: r%d, match: {group: {displayName: Team %d}}, grant: {workspace: ws%d, role: member}}\n", i, i, ws)
		case i < 800:
			fmt.Fprintf(&b, "  - {name: r%d, match: {group: {displayNamePattern: \"^dept-%d-(?P<ws>ws[0-9]+)$\"}}, grant: {workspace: \"${ws}\", role: member}}\n", i, i)
		default:
			fmt.Fprintf(&b, "  - {name: r%d, match: {group: {displayNamePattern: \"(?i)^proj-%d-(?P<ws>ws[0-9]+)$\"}}, grant: {workspace: \"${ws}\", role: member}}\n", i, i)
		}
	}
	b.WriteString("exclusions:\n")
	for i := range 10 {
		fmt.Fprintf(&b, "  - {name: x%d, match: {group: {displayName: contractors-%d}}, deny: [workspace_admin]}\n", i, i)
	}
	return b.String()
}

// benchPerson is a member of 200 groups of every kind that the rules
// select, so that some 150 rules match.
func benchPerson() Person {
	p := Person{ID: "p", Active: true, Directory: "okta"}
	for i := range 200 {
		g := Group{ID: fmt.Sprintf("g-%d", i*5), ExternalID: fmt.Sprintf("x-%d", 200+i*3)}
		switch i % 5 {
		case 0:
			g.DisplayName = fmt.Sprintf("Team %d", 400+i)
		case 1:
			g.DisplayName = fmt.Sprintf("dept-%d-ws%d", 600+i, i)
		case 2:
			g.DisplayName = fmt.Sprintf("PROJ-%d-ws%d", 800+i%100, i)
		case 3:
			g.DisplayName = fmt.Sprintf("ws%d@site-%d", i, 900+i%100)
		default:
			g.DisplayName = fmt.Sprintf("unrelated group %d", i)
		}
		p.Groups = append(p.Groups, g)
	}
	return p
}

// BenchmarkEvaluate evaluates one person in 200 groups against 1,000 rules.
func BenchmarkEvaluate(b *testing.B) {
	for _, bc := range []struct {
		name          string
		worst, linear bool
	}{
		{name: "mixed"},
		{name: "mixed-linear", linear: true},
		{name: "unanchored-patterns", worst: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := mustParse(b, benchDoc(bc.worst))
			r.linear = bc.linear
			p := benchPerson()
			a := r.Evaluate(p)
			if len(a.Workspaces) == 0 {
				b.Fatalf("Evaluate() granted nothing; the benchmark measures nothing")
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r.Evaluate(p)
			}
			b.ReportMetric(float64(len(a.Workspaces)), "workspaces")
		})
	}
}

// BenchmarkParse parses and compiles the 1,000-rule document.
func BenchmarkParse(b *testing.B) {
	doc := []byte(benchDoc(false))
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(doc, "application/yaml"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSimulate compares two 1,000-rule documents (the second grants
// member where the first grants workspace_admin) over 1,000 people in 50
// groups each.
func BenchmarkSimulate(b *testing.B) {
	doc := benchDoc(false)
	current, proposed := mustParse(b, doc), mustParse(b, strings.ReplaceAll(doc, "workspace_admin}", "member}"))
	people := make([]Person, 1000)
	for i := range people {
		p := benchPerson()
		p.ID = fmt.Sprint(i)
		p.Groups = p.Groups[i%150 : i%150+50]
		people[i] = p
	}
	b.ReportAllocs()
	for b.Loop() {
		Simulate(current, proposed, people)
	}
}
