package scim

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// spliceCases are documents as the server stores them (json.Marshal of a
// validated document), with what makes splicing hard: extensions, nested
// objects, numbers, escapes, non-ASCII, HTML characters, and stored
// members that the representation replaces.
var spliceCases = []string{
	`{}`,
	`{"active":true,"userName":"alice@example.com"}`,
	`{"active":false,"displayName":"Zoë \"Z\" Ñ","emails":[{"primary":true,"type":"work","value":"z@example.com"}],"name":{"familyName":"Ñ","givenName":"Zoë"},"userName":"zoe"}`,
	`{"active":true,"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob","x509Certificates":[{"value":"MII\\nABC"}]}`,
	`{"active":true,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D <lab>","employeeNumber":"00042","manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d"}},"userName":"carol"}`,
	`{"active":true,"groups":[{"value":"x"}],"id":"stale","meta":{"version":"W/\"0\""},"userName":"dave"}`,
	`{"active":true,"addresses":[{"formatted":"1 Main St\nSpringfield","primary":true}],"nickName":"{[,]}\"","userName":"eve","zzz":1.50e3}`,
}

func spliceUser(attrs string, groups []store.GroupRef) store.User {
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 123456000, time.UTC)
	return store.User{
		ID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Attributes: []byte(attrs), Groups: groups,
		Version: 7, Created: t0, Modified: t0.Add(time.Hour),
	}
}

// checkSplice compares appendUser with the slow path, marshal(userDoc).
func checkSplice(t *testing.T, c *call, u store.User) {
	t.Helper()
	doc, err := c.userDoc(u)
	if err != nil {
		return // the slow path refuses it too
	}
	want, err := marshal(doc)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	got, ok := c.appendUser([]byte("prefix"), u)
	if !ok {
		return // the caller takes the slow path
	}
	if !bytes.HasPrefix(got, []byte("prefix")) {
		t.Fatalf("appendUser did not append: %s", got)
	}
	got = got[len("prefix"):]
	if !json.Valid(got) {
		t.Fatalf("appendUser(%s) is not JSON: %s", u.Attributes, got)
	}
	var g, w any
	dg, dw := json.NewDecoder(bytes.NewReader(got)), json.NewDecoder(bytes.NewReader(want))
	dg.UseNumber()
	dw.UseNumber()
	if dg.Decode(&g) != nil || dw.Decode(&w) != nil || !reflect.DeepEqual(g, w) {
		t.Fatalf("appendUser(%s)\n got %s\nwant %s", u.Attributes, got, want)
	}
	// Byte for byte for what the server stores: json.Marshal of a map
	// (so no duplicate keys, nested ones included) without escapes.
	var m map[string]any
	var canon []byte
	if json.Unmarshal(u.Attributes, &m) == nil && m != nil {
		canon, _ = json.Marshal(m)
	}
	if bytes.Equal(canon, u.Attributes) && !bytes.ContainsAny(u.Attributes, `\`) && !bytes.Equal(got, want) {
		t.Fatalf("appendUser(%s): same JSON, other bytes\n got %s\nwant %s", u.Attributes, got, want)
	}
}

func TestAppendUserMatchesUserDoc(t *testing.T) {
	c := &call{base: "https://scim.example.com/scim/v2/acme/okta"}
	groups := [][]store.GroupRef{nil, {
		{ID: "0193a1b2-0000-7000-8000-000000000001", DisplayName: "Engineering & Ops"},
		{ID: "0193a1b2-0000-7000-8000-000000000002"},
	}}
	spliced := 0
	for _, attrs := range spliceCases {
		for _, gs := range groups {
			u := spliceUser(attrs, gs)
			checkSplice(t, c, u)
			if _, ok := c.appendUser(nil, u); ok {
				spliced++
			}
		}
	}
	if spliced != 2*len(spliceCases) {
		t.Errorf("%d of %d stored documents were spliced; want all (they are what the server stores)", spliced, 2*len(spliceCases))
	}
	// What it must not splice: not compact, keys out of order, escaped keys.
	for _, attrs := range []string{`{"userName": "a"}`, `{"userName":"a","active":true}`, `{"user\u004eame":"a"}`, `[1]`, `{"a":1`, ` {}`} {
		if _, ok := c.appendUser(nil, spliceUser(attrs, nil)); ok {
			t.Errorf("appendUser spliced %s; want the slow path", attrs)
		}
	}
}

func FuzzAppendUser(f *testing.F) {
	for _, s := range spliceCases {
		f.Add(s, "Engineering")
	}
	f.Add(`{"b":{"a":[1,{"c":"\u2028"}]},"a":null}`, "")
	c := &call{base: "https://scim.example.com/scim/v2/acme/okta"}
	f.Fuzz(func(t *testing.T, attrs, group string) {
		var gs []store.GroupRef
		if group != "" {
			gs = []store.GroupRef{{ID: "0193a1b2-0000-7000-8000-000000000001", DisplayName: group}}
		}
		checkSplice(t, c, spliceUser(attrs, gs))
		// What the server would store for the same document.
		var doc map[string]any
		if json.Unmarshal([]byte(attrs), &doc) == nil && doc != nil {
			canon, err := json.Marshal(doc)
			if err != nil {
				return
			}
			u := spliceUser(string(canon), gs)
			if _, ok := c.appendUser(nil, u); !ok && !strings.Contains(string(canon), `\`) {
				t.Fatalf("a stored document was not spliced: %s", canon)
			}
			checkSplice(t, c, u)
		}
	})
}
