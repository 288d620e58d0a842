package scim

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
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
		`{"a":{"b":1,"b":2}}`,
		`{"\u0061":1,"a":2}`,
		`{"a\"b":1,"c":[{"a\"b":2}]}`,
		`{"k":"x\\","k2":"\\\""}`,
		` {"a":1} `,
		`null`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		obj, err := decodeObject(body)
		// The fast path and the token walk agree on every body.
		if utf8.Valid(body) {
			if _, lone := loneSurrogate(body); !lone {
				slow, serr := decodeObjectSlow(body)
				if (serr == nil) != (err == nil) {
					t.Fatalf("decodeObject(%q) = %v, the token walk = %v", body, err, serr)
				}
				if err == nil && !reflect.DeepEqual(obj, slow) {
					t.Fatalf("decodeObject(%q) = %#v, the token walk = %#v", body, obj, slow)
				}
			}
		}
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

// An Okta create body, as decodeObject sees it on every POST /Users.
var benchBody = []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"isaac.brock@example.com","name":{"givenName":"Isaac","familyName":"Brock"},"emails":[{"primary":true,"value":"isaac.brock@example.com","type":"work"}],"displayName":"Isaac Brock","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","costCenter":"4130","organization":"Universal Studios","division":"Theme Park","department":"Tour Operations","manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d"}}}`)

func BenchmarkDecodeObject(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeObject(benchBody); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeObjectTokenWalk(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeObjectSlow(benchBody); err != nil {
			b.Fatal(err)
		}
	}
}

// An object with many keys (a body at the 4 MiB cap can hold 300,000) is
// checked for duplicates in linear time.
func TestDecodeManyKeys(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]`)
	for i := range 300_000 {
		fmt.Fprintf(&b, `,"k%d":0`, i)
	}
	b.WriteString(`}`)
	body := []byte(b.String())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := decodeObject(body); err != nil {
			t.Errorf("300,000 distinct keys: %v", err)
		}
		dup := append(body[:len(body)-1:len(body)-1], `,"k7":1}`...)
		if _, err := decodeObject(dup); err == nil {
			t.Error("a duplicate among 300,000 keys was accepted")
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("decoding 300,000 keys did not finish in a minute: quadratic")
	}
}
