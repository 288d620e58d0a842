package bolt

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

var userDataSeeds = []string{
	``,
	`{}`,
	`{"active":true,"userName":"alice"}`,
	`{"Active":"x","ID":"stale","displayName":"Zoë <x> & y","emails":[{"value":"a@x.com"}],"groups":[1],"members":[],"meta":{},"name":{"givenName":"A\"q\""},"password":"secret","schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob"}`,
	`{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R\u0026D"},"userName":"carol","zzz":1.5e3}`,
}

// checkUserData holds spliceUserData to userDataSlow, byte for byte.
func checkUserData(t *testing.T, attrs string, active bool) {
	t.Helper()
	r := userRecord{UserName: "u", Active: active, Attributes: json.RawMessage(attrs), Version: 9,
		Created: time.Date(2026, 11, 29, 10, 0, 0, 120000000, time.UTC), Modified: time.Date(2026, 11, 29, 11, 1, 2, 0, time.UTC)}
	id := "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	got, ok := spliceUserData(id, &r)
	if !ok {
		return
	}
	want, err := userDataSlow(id, &r)
	if err != nil {
		t.Fatalf("spliceUserData took %q, which userDataSlow refuses: %v", attrs, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("spliceUserData(%s)\n got %s\nwant %s", attrs, got, want)
	}
}

func TestSpliceUserData(t *testing.T) {
	for _, a := range userDataSeeds {
		for _, active := range []bool{true, false} {
			checkUserData(t, a, active)
			r := userRecord{Attributes: json.RawMessage(a)}
			if _, ok := spliceUserData("x", &r); !ok {
				t.Errorf("spliceUserData refused %s; stored documents must take the fast path", a)
			}
		}
	}
}

func FuzzSpliceUserData(f *testing.F) {
	for _, a := range userDataSeeds {
		f.Add(a, true)
	}
	f.Fuzz(func(t *testing.T, attrs string, active bool) {
		if attrs != "" && !json.Valid([]byte(attrs)) {
			return // stored attributes are valid JSON (compactJSON)
		}
		checkUserData(t, attrs, active)
		// As the store keeps a document: compacted json.Marshal output.
		var doc map[string]any
		if json.Unmarshal([]byte(attrs), &doc) == nil && doc != nil {
			b, _ := json.Marshal(doc)
			checkUserData(t, string(b), active)
		}
	})
}
