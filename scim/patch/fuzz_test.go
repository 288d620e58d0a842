package patch

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimbridge/scimbridge/scim/resource"
)

// FuzzApply feeds PATCH bodies to Request and Apply against a fixed user
// and a fixed group, with and without the Entra profile. Apply must not
// panic, must not modify its input, must fail only with a 400 SCIM error,
// and on success must return a document that Normalize accepts unchanged
// and, for groups, a consistent membership change. The seed corpus in
// testdata/fuzz/FuzzApply holds the IdP shapes of the table tests.
func FuzzApply(f *testing.F) {
	f.Add([]byte(envelope(`[{"op": "Replace", "path": "active", "value": "False"}]`)))
	user := decodeDoc(f, baseUser)
	group := decodeDoc(f, baseGroup)
	members := memberSet{"u-1": true, "u-2": true}
	f.Fuzz(func(t *testing.T, body []byte) {
		d := json.NewDecoder(bytes.NewReader(body))
		d.UseNumber()
		var raw any
		if err := d.Decode(&raw); err != nil {
			return
		}
		v, ok := raw.(map[string]any)
		if list, isList := raw.([]any); isList {
			// A bare list of operations: spare the mutator the envelope.
			v, ok = map[string]any{"schemas": []any{resource.PatchOpSchema}, "Operations": list}, true
		}
		if !ok {
			return
		}
		for _, lenient := range []bool{false, true} {
			opts := Options{Options: resource.Options{StringBooleans: lenient}, MaxOperations: 64}
			ops, err := Request(v, opts)
			if err != nil {
				checkFuzzErr(t, "Request", err)
				continue
			}
			checkApply(t, resource.User(), user, nil, ops, opts)
			checkApply(t, resource.Group(), group, members, ops, opts)
		}
	})
}

// checkApply applies ops and checks the invariants; it reports whether
// Apply succeeded.
func checkApply(t *testing.T, typ *resource.Type, doc resource.Doc, m memberSet, ops []Op, opts Options) bool {
	t.Helper()
	before := copyValue(doc)
	values := make([]any, len(ops))
	for i, op := range ops {
		values[i] = copyValue(op.Value)
	}
	var res Result
	var err *scimerrors.ScimError
	if m == nil {
		res, err = Apply(typ, doc, nil, ops, opts)
	} else {
		res, err = Apply(typ, doc, m, ops, opts)
	}
	if !equal(before, doc) {
		t.Fatalf("Apply(%+v) modified its input: %v", ops, doc)
	}
	for i, op := range ops {
		if !equal(values[i], op.Value) {
			t.Fatalf("Apply(%+v) modified the value of operation %d", ops, i)
		}
	}
	if err != nil {
		checkFuzzErr(t, "Apply", err)
		return false
	}
	a := &applier{t: typ}
	again, nerr := typ.Normalize(a.withSchemas(res.Doc), opts.Options)
	if nerr != nil {
		t.Fatalf("Apply(%+v) = %v, which Normalize refuses: %v", ops, res.Doc, nerr)
	}
	if !equal(map[string]any(again), map[string]any(res.Doc)) {
		t.Fatalf("Apply(%+v) = %v; Normalize makes it %v", ops, res.Doc, again)
	}
	if typ == resource.Group() {
		if _, ok := res.Doc["members"]; ok {
			t.Fatalf("Apply(%+v) = %v; want no members in a group document", ops, res.Doc)
		}
	} else if res.Members != nil {
		t.Fatalf("Apply(%+v).Members = %+v; want nil for a user", ops, res.Members)
	}
	if mc := res.Members; mc != nil {
		seen := map[string]bool{}
		for _, id := range append(append([]string(nil), mc.Remove...), mc.Add...) {
			if seen[id] {
				t.Fatalf("Apply(%+v).Members = %+v; id %q is listed twice", ops, mc, id)
			}
			seen[id] = true
		}
		if mc.RemoveAll && len(mc.Remove) > 0 {
			t.Fatalf("Apply(%+v).Members = %+v; Remove is redundant after RemoveAll", ops, mc)
		}
	}
	if !res.Changed && res.Members == nil && !equal(before, map[string]any(res.Doc)) {
		// Changed compares canonical forms; the fixed documents are canonical.
		t.Fatalf("Apply(%+v) = %v with Changed false; want the document unchanged", ops, res.Doc)
	}
	return true
}

func checkFuzzErr(t *testing.T, call string, err *scimerrors.ScimError) {
	t.Helper()
	if err.Status != 400 || err.ScimType == "" || err.Detail == "" {
		t.Fatalf("%s = %d %q %q; want a 400 SCIM error with a type and a detail", call, err.Status, err.ScimType, err.Detail)
	}
}

// TestApplyRandomOps is a deterministic companion of FuzzApply: random
// lists of operations drawn from a vocabulary of the paths and values that
// matter (filters, members, extensions, nulls, wrong types), checked with
// the same invariants. Byte-level mutation rarely builds such lists.
func TestApplyRandomOps(t *testing.T) {
	ops := []string{"add", "remove", "replace", "Add", "Remove", "Replace", "delete"}
	paths := []string{
		"", "active", "nickName", "displayName", "userName", "externalId", "title", "password",
		"name", "name.givenName", "name.familyName", "Name.GivenName", "name.", "name..x",
		"emails", "emails.value", "emails.primary", `emails[type eq "work"]`, `emails[type eq "work"].value`,
		`emails[type eq "other"].value`, `emails[type eq "home"].primary`, `emails[value co "home"]`,
		`emails[not (type eq "work")]`, `emails[type pr].display`, `emails[primary eq true]`, `emails[primary eq "True"].value`,
		`addresses[type eq "work"].locality`, `addresses[type eq "work" and primary eq true].region`, "phoneNumbers",
		`roles[value eq "a\"b"].display`, "roles", "groups", "id", "meta", "meta.version", "schemas",
		"members", "members.value", `members[value eq "u-1"]`, `members[value eq "u-1" or value eq "u-3"]`,
		`members[display eq "x"]`, `members[value eq "u-1"].display`, `members[value eq 5]`,
		enterprise, enterprise + ":manager", enterprise + ":manager.value", enterprise + ":manager.displayName",
		enterprise + ":department", "urn:ietf:params:scim:schemas:core:2.0:User", resource.MicrosoftGroupSchema,
		"urn:example:x:1.0:User:level", "bogus", `bogus[type eq "x"]`, "emails[type eq", "emails]",
	}
	values := []any{
		nil, "", "x", "False", "True", "yes", true, false, json.Number("5"), json.Number("1.5"),
		[]any{}, []any{nil}, []any{"x"}, map[string]any{},
		map[string]any{"value": "u-1"}, map[string]any{"value": "u-3", "$ref": nil, "display": "T"},
		[]any{map[string]any{"value": "u-1"}, map[string]any{"value": "u-4", "type": "User"}},
		[]any{map[string]any{"display": "no value"}}, []any{map[string]any{"value": json.Number("7")}},
		map[string]any{"givenName": "T", "familyName": nil}, map[string]any{"type": "work", "value": "w@x.example", "primary": true},
		[]any{map[string]any{"type": "home", "value": "h@x.example", "primary": "True"}, map[string]any{"value": "o@x.example"}},
		map[string]any{"department": "R", "manager": map[string]any{"value": "m-1", "displayName": "Boss"}},
		map[string]any{"active": "False", "name.givenName": "G", enterprise + ":employeeNumber": "E", "id": "i", "members": []any{map[string]any{"value": "u-2"}}},
		map[string]any{`emails[type eq "work"].value`: "w@x.example", "displayName": nil, "Groups": []any{}},
		map[string]any{"displayName": "a", "DisplayName": "b"},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	user, group := decodeDoc(t, baseUser), decodeDoc(t, baseGroup)
	members := memberSet{"u-1": true, "u-2": true}
	const n = 2000
	ok := 0
	for range n {
		list := make([]Op, 1+rng.IntN(3))
		for i := range list {
			list[i] = Op{Op: ops[rng.IntN(len(ops))], Path: paths[rng.IntN(len(paths))], Value: copyValue(values[rng.IntN(len(values))])}
		}
		opts := Options{Options: resource.Options{StringBooleans: rng.IntN(2) == 0}}
		for _, good := range []bool{
			checkApply(t, resource.User(), user, nil, list, opts),
			checkApply(t, resource.Group(), group, members, list, opts),
		} {
			if good {
				ok++
			}
		}
	}
	// The vocabulary must keep producing valid requests, or the test
	// checks only error paths.
	if ok < n/10 {
		t.Errorf("%d of %d random requests succeeded; want at least %d", ok, 2*n, n/10)
	}
	t.Logf("%d of %d random requests succeeded", ok, 2*n)
}
