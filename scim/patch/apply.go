package patch

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
	scimfilter "github.com/scim2/filter-parser/v2"

	"github.com/scimbridge/scimbridge/scim/filter"
	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

// Apply applies ops in order to a copy of doc and returns the new document,
// validated and in canonical form. It is atomic: when any operation fails,
// or when the result is not a valid document, the error is returned and
// nothing applies. doc is never modified; Result.Doc shares no maps or
// slices with doc or with the operation values.
//
// doc is the stored document of a resource of type t; "schemas", "id" and
// "meta" in it are ignored, and so is "members" for groups, whose
// membership lives in the store: m reads it (m may be nil, for users, or
// when the caller cannot read the membership; Changed then assumes that
// any member operation changes something). m is consulted only to decide
// Changed, and never iterated beyond the size of a full replacement.
//
// Errors are 400 SCIM errors whose detail starts with the index of the
// failing operation ("Operations[2]: ...") and names the attribute or path
// at fault. See the package documentation for the semantics of each
// operation.
func Apply(t *resource.Type, doc resource.Doc, m store.Members, ops []Op, opts Options) (Result, *scimerrors.ScimError) {
	if t == nil {
		return Result{}, &scimerrors.ScimError{Status: http.StatusInternalServerError, Detail: "patch: no resource type"}
	}
	if len(ops) == 0 {
		return Result{}, resource.Err(scimerrors.ScimTypeInvalidValue, "\"Operations\" must not be empty")
	}
	if len(ops) > opts.maxOperations() {
		return Result{}, tooMany(len(ops), opts.maxOperations())
	}
	a := &applier{t: t, opts: opts, group: t.Schema.ID == resource.GroupSchema}
	a.doc = a.strip(doc, true)
	for i, op := range ops {
		if err := a.op(op); err != nil {
			return Result{}, prefixed(err, opPrefix(i))
		}
	}
	out, err := t.Normalize(a.withSchemas(a.doc), opts.Options)
	if err != nil {
		return Result{}, prefixed(err, "the patched resource is invalid: ")
	}
	res := Result{Doc: out, Changed: !a.same(doc, out)}
	if a.members != nil {
		mc := a.members.change()
		res.Members = &mc
		res.Changed = res.Changed || a.members.changes(m)
	}
	return res, nil
}

// applier is the state of one Apply: the working copy of the document,
// which operations modify in place (it is discarded on error), and the
// membership change so far.
type applier struct {
	t       *resource.Type
	opts    Options
	group   bool
	doc     resource.Doc
	members *memberOps
}

// target is a resolved PATCH path.
type target struct {
	path string
	// attr is the attribute; attr.Sub is the sub-attribute named after the
	// attribute ("name.givenName") or after the filter
	// ("emails[type eq "work"].value").
	attr   resource.Attr
	filter scimfilter.Expression
}

// parent is the attribute without the sub-attribute: what a value filter
// applies to.
func (tg target) parent() resource.Attr {
	p := tg.attr
	p.Sub = nil
	return p
}

func (a *applier) op(op Op) *scimerrors.ScimError {
	kind, ok := kindOf(op.Op)
	if !ok {
		return resource.Err(scimerrors.ScimTypeInvalidSyntax, "unknown op %q; expected add, remove or replace", op.Op)
	}
	path := strings.TrimSpace(op.Path)
	if path == "" {
		if kind == opRemove {
			return resource.Err(scimerrors.ScimTypeNoTarget, "a remove operation needs a path")
		}
		obj, ok := op.Value.(map[string]any)
		if !ok {
			return resource.Err(scimerrors.ScimTypeInvalidValue, "an %s operation without a path needs an object value that names the attributes", kind)
		}
		return a.object(kind, obj, "")
	}
	if kind == opAdd && op.Value == nil {
		return resource.Err(scimerrors.ScimTypeInvalidValue, "an add operation needs a value (path %q)", path)
	}
	return a.path(kind, path, op.Value, false)
}

// object applies a path-less add or replace (urn == "") or one whose path
// is an extension URN: every key of obj is a path of its own, relative to
// urn. Keys are applied in a fixed order (sorted without regard to case),
// so that "name" comes before "name.givenName" and the outcome never
// depends on map order. id, meta and schemas are ignored at the top level:
// they are read-only and Okta sends id in every path-less replace.
func (a *applier) object(kind opKind, obj map[string]any, urn string) *scimerrors.ScimError {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		li, lj := strings.ToLower(keys[i]), strings.ToLower(keys[j])
		if li != lj {
			return li < lj
		}
		return keys[i] < keys[j]
	})
	for i, k := range keys {
		if i > 0 && strings.EqualFold(keys[i-1], k) {
			return resource.Err(scimerrors.ScimTypeInvalidSyntax, "attribute %q is given twice (as %q and %q)", k, keys[i-1], k)
		}
		if urn == "" {
			switch strings.ToLower(k) {
			case "id", "meta", "schemas":
				continue
			}
		}
		full := k
		if urn != "" {
			full = urn + ":" + k
		}
		if err := a.path(kind, full, obj[k], true); err != nil {
			return err
		}
	}
	return nil
}

// path applies one operation to one path. inObject is set for the keys of
// a path-less value, where null simply unassigns and attributes of ignored
// schemas are skipped.
func (a *applier) path(kind opKind, path string, v any, inObject bool) *scimerrors.ScimError {
	if len(path) > MaxPathLength {
		return resource.Err(scimerrors.ScimTypeInvalidPath, "path is longer than %d bytes", MaxPathLength)
	}
	if urn, ok := a.t.KnownSchema(path); ok {
		return a.schemaPath(kind, urn, path, v, inObject)
	}
	tg, err := a.resolve(path)
	if err != nil {
		return err
	}
	attr, def := tg.attr, tg.attr.Def
	name := attr.Name(a.t)
	switch {
	case attr.SchemaURN == "" && def.Name() == "schemas":
		return resource.Err(scimerrors.ScimTypeMutability, "\"schemas\" cannot be patched; it follows the attributes present")
	case def.Mutability() == "readOnly" || attr.Sub != nil && attr.Sub.Mutability() == "readOnly":
		return resource.Err(scimerrors.ScimTypeMutability, "attribute %q is read-only", name)
	case a.group && isMembers(attr):
		return a.membersOp(kind, tg, v)
	case def.Mutability() == "writeOnly" || attr.Sub != nil && attr.Sub.Mutability() == "writeOnly":
		// password: checked like any value, never stored (as in Normalize).
		if kind != opRemove {
			if _, err := a.t.NormalizeValue(attr, v, a.opts.Options); err != nil {
				return err
			}
		}
		return nil
	}
	if kind == opRemove && tg.filter == nil {
		if attr.Sub == nil && def.Required() || attr.Sub != nil && attr.Sub.Required() {
			return resource.Err(scimerrors.ScimTypeMutability, "attribute %q is required and cannot be removed", name)
		}
	}
	if def.Mutability() == "immutable" || attr.Sub != nil && attr.Sub.Mutability() == "immutable" {
		if err := a.immutable(kind, tg); err != nil {
			return err
		}
	}
	switch {
	case tg.filter != nil || def.MultiValued() && attr.Sub != nil:
		return a.elements(kind, tg, v)
	case def.MultiValued():
		return a.multi(kind, tg, v)
	case attr.Sub != nil:
		return a.subAttr(kind, tg, v)
	case def.AttributeType() == "complex":
		return a.complex(kind, tg, v)
	default:
		return a.simple(kind, tg, v)
	}
}

// resolve parses and resolves a path other than a bare schema URN. A path
// without a value filter is resolved directly against the schema (which
// accepts exactly the names the grammar would, and is far cheaper than the
// PEG parser); one with a filter goes through the parser.
func (a *applier) resolve(path string) (target, *scimerrors.ScimError) {
	if !strings.ContainsAny(path, "[]") {
		_, rest := resource.SplitURN(a.t, path)
		if rest == "" || strings.HasPrefix(rest, ".") || strings.HasSuffix(rest, ".") || strings.Contains(rest, "..") {
			return target{}, resource.Err(scimerrors.ScimTypeInvalidPath, "path %q: the path is not valid SCIM path syntax (RFC 7644 section 3.5.2)", path)
		}
		attr, _, err := a.t.ResolveName(path)
		if err != nil {
			return target{}, resource.Err(scimerrors.ScimTypeInvalidPath, "path %q: %v", path, err)
		}
		return target{path: path, attr: attr}, nil
	}
	p, perr := parsePath(path, a.opts.Filter)
	if perr != nil {
		return target{}, prefixed(perr, fmt.Sprintf("path %q: ", path))
	}
	ap := p.AttributePath
	sub := ap.SubAttributeName()
	if p.ValueExpression != nil {
		if ap.SubAttribute != nil {
			return target{}, resource.Err(scimerrors.ScimTypeInvalidPath, "path %q: a value filter must follow the attribute name", path)
		}
		sub = p.SubAttributeName()
	}
	attr, err := a.t.Resolve(ap.URI(), ap.AttributeName, sub)
	if err != nil {
		return target{}, resource.Err(scimerrors.ScimTypeInvalidPath, "path %q: %v", path, err)
	}
	if p.ValueExpression != nil && (!attr.Def.MultiValued() || !attr.Def.HasSubAttributes()) {
		return target{}, resource.Err(scimerrors.ScimTypeInvalidPath, "path %q: a value filter applies only to a multi-valued complex attribute", path)
	}
	return target{path: path, attr: attr, filter: p.ValueExpression}, nil
}

// parsePath parses a path with scim/filter's ParsePath (filter-parser's
// ParsePath behind the same preparation as GET filters: limits, trimmed
// whitespace, bare-word literals, numbers as json.Number). The parser reads
// untrusted input; a panic in it becomes invalidPath.
func parsePath(path string, lim filter.Limits) (p scimfilter.Path, err *scimerrors.ScimError) {
	defer func() {
		if r := recover(); r != nil {
			err = resource.Err(scimerrors.ScimTypeInvalidPath, "the path is not valid SCIM path syntax")
		}
	}()
	return filter.ParsePath(path, lim)
}

// immutable enforces RFC 7644 section 3.5.2: an immutable attribute may be
// added when it has no value yet, never replaced or removed. (In the
// schemas served only the members sub-attributes and "schemas" are
// immutable, and both are handled before this; this keeps any future
// immutable attribute safe.)
func (a *applier) immutable(kind opKind, tg target) *scimerrors.ScimError {
	name := tg.attr.Name(a.t)
	if kind != opAdd {
		return resource.Err(scimerrors.ScimTypeMutability, "attribute %q is immutable", name)
	}
	if tg.filter != nil || tg.attr.Def.MultiValued() && tg.attr.Sub != nil {
		return resource.Err(scimerrors.ScimTypeMutability, "attribute %q is immutable", name)
	}
	cur := a.get(tg.attr)
	if tg.attr.Sub != nil {
		m, _ := cur.(map[string]any)
		_, cur = lookup(m, tg.attr.Sub.Name())
	}
	if cur != nil && !tg.attr.Def.MultiValued() {
		return resource.Err(scimerrors.ScimTypeMutability, "attribute %q is immutable and already has a value", name)
	}
	return nil
}

// schemaPath applies an operation whose path is a schema URN: an extension
// as a whole.
func (a *applier) schemaPath(kind opKind, urn, path string, v any, inObject bool) *scimerrors.ScimError {
	if urn == a.t.Schema.ID {
		return resource.Err(scimerrors.ScimTypeInvalidPath, "path %q names the core schema; name an attribute instead", path)
	}
	ext, ok := a.t.ExtensionByURN(urn)
	if !ok {
		if inObject {
			return nil // an ignored schema (Entra's group schema), as in Normalize
		}
		return resource.Err(scimerrors.ScimTypeInvalidPath, "path %q: schema %q has no attributes", path, urn)
	}
	if kind == opRemove || v == nil {
		del(a.doc, ext.ID)
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return resource.Err(scimerrors.ScimTypeInvalidValue, "the value of %q must be an object", ext.ID)
	}
	return a.object(kind, obj, ext.ID)
}

// simple sets or unassigns a single-valued simple attribute. add and
// replace are the same here (RFC 7644 section 3.5.2.1: add on a
// single-valued attribute replaces it).
func (a *applier) simple(kind opKind, tg target, v any) *scimerrors.ScimError {
	var nv any
	if kind != opRemove {
		var err *scimerrors.ScimError
		if nv, err = a.t.NormalizeValue(tg.attr, v, a.opts.Options); err != nil {
			return err
		}
	}
	a.put(tg.attr, nv)
	return nil
}

// complex merges into a single-valued complex attribute (name, manager):
// the sub-attributes given replace those present, the others are left
// unchanged (RFC 7644 section 3.5.2.3), and a sub-attribute given as null
// or "" is unassigned.
func (a *applier) complex(kind opKind, tg target, v any) *scimerrors.ScimError {
	if kind == opRemove || v == nil {
		a.put(tg.attr, nil)
		return nil
	}
	nv, err := a.t.NormalizeValue(tg.attr, v, a.opts.Options)
	if err != nil {
		return err
	}
	cur, _ := a.get(tg.attr).(map[string]any)
	if cur == nil {
		cur = map[string]any{}
	}
	a.merge(tg.attr, cur, v, nv)
	a.put(tg.attr, cur)
	return nil
}

// merge writes the normalized sub-attributes nv into dst and unassigns the
// writable sub-attributes that raw (the value as sent) gives as empty.
func (a *applier) merge(attr resource.Attr, dst map[string]any, raw, nv any) {
	if m, ok := nv.(map[string]any); ok && !attr.Def.MultiValued() {
		// A single-valued reference (manager) that now points elsewhere
		// keeps none of what described the old referent ($ref, display).
		if v, ok := m["value"]; ok && dst["value"] != nil && dst["value"] != v {
			clear(dst)
		}
	}
	if m, ok := nv.(map[string]any); ok {
		for k, x := range m {
			set(dst, k, x)
		}
	}
	obj, _ := raw.(map[string]any)
	for k, x := range obj {
		sub, ok := attr.Def.SubAttributes().ContainsAttribute(k)
		if !ok || sub.Mutability() == "readOnly" {
			continue
		}
		sa := attr
		sa.Sub = &sub
		if n, err := a.t.NormalizeValue(sa, x, a.opts.Options); err == nil && n == nil {
			del(dst, sub.Name())
		}
	}
}

// subAttr sets or unassigns one sub-attribute of a single-valued complex
// attribute (name.givenName, manager.value).
func (a *applier) subAttr(kind opKind, tg target, v any) *scimerrors.ScimError {
	var nv any
	if kind != opRemove {
		var err *scimerrors.ScimError
		if nv, err = a.t.NormalizeValue(tg.attr, v, a.opts.Options); err != nil {
			return err
		}
	}
	cur, _ := a.get(tg.attr).(map[string]any)
	if cur == nil {
		if nv == nil {
			return nil
		}
		cur = map[string]any{}
	}
	if nv == nil {
		del(cur, tg.attr.Sub.Name())
	} else {
		set(cur, tg.attr.Sub.Name(), nv)
	}
	a.put(tg.attr, cur)
	return nil
}

// multi applies an operation to a multi-valued attribute as a whole.
func (a *applier) multi(kind opKind, tg target, v any) *scimerrors.ScimError {
	cur, _ := a.get(tg.attr).([]any)
	switch kind {
	case opReplace:
		list, err := a.list(tg.attr, v)
		if err != nil {
			return err
		}
		a.putList(tg.attr, list)
	case opAdd:
		list, err := a.list(tg.attr, v)
		if err != nil {
			return err
		}
		touched := make([]bool, len(cur), len(cur)+len(list))
		for _, e := range list {
			if !containsEqual(cur, e) {
				cur = append(cur, e)
				touched = append(touched, true)
			}
		}
		fixPrimary(cur, touched)
		a.putList(tg.attr, cur)
	case opRemove:
		if v == nil {
			a.put(tg.attr, nil)
			return nil
		}
		// A value list removes exactly the values listed (Entra's
		// "remove members" shape, applied to every multi-valued
		// attribute), never the whole attribute.
		list, err := a.list(tg.attr, v)
		if err != nil {
			return err
		}
		out := cur[:0:0]
		for _, e := range cur {
			if !matchesAny(list, e) {
				out = append(out, e)
			}
		}
		a.putList(tg.attr, out)
	}
	return nil
}

// list normalizes the value of an operation on a whole multi-valued
// attribute; a single object stands for a one-element array.
func (a *applier) list(attr resource.Attr, v any) ([]any, *scimerrors.ScimError) {
	if m, ok := v.(map[string]any); ok {
		v = []any{m}
	}
	nv, err := a.t.NormalizeValue(attr, v, a.opts.Options)
	if err != nil {
		return nil, err
	}
	list, _ := nv.([]any)
	return list, nil
}

// elements applies an operation to the elements of a multi-valued complex
// attribute that a value filter selects, or to every element when the
// path names a sub-attribute without a filter ("emails.value").
func (a *applier) elements(kind opKind, tg target, v any) *scimerrors.ScimError {
	parent := tg.parent()
	var vf *filter.ValueFilter
	if tg.filter != nil {
		var err *scimerrors.ScimError
		if vf, err = filter.CompileValueFilter(a.t, parent, tg.filter); err != nil {
			return err
		}
	}
	// Normalize the value before looking at matches, so that a bad value
	// is reported as such even when nothing matches.
	var nv any
	if kind != opRemove && v != nil {
		var err *scimerrors.ScimError
		if tg.attr.Sub != nil {
			nv, err = a.t.NormalizeValue(tg.attr, v, a.opts.Options)
		} else {
			nv, err = a.element(parent, v)
		}
		if err != nil {
			return err
		}
	}
	cur, _ := a.get(tg.attr).([]any)
	matched := make([]bool, len(cur))
	found := false
	for i, e := range cur {
		if m, ok := e.(map[string]any); ok && (vf == nil || vf.Match(m)) {
			matched[i], found = true, true
		}
	}
	if !found {
		switch {
		case kind == opRemove:
			return nil // nothing to remove is success
		case kind == opReplace && tg.filter != nil && !a.opts.ReplaceUpserts:
			return resource.Err(scimerrors.ScimTypeNoTarget, "no value of %q matches the filter of path %q", parent.Name(a.t), tg.path)
		}
		// add, or replace of "attr.sub" on an empty attribute (treated as
		// an add, RFC 7644 section 3.5.2.3): create the element.
		elem, err := a.newElement(tg, nv)
		if err != nil || elem == nil {
			return err
		}
		cur = append(cur, elem)
		touched := make([]bool, len(cur))
		touched[len(cur)-1] = true
		fixPrimary(cur, touched)
		a.putList(tg.attr, cur)
		return nil
	}
	out := make([]any, 0, len(cur))
	touched := make([]bool, 0, len(cur))
	for i, e := range cur {
		if !matched[i] {
			out = append(out, e)
			touched = append(touched, false)
			continue
		}
		m := e.(map[string]any)
		switch {
		case tg.attr.Sub != nil && (kind == opRemove || nv == nil):
			del(m, tg.attr.Sub.Name())
		case tg.attr.Sub != nil:
			set(m, tg.attr.Sub.Name(), copyValue(nv))
		case kind == opRemove || v == nil || kind == opReplace && nv == nil:
			m = nil // the element is removed (null unassigns it)
		case kind == opReplace:
			m = copyValue(nv).(map[string]any)
		default: // add: merge into the element
			a.merge(parent, m, v, nv)
		}
		if len(m) > 0 {
			out = append(out, m)
			touched = append(touched, kind != opRemove)
		}
	}
	fixPrimary(out, touched)
	a.putList(tg.attr, out)
	return nil
}

// element normalizes v as one element of the multi-valued attribute
// parent; nil when it is empty.
func (a *applier) element(parent resource.Attr, v any) (any, *scimerrors.ScimError) {
	nv, err := a.t.NormalizeValue(parent, []any{v}, a.opts.Options)
	if err != nil {
		return nil, err
	}
	if list, _ := nv.([]any); len(list) == 1 {
		return list[0], nil
	}
	return nil, nil
}

// newElement builds the element that an add through an eq-only value
// filter creates when no element matches: the filter's eq terms plus the
// value (Entra's upsert, e.g. add emails[type eq "work"].value). It
// returns nil when the value is empty.
func (a *applier) newElement(tg target, nv any) (any, *scimerrors.ScimError) {
	parent := tg.parent()
	if nv == nil {
		return nil, nil
	}
	elem := map[string]any{}
	if tg.filter != nil {
		terms, ok := filter.EqTerms(tg.filter)
		if !ok {
			return nil, resource.Err(scimerrors.ScimTypeNoTarget,
				"no value of %q matches the filter of path %q, and only a filter of eq comparisons joined by and can create one",
				parent.Name(a.t), tg.path)
		}
		for k, x := range terms {
			if sub, ok := parent.Def.SubAttributes().ContainsAttribute(k); ok {
				elem[sub.Name()] = jsonValue(x)
			}
		}
	}
	if tg.attr.Sub != nil {
		elem[tg.attr.Sub.Name()] = nv
	} else {
		for k, x := range nv.(map[string]any) {
			set(elem, k, x)
		}
	}
	return a.element(parent, elem)
}

func isMembers(attr resource.Attr) bool {
	return attr.SchemaURN == resource.GroupSchema && attr.Def.Name() == "members"
}

// container returns the map that holds attr: the document, or the
// extension object (created when create is set).
func (a *applier) container(attr resource.Attr, create bool) map[string]any {
	if !attr.Extension(a.t) {
		return a.doc
	}
	k, v := lookup(a.doc, attr.SchemaURN)
	m, _ := v.(map[string]any)
	if m == nil && create {
		m = map[string]any{}
		if k != "" {
			delete(a.doc, k)
		}
		a.doc[attr.SchemaURN] = m
	}
	return m
}

// get returns the value of the top-level attribute attr.Def.
func (a *applier) get(attr resource.Attr) any {
	_, v := lookup(a.container(attr, false), attr.Def.Name())
	return v
}

// put sets the top-level attribute attr.Def to v, or unassigns it when v
// is nil or empty; an extension left empty is dropped.
func (a *applier) put(attr resource.Attr, v any) {
	empty := v == nil
	if m, ok := v.(map[string]any); ok && len(m) == 0 {
		empty = true
	}
	if l, ok := v.([]any); ok && len(l) == 0 {
		empty = true
	}
	c := a.container(attr, !empty)
	if c == nil {
		return
	}
	if empty {
		del(c, attr.Def.Name())
		if attr.Extension(a.t) && len(c) == 0 {
			del(a.doc, attr.SchemaURN)
		}
		return
	}
	set(c, attr.Def.Name(), v)
}

func (a *applier) putList(attr resource.Attr, list []any) {
	if len(list) == 0 {
		a.put(attr, nil)
		return
	}
	a.put(attr, list)
}

// strip returns a copy of doc without the keys Normalize ignores or that
// are not the document's ("members" of a group); deep when deep is set.
func (a *applier) strip(doc resource.Doc, deep bool) resource.Doc {
	out := make(resource.Doc, len(doc))
	for k, v := range doc {
		switch strings.ToLower(k) {
		case "schemas", "id", "meta":
			continue
		case "members":
			if a.group {
				continue
			}
		}
		if deep {
			v = copyValue(v)
		}
		out[k] = v
	}
	return out
}

// withSchemas returns a shallow copy of doc with the "schemas" that
// Normalize expects: the core schema and every extension present.
func (a *applier) withSchemas(doc resource.Doc) map[string]any {
	out := make(map[string]any, len(doc)+1)
	schemas := []any{a.t.Schema.ID}
	for k, v := range doc {
		out[k] = v
		if ext, ok := a.t.ExtensionByURN(k); ok {
			schemas = append(schemas, ext.ID)
		}
	}
	out["schemas"] = schemas
	return out
}

// same reports whether the patched document out equals the document
// before, compared in canonical form.
func (a *applier) same(before, out resource.Doc) bool {
	b := a.strip(before, false)
	if n, err := a.t.Normalize(a.withSchemas(b), a.opts.Options); err == nil {
		b = n
	}
	return equal(b, out)
}

func prefixed(err *scimerrors.ScimError, prefix string) *scimerrors.ScimError {
	e := *err
	e.Detail = prefix + e.Detail
	return &e
}
