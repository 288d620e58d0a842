// Package resource is the SCIM resource model shared by the HTTP layer
// (package scim), the filter engine (scim/filter) and the PATCH engine
// (scim/patch): the resource types and their schemas (taken from
// elimity-com/scim's schema package, the one source of attribute
// definitions), attribute resolution by path, and the document type those
// engines work on.
//
// It is a package of its own so that the filter and PATCH engines can depend
// on the model without depending on HTTP, and be tested and fuzzed alone. It
// does no I/O and never logs.
package resource

import (
	"fmt"
	"strings"

	"github.com/elimity-com/scim/schema"
)

// Schema URNs.
const (
	UserSchema           = schema.UserSchema
	GroupSchema          = schema.GroupSchema
	EnterpriseUserSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	// MicrosoftGroupSchema is sent by Entra ID in the schemas of a group
	// create. It carries no attributes; it is accepted and ignored.
	MicrosoftGroupSchema = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
	PatchOpSchema        = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	ListResponseSchema   = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SearchRequestSchema  = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	ErrorSchema          = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// Doc is a SCIM document: attribute names in their canonical spelling,
// extension attributes nested under their schema URN, values as decoded by
// encoding/json (string, bool, float64 or json.Number, []any,
// map[string]any). The "view" of a stored resource that the filter engine
// evaluates also carries "id" and "meta" (created, lastModified as RFC 3339
// strings, version, resourceType).
type Doc = map[string]any

// Type describes a resource type: its name, endpoint, core schema and
// extensions.
type Type struct {
	Name       string // "User" or "Group"
	Endpoint   string // "/Users" or "/Groups"
	Schema     schema.Schema
	Extensions []schema.Schema
	// Ignored lists schema URNs that clients send and that are accepted
	// without attributes (Entra's group schema).
	Ignored []string
}

var (
	userType = &Type{
		Name:       "User",
		Endpoint:   "/Users",
		Schema:     schema.CoreUserSchema(),
		Extensions: []schema.Schema{schema.ExtensionEnterpriseUser()},
	}
	groupType = &Type{
		Name:     "Group",
		Endpoint: "/Groups",
		Schema:   schema.CoreGroupSchema(),
		Ignored:  []string{MicrosoftGroupSchema},
	}
	commonAttrs = schema.CommonAttributes() // id, externalId, meta
)

// User returns the User resource type (core schema and the enterprise
// extension).
func User() *Type { return userType }

// Group returns the Group resource type.
func Group() *Type { return groupType }

// Attr is an attribute resolved from a path such as "name.givenName",
// "emails.value", "meta.lastModified" or
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value".
type Attr struct {
	// SchemaURN is the schema that defines the attribute: the core schema,
	// an extension, or "" for the common attributes id, externalId and meta.
	SchemaURN string
	// Def is the top-level attribute.
	Def schema.CoreAttribute
	// Sub is the sub-attribute named by the path, or nil.
	Sub *schema.CoreAttribute
}

// Extension reports whether the attribute lives under an extension URN in
// a Doc.
func (a Attr) Extension(t *Type) bool {
	return a.SchemaURN != "" && a.SchemaURN != t.Schema.ID
}

// Target is the attribute the path ends at: Sub when set, else Def.
func (a Attr) Target() schema.CoreAttribute {
	if a.Sub != nil {
		return *a.Sub
	}
	return a.Def
}

// Name is the canonical dotted name of the attribute, URN-qualified for
// extension attributes ("urn:…:User:manager.value").
func (a Attr) Name(t *Type) string {
	n := a.Def.Name()
	if a.Sub != nil {
		n += "." + a.Sub.Name()
	}
	if a.Extension(t) {
		n = a.SchemaURN + ":" + n
	}
	return n
}

// CaseExact reports whether string comparisons on the target are
// case-sensitive. id, externalId and meta.version are case-exact.
func (a Attr) CaseExact() bool { return a.Target().CaseExact() }

// Schemas returns the core schema followed by the extensions.
func (t *Type) Schemas() []schema.Schema {
	return append([]schema.Schema{t.Schema}, t.Extensions...)
}

// ExtensionByURN returns the extension schema with that URN
// (case-insensitive).
func (t *Type) ExtensionByURN(urn string) (schema.Schema, bool) {
	for _, e := range t.Extensions {
		if strings.EqualFold(e.ID, urn) {
			return e, true
		}
	}
	return schema.Schema{}, false
}

// KnownSchema reports whether urn is the core schema, an extension, or an
// ignored schema of t, and returns its canonical spelling.
func (t *Type) KnownSchema(urn string) (string, bool) {
	if strings.EqualFold(urn, t.Schema.ID) {
		return t.Schema.ID, true
	}
	if e, ok := t.ExtensionByURN(urn); ok {
		return e.ID, true
	}
	for _, u := range t.Ignored {
		if strings.EqualFold(u, urn) {
			return u, true
		}
	}
	return "", false
}

// Resolve finds the attribute named by uri (empty, the core schema URN or
// an extension URN), name and sub (empty for none). Names are matched
// case-insensitively, as RFC 7643 section 2.1 says. Without a URN, a name
// that neither the core schema nor the common attributes define resolves
// to the one extension attribute of that name, if exactly one exists. The error says what is
// unknown, in words fit for a SCIM error detail.
func (t *Type) Resolve(uri, name, sub string) (Attr, error) {
	var a Attr
	found := false
	switch {
	case uri == "" || strings.EqualFold(uri, t.Schema.ID):
		if def, ok := t.Schema.Attributes.ContainsAttribute(name); ok {
			a, found = Attr{SchemaURN: t.Schema.ID, Def: def}, true
		} else if uri == "" {
			for _, c := range commonAttrs {
				if strings.EqualFold(c.Name(), name) {
					a, found = Attr{Def: c}, true
					break
				}
			}
		}
	default:
		ext, ok := t.ExtensionByURN(uri)
		if !ok {
			return Attr{}, fmt.Errorf("unknown schema %q", uri)
		}
		if def, ok := ext.Attributes.ContainsAttribute(name); ok {
			a, found = Attr{SchemaURN: ext.ID, Def: def}, true
		}
	}
	if !found && uri == "" {
		// An unqualified name that only an extension defines, once (Entra
		// sends path "manager" for the enterprise manager).
		for _, ext := range t.Extensions {
			if def, ok := ext.Attributes.ContainsAttribute(name); ok {
				if found {
					found = false // defined by two extensions: ambiguous
					break
				}
				a, found = Attr{SchemaURN: ext.ID, Def: def}, true
			}
		}
	}
	if !found {
		full := name
		if uri != "" {
			full = uri + ":" + name
		}
		return Attr{}, fmt.Errorf("unknown attribute %q", full)
	}
	if sub != "" {
		if !a.Def.HasSubAttributes() {
			return Attr{}, fmt.Errorf("attribute %q has no sub-attribute %q", a.Def.Name(), sub)
		}
		s, ok := a.Def.SubAttributes().ContainsAttribute(sub)
		if !ok {
			return Attr{}, fmt.Errorf("unknown attribute %q", a.Def.Name()+"."+sub)
		}
		a.Sub = &s
	}
	return a, nil
}

// ResolveName resolves a dotted, optionally URN-qualified attribute name as
// found in a path-less PATCH value or in attributes/excludedAttributes
// ("name.givenName", "urn:…:enterprise:2.0:User:manager.value",
// "urn:…:enterprise:2.0:User" alone). A bare schema URN resolves with ok
// and a zero Attr and the canonical URN in urn.
func (t *Type) ResolveName(full string) (a Attr, urn string, err error) {
	uri, rest := SplitURN(t, full)
	if uri != "" && rest == "" {
		canonical, ok := t.KnownSchema(uri)
		if !ok {
			return Attr{}, "", fmt.Errorf("unknown schema %q", uri)
		}
		return Attr{}, canonical, nil
	}
	name, sub, _ := strings.Cut(rest, ".")
	if strings.Contains(sub, ".") {
		return Attr{}, "", fmt.Errorf("attribute path %q is too deep", full)
	}
	a, err = t.Resolve(uri, name, sub)
	return a, "", err
}

// SplitURN splits "urn:…:User:name.givenName" into the schema URN of t that
// prefixes it and the rest. A name without a known URN prefix is returned
// as the rest with an empty uri; an unknown "urn:" prefix is returned whole
// as uri so that the caller reports it.
func SplitURN(t *Type, full string) (uri, rest string) {
	for _, s := range t.Schemas() {
		if len(full) >= len(s.ID) && strings.EqualFold(full[:len(s.ID)], s.ID) {
			if len(full) == len(s.ID) {
				return s.ID, ""
			}
			if full[len(s.ID)] == ':' {
				return s.ID, full[len(s.ID)+1:]
			}
		}
	}
	if strings.HasPrefix(strings.ToLower(full), "urn:") {
		i := strings.LastIndex(full, ":")
		return full[:i], full[i+1:]
	}
	return "", full
}

// Container returns the map of doc that holds the attribute: doc itself
// for core and common attributes, doc[URN] for extension attributes (nil
// when absent, or created when create is true).
func (a Attr) Container(t *Type, doc Doc, create bool) map[string]any {
	if !a.Extension(t) {
		return doc
	}
	m, _ := doc[a.SchemaURN].(map[string]any)
	if m == nil && create {
		m = map[string]any{}
		doc[a.SchemaURN] = m
	}
	return m
}

// Value returns the value of the top-level attribute a.Def in doc, or nil.
func (a Attr) Value(t *Type, doc Doc) any {
	c := a.Container(t, doc, false)
	if c == nil {
		return nil
	}
	return c[a.Def.Name()]
}
