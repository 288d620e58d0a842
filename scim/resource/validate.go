package resource

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/schema"
)

// MaxStringLength is the longest string value an attribute may hold, in
// bytes. Longer values are refused with invalidValue.
const MaxStringLength = 64 << 10

// Options switch the few lenient readings of a document that an IdP profile
// may ask for; the zero value is RFC 7643 as written.
type Options struct {
	// StringBooleans accepts "true"/"false" strings in any case for boolean
	// attributes (Entra ID sends "True" and "False").
	StringBooleans bool
}

// externalIDAttr is the definition of the common attribute externalId.
var externalIDAttr = func() schema.CoreAttribute {
	for _, a := range commonAttrs {
		if a.Name() == "externalId" {
			return a
		}
	}
	panic("resource: elimity-com/scim has no externalId common attribute")
}()

// identifiers are the attributes whose values name or reference a resource:
// control and format characters (NUL, zero-width space, bidi overrides) are
// refused in them, since they make names that look alike and differ.
var identifiers = map[string]bool{
	"userName": true, "externalId": true, "displayName": true,
	"emails.value": true, "members.value": true, "manager.value": true,
}

// Err builds a 400 SCIM error of the given type with a detail.
func Err(scimType scimerrors.ScimType, format string, args ...any) *scimerrors.ScimError {
	return &scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// Normalize validates a request document (the body of a POST or PUT, or the
// result of a PATCH) against t and returns it in canonical form: attribute
// names spelled as the schema spells them, extension attributes under their
// canonical URN, null and empty values dropped, readOnly attributes (id,
// meta, groups, manager.displayName) dropped, writeOnly password checked
// and dropped (scimbridge never stores a password), unknown attributes
// dropped. "schemas" must list the core schema and may list only known
// schemas; unknown extension URNs as keys are refused. Required attributes
// must be present and not blank.
//
// Errors are 400 SCIM errors whose detail names the attribute at fault.
// Normalize never modifies in.
func (t *Type) Normalize(in map[string]any, opts Options) (Doc, *scimerrors.ScimError) {
	if err := t.checkSchemas(in["schemas"]); err != nil {
		return nil, err
	}
	out := Doc{}
	seen := map[string]string{}
	for key, v := range in {
		lower := strings.ToLower(key)
		if prev, dup := seen[lower]; dup {
			return nil, Err(scimerrors.ScimTypeInvalidSyntax, "attribute %q is given twice (as %q and %q)", key, prev, key)
		}
		seen[lower] = key
		switch lower {
		case "schemas", "id", "meta":
			continue
		case "externalid":
			if v == nil {
				continue
			}
			s, err := checkString(externalIDAttr, "externalId", v)
			if err != nil {
				return nil, err
			}
			if s != "" {
				out["externalId"] = s
			}
			continue
		}
		if urn, ok := t.KnownSchema(key); ok {
			if urn == t.Schema.ID {
				return nil, Err(scimerrors.ScimTypeInvalidSyntax, "core attributes must not be nested under %q", key)
			}
			ext, isExt := t.ExtensionByURN(urn)
			if !isExt || v == nil {
				continue // an ignored schema, or an empty extension
			}
			obj, isObj := v.(map[string]any)
			if !isObj {
				return nil, Err(scimerrors.ScimTypeInvalidValue, "%q must be an object", urn)
			}
			m, err := normalizeAttrs(ext.Attributes, obj, urn+":", opts)
			if err != nil {
				return nil, err
			}
			if len(m) > 0 {
				out[ext.ID] = m
			}
			continue
		}
		if strings.Contains(key, ":") {
			return nil, Err(scimerrors.ScimTypeInvalidSyntax, "unknown schema extension %q", key)
		}
		def, ok := t.Schema.Attributes.ContainsAttribute(key)
		if !ok {
			continue // unknown attributes are ignored (RFC 7644 section 3.3)
		}
		nv, err := normalizeAttr(def, def.Name(), v, opts)
		if err != nil {
			return nil, err
		}
		if def.Mutability() == "readOnly" || def.Mutability() == "writeOnly" || nv == nil {
			continue
		}
		out[def.Name()] = nv
	}
	for _, s := range t.Schemas() {
		container := out
		if s.ID != t.Schema.ID {
			container, _ = out[s.ID].(map[string]any)
		}
		for _, a := range s.Attributes {
			if !a.Required() || a.Mutability() == "readOnly" {
				continue
			}
			if container == nil || isBlank(container[a.Name()]) {
				return nil, Err(scimerrors.ScimTypeInvalidValue, "attribute %q is required and must not be empty", a.Name())
			}
		}
	}
	return out, nil
}

func isBlank(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	}
	return false
}

func (t *Type) checkSchemas(v any) *scimerrors.ScimError {
	list, ok := v.([]any)
	if !ok {
		return Err(scimerrors.ScimTypeInvalidSyntax, "\"schemas\" must be an array that lists %q", t.Schema.ID)
	}
	core := false
	for _, s := range list {
		str, ok := s.(string)
		if !ok {
			return Err(scimerrors.ScimTypeInvalidSyntax, "\"schemas\" must contain only strings")
		}
		canonical, known := t.KnownSchema(str)
		if !known {
			return Err(scimerrors.ScimTypeInvalidSyntax, "unknown schema %q in \"schemas\"", str)
		}
		core = core || canonical == t.Schema.ID
	}
	if !core {
		return Err(scimerrors.ScimTypeInvalidSyntax, "\"schemas\" must list %q", t.Schema.ID)
	}
	return nil
}

// NormalizeValue validates one value for the attribute a (its sub-attribute
// when a.Sub is set) and returns it in canonical form, or nil for an empty
// value. The PATCH engine uses it for operation values.
func (t *Type) NormalizeValue(a Attr, v any, opts Options) (any, *scimerrors.ScimError) {
	return normalizeAttr(a.Target(), a.Name(t), v, opts)
}

func normalizeAttrs(defs schema.Attributes, in map[string]any, prefix string, opts Options) (map[string]any, *scimerrors.ScimError) {
	out := map[string]any{}
	seen := map[string]bool{}
	for key, v := range in {
		lower := strings.ToLower(key)
		if seen[lower] {
			return nil, Err(scimerrors.ScimTypeInvalidSyntax, "attribute %q is given twice", prefix+key)
		}
		seen[lower] = true
		def, ok := defs.ContainsAttribute(key)
		if !ok {
			continue
		}
		nv, err := normalizeAttr(def, prefix+def.Name(), v, opts)
		if err != nil {
			return nil, err
		}
		if def.Mutability() == "readOnly" || def.Mutability() == "writeOnly" || nv == nil {
			continue
		}
		out[def.Name()] = nv
	}
	return out, nil
}

func normalizeAttr(def schema.CoreAttribute, name string, v any, opts Options) (any, *scimerrors.ScimError) {
	if v == nil {
		return nil, nil
	}
	if !def.MultiValued() {
		// A one-element array for a single-valued attribute is read as its
		// element (Entra sends manager as [{"value": …}]).
		if list, ok := v.([]any); ok && len(list) == 1 {
			v = list[0]
		}
		// A bare string for a complex attribute with a "value"
		// sub-attribute is its value (Entra sends manager as "u-0012").
		if s, ok := v.(string); ok && def.AttributeType() == "complex" {
			if _, hasValue := def.SubAttributes().ContainsAttribute("value"); hasValue {
				v = map[string]any{"value": s}
			}
		}
		return normalizeSingle(def, name, v, opts)
	}
	list, ok := v.([]any)
	if !ok {
		return nil, Err(scimerrors.ScimTypeInvalidValue, "attribute %q is multi-valued and must be an array", name)
	}
	out := make([]any, 0, len(list))
	primaries := 0
	for _, e := range list {
		ne, err := normalizeSingle(def, name, e, opts)
		if err != nil {
			return nil, err
		}
		if ne == nil {
			continue
		}
		if m, ok := ne.(map[string]any); ok && m["primary"] == true {
			primaries++
		}
		out = append(out, ne)
	}
	if primaries > 1 {
		return nil, Err(scimerrors.ScimTypeInvalidValue, "attribute %q has more than one value marked primary", name)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func normalizeSingle(def schema.CoreAttribute, name string, v any, opts Options) (any, *scimerrors.ScimError) {
	if v == nil {
		return nil, nil
	}
	switch def.AttributeType() {
	case "complex":
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, Err(scimerrors.ScimTypeInvalidValue, "attribute %q must be an object", name)
		}
		m, err := normalizeAttrs(def.SubAttributes(), obj, name+".", opts)
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, nil
		}
		return m, nil
	case "string", "reference":
		s, err := checkString(def, name, v)
		if err != nil {
			return nil, err
		}
		if s == "" {
			return nil, nil
		}
		return s, nil
	case "boolean":
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			if opts.StringBooleans {
				switch strings.ToLower(b) {
				case "true":
					return true, nil
				case "false":
					return false, nil
				}
			}
		}
		return nil, Err(scimerrors.ScimTypeInvalidValue, "attribute %q must be a boolean", name)
	case "integer":
		switch n := v.(type) {
		case json.Number:
			if _, err := n.Int64(); err == nil {
				return n, nil
			}
		case float64:
			if n == float64(int64(n)) {
				return n, nil
			}
		}
		return nil, Err(scimerrors.ScimTypeInvalidValue, "attribute %q must be an integer", name)
	case "decimal":
		switch n := v.(type) {
		case json.Number:
			if _, err := n.Float64(); err == nil {
				return n, nil
			}
		case float64:
			return n, nil
		}
		return nil, Err(scimerrors.ScimTypeInvalidValue, "attribute %q must be a number", name)
	case "dateTime":
		s, ok := v.(string)
		if !ok {
			return nil, Err(scimerrors.ScimTypeInvalidValue, "attribute %q must be a dateTime string", name)
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, Err(scimerrors.ScimTypeInvalidValue, "attribute %q must be an RFC 3339 dateTime", name)
		}
		return s, nil
	case "binary":
		s, ok := v.(string)
		if !ok {
			return nil, Err(scimerrors.ScimTypeInvalidValue, "attribute %q must be a base64 string", name)
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			return nil, Err(scimerrors.ScimTypeInvalidValue, "attribute %q must be base64", name)
		}
		return s, nil
	}
	return nil, Err(scimerrors.ScimTypeInvalidValue, "attribute %q has an unsupported type", name)
}

func checkString(def schema.CoreAttribute, name string, v any) (string, *scimerrors.ScimError) {
	s, ok := v.(string)
	if !ok {
		return "", Err(scimerrors.ScimTypeInvalidValue, "attribute %q must be a string", name)
	}
	if len(s) > MaxStringLength {
		return "", Err(scimerrors.ScimTypeInvalidValue, "attribute %q is longer than %d bytes", name, MaxStringLength)
	}
	if err := CheckText(s, identifiers[unqualified(name)]); err != nil {
		return "", Err(scimerrors.ScimTypeInvalidValue, "attribute %q %s", name, err)
	}
	if cv := def.CanonicalValues(); len(cv) > 0 && name == "members.type" {
		for _, c := range cv {
			if strings.EqualFold(c, s) {
				return c, nil
			}
		}
		return "", Err(scimerrors.ScimTypeInvalidValue, "attribute %q must be one of %s", name, strings.Join(cv, ", "))
	}
	return s, nil
}

func unqualified(name string) string {
	if i := strings.LastIndex(name, ":"); i >= 0 {
		return name[i+1:]
	}
	return name
}

// CheckText refuses text that is not valid UTF-8 or that contains NUL or
// other control characters (tab, newline and carriage return are allowed
// unless identifier is set); identifiers also refuse Unicode format
// characters (zero-width spaces and joiners, bidi controls, BOM). The error
// completes the sentence "attribute X …".
func CheckText(s string, identifier bool) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("is not valid UTF-8")
	}
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			if identifier {
				return fmt.Errorf("must not contain control characters")
			}
		case unicode.Is(unicode.Cc, r):
			return fmt.Errorf("must not contain control characters")
		case identifier && unicode.Is(unicode.Cf, r):
			return fmt.Errorf("must not contain invisible formatting characters (U+%04X)", r)
		}
	}
	return nil
}
