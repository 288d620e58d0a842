package filter

import (
	scimfilter "github.com/scim2/filter-parser/v2"

	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

// The planner turns the parts of a filter that an index can answer into a
// store.Plan. A plan is always a superset of the matches: the caller
// applies Match to every candidate. The rules:
//
//   - a comparison is planned only with eq (and sw, for the two indexes
//     whose keys are names: User userName and Group displayName) and a
//     non-empty string literal, on an attribute whose case-exactness equals the index's fold:
//     userName, emails.value and displayName are folded (store.Fold), id and
//     externalId are exact. A case-exact attribute is never looked up in a
//     folded index, nor the reverse;
//   - emails.value eq X, emails[value eq X] and emails[... and value eq X]
//     are planned through the email index. This assumes that the caller
//     indexes every emails[].value of a user in store.User.Emails;
//   - and: both sides planned → PlanAnd, one side → that side;
//   - or: both sides planned → PlanOr, else nil;
//   - not, and anything else → nil (full scan).
//
// Values are passed raw; the backend applies the field's fold.

// indexFolded says which indexes fold their keys.
var indexFolded = map[store.Field]bool{
	store.FieldID:          false,
	store.FieldExternalID:  false,
	store.FieldUserName:    true,
	store.FieldEmail:       true,
	store.FieldDisplayName: true,
}

func plan(t *resource.Type, n *node) *store.Plan {
	switch n.kind {
	case nodeCmp:
		return planComparison(t, n.cmp)
	case nodeValuePath:
		if isUserEmails(t, n.vp.attr) {
			return planEmailElem(n.vp.filter)
		}
		return nil
	case nodeAnd:
		return and(plan(t, n.left), plan(t, n.right))
	case nodeOr:
		return or(plan(t, n.left), plan(t, n.right))
	}
	return nil
}

// planEmailElem plans the filter inside emails[...]: value eq X is an email
// lookup.
func planEmailElem(n *node) *store.Plan {
	switch n.kind {
	case nodeCmp:
		c := n.cmp
		if c.attr.Sub == nil || c.attr.Sub.Name() != "value" {
			return nil
		}
		return lookup(store.FieldEmail, c, false)
	case nodeAnd:
		return and(planEmailElem(n.left), planEmailElem(n.right))
	case nodeOr:
		return or(planEmailElem(n.left), planEmailElem(n.right))
	}
	return nil
}

func planComparison(t *resource.Type, c *comparison) *store.Plan {
	a := c.attr
	switch {
	case a.SchemaURN == "" && a.Sub == nil && a.Def.Name() == "id":
		return lookup(store.FieldID, c, false)
	case a.SchemaURN == "" && a.Sub == nil && a.Def.Name() == "externalId":
		return lookup(store.FieldExternalID, c, false)
	case a.SchemaURN != t.Schema.ID:
		return nil
	case t.Schema.ID == resource.UserSchema && a.Sub == nil && a.Def.Name() == "userName":
		return lookup(store.FieldUserName, c, true)
	case isUserEmails(t, a) && a.Sub != nil && a.Sub.Name() == "value":
		return lookup(store.FieldEmail, c, false)
	case t.Schema.ID == resource.GroupSchema && a.Sub == nil && a.Def.Name() == "displayName":
		return lookup(store.FieldDisplayName, c, true)
	}
	return nil
}

func isUserEmails(t *resource.Type, a resource.Attr) bool {
	return t.Schema.ID == resource.UserSchema && a.SchemaURN == t.Schema.ID && a.Def.Name() == "emails"
}

// lookup plans c through the index of field, if the operator, the literal
// and the attribute's case-exactness allow it.
func lookup(field store.Field, c *comparison, prefixOK bool) *store.Plan {
	if c.kind != kindString || c.lit.kind != litString {
		return nil
	}
	if c.exact == indexFolded[field] {
		return nil // the index and Match would disagree on case
	}
	if c.lit.str == "" {
		return nil // an index need not hold empty values; Match decides
	}
	switch c.op {
	case scimfilter.EQ:
		return &store.Plan{Op: store.PlanLookup, Field: field, Value: c.lit.str}
	case scimfilter.SW:
		if prefixOK {
			return &store.Plan{Op: store.PlanLookup, Field: field, Value: c.lit.str, Prefix: true}
		}
	}
	return nil
}

func and(l, r *store.Plan) *store.Plan {
	switch {
	case l == nil:
		return r
	case r == nil:
		return l
	}
	return join(store.PlanAnd, l, r)
}

func or(l, r *store.Plan) *store.Plan {
	if l == nil || r == nil {
		return nil
	}
	return join(store.PlanOr, l, r)
}

// join builds op(l, r), flattening children of the same op.
func join(op store.PlanOp, l, r *store.Plan) *store.Plan {
	p := &store.Plan{Op: op}
	for _, s := range []*store.Plan{l, r} {
		if s.Op == op {
			p.Subs = append(p.Subs, s.Subs...)
		} else {
			p.Subs = append(p.Subs, s)
		}
	}
	return p
}
