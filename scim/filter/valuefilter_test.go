package filter

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/google/go-cmp/cmp"
	scimfilter "github.com/scim2/filter-parser/v2"

	"github.com/scimbridge/scimbridge/scim/resource"
)

// valueExpr parses a PATCH path and returns its attribute and value filter.
func valueExpr(t *testing.T, typ *resource.Type, path string) (resource.Attr, scimfilter.Expression) {
	t.Helper()
	p, err := ParsePath(path, Limits{})
	if err != nil {
		t.Fatalf("ParsePath(%q) error: %v", path, err.Detail)
	}
	a, rerr := typ.Resolve(p.AttributePath.URI(), p.AttributePath.AttributeName, p.AttributePath.SubAttributeName())
	if rerr != nil {
		t.Fatalf("Resolve(%q): %v", path, rerr)
	}
	return a, p.ValueExpression
}

func TestValidateValueFilter(t *testing.T) {
	tests := []struct {
		typ    *resource.Type
		path   string
		detail string // "" for valid
	}{
		{resource.User(), `emails[type eq "work"]`, ""},
		{resource.User(), `emails[type eq "work"].value`, ""},
		{resource.User(), `emails[type eq "work" and primary eq true]`, ""},
		{resource.User(), `emails[not (type eq "work")]`, ""},
		{resource.User(), `emails[value eq jyoung@x]`, ""},
		{resource.User(), `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq "m"]`, ""},
		{resource.Group(), `members[value eq "2819c223-7f76-453a-919d-413861904646"]`, ""},
		{resource.Group(), `members[value eq "a" or value eq "b"]`, ""},
		{resource.Group(), `members[display co "x"]`, ""},
		{resource.User(), `emails[bogus eq "x"]`, `unknown attribute "emails.bogus"`},
		{resource.User(), `emails[type eq 5]`, `"type" is a string`},
		{resource.User(), `emails[primary gt true]`, `not allowed on boolean`},
		{resource.User(), `emails[value.x eq "a"]`, `has no sub-attributes`},
		{resource.User(), `userName[value eq "a"]`, `not complex`},
		{resource.User(), `emails[value eq "\uDC00"]`, `lone surrogate`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			a, e := valueExpr(t, tt.typ, tt.path)
			err := ValidateValueFilter(tt.typ, a, e)
			switch {
			case tt.detail == "" && err != nil:
				t.Errorf("ValidateValueFilter(%q) = %q; want nil", tt.path, err.Detail)
			case tt.detail != "" && err == nil:
				t.Errorf("ValidateValueFilter(%q) = nil; want an error containing %q", tt.path, tt.detail)
			case err != nil && (!strings.Contains(err.Detail, tt.detail) || err.Status != http.StatusBadRequest || err.ScimType != scimerrors.ScimTypeInvalidFilter):
				t.Errorf("ValidateValueFilter(%q) = %d %s %q; want 400 invalidFilter containing %q", tt.path, err.Status, err.ScimType, err.Detail, tt.detail)
			}
		})
	}
}

func TestMatchElement(t *testing.T) {
	work := map[string]any{"value": "Alice@Work.example", "type": "work", "primary": true}
	home := map[string]any{"value": "alice@home.example", "type": "Home"}
	odd := map[string]any{"value": 5, "type": []any{"work"}, "primary": "true"}
	tests := []struct {
		path string
		elem map[string]any
		want bool
	}{
		{`emails[type eq "work"]`, work, true},
		{`emails[type eq "WORK"]`, work, true},
		{`emails[type eq "home"]`, home, true},
		{`emails[type eq "work"]`, home, false},
		{`emails[value eq "alice@work.EXAMPLE"]`, work, true},
		{`emails[type eq "work" and primary eq true]`, work, true},
		{`emails[type eq "home" or primary eq true]`, work, true},
		{`emails[not (type eq "work")]`, home, true},
		{`emails[primary eq "True"]`, work, true},
		{`emails[display pr]`, work, false},
		{`emails[display eq null]`, work, true},
		{`emails[type eq "work"]`, odd, false},
		{`emails[value eq "5"]`, odd, false},
		{`emails[primary eq true]`, odd, false},
		{`emails[type eq "work"]`, nil, false},
		{`emails[bogus eq "x"]`, work, false}, // does not validate: matches nothing
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			a, e := valueExpr(t, resource.User(), tt.path)
			if got := MatchElement(a, e, tt.elem); got != tt.want {
				t.Errorf("MatchElement(%q, %v) = %v; want %v", tt.path, tt.elem, got, tt.want)
			}
		})
	}
	// Group members: ids compare by the members.value schema
	// (caseExact false).
	a, e := valueExpr(t, resource.Group(), `members[value eq "ABC"]`)
	if !MatchElement(a, e, map[string]any{"value": "abc"}) {
		t.Errorf(`MatchElement(members[value eq "ABC"], abc) = false; want true`)
	}
}

func TestEqTerms(t *testing.T) {
	tests := []struct {
		path string
		want map[string]any
		ok   bool
	}{
		{`emails[type eq "work"]`, map[string]any{"type": "work"}, true},
		{`emails[type eq "work" and primary eq true]`, map[string]any{"type": "work", "primary": true}, true},
		{`emails[type eq "a\"b\u00e9"]`, map[string]any{"type": `a"bé`}, true},
		{`emails[type eq work]`, map[string]any{"type": "work"}, true},
		{`x[n eq 5]`, map[string]any{"n": json.Number("5")}, true},
		{`emails[type eq "work" and TYPE eq "work"]`, map[string]any{"type": "work"}, true},
		{`emails[type eq "work" and type eq "home"]`, nil, false},
		{`emails[type eq "work" or type eq "home"]`, nil, false},
		{`emails[type ne "work"]`, nil, false},
		{`emails[type eq null]`, nil, false},
		{`emails[not (type eq "work")]`, nil, false},
		{`emails[type pr]`, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p, err := ParsePath(tt.path, Limits{})
			if err != nil {
				t.Fatalf("ParsePath(%q) error: %v", tt.path, err.Detail)
			}
			got, ok := EqTerms(p.ValueExpression)
			if ok != tt.ok || !cmp.Equal(got, tt.want) {
				t.Errorf("EqTerms(%q) = %v, %v; want %v, %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
	// The AST of filter-parser's own ParsePath (ints, undecoded escapes).
	p, err := scimfilter.ParsePath([]byte(`x[n eq 5 and s eq "\u00E9"]`))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := EqTerms(p.ValueExpression); !ok || !cmp.Equal(got, map[string]any{"n": json.Number("5"), "s": "é"}) {
		t.Errorf("EqTerms(parser AST) = %v, %v; want n=5, s=é", got, ok)
	}
	if _, ok := EqTerms(nil); ok {
		t.Errorf("EqTerms(nil) ok = true; want false")
	}
}

func TestValueEqs(t *testing.T) {
	tests := []struct {
		path string
		want []string
		ok   bool
	}{
		{`members[value eq "a"]`, []string{"a"}, true},
		{`members[value eq "a" or value eq "b"]`, []string{"a", "b"}, true},
		{`members[VALUE eq "a" or value eq "a"]`, []string{"a"}, true},
		{`members[value eq "a\\b"]`, []string{`a\b`}, true},
		{`members[value eq "a" and value eq "b"]`, nil, false},
		{`members[value ne "a"]`, nil, false},
		{`members[display eq "a"]`, nil, false},
		{`members[value eq 5]`, nil, false},
		{`members[value eq null]`, nil, false},
		{`members[not (value eq "a")]`, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p, err := ParsePath(tt.path, Limits{})
			if err != nil {
				t.Fatalf("ParsePath(%q) error: %v", tt.path, err.Detail)
			}
			got, ok := ValueEqs(p.ValueExpression)
			if ok != tt.ok || !cmp.Equal(got, tt.want) {
				t.Errorf("ValueEqs(%q) = %q, %v; want %q, %v", tt.path, got, ok, tt.want, tt.ok)
			}
		})
	}
	// Longer or-chains built by hand are fine too.
	e := &scimfilter.LogicalExpression{Operator: scimfilter.OR,
		Left: &scimfilter.LogicalExpression{Operator: scimfilter.OR,
			Left:  &scimfilter.AttributeExpression{AttributePath: scimfilter.AttributePath{AttributeName: "value"}, Operator: scimfilter.EQ, CompareValue: "a"},
			Right: &scimfilter.AttributeExpression{AttributePath: scimfilter.AttributePath{AttributeName: "value"}, Operator: scimfilter.EQ, CompareValue: "b"}},
		Right: &scimfilter.AttributeExpression{AttributePath: scimfilter.AttributePath{AttributeName: "value"}, Operator: scimfilter.EQ, CompareValue: "c"}}
	if got, ok := ValueEqs(e); !ok || !cmp.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("ValueEqs(3-term or) = %q, %v; want [a b c], true", got, ok)
	}
	var nilAttr *scimfilter.AttributeExpression
	if _, ok := ValueEqs(nilAttr); ok {
		t.Errorf("ValueEqs(nil attribute expression) ok = true; want false")
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		path   string
		want   string // the parsed path, as filter-parser prints it
		detail string
	}{
		{`members[value eq "a"]`, `members[value eq "a"]`, ""},
		{`emails[type eq "work"].value`, `emails[type eq "work"].value`, ""},
		{` name.givenName `, `name.givenName`, ""},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`, ""},
		{`emails[value eq "\u00e9"]`, `emails[value eq "\\u00E9"]`, ""},
		{`emails[value eq jyoung]`, `emails[value eq "jyoung"]`, ""},
		{`emails[type eq "work"].value eq "x"`, "", "not valid SCIM path syntax"},
		{`members[value eq 'a']`, "", "double quotes"},
		{`members[value eq "a"`, "", "never closed"},
		{"members[value eq \"\xff\"]", "", "not valid UTF-8"},
		{``, "", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p, err := ParsePath(tt.path, Limits{})
			if tt.detail == "" {
				if err != nil {
					t.Fatalf("ParsePath(%q) error: %v", tt.path, err.Detail)
				}
				if got := p.String(); got != tt.want {
					t.Errorf("ParsePath(%q) = %q; want %q", tt.path, got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParsePath(%q) = %v; want an error", tt.path, p)
			}
			if err.ScimType != scimerrors.ScimTypeInvalidPath || !strings.Contains(err.Detail, tt.detail) {
				t.Errorf("ParsePath(%q) error = %s %q; want invalidPath containing %q", tt.path, err.ScimType, err.Detail, tt.detail)
			}
		})
	}
}

func TestCompileValueFilter(t *testing.T) {
	a, e := valueExpr(t, resource.User(), `emails[type eq "work" and value co "@X"]`)
	v, err := CompileValueFilter(resource.User(), a, e)
	if err != nil {
		t.Fatalf("CompileValueFilter error: %v", err.Detail)
	}
	if got, want := v.String(), `type eq "work" and value co "@X"`; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
	if !v.Match(map[string]any{"type": "Work", "value": "a@x"}) || v.Match(map[string]any{"type": "home", "value": "a@x"}) {
		t.Errorf("Match disagrees with the filter %q", v)
	}
	var nilVF *ValueFilter
	if nilVF.Match(map[string]any{}) || nilVF.String() != "" {
		t.Errorf("nil *ValueFilter must match nothing")
	}
}

func TestValueFilterOddInputs(t *testing.T) {
	p, err := ParsePath(`emails[type eq "work"]`, Limits{})
	if err != nil {
		t.Fatal(err.Detail)
	}
	// A zero Attr, a nil expression and a nil element are refused or do
	// not match; none panics.
	if MatchElement(resource.Attr{}, p.ValueExpression, map[string]any{"type": "work"}) {
		t.Errorf("MatchElement(zero Attr) = true; want false")
	}
	if ValidateValueFilter(nil, resource.Attr{}, p.ValueExpression) == nil {
		t.Errorf("ValidateValueFilter(zero Attr) = nil; want an error")
	}
	a, _, rerr := resource.User().ResolveName("emails")
	if rerr != nil {
		t.Fatal(rerr)
	}
	if ValidateValueFilter(resource.User(), a, nil) == nil {
		t.Errorf("ValidateValueFilter(nil expression) = nil; want an error")
	}
	if MatchElement(a, nil, map[string]any{}) {
		t.Errorf("MatchElement(nil expression) = true; want false")
	}
	var nilAttrExpr *scimfilter.AttributeExpression
	if ValidateValueFilter(resource.User(), a, nilAttrExpr) == nil {
		t.Errorf("ValidateValueFilter(typed nil) = nil; want an error")
	}
	if _, err := SortKey(nil, "userName"); err == nil {
		t.Errorf("SortKey(nil type) = nil error; want one")
	}
	if _, err := Parse(nil, "userName pr", Limits{}); err == nil {
		t.Errorf("Parse(nil type) = nil error; want one")
	}
}
