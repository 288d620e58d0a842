package patch

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimbridge/scimbridge/scim/resource"
)

// Request bodies in these tests are the shapes documented in
// /work/shared/reference/idp-request-shapes.md (E1–E9 for Entra ID, O1–O4
// for Okta), re-typed with invented values.

const (
	enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	// baseUser is the stored document of the user the tests patch.
	baseUser = `{
		"userName": "tess@contoso.example",
		"displayName": "Tess",
		"active": true,
		"name": {"givenName": "Tess", "familyName": "Nguyen"},
		"emails": [
			{"type": "work", "value": "tess@contoso.example", "primary": true},
			{"type": "home", "value": "tess@home.example"}
		],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "ML", "employeeNumber": "E-1"}
	}`
	baseGroup = `{"displayName": "workspace_engineering", "externalId": "3f2a9c1e"}`
)

// decode decodes JSON as the HTTP layer does (UseNumber).
func decode(t testing.TB, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func decodeDoc(t testing.TB, s string) resource.Doc {
	t.Helper()
	m, ok := decode(t, s).(map[string]any)
	if !ok {
		t.Fatalf("decode %s: not an object", s)
	}
	return m
}

// envelope wraps operations (a JSON array) in a PatchOp body.
func envelope(ops string) string {
	return `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ` + ops + `}`
}

// run decodes body, reads it with Request and applies it.
func run(t testing.TB, typ *resource.Type, doc resource.Doc, m memberSet, body string, opts Options) (Result, *scimerrors.ScimError) {
	t.Helper()
	b, ok := decode(t, body).(map[string]any)
	if !ok {
		t.Fatalf("body %s is not an object", body)
	}
	ops, err := Request(b, opts)
	if err != nil {
		return Result{}, err
	}
	if m == nil {
		return Apply(typ, doc, nil, ops, opts)
	}
	return Apply(typ, doc, m, ops, opts)
}

// errWant is the error a case expects: its scimType and words of its
// detail.
type errWant struct {
	scimType scimerrors.ScimType
	detail   string
}

func checkErr(t *testing.T, call string, got *scimerrors.ScimError, want errWant) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s = nil error; want %s error with %q", call, want.scimType, want.detail)
	}
	if got.Status != 400 || got.ScimType != want.scimType || !strings.Contains(got.Detail, want.detail) {
		t.Fatalf("%s = %d %s %q; want 400 %s with %q", call, got.Status, got.ScimType, got.Detail, want.scimType, want.detail)
	}
}

// memberSet is the membership of a group as store.Members sees it.
type memberSet map[string]bool

func (s memberSet) Has(id string) bool { return s[id] }

func (s memberSet) Each(fn func(string) bool) {
	ids := make([]string, 0, len(s))
	for id := range s {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if !fn(id) {
			return
		}
	}
}

// counting is a store.Members that counts the members Each visits and
// the lookups Has makes, to check that Apply never walks a large group.
type counting struct {
	memberSet
	visited, lookups int
}

func (c *counting) Has(id string) bool {
	c.lookups++
	return c.memberSet.Has(id)
}

func (c *counting) Each(fn func(string) bool) {
	c.memberSet.Each(func(id string) bool {
		c.visited++
		return fn(id)
	})
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %v: %v", v, err)
	}
	return string(b)
}
