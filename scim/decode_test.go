package scim

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}`,
		`{"a":1,"a":2}`,
		`{"a":[1,2,{"b":null}]} x`,
		`[` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `]`,
		"{\"a\":\"\xff\"}",
		`{"n": 1e400}`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		obj, err := decodeObject(body)
		if err != nil {
			if err.Status != 400 || err.Detail == "" {
				t.Fatalf("decodeObject(%q) error = %+v; want a 400 with a detail", body, err)
			}
			return
		}
		if !utf8.Valid(body) {
			t.Fatalf("decodeObject accepted invalid UTF-8 %q", body)
		}
		// What was accepted is one JSON object that encoding/json reads alike.
		var std map[string]any
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.UseNumber()
		if err := dec.Decode(&std); err != nil {
			t.Fatalf("decodeObject accepted %q, encoding/json refuses it: %v", body, err)
		}
		if _, err := json.Marshal(obj); err != nil {
			t.Fatalf("decoded object does not marshal: %v", err)
		}
	})
}
