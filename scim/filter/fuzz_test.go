package filter

import (
	"net/http"
	"slices"
	"testing"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/google/go-cmp/cmp"
	scimfilter "github.com/scim2/filter-parser/v2"

	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

// FuzzParse parses arbitrary text as a User and a Group filter. A filter
// that parses must plan and match the fixtures without panicking, its plan
// must be a superset of its matches (against a simulated index), and its
// String must parse back into a filter with the same String and the same
// matches. An error must be a 400 invalidFilter with a detail. The same
// text is also tried as a PATCH path with a value filter.
//
// The seed corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`userName eq "bjensen"`,
		`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "id" and not (active eq false)`,
		`meta.lastModified ge "2011-05-13T04:42:34Z" and title pr`,
		`emails[type eq "work"].value eq "x"`,
		`externalId eq jyoung`,
		`userName eq "a\"b\\c\u00e9"`,
	} {
		f.Add(s)
	}
	type fixture struct {
		typ   *resource.Type
		recs  []store.Record
		docs  []resource.Doc
		index *memIndex
	}
	var fixtures []fixture
	for _, fx := range []fixture{{typ: resource.User(), recs: users(f)}, {typ: resource.Group(), recs: groups(f)}} {
		fx.index = newMemIndex()
		for _, r := range fx.recs {
			fx.index.indexRecord(fx.typ, r)
			d, err := resource.View(fx.typ, r)
			if err != nil {
				f.Fatal(err)
			}
			fx.docs = append(fx.docs, d)
		}
		fixtures = append(fixtures, fx)
	}
	roomy := Limits{MaxLength: 1 << 20, MaxDepth: 1 << 10, MaxTerms: 1 << 10}

	f.Fuzz(func(t *testing.T, s string) {
		checkFastParse(t, s)
		for _, fx := range fixtures {
			flt, err := Parse(fx.typ, s, Limits{})
			if err != nil {
				if err.Status != http.StatusBadRequest || err.ScimType != scimerrors.ScimTypeInvalidFilter || err.Detail == "" {
					t.Fatalf("Parse(%q) error = %d %q %q; want 400 invalidFilter with a detail", s, err.Status, err.ScimType, err.Detail)
				}
				continue
			}
			plan := flt.Plan()
			cand := fx.index.candidates(plan)
			var matched []string
			for i, d := range fx.docs {
				if flt.Match(d) {
					matched = append(matched, fx.recs[i].ID)
					if !cand[fx.recs[i].ID] {
						t.Fatalf("Parse(%q): %s matches but plan %s does not select it", s, fx.recs[i].ID, planString(plan))
					}
				}
			}
			if flt.Exact() {
				for id := range cand {
					if !slices.Contains(matched, id) {
						t.Fatalf("Parse(%q) is Exact but plan %s selects %s, which does not match", s, planString(plan), id)
					}
				}
			}
			str := flt.String()
			again, err := Parse(fx.typ, str, roomy)
			if err != nil {
				t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, str, err.Detail)
			}
			if again.String() != str {
				t.Fatalf("String is not stable: %q → %q → %q", s, str, again.String())
			}
			var matchedAgain []string
			for i, d := range fx.docs {
				if again.Match(d) {
					matchedAgain = append(matchedAgain, fx.recs[i].ID)
				}
			}
			if !slices.Equal(matched, matchedAgain) {
				t.Fatalf("Parse(%q) matches %v but its String %q matches %v", s, matched, str, matchedAgain)
			}
		}

		// The same text as a PATCH path.
		p, err := ParsePath(s, Limits{})
		if err != nil {
			if err.Status != http.StatusBadRequest || err.ScimType != scimerrors.ScimTypeInvalidPath || err.Detail == "" {
				t.Fatalf("ParsePath(%q) error = %d %q %q; want 400 invalidPath with a detail", s, err.Status, err.ScimType, err.Detail)
			}
			return
		}
		EqTerms(p.ValueExpression)
		ValueEqs(p.ValueExpression)
		for _, fx := range fixtures {
			a, rerr := fx.typ.Resolve(p.AttributePath.URI(), p.AttributePath.AttributeName, p.AttributePath.SubAttributeName())
			if rerr != nil || p.ValueExpression == nil {
				continue
			}
			if ValidateValueFilter(fx.typ, a, p.ValueExpression) != nil {
				continue
			}
			for _, d := range fx.docs {
				list, _ := a.Value(fx.typ, d).([]any)
				for _, e := range list {
					if m, ok := e.(map[string]any); ok {
						MatchElement(a, p.ValueExpression, m)
					}
				}
			}
		}
	})
}

// checkFastParse compares the fast path with the parser on s.
func checkFastParse(t *testing.T, s string) (applied bool) {
	t.Helper()
	lim := Limits{}.withDefaults()
	text, toks, why := prepare(s, lim, "filter", true)
	if why != "" {
		return false
	}
	fast, ok := fastParse(toks)
	if !ok {
		return false
	}
	slow, err := scimfilter.ParseFilterNumber([]byte(text))
	if err != nil {
		t.Fatalf("fastParse(%q) = %v but the parser refuses %q: %v", s, fast, text, err)
	}
	if diff := cmp.Diff(slow, fast); diff != "" {
		t.Fatalf("fastParse(%q) differs from the parser (-parser +fast):\n%s", s, diff)
	}
	return true
}

func TestFastParse(t *testing.T) {
	tests := []struct {
		filter string
		fast   bool // whether the fast path applies
	}{
		{`userName eq "bjensen"`, true},
		{`userName EQ "b\"j\u00e9"`, true},
		{`userName eq bjensen`, true},
		{`externalId eq 3f2a9c1e-0d3a`, true},
		{`title pr`, true},
		{`title PR`, true},
		{`name.givenName sw "a"`, true},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x"`, true},
		{`a:b.c eq 1`, true},
		{`a.b:c eq -1.5E+3`, true},
		{`$ref eq null`, true},
		{`active eq TRUE`, true},
		{`not eq "x"`, false}, // a keyword as attribute name goes to the parser
		{`x eq "\x"`, false},
		{`x eq "a` + "\t" + `b"`, false},
		{`a.b.c eq 1`, false},
		{`a: eq 1`, false},
		{`1a eq 1`, false},
		{`my_ext:attr eq 1`, false},
		{`and eq "x"`, false},
		{`userName eq 'x'`, false},
		{`userName eq "x" and title pr`, false},
		{`emails[type eq "work"]`, false},
		{`(userName eq "x")`, false},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			if got := checkFastParse(t, tt.filter); got != tt.fast {
				t.Errorf("fastParse(%q) applied = %v; want %v", tt.filter, got, tt.fast)
			}
		})
	}
}
