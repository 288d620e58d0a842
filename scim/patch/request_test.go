package patch

import (
	"encoding/json"
	"strings"
	"testing"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/google/go-cmp/cmp"
)

func TestRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want []Op
	}{
		{
			name: "E1 Entra default mode keeps the op as sent",
			body: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "Replace", "path": "active", "value": "False"}]}`,
			want: []Op{{Op: "Replace", Path: "active", Value: "False"}},
		},
		{
			name: "E2 Operations before schemas",
			body: `{"Operations": [{"op": "Add", "path": "nickName", "value": "Tess"}],
				"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`,
			want: []Op{{Op: "Add", Path: "nickName", Value: "Tess"}},
		},
		{
			name: "O1 path-less, keys in any case, numbers as json.Number",
			body: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "operations": [
				{"OP": "replace", "Value": {"active": false, "n": 1}},
				{"op": "remove", "path": null}]}`,
			want: []Op{
				{Op: "replace", Value: map[string]any{"active": false, "n": json.Number("1")}},
				{Op: "remove"},
			},
		},
		{
			name: "unknown keys are ignored",
			body: `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "id": "x",
				"Operations": [{"op": "delete", "path": "title", "comment": "x"}]}`,
			want: []Op{{Op: "delete", Path: "title"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Request(decodeDoc(t, tc.body), Options{})
			if err != nil {
				t.Fatalf("Request(%s) = %v; want success", tc.body, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Request(%s) (-want +got):\n%s", tc.body, diff)
			}
		})
	}
}

func TestRequestErrors(t *testing.T) {
	const schemas = `"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`
	many := `[` + strings.Repeat(`{"op": "add", "path": "nickName", "value": "x"},`, 3) + `{"op": "remove", "path": "title"}]`
	for _, tc := range []struct {
		name string
		body string
		max  int
		err  errWant
	}{
		{"no schemas", `{"Operations": [{"op": "add", "path": "nickName", "value": "x"}]}`, 0, errWant{scimerrors.ScimTypeInvalidSyntax, `"schemas" must be`}},
		{"wrong schema", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": []}`, 0, errWant{scimerrors.ScimTypeInvalidSyntax, `"schemas" must be`}},
		{"extra schema", `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp", "urn:x"], "Operations": []}`, 0, errWant{scimerrors.ScimTypeInvalidSyntax, `"schemas" must be`}},
		{"schemas as a string", `{"schemas": "urn:ietf:params:scim:api:messages:2.0:PatchOp", "Operations": []}`, 0, errWant{scimerrors.ScimTypeInvalidSyntax, `"schemas" must be`}},
		{"no Operations", `{` + schemas + `}`, 0, errWant{scimerrors.ScimTypeInvalidSyntax, `"Operations" is missing`}},
		{"Operations as an object", `{` + schemas + `, "Operations": {"op": "add"}}`, 0, errWant{scimerrors.ScimTypeInvalidSyntax, `"Operations" must be an array`}},
		{"empty Operations", `{` + schemas + `, "Operations": []}`, 0, errWant{scimerrors.ScimTypeInvalidValue, "must not be empty"}},
		{"Operations twice", `{` + schemas + `, "Operations": [], "operations": []}`, 0, errWant{scimerrors.ScimTypeInvalidSyntax, "given twice"}},
		{"too many operations", `{` + schemas + `, "Operations": ` + many + `}`, 3, errWant{scimerrors.ScimTypeTooMany, "at most 3"}},
		{"operation not an object", `{` + schemas + `, "Operations": ["add"]}`, 0, errWant{scimerrors.ScimTypeInvalidSyntax, "Operations[0] must be an object"}},
		{"op missing", `{` + schemas + `, "Operations": [{"path": "title"}]}`, 0, errWant{scimerrors.ScimTypeInvalidSyntax, `"op" must be a string`}},
		{"unknown op", `{` + schemas + `, "Operations": [{"op": "add", "path": "title", "value": "x"}, {"op": "copy", "path": "title"}]}`, 0, errWant{scimerrors.ScimTypeInvalidSyntax, `Operations[1]: unknown op "copy"`}},
		{"op twice", `{` + schemas + `, "Operations": [{"op": "add", "Op": "remove", "path": "title"}]}`, 0, errWant{scimerrors.ScimTypeInvalidSyntax, "given twice"}},
		{"path not a string", `{` + schemas + `, "Operations": [{"op": "remove", "path": ["title"]}]}`, 0, errWant{scimerrors.ScimTypeInvalidPath, `"path" must be a string`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Request(decodeDoc(t, tc.body), Options{MaxOperations: tc.max})
			checkErr(t, "Request("+tc.body+")", err, tc.err)
		})
	}
	if _, err := Request(nil, Options{}); err == nil || err.ScimType != scimerrors.ScimTypeInvalidSyntax {
		t.Errorf("Request(nil) = %v; want invalidSyntax", err)
	}
}

func TestRequestDefaultMax(t *testing.T) {
	ops := make([]any, DefaultMaxOperations+1)
	for i := range ops {
		ops[i] = map[string]any{"op": "remove", "path": "title"}
	}
	body := map[string]any{"schemas": []any{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops}
	if _, err := Request(body, Options{}); err == nil || err.ScimType != scimerrors.ScimTypeTooMany {
		t.Errorf("Request(%d operations) = %v; want tooMany", len(ops), err)
	}
	body["Operations"] = ops[:DefaultMaxOperations]
	if got, err := Request(body, Options{}); err != nil || len(got) != DefaultMaxOperations {
		t.Errorf("Request(%d operations) = %d ops, %v; want success", DefaultMaxOperations, len(got), err)
	}
}
