package filter

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

// Sort keys order as RFC 7644 section 3.4.2.3 says: by the attribute's type
// (case-insensitive strings by store.Fold, case-exact ones by their bytes,
// which is Unicode code point order; numbers numerically; dateTimes
// chronologically; false before true). A resource without a value sorts
// last in ascending order and first in descending order, since store
// reverses the whole order for Desc.
const (
	keyPresent = "0"
	keyMissing = "1"
)

// sortTimeLayout is fixed-width, so that keys compare as instants.
const sortTimeLayout = "2006-01-02T15:04:05.000000000Z"

// SortKey returns a function that extracts the sort key of sortBy (an
// attribute path such as "userName", "name.familyName", "emails",
// "meta.lastModified" or "urn:…:enterprise:2.0:User:employeeNumber") from a
// store.Record. For a multi-valued attribute the key is the primary
// element's value, else the first element's; a multi-valued complex
// attribute named without a sub-attribute ("emails") sorts by its value
// sub-attribute. A record that does not decode sorts as one without a value.
//
// Errors are 400 with scimType invalidValue (sortBy is not a filter, and RFC
// 7644 has no scimType of its own for it) and a detail naming the fault: an
// unknown attribute, a bare schema URN, a complex attribute without a
// sub-attribute, or an attribute that is never returned or not stored.
func SortKey(t *resource.Type, sortBy string) (func(store.Record) string, *scimerrors.ScimError) {
	errf := func(format string, args ...any) *scimerrors.ScimError {
		return clipDetail(resource.Err(scimerrors.ScimTypeInvalidValue, format, args...))
	}
	if t == nil {
		return nil, &scimerrors.ScimError{Status: http.StatusInternalServerError, Detail: "filter: no resource type"}
	}
	sortBy = strings.TrimSpace(sortBy)
	if sortBy == "" {
		return nil, errf("sortBy is empty")
	}
	if len(sortBy) > DefaultMaxLength {
		return nil, errf("sortBy is longer than %d bytes", DefaultMaxLength)
	}
	a, urn, err := t.ResolveName(sortBy)
	if err != nil {
		// As in filters, the core schema URN may qualify id, externalId
		// and meta.
		uri, rest := resource.SplitURN(t, sortBy)
		name, sub, _ := strings.Cut(rest, ".")
		c, cerr := resolve(t, uri, name, sub)
		if cerr != nil || uri == "" || strings.Contains(sub, ".") {
			return nil, errf("sortBy: %v", err)
		}
		a, err = c, nil
	}
	if urn != "" {
		return nil, errf("sortBy names the schema %q; name one of its attributes", urn)
	}
	name := a.Name(t)
	if why := unfilterable(t, a); why != "" {
		return nil, errf("sortBy: %s", strings.Replace(why, "used in a filter", "used to sort", 1))
	}
	if a.Sub == nil && a.Def.AttributeType() == "complex" {
		v, ok := a.Def.SubAttributes().ContainsAttribute("value")
		if !a.Def.MultiValued() || !ok {
			return nil, errf("sortBy: attribute %q is complex; name one of its sub-attributes, e.g. %s.%s", name, name, firstSub(a))
		}
		a.Sub = &v
	}
	target := a.Target()
	kind := target.AttributeType()
	exact := target.CaseExact() || kind == "binary"

	// Attributes the store keeps beside the document need no decoding.
	if a.SchemaURN == "" && a.Sub == nil && a.Def.Name() == "id" {
		return func(r store.Record) string { return keyPresent + r.ID }, nil
	}
	if a.SchemaURN == "" && a.Def.Name() == "meta" && a.Sub != nil {
		switch a.Sub.Name() {
		case "created":
			return func(r store.Record) string { return timeKey(r.Created) }, nil
		case "lastModified":
			return func(r store.Record) string { return timeKey(r.Modified) }, nil
		}
	}
	return func(r store.Record) string {
		doc, err := resource.View(t, r)
		if err != nil {
			return keyMissing
		}
		v := sortValue(attrValue(t, a, doc), a)
		if v == nil {
			return keyMissing
		}
		return encodeKey(kind, exact, v)
	}, nil
}

func firstSub(a resource.Attr) string {
	if subs := a.Def.SubAttributes(); len(subs) > 0 {
		return subs[0].Name()
	}
	return "value"
}

// sortValue picks the value to sort by: the primary element (else the
// first) of a multi-valued attribute, then the sub-attribute.
func sortValue(v any, a resource.Attr) any {
	if a.Def.MultiValued() {
		list, _ := v.([]any)
		if len(list) == 0 {
			return nil // absent, or not an array
		}
		v = list[0]
		for _, e := range list {
			if m, ok := e.(map[string]any); ok && m["primary"] == true {
				v = e
				break
			}
		}
	}
	if a.Sub != nil {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[a.Sub.Name()]
	}
	return v
}

// encodeKey encodes a value of an attribute of type kind so that keys
// compare as the values do. A value of the wrong type sorts as missing.
func encodeKey(kind string, exact bool, v any) string {
	switch kind {
	case "string", "reference", "binary":
		s, ok := v.(string)
		if !ok || s == "" {
			return keyMissing
		}
		if !exact {
			s = store.Fold(s)
		}
		return keyPresent + s
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			return keyMissing
		}
		if b {
			return keyPresent + "1"
		}
		return keyPresent + "0"
	case "integer", "decimal":
		n, ok := numberOf(v)
		if !ok {
			return keyMissing
		}
		f := n.f
		if n.isInt {
			f = float64(n.i)
		}
		return keyPresent + floatKey(f)
	case "dateTime":
		tm, ok := parseTime(v)
		if !ok {
			return keyMissing
		}
		return timeKey(tm)
	}
	return keyMissing
}

// floatKey maps a float64 to 16 hex digits that sort in numeric order.
func floatKey(f float64) string {
	b := math.Float64bits(f)
	if b>>63 == 1 {
		b = ^b
	} else {
		b |= 1 << 63
	}
	return fmt.Sprintf("%016x", b)
}

func timeKey(t time.Time) string {
	if t.IsZero() {
		return keyMissing
	}
	return keyPresent + t.UTC().Format(sortTimeLayout)
}
