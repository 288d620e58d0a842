package filter

import (
	"encoding/json"
	"strconv"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
	scimfilter "github.com/scim2/filter-parser/v2"

	"github.com/scimbridge/scimbridge/scim/resource"
)

// Value filters are the [...] of PATCH paths: emails[type eq "work"],
// members[value eq "id"]. The PATCH engine parses the path (ParsePath
// here, or filter-parser's own), validates the filter against the
// multi-valued attribute with ValidateValueFilter, and then selects
// elements with MatchElement (or a ValueFilter from CompileValueFilter when
// it matches many elements).

// ValueFilter is a compiled value filter for one complex attribute.
type ValueFilter struct {
	parent resource.Attr
	root   *node
}

// CompileValueFilter validates expr against the sub-attributes of parent
// (as ValidateValueFilter) and returns it compiled, for matching many
// elements without compiling it again for each.
func CompileValueFilter(t *resource.Type, parent resource.Attr, expr scimfilter.Expression) (*ValueFilter, *scimerrors.ScimError) {
	name := parent.Def.Name()
	if t != nil {
		name = parent.Name(t)
	}
	c := &compiler{t: t, maxTerms: DefaultMaxTerms}
	n, err := compileValueFilter(c, parent, name, expr)
	if err != nil {
		return nil, err
	}
	return &ValueFilter{parent: parent, root: n}, nil
}

// Match reports whether elem, one element of the attribute, satisfies the
// filter. A nil ValueFilter matches nothing.
func (v *ValueFilter) Match(elem map[string]any) bool {
	if v == nil || elem == nil {
		return false
	}
	return v.root.matchElem(elem)
}

// String renders the value filter (without the brackets).
func (v *ValueFilter) String() string {
	if v == nil {
		return ""
	}
	var b strings.Builder
	v.root.write(&b)
	return b.String()
}

// ValidateValueFilter checks expr against the sub-attributes of the complex
// (normally multi-valued) attribute parent: every name must be a
// sub-attribute, operators must suit its type, literals must have its type.
// Errors are 400 invalidFilter with a detail naming the fault; a PATCH
// engine that prefers invalidPath may change the ScimType. Unlike Parse it
// accepts Group members (members[value eq "id"] is the common PATCH path).
func ValidateValueFilter(t *resource.Type, parent resource.Attr, expr scimfilter.Expression) *scimerrors.ScimError {
	_, err := CompileValueFilter(t, parent, expr)
	return err
}

// MatchElement evaluates a value filter against one element of parent. An
// expression that does not validate (see ValidateValueFilter) matches
// nothing. It compiles expr on every call; for many elements use
// CompileValueFilter.
func MatchElement(parent resource.Attr, expr scimfilter.Expression, elem map[string]any) bool {
	v, err := CompileValueFilter(nil, parent, expr)
	if err != nil {
		return false
	}
	return v.Match(elem)
}

// EqTerms returns the sub-attribute=value pairs of a value filter made only
// of eq comparisons joined by and, for PATCH upserts:
// emails[type eq "work"].value on a user without a work email creates
// {"type": "work", "value": …}. Names are as written in the filter (the
// caller resolves them; ValidateValueFilter has checked they exist).
// Strings are decoded (ParseValueString), numbers are json.Number, booleans
// bool. ok is false for any other shape, for a null literal, and for a name
// given twice with different values.
func EqTerms(expr scimfilter.Expression) (terms map[string]any, ok bool) {
	terms = map[string]any{}
	var walk func(e scimfilter.Expression) bool
	walk = func(e scimfilter.Expression) bool {
		switch x := e.(type) {
		case *scimfilter.AttributeExpression:
			if x == nil || !strings.EqualFold(string(x.Operator), "eq") || x.AttributePath.URIPrefix != nil || x.AttributePath.SubAttribute != nil {
				return false
			}
			v, ok := termValue(x.CompareValue)
			if !ok {
				return false
			}
			name := x.AttributePath.AttributeName
			for k, prev := range terms {
				if strings.EqualFold(k, name) {
					return prev == v
				}
			}
			terms[name] = v
			return true
		case *scimfilter.LogicalExpression:
			return x != nil && strings.EqualFold(string(x.Operator), "and") && walk(x.Left) && walk(x.Right)
		}
		return false
	}
	if !walk(expr) {
		return nil, false
	}
	return terms, true
}

// termValue converts a literal of the parser into a document value.
func termValue(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		s, err := ParseValueString(x)
		return s, err == nil
	case bool:
		return x, true
	case json.Number:
		if _, ok := numberOf(x); !ok {
			return nil, false
		}
		return x, true
	case int:
		return json.Number(strconv.Itoa(x)), true
	case int64:
		return json.Number(strconv.FormatInt(x, 10)), true
	case float64:
		if _, ok := numberOf(x); !ok {
			return nil, false
		}
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64)), true
	}
	return nil, false
}

// ValueEqs returns the distinct string values of a filter made only of
// `value eq "x"` comparisons joined by or (members[value eq "a" or value eq
// "b"]), in order of first appearance; ok is false for any other shape.
// Values are decoded (ParseValueString) and compared exactly.
func ValueEqs(expr scimfilter.Expression) (values []string, ok bool) {
	seen := map[string]bool{}
	var walk func(e scimfilter.Expression) bool
	walk = func(e scimfilter.Expression) bool {
		switch x := e.(type) {
		case *scimfilter.AttributeExpression:
			if x == nil {
				return false
			}
			p := x.AttributePath
			if !strings.EqualFold(string(x.Operator), "eq") || p.URIPrefix != nil || p.SubAttribute != nil || !strings.EqualFold(p.AttributeName, "value") {
				return false
			}
			raw, isString := x.CompareValue.(string)
			if !isString {
				return false
			}
			s, err := ParseValueString(raw)
			if err != nil {
				return false
			}
			if !seen[s] {
				seen[s] = true
				values = append(values, s)
			}
			return true
		case *scimfilter.LogicalExpression:
			return x != nil && strings.EqualFold(string(x.Operator), "or") && walk(x.Left) && walk(x.Right)
		}
		return false
	}
	if !walk(expr) {
		return nil, false
	}
	return values, true
}

// ParsePath parses a PATCH path (name.sub, urn:…:attr, attr[filter],
// attr[filter].sub) with the same preparation as Parse: length and UTF-8
// checks, whitespace trimmed, lower-case \u escapes accepted, bare-word
// literals quoted, numbers kept as json.Number, under the same limits as
// filters (zero fields take the defaults). It does not validate names;
// errors are 400 invalidPath.
func ParsePath(s string, lim Limits) (scimfilter.Path, *scimerrors.ScimError) {
	lim = lim.withDefaults()
	text, toks, why := prepare(s, lim, "path", false)
	if why != "" {
		return scimfilter.Path{}, clipDetail(resource.Err(scimerrors.ScimTypeInvalidPath, "%s", why))
	}
	p, err := scimfilter.ParsePathNumber([]byte(text))
	if err != nil {
		why := diagnose(toks)
		if strings.HasPrefix(why, "the filter is not valid") {
			why = "the path is not valid SCIM path syntax (RFC 7644 section 3.5.2), e.g. emails[type eq \"work\"].value"
		}
		return scimfilter.Path{}, clipDetail(resource.Err(scimerrors.ScimTypeInvalidPath, "%s", why))
	}
	return p, nil
}
