package filter

import (
	"strings"

	scimfilter "github.com/scim2/filter-parser/v2"

	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

// Evaluation never panics: a value of a type the comparison does not expect
// (a number where a string is defined, an object where an array is) simply
// does not match.

// match evaluates n against a whole document.
func (n *node) match(t *resource.Type, doc map[string]any) bool {
	switch n.kind {
	case nodeCmp:
		return n.cmp.matchDoc(t, doc)
	case nodeAnd:
		return n.left.match(t, doc) && n.right.match(t, doc)
	case nodeOr:
		return n.left.match(t, doc) || n.right.match(t, doc)
	case nodeNot:
		return !n.left.match(t, doc)
	case nodeValuePath:
		return n.vp.match(t, doc)
	}
	return false
}

// matchElem evaluates the filter of a value path against one element.
func (n *node) matchElem(elem map[string]any) bool {
	switch n.kind {
	case nodeCmp:
		if n.cmp.attr.Sub == nil {
			return false
		}
		return n.cmp.matchValues(elem[n.cmp.attr.Sub.Name()], false)
	case nodeAnd:
		return n.left.matchElem(elem) && n.right.matchElem(elem)
	case nodeOr:
		return n.left.matchElem(elem) || n.right.matchElem(elem)
	case nodeNot:
		return !n.left.matchElem(elem)
	}
	return false
}

func (vp *valuePath) match(t *resource.Type, doc map[string]any) bool {
	v := attrValue(t, vp.attr, doc)
	if !vp.attr.Def.MultiValued() {
		m, ok := v.(map[string]any)
		return ok && vp.filter.matchElem(m)
	}
	list, _ := v.([]any)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && vp.filter.matchElem(m) {
			return true
		}
	}
	return false
}

// attrValue returns the value of the top-level attribute of a in doc.
func attrValue(t *resource.Type, a resource.Attr, doc map[string]any) any {
	container := doc
	if a.Extension(t) {
		container, _ = doc[a.SchemaURN].(map[string]any)
	}
	return container[a.Def.Name()] // a nil map reads as empty
}

// matchDoc evaluates a top-level comparison: it matches when some value of
// the attribute (some element, for a multi-valued attribute) satisfies it.
// The shapes are strict: a multi-valued attribute has values only when it
// is an array, a complex one only when it is an object, as in the documents
// resource.Type.Normalize produces and the indexes are filled from, so that
// a full scan never finds what an index lookup would not.
func (c *comparison) matchDoc(t *resource.Type, doc map[string]any) bool {
	v := attrValue(t, c.attr, doc)
	if c.attr.Sub == nil {
		return c.matchValues(v, c.attr.Def.MultiValued())
	}
	sub := c.attr.Sub.Name()
	if !c.attr.Def.MultiValued() {
		m, _ := v.(map[string]any)
		return c.matchValues(m[sub], false) // a nil map reads as empty
	}
	list, _ := v.([]any)
	if c.lit.kind == litNull && c.op == scimfilter.EQ {
		for _, e := range list {
			if m, ok := e.(map[string]any); ok && present(m[sub]) {
				return false
			}
		}
		return true
	}
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && c.test(m[sub]) {
			return true
		}
	}
	return false
}

// matchValues evaluates the comparison against v: the elements of an
// array when multi is set (anything else then holds no value), else v.
func (c *comparison) matchValues(v any, multi bool) bool {
	if multi {
		list, _ := v.([]any)
		if c.lit.kind == litNull && c.op == scimfilter.EQ {
			for _, e := range list {
				if present(e) {
					return false
				}
			}
			return true
		}
		for _, e := range list {
			if c.test(e) {
				return true
			}
		}
		return false
	}
	if c.lit.kind == litNull && c.op == scimfilter.EQ {
		return !present(v)
	}
	return c.test(v)
}

// test evaluates the comparison against one value.
func (c *comparison) test(v any) bool {
	if c.op == scimfilter.PR || c.lit.kind == litNull { // pr, ne null
		return present(v)
	}
	switch c.kind {
	case kindString:
		s, ok := v.(string)
		if !ok {
			return false
		}
		if !c.exact {
			s = store.Fold(s)
		}
		return compareStrings(c.op, s, c.lit.cmp)
	case kindBool:
		b, ok := v.(bool)
		if !ok {
			return false
		}
		switch c.op {
		case scimfilter.EQ:
			return b == c.lit.b
		case scimfilter.NE:
			return b != c.lit.b
		}
	case kindNumber:
		n, ok := numberOf(v)
		if !ok {
			return false
		}
		return ordered(c.op, cmpNumber(n, c.lit.num))
	case kindTime:
		tm, ok := parseTime(v)
		if !ok {
			return false
		}
		return ordered(c.op, tm.Compare(c.lit.tm))
	}
	return false
}

func compareStrings(op scimfilter.CompareOperator, s, lit string) bool {
	switch op {
	case scimfilter.CO:
		return strings.Contains(s, lit)
	case scimfilter.SW:
		return strings.HasPrefix(s, lit)
	case scimfilter.EW:
		return strings.HasSuffix(s, lit)
	}
	return ordered(op, strings.Compare(s, lit))
}

// ordered applies eq, ne, gt, ge, lt or le to the result of a three-way
// comparison.
func ordered(op scimfilter.CompareOperator, c int) bool {
	switch op {
	case scimfilter.EQ:
		return c == 0
	case scimfilter.NE:
		return c != 0
	case scimfilter.GT:
		return c > 0
	case scimfilter.GE:
		return c >= 0
	case scimfilter.LT:
		return c < 0
	case scimfilter.LE:
		return c <= 0
	}
	return false
}

// present is RFC 7644's "pr": a value that is not null, not an empty
// string, not an empty array and, for a complex value, holds a present
// sub-value. Nesting deeper than SCIM's own (three levels) counts as
// present rather than being walked.
func present(v any) bool { return presentDepth(v, 0) }

func presentDepth(v any, depth int) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case []any:
		if depth > 4 {
			return len(x) > 0
		}
		for _, e := range x {
			if presentDepth(e, depth+1) {
				return true
			}
		}
		return false
	case map[string]any:
		if depth > 4 {
			return len(x) > 0
		}
		for _, e := range x {
			if presentDepth(e, depth+1) {
				return true
			}
		}
		return false
	}
	return true
}
