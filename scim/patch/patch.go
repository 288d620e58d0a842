package patch

import (
	"strconv"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimbridge/scimbridge/scim/filter"
	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

// Limits.
const (
	// DefaultMaxOperations is the number of operations one PATCH request
	// may carry when Options.MaxOperations is not set.
	DefaultMaxOperations = 1000
	// MaxPathLength is the longest "path" (or path-less value key) an
	// operation may name, in bytes. Longer paths are refused with
	// invalidPath before they reach the path parser.
	MaxPathLength = 1024
)

// Op is one PATCH operation as decoded from the request. Op is the
// operation name as sent, in any case ("add", "Replace", "REMOVE"); Path is
// empty when the operation has none; Value is as decoded by encoding/json
// with UseNumber (nil when absent or null).
type Op struct {
	Op    string
	Path  string
	Value any
}

// Options tune Request and Apply. The zero value is RFC 7644 as written,
// with at most DefaultMaxOperations operations.
type Options struct {
	// Options are the lenient readings of values (StringBooleans for
	// Entra's "True"/"False"), applied to every operation value.
	resource.Options
	// MaxOperations caps the operations of one request; 0 or less means
	// DefaultMaxOperations.
	MaxOperations int
	// Filter caps the value filters of paths (length, nesting, terms), as
	// for list filters; zero fields take the defaults.
	Filter filter.Limits
	// ReplaceUpserts makes a replace through an eq-only value filter that
	// matches nothing create the element, as an add does, instead of
	// failing with noTarget (RFC 7644 section 3.5.2.3). Entra ID replaces
	// emails[type eq "work"].value on users that have no work email.
	ReplaceUpserts bool
}

func (o Options) maxOperations() int {
	if o.MaxOperations <= 0 {
		return DefaultMaxOperations
	}
	return o.MaxOperations
}

// Result is the outcome of Apply.
type Result struct {
	// Doc is the new document in canonical form, as t.Normalize returns it
	// (without "schemas", "id", "meta"; for groups, without "members").
	Doc resource.Doc
	// Members is the membership change of a group PATCH, in the order the
	// store applies it (RemoveAll, then Remove, then Add; Remove and Add
	// are disjoint). It is nil when no operation names "members", and
	// non-nil (possibly a no-op) when one does.
	Members *store.MemberChange
	// Changed is false when the PATCH leaves both the document and the
	// membership as they were, so that the caller can keep the version
	// (ETag) and emit no event.
	Changed bool
}

// opKind is an operation name in canonical form.
type opKind string

const (
	opAdd     opKind = "add"
	opRemove  opKind = "remove"
	opReplace opKind = "replace"
)

// kindOf reads an operation name in any case. "delete" is accepted as
// "remove" (a spelling some clients use; it has no other meaning).
func kindOf(op string) (opKind, bool) {
	switch strings.ToLower(op) {
	case "add":
		return opAdd, true
	case "remove", "delete":
		return opRemove, true
	case "replace":
		return opReplace, true
	}
	return "", false
}

// Request decodes and validates the PatchOp envelope of a PATCH body (a
// JSON object decoded with UseNumber) and returns its operations.
//
// "schemas" must be exactly [PatchOpSchema] (invalidSyntax otherwise). The
// keys "Operations", "op", "path" and "value" are matched without regard
// to case; a key given twice in different cases is invalidSyntax. An
// absent "Operations" or one that is not an array, an operation that is
// not an object and an unknown op name are invalidSyntax; an empty list is
// invalidValue; more than Options.MaxOperations operations is tooMany (the
// cap is a server limit on work, which is what tooMany reports; the detail
// names the cap). A path that is not a string is invalidPath. Operation
// values are not examined here: Apply validates them against the schema.
func Request(body map[string]any, opts Options) ([]Op, *scimerrors.ScimError) {
	if body == nil {
		return nil, resource.Err(scimerrors.ScimTypeInvalidSyntax, "the PATCH body must be a JSON object")
	}
	fields, err := foldKeys(body, "", "schemas", "operations")
	if err != nil {
		return nil, err
	}
	if !isPatchSchemas(fields["schemas"]) {
		return nil, resource.Err(scimerrors.ScimTypeInvalidSyntax, "\"schemas\" must be [%q]", resource.PatchOpSchema)
	}
	raw, present := fields["operations"]
	list, ok := raw.([]any)
	switch {
	case !present || raw == nil:
		return nil, resource.Err(scimerrors.ScimTypeInvalidSyntax, "\"Operations\" is missing")
	case !ok:
		return nil, resource.Err(scimerrors.ScimTypeInvalidSyntax, "\"Operations\" must be an array")
	case len(list) == 0:
		return nil, resource.Err(scimerrors.ScimTypeInvalidValue, "\"Operations\" must not be empty")
	case len(list) > opts.maxOperations():
		return nil, tooMany(len(list), opts.maxOperations())
	}
	ops := make([]Op, 0, len(list))
	for i, item := range list {
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, resource.Err(scimerrors.ScimTypeInvalidSyntax, "Operations[%d] must be an object", i)
		}
		f, err := foldKeys(obj, opPrefix(i), "op", "path", "value")
		if err != nil {
			return nil, err
		}
		name, ok := f["op"].(string)
		if !ok {
			return nil, resource.Err(scimerrors.ScimTypeInvalidSyntax, "Operations[%d]: \"op\" must be a string", i)
		}
		if _, known := kindOf(name); !known {
			return nil, unknownOp(i, name)
		}
		var path string
		switch p := f["path"].(type) {
		case nil:
		case string:
			path = p
		default:
			return nil, resource.Err(scimerrors.ScimTypeInvalidPath, "Operations[%d]: \"path\" must be a string", i)
		}
		ops = append(ops, Op{Op: name, Path: path, Value: f["value"]})
	}
	return ops, nil
}

// foldKeys picks the named keys (given in lower case) out of obj, matching
// them without regard to case, and refuses a key given twice.
func foldKeys(obj map[string]any, prefix string, names ...string) (map[string]any, *scimerrors.ScimError) {
	out := make(map[string]any, len(names))
	seen := make(map[string]string, len(names))
	for k, v := range obj {
		lower := strings.ToLower(k)
		for _, n := range names {
			if lower != n {
				continue
			}
			if prev, dup := seen[n]; dup {
				return nil, resource.Err(scimerrors.ScimTypeInvalidSyntax, "%s%q is given twice (as %q and %q)", prefix, n, prev, k)
			}
			seen[n] = k
			out[n] = v
		}
	}
	return out, nil
}

func isPatchSchemas(v any) bool {
	list, ok := v.([]any)
	if !ok || len(list) != 1 {
		return false
	}
	s, ok := list[0].(string)
	return ok && strings.EqualFold(s, resource.PatchOpSchema)
}

func opPrefix(i int) string { return "Operations[" + strconv.Itoa(i) + "]: " }

func tooMany(n, limit int) *scimerrors.ScimError {
	return resource.Err(scimerrors.ScimTypeTooMany, "the PATCH request has %d operations; at most %d are allowed", n, limit)
}

func unknownOp(i int, name string) *scimerrors.ScimError {
	return resource.Err(scimerrors.ScimTypeInvalidSyntax, "Operations[%d]: unknown op %q; expected add, remove or replace", i, name)
}
