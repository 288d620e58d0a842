package filter

import (
	"strings"
	"testing"

	"github.com/scimbridge/scimbridge/scim/resource"
)

// BenchmarkParsePlan is the IdPs' hot path: GET /Users?filter=userName eq "…".
func BenchmarkParsePlan(b *testing.B) {
	for b.Loop() {
		f, err := Parse(resource.User(), `userName eq "alice@example.com"`, Limits{})
		if err != nil || f.Plan() == nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEntraForm(b *testing.B) {
	for b.Loop() {
		if _, err := Parse(resource.User(), `emails[type eq "work"].value eq "alice@example.com"`, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseRefused measures the refusal of a 1 MiB filter of nested
// parentheses under a raised length limit (the depth scan stops it).
func BenchmarkParseRefused(b *testing.B) {
	s := strings.Repeat("(", 1<<19) + strings.Repeat(")", 1<<19)
	for b.Loop() {
		if _, err := Parse(resource.User(), s, Limits{MaxLength: 1 << 21}); err == nil {
			b.Fatal("accepted")
		}
	}
}

func benchMatch(b *testing.B, filter string) {
	f, err := Parse(resource.User(), filter, Limits{})
	if err != nil {
		b.Fatal(err.Detail)
	}
	doc, verr := resource.View(resource.User(), users(b)[0])
	if verr != nil {
		b.Fatal(verr)
	}
	for b.Loop() {
		f.Match(doc)
	}
}

func BenchmarkMatchUserName(b *testing.B) { benchMatch(b, `userName eq "alice@x.example"`) }

func BenchmarkMatchTypical(b *testing.B) {
	benchMatch(b, `emails[type eq "work" and value co "@work"] and active eq true and meta.lastModified gt "2011-05-13T04:42:34Z"`)
}

func BenchmarkMatchRecord(b *testing.B) {
	f, _ := Parse(resource.User(), `userName eq "alice@x.example" and active eq true`, Limits{})
	r := users(b)[0]
	for b.Loop() {
		f.MatchRecord(r)
	}
}
