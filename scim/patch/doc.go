// Package patch is the SCIM PATCH engine (RFC 7644 section 3.5.2): it
// decodes the PatchOp envelope (Request) and applies its operations to a
// user or group document (Apply), returning the new document, validated
// and in canonical form, the change to a group's membership, and whether
// anything changed at all.
//
// It owns the meaning of every operation, including the shapes that Okta
// and Entra ID send and that RFC 7644 does not foresee. It never does I/O,
// never logs and never panics on any input (FuzzApply checks the last); it
// sees the membership of a group only through store.Members, and only to
// decide Result.Changed. It does not check member ids: the store does.
//
// # Envelope
//
// "schemas" must be exactly ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]
// (invalidSyntax). The keys "Operations", "op", "path" and "value" are
// matched without regard to case. Op names are read in any case (Entra
// sends "Replace", "Add", "Remove"), and "delete" is read as "remove". An
// unknown op is invalidSyntax: the request does not follow the PatchOp
// schema, which is what invalidSyntax reports. An empty Operations is
// invalidValue; more than Options.MaxOperations (default 1000) is tooMany,
// the error type RFC 7644 uses for "more than the server is willing to
// process", with a detail that names the cap.
//
// # Paths
//
// A path is resolved against the resource type: attribute names in any
// case, "name.givenName", URN-qualified names
// ("urn:…:enterprise:2.0:User:employeeNumber"), a bare extension URN (the
// extension object as a whole), and value filters
// ("emails[type eq \"work\"].value"). Paths with a value filter are parsed
// with scim/filter's ParsePath (filter-parser's ParsePath behind the same
// preparation as GET filters), and the filter is compiled against the
// attribute with scim/filter's CompileValueFilter (invalidFilter when it
// names an unknown sub-attribute or mistypes a literal); paths without one
// are resolved directly with resource.Type.ResolveName, which accepts the
// same names at a fraction of the PEG parser's cost. A path that does not
// parse, names an unknown attribute, puts a value filter on anything but a
// multi-valued complex attribute, or is longer than MaxPathLength is
// invalidPath. The parser accepts at most two comparisons inside one value
// filter, so members[value eq "a" or value eq "b" or value eq "c"] is
// invalidPath: remove members with a value list instead.
//
// # Path-less add and replace
//
// The value must be an object; each key is a path of its own (simple,
// dotted, URN-qualified, a whole extension object under its URN, or a
// filtered path, as Entra sends in its RFC-compliant mode) and is applied
// in a fixed order (keys sorted without regard to case), with the same
// operation. "id", "meta" and "schemas" keys are ignored silently (Okta
// sends "id" in every path-less replace); keys of ignored schemas (Entra's
// group schema) too. Any other unknown key is invalidPath, as in a path.
//
// # Semantics
//
// A null value unassigns its target (RFC 7643 section 2.5: null is the same
// as unassigned), and so does "" for a string attribute; replacing a
// multi-valued attribute with [] empties it, while an empty object merged
// into a complex attribute changes nothing. An add operation itself must
// carry a value (invalidValue).
//
//   - Single-valued simple attribute: add and replace set it (Entra's "Add"
//     on active and nickName); remove unassigns it. A value sent with a
//     remove of a single-valued attribute is ignored.
//   - Single-valued complex attribute (name, manager): add and replace, with
//     or without a path, merge: the sub-attributes given replace those
//     present, the others are left unchanged (RFC 7644 section 3.5.2.3);
//     a sub-attribute given as null is unassigned. "name.givenName" and
//     "manager.value" set one sub-attribute.
//   - Multi-valued attribute without a filter: add appends the values not
//     already present (equal after canonicalization, strings compared
//     exactly; an object stands for a one-element array); replace
//     replaces the whole set; remove without a value unassigns it; remove
//     with a value removes exactly the values listed (an object selects the
//     elements that have every sub-attribute it gives, so {"value": "x"}
//     selects the element whose value is x) and never all of them.
//   - "emails.value" without a filter addresses every element (and creates
//     {"value": …} when there is none, for add and replace).
//   - Value filter, add: sets the sub-attribute (or merges the object) on
//     every matching element. When none matches and the filter is made of
//     eq comparisons joined by and, one element is created from the eq
//     terms plus the value (Entra's upsert); several operations through
//     the same filter in one request therefore build one element. A filter
//     of any other kind that matches nothing is noTarget.
//   - Value filter, replace: replaces the matching elements, or their
//     sub-attribute; no match is noTarget (RFC 7644 section 3.5.2.3). Note
//     that Entra in its default mode sends "Replace" through
//     emails[type eq "work"].value; it succeeds only if such an email
//     exists.
//   - Value filter, remove: removes the matching elements, or their
//     sub-attribute; no match is success.
//   - When an operation sets "primary" to true on a value, the other values
//     of the attribute that were primary get "primary": false (RFC 7644
//     section 3.5.2).
//   - Removing an absent attribute is success.
//
// Values are checked and canonicalized with resource.Type.NormalizeValue,
// so a wrong type is invalidValue naming the attribute, and
// Options.StringBooleans lets "True"/"False" through for boolean
// attributes (also inside path-less objects and for "primary"). The result
// is validated once more with resource.Type.Normalize, so it is always a
// valid document (a replace that blanks userName fails there, with
// invalidValue).
//
// # Mutability
//
//   - readOnly (id, meta, groups, manager.displayName) named by a path, or
//     "groups" as a path-less key, is mutability. readOnly sub-attributes
//     inside a value object are dropped silently, as Normalize does.
//   - Removing a required attribute (userName, a group's displayName) is
//     mutability, as RFC 7644 section 3.5.2.2 says for an attribute that
//     would become unassigned.
//   - immutable attributes may be added while they have no value, never
//     replaced or removed (RFC 7644 section 3.5.2). "schemas" is not
//     patchable: it follows the attributes present.
//   - writeOnly password is checked like any value and dropped: scimbridge
//     never stores a password (Okta sends one).
//
// # Group members
//
// The membership of a group lives in the store, not in the document: member
// operations become a store.MemberChange.
//
//   - add members [{"value": id}, …] (or one object): Add.
//   - remove members[value eq "a" or value eq "b"] (Okta, Entra with
//     aadOptscim062020): Remove. A member filter on anything but value, or
//     with any operator but eq, is invalidFilter.
//   - remove members with a value list (Entra's default mode,
//     [{"value": id, "$ref": null}]): Remove those ids, never all; an empty
//     list removes nothing.
//   - remove members without a filter or a value (or with null): RemoveAll,
//     as RFC 7644 section 3.5.2.2 says.
//   - replace members [...] (with a path, or a path-less "members" key):
//     RemoveAll plus Add.
//   - The sub-attributes of members are immutable, so a path with a member
//     sub-attribute (members.value, members[value eq "x"].display) or an
//     add or replace through a member filter is mutability.
//   - Every element needs a string "value" (invalidValue otherwise);
//     "$ref", "type" and "display" are checked and ignored.
//
// The operations of one request compose in order: the Add and Remove sets
// stay disjoint (add x then remove x leaves x out; remove x then add x
// leaves x in), and a later RemoveAll clears the earlier Adds. The store
// applies RemoveAll, then Remove, then Add, which gives the same result.
//
// # Changed
//
// Result.Changed compares the canonical document before and after, and
// asks store.Members whether an id added is already a member or an id
// removed is not one; for RemoveAll it also counts the members, stopping
// past the size of the new set. Okta's path-less replace of id and
// displayName that accompanies every membership update is therefore
// Changed == false when nothing else changes.
package patch
