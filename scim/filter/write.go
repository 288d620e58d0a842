package filter

import (
	"strings"

	scimfilter "github.com/scim2/filter-parser/v2"
)

// write renders n in canonical filter syntax. and binds tighter than or, so
// only an or under an and, and everything under not, needs parentheses.
func (n *node) write(b *strings.Builder) {
	switch n.kind {
	case nodeCmp:
		n.cmp.write(b)
	case nodeAnd:
		n.left.writeOperand(b, nodeAnd)
		b.WriteString(" and ")
		n.right.writeOperand(b, nodeAnd)
	case nodeOr:
		n.left.write(b)
		b.WriteString(" or ")
		n.right.write(b)
	case nodeNot:
		b.WriteString("not (")
		n.left.write(b)
		b.WriteString(")")
	case nodeValuePath:
		b.WriteString(n.vp.name)
		b.WriteString("[")
		n.vp.filter.write(b)
		b.WriteString("]")
	}
}

func (n *node) writeOperand(b *strings.Builder, parent nodeKind) {
	if parent == nodeAnd && n.kind == nodeOr {
		b.WriteString("(")
		n.write(b)
		b.WriteString(")")
		return
	}
	n.write(b)
}

func (c *comparison) write(b *strings.Builder) {
	b.WriteString(c.name)
	b.WriteString(" ")
	b.WriteString(string(c.op))
	if c.op == scimfilter.PR {
		return
	}
	b.WriteString(" ")
	switch c.lit.kind {
	case litNull:
		b.WriteString("null")
	case litString:
		b.WriteString(quote(c.lit.str))
	case litBool:
		if c.lit.b {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case litNumber:
		b.WriteString(c.lit.text)
	}
}
