package filter

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"
	scimfilter "github.com/scim2/filter-parser/v2"

	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

// The parser's AST is compiled into a tree of nodes whose attributes are
// resolved, whose literals are decoded and typed for their attribute, and
// whose case-insensitive literals are folded once, so that Match does no
// lookups and no parsing.

type nodeKind uint8

const (
	nodeCmp nodeKind = iota
	nodeAnd
	nodeOr
	nodeNot
	nodeValuePath
)

type node struct {
	kind        nodeKind
	left, right *node // and, or; not uses left
	cmp         *comparison
	vp          *valuePath
}

// valuePath is attr[filter]: some element of attr satisfies filter.
type valuePath struct {
	attr   resource.Attr
	name   string // canonical, URN-qualified for extensions
	filter *node  // comparisons on sub-attributes of attr (inner)
}

// valueKind is how a comparison compares, from the attribute's type.
type valueKind uint8

const (
	kindString  valueKind = iota // string, reference, binary
	kindBool                     // boolean
	kindNumber                   // integer, decimal
	kindTime                     // dateTime
	kindComplex                  // complex without a sub-attribute: pr and null only
)

type litKind uint8

const (
	litNone   litKind = iota // pr
	litNull                  // eq null / ne null
	litString                // also dateTime literals (text kept for String)
	litBool
	litNumber
)

// literal is a decoded, typed compare value.
type literal struct {
	kind litKind
	str  string // decoded string
	cmp  string // what values are compared with: str, folded when case-insensitive
	b    bool
	num  number
	text string // number as written
	tm   time.Time
}

// comparison is "attr op literal". For a comparison inside a value path,
// inner is set and attr.Sub names the sub-attribute of the element.
type comparison struct {
	attr  resource.Attr
	name  string // as printed: canonical attribute name (sub name only when inner)
	op    scimfilter.CompareOperator
	kind  valueKind
	exact bool // case-exact string comparison
	inner bool
	lit   literal
}

// compiler turns an AST into nodes. listFilter applies the rules of list
// filters (attributes that are not stored cannot be filtered on); value
// filters of PATCH paths skip them.
type compiler struct {
	t          *resource.Type
	listFilter bool
	maxTerms   int
	terms      int
}

func (c *compiler) errf(format string, args ...any) *scimerrors.ScimError {
	return invalidFilter(format, args...)
}

func (c *compiler) expr(e scimfilter.Expression) (*node, *scimerrors.ScimError) {
	switch x := e.(type) {
	case *scimfilter.AttributeExpression:
		if x == nil {
			break
		}
		cmp, err := c.attrExpr(x)
		if err != nil {
			return nil, err
		}
		return &node{kind: nodeCmp, cmp: cmp}, nil
	case *scimfilter.LogicalExpression:
		if x == nil {
			break
		}
		return c.logical(x, c.expr)
	case *scimfilter.NotExpression:
		if x == nil {
			break
		}
		inner, err := c.expr(x.Expression)
		if err != nil {
			return nil, err
		}
		return &node{kind: nodeNot, left: inner}, nil
	case *scimfilter.ValuePath:
		if x == nil {
			break
		}
		return c.valuePath(x)
	}
	return nil, c.errf("the filter has an expression of an unsupported kind (%T)", e)
}

func (c *compiler) logical(x *scimfilter.LogicalExpression, sub func(scimfilter.Expression) (*node, *scimerrors.ScimError)) (*node, *scimerrors.ScimError) {
	var kind nodeKind
	switch strings.ToLower(string(x.Operator)) {
	case "and":
		kind = nodeAnd
	case "or":
		kind = nodeOr
	default:
		return nil, c.errf("unknown logical operator %q; use and or or", x.Operator)
	}
	l, err := sub(x.Left)
	if err != nil {
		return nil, err
	}
	r, err := sub(x.Right)
	if err != nil {
		return nil, err
	}
	return &node{kind: kind, left: l, right: r}, nil
}

func (c *compiler) countTerm() *scimerrors.ScimError {
	c.terms++
	if c.maxTerms > 0 && c.terms > c.maxTerms {
		return c.errf("the filter has more than %d comparisons, the limit", c.maxTerms)
	}
	return nil
}

func (c *compiler) attrExpr(x *scimfilter.AttributeExpression) (*comparison, *scimerrors.ScimError) {
	if err := c.countTerm(); err != nil {
		return nil, err
	}
	p := x.AttributePath
	a, rerr := resolve(c.t, p.URI(), p.AttributeName, p.SubAttributeName())
	if rerr != nil {
		return nil, c.errf("%v in the filter", rerr)
	}
	name := a.Name(c.t)
	if c.listFilter {
		if why := unfilterable(c.t, a); why != "" {
			return nil, c.errf("%s", why)
		}
	}
	return compileComparison(a, name, false, x)
}

func (c *compiler) valuePath(x *scimfilter.ValuePath) (*node, *scimerrors.ScimError) {
	p := x.AttributePath
	a, rerr := resolve(c.t, p.URI(), p.AttributeName, "")
	if rerr != nil {
		return nil, c.errf("%v in the filter", rerr)
	}
	name := a.Name(c.t)
	if p.SubAttribute != nil {
		return nil, c.errf("a value filter must follow a complex attribute, not a sub-attribute: write %s[...], not %s.%s[...]", name, name, p.SubAttributeName())
	}
	if c.listFilter {
		if why := unfilterable(c.t, a); why != "" {
			return nil, c.errf("%s", why)
		}
	}
	inner, err := compileValueFilter(c, a, name, x.ValueFilter)
	if err != nil {
		return nil, err
	}
	return &node{kind: nodeValuePath, vp: &valuePath{attr: a, name: name, filter: inner}}, nil
}

// compileValueFilter compiles the filter inside parent[...]: comparisons on
// sub-attributes of parent, joined by and, or and not.
func compileValueFilter(c *compiler, parent resource.Attr, parentName string, e scimfilter.Expression) (*node, *scimerrors.ScimError) {
	if parent.Sub != nil || !parent.Def.HasSubAttributes() || parent.Def.AttributeType() != "complex" {
		return nil, c.errf("attribute %q is not complex and cannot take a value filter [...]", parentName)
	}
	var walk func(e scimfilter.Expression) (*node, *scimerrors.ScimError)
	walk = func(e scimfilter.Expression) (*node, *scimerrors.ScimError) {
		switch x := e.(type) {
		case *scimfilter.AttributeExpression:
			if x == nil {
				break
			}
			if err := c.countTerm(); err != nil {
				return nil, err
			}
			p := x.AttributePath
			if p.URIPrefix != nil {
				return nil, c.errf("inside %s[...] name sub-attributes without a schema URN (%q)", parentName, p.String())
			}
			if p.SubAttribute != nil {
				return nil, c.errf("inside %s[...], %q has no sub-attributes", parentName, p.AttributeName)
			}
			sub, ok := parent.Def.SubAttributes().ContainsAttribute(p.AttributeName)
			if !ok {
				return nil, c.errf("unknown attribute %q in the filter", parentName+"."+p.AttributeName)
			}
			a := parent
			a.Sub = &sub
			if c.listFilter && c.t != nil {
				if why := unfilterable(c.t, a); why != "" {
					return nil, c.errf("%s", why)
				}
			}
			cmp, err := compileComparison(a, sub.Name(), true, x)
			if err != nil {
				return nil, err
			}
			return &node{kind: nodeCmp, cmp: cmp}, nil
		case *scimfilter.LogicalExpression:
			if x == nil {
				break
			}
			return c.logical(x, walk)
		case *scimfilter.NotExpression:
			if x == nil {
				break
			}
			n, err := walk(x.Expression)
			if err != nil {
				return nil, err
			}
			return &node{kind: nodeNot, left: n}, nil
		case *scimfilter.ValuePath:
			return nil, c.errf("value filters cannot be nested: %s[...] holds another [...]", parentName)
		}
		return nil, c.errf("the value filter of %s has an expression of an unsupported kind (%T)", parentName, e)
	}
	return walk(e)
}

// resolve is t.Resolve, except that the common attributes (id, externalId,
// meta) also resolve when qualified with the core schema URN
// ("urn:ietf:params:scim:schemas:core:2.0:User:id"): RFC 7643 section 3
// makes them part of every base resource schema.
func resolve(t *resource.Type, uri, name, sub string) (resource.Attr, error) {
	a, err := t.Resolve(uri, name, sub)
	if err != nil && uri != "" && strings.EqualFold(uri, t.Schema.ID) {
		if c, cerr := t.Resolve("", name, sub); cerr == nil && c.SchemaURN == "" {
			return c, nil
		}
	}
	return a, err
}

// unfilterable says why a list filter may not use attribute a, or "".
func unfilterable(t *resource.Type, a resource.Attr) string {
	name := a.Name(t)
	def, target := a.Def, a.Target()
	switch {
	case def.Returned() == "never" || target.Returned() == "never" || def.Mutability() == "writeOnly":
		return fmt.Sprintf("attribute %q is never returned and cannot be used in a filter", name)
	case t.Schema.ID == resource.GroupSchema && a.SchemaURN == t.Schema.ID && def.Name() == "members":
		return "filtering groups by members is not supported; read the group (GET /Groups/{id}) or the user's groups instead"
	case t.Schema.ID == resource.UserSchema && a.SchemaURN == t.Schema.ID && def.Name() == "groups":
		return "filtering users by groups is not supported; read the members of the group (GET /Groups/{id}) instead"
	case a.SchemaURN == "" && def.Name() == "schemas":
		return "filtering on \"schemas\" is not supported"
	case a.SchemaURN == "" && def.Name() == "meta" && a.Sub != nil && a.Sub.Name() == "location":
		return "meta.location depends on the request URL and cannot be used in a filter"
	case a.SchemaURN != "" && (def.Mutability() == "readOnly" || target.Mutability() == "readOnly"):
		// id and meta are common attributes (SchemaURN ""); any other
		// read-only attribute is computed, not stored, and would never match.
		return fmt.Sprintf("attribute %q is read-only and not stored, so it cannot be used in a filter", name)
	}
	return ""
}

// compileComparison types the literal of x for attribute a.
func compileComparison(a resource.Attr, name string, inner bool, x *scimfilter.AttributeExpression) (*comparison, *scimerrors.ScimError) {
	errf := invalidFilter
	op := scimfilter.CompareOperator(strings.ToLower(string(x.Operator)))
	if !compareOps[string(op)] && op != scimfilter.PR {
		return nil, errf("unknown operator %q after %q; use eq, ne, co, sw, ew, gt, ge, lt, le or pr", x.Operator, name)
	}
	target := a.Target()
	c := &comparison{attr: a, name: name, op: op, exact: target.CaseExact(), inner: inner}
	switch typ := target.AttributeType(); typ {
	case "string", "reference", "binary":
		c.kind = kindString
		if typ == "binary" {
			c.exact = true
		}
	case "boolean":
		c.kind = kindBool
	case "integer", "decimal":
		c.kind = kindNumber
	case "dateTime":
		c.kind = kindTime
	case "complex":
		c.kind = kindComplex
	default:
		return nil, errf("attribute %q has type %q, which cannot be used in a filter", name, typ)
	}
	if op == scimfilter.PR {
		c.lit.kind = litNone
		return c, nil
	}
	if x.CompareValue == nil {
		if op != scimfilter.EQ && op != scimfilter.NE {
			return nil, errf("%s %s null: null can only be compared with eq (absent) or ne (present)", name, op)
		}
		c.lit.kind = litNull
		return c, nil
	}
	ordering := op == scimfilter.GT || op == scimfilter.GE || op == scimfilter.LT || op == scimfilter.LE
	substring := op == scimfilter.CO || op == scimfilter.SW || op == scimfilter.EW
	switch c.kind {
	case kindComplex:
		example := name + ".value"
		if a.Def.HasSubAttributes() && len(a.Def.SubAttributes()) > 0 {
			if _, ok := a.Def.SubAttributes().ContainsAttribute("value"); !ok {
				example = name + "." + a.Def.SubAttributes()[0].Name()
			}
		}
		return nil, errf("attribute %q is complex: compare one of its sub-attributes (e.g. %s %s ...), use a value filter %s[...], or use pr", name, example, op, name)
	case kindString:
		s, ok := x.CompareValue.(string)
		if !ok {
			return nil, errf("attribute %q is a string: compare it with a quoted string, e.g. %s %s \"value\" (got %v)", name, name, op, x.CompareValue)
		}
		if ordering && target.AttributeType() == "binary" {
			return nil, errf("operator %s is not allowed on binary attribute %q; use eq, ne, co, sw, ew or pr", op, name)
		}
		d, err := ParseValueString(s)
		if err != nil {
			return nil, errf("the value compared with %q is not a valid string literal: %v", name, err)
		}
		c.lit = literal{kind: litString, str: d, cmp: d}
		if !c.exact {
			c.lit.cmp = store.Fold(d)
		}
	case kindBool:
		if ordering || substring {
			return nil, errf("operator %s is not allowed on boolean attribute %q; use eq, ne or pr", op, name)
		}
		switch v := x.CompareValue.(type) {
		case bool:
			c.lit = literal{kind: litBool, b: v}
		case string:
			// Lenient: Entra writes roles[primary eq "True"].
			switch strings.ToLower(v) {
			case "true":
				c.lit = literal{kind: litBool, b: true}
			case "false":
				c.lit = literal{kind: litBool, b: false}
			default:
				return nil, errf("attribute %q is a boolean: compare it with true or false (got %q)", name, v)
			}
		default:
			return nil, errf("attribute %q is a boolean: compare it with true or false (got %v)", name, v)
		}
	case kindNumber:
		if substring {
			return nil, errf("operator %s is not allowed on numeric attribute %q; use eq, ne, gt, ge, lt, le or pr", op, name)
		}
		n, ok := numberOf(x.CompareValue)
		if !ok {
			return nil, errf("attribute %q is a number: compare it with a number (got %v)", name, x.CompareValue)
		}
		c.lit = literal{kind: litNumber, num: n, text: numberText(x.CompareValue)}
	case kindTime:
		if substring {
			return nil, errf("operator %s is not allowed on dateTime attribute %q; use eq, ne, gt, ge, lt, le or pr", op, name)
		}
		s, ok := x.CompareValue.(string)
		if !ok {
			return nil, errf("attribute %q is a dateTime: compare it with a quoted RFC 3339 time such as \"2011-05-13T04:42:34Z\" (got %v)", name, x.CompareValue)
		}
		d, err := ParseValueString(s)
		if err != nil {
			return nil, errf("the value compared with %q is not a valid string literal: %v", name, err)
		}
		tm, ok := parseTime(d)
		if !ok {
			return nil, errf("attribute %q is a dateTime: %q is not an RFC 3339 time such as \"2011-05-13T04:42:34Z\"", name, d)
		}
		c.lit = literal{kind: litString, str: d, cmp: d, tm: tm}
	}
	return c, nil
}

func numberText(v any) string {
	switch x := v.(type) {
	case fmt.Stringer:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}
