package patch

import (
	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimbridge/scimbridge/scim/filter"
	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

// memberOps composes the member operations of one request into one
// store.MemberChange. Operations compose in order: add keeps an id out of
// the remove set and remove keeps it out of the add set (so "add x, remove
// x" leaves x out and "remove x, add x" leaves it in), and a remove of all
// members clears the adds before it.
type memberOps struct {
	removeAll   bool
	add, remove idSet
}

func (o *memberOps) addID(id string) {
	o.remove.del(id)
	o.add.put(id)
}

func (o *memberOps) removeID(id string) {
	o.add.del(id)
	if !o.removeAll {
		o.remove.put(id)
	}
}

func (o *memberOps) clear() {
	o.removeAll = true
	o.add = idSet{}
	o.remove = idSet{}
}

func (o *memberOps) change() store.MemberChange {
	return store.MemberChange{RemoveAll: o.removeAll, Remove: o.remove.list(), Add: o.add.list()}
}

// changes reports whether the change alters the membership that m reads.
// It looks up each id it adds or removes; for a full replacement it also
// counts the current members, stopping past the size of the new set, so
// it never reads more members than the request names.
func (o *memberOps) changes(m store.Members) bool {
	add, remove := o.add.list(), o.remove.list()
	if m == nil {
		return o.removeAll || len(add) > 0 || len(remove) > 0
	}
	if o.removeAll {
		n := 0
		m.Each(func(string) bool {
			n++
			return n <= len(add)
		})
		if n != len(add) {
			return true
		}
	}
	for _, id := range add {
		if !m.Has(id) {
			return true
		}
	}
	for _, id := range remove {
		if m.Has(id) {
			return true
		}
	}
	return false
}

// idSet is a set of ids that remembers the order ids were first put in,
// so that the change lists are deterministic.
type idSet struct {
	order []string
	in    map[string]bool
}

func (s *idSet) put(id string) {
	if s.in == nil {
		s.in = map[string]bool{}
	}
	if _, known := s.in[id]; !known {
		s.order = append(s.order, id)
	}
	s.in[id] = true
}

func (s *idSet) del(id string) {
	if s.in[id] {
		s.in[id] = false
	}
}

func (s *idSet) list() []string {
	var out []string
	for _, id := range s.order {
		if s.in[id] {
			out = append(out, id)
		}
	}
	return out
}

// membersOp applies an operation on the members of a group. The members
// are not in the document: the operation becomes part of the
// store.MemberChange. Member ids are not checked here; the store checks
// that they are users of the directory.
func (a *applier) membersOp(kind opKind, tg target, v any) *scimerrors.ScimError {
	if a.members == nil {
		a.members = &memberOps{}
	}
	if tg.attr.Sub != nil {
		return resource.Err(scimerrors.ScimTypeMutability,
			"attribute %q is immutable; add or remove members instead", tg.attr.Name(a.t))
	}
	if tg.filter != nil {
		if kind != opRemove {
			return resource.Err(scimerrors.ScimTypeMutability,
				"members cannot be changed through a filter (their sub-attributes are immutable); add or remove members instead")
		}
		if err := filter.ValidateValueFilter(a.t, tg.parent(), tg.filter); err != nil {
			return err
		}
		ids, ok := filter.ValueEqs(tg.filter)
		if !ok {
			return resource.Err(scimerrors.ScimTypeInvalidFilter,
				"only filters on value are supported on members (value eq \"id\", or two of them joined by or)")
		}
		for _, id := range ids {
			a.members.removeID(id)
		}
		return nil
	}
	if kind == opRemove && v == nil {
		a.members.clear()
		return nil
	}
	ids, err := a.memberIDs(tg.attr, v)
	if err != nil {
		return err
	}
	switch kind {
	case opRemove:
		for _, id := range ids {
			a.members.removeID(id)
		}
	case opReplace:
		a.members.clear()
		fallthrough
	case opAdd:
		for _, id := range ids {
			a.members.addID(id)
		}
	}
	return nil
}

// memberIDs reads the ids of a members value: an array of objects (or one
// object) each with a string "value"; "$ref", "type" and "display" are
// checked like any value and otherwise ignored.
func (a *applier) memberIDs(attr resource.Attr, v any) ([]string, *scimerrors.ScimError) {
	var list []any
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		list = x
	case map[string]any:
		list = []any{x}
	default:
		return nil, resource.Err(scimerrors.ScimTypeInvalidValue, "members must be an array of objects with a \"value\"")
	}
	ids := make([]string, 0, len(list))
	for i, e := range list {
		nv, err := a.element(attr, e)
		if err != nil {
			return nil, err
		}
		m, _ := nv.(map[string]any)
		id, ok := m["value"].(string)
		if !ok {
			return nil, resource.Err(scimerrors.ScimTypeInvalidValue, "members[%d] has no string \"value\"", i)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
