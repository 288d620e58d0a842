package bolt

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

var userRecordSeeds = []userRecord{
	{UserName: "a", Version: 1},
	{UserName: "alice@example.com", ExternalID: "00u1", DisplayName: "Alice Ñ", Active: true,
		Emails: []string{"alice@example.com", "a@x.org"}, Attributes: json.RawMessage(`{"active":true,"name":{"givenName":"A \"q\""},"userName":"alice@example.com"}`),
		Version: 42, Created: time.Date(2026, 11, 29, 10, 0, 0, 123456789, time.UTC), Modified: time.Date(2026, 11, 29, 11, 0, 0, 0, time.UTC)},
	{UserName: `quote"d`, DisplayName: "tab\there", Version: 3},
	{UserName: "<b>&", Emails: []string{""}, Version: 18446744073709551615},
}

// checkUserDecode holds fastDecodeUser to json.Unmarshal: when it decodes
// v it must give what Unmarshal gives.
func checkUserDecode(t *testing.T, v []byte) bool {
	t.Helper()
	var fast userRecord
	if !fastDecodeUser(v, &fast) {
		return false
	}
	var want userRecord
	if err := json.Unmarshal(v, &want); err != nil {
		t.Fatalf("fastDecodeUser decoded %s, which json.Unmarshal refuses: %v", v, err)
	}
	if !reflect.DeepEqual(fast, want) {
		t.Fatalf("fastDecodeUser(%s)\n got %#v\nwant %#v", v, fast, want)
	}
	return true
}

func TestFastDecodeUser(t *testing.T) {
	fast := 0
	for _, r := range userRecordSeeds {
		v, err := encode(&r)
		if err != nil {
			t.Fatal(err)
		}
		if checkUserDecode(t, v) {
			fast++
		}
		var back userRecord
		if err := decode(v, &back); err != nil || !reflect.DeepEqual(back, r) {
			t.Errorf("decode(encode(%+v)) = %+v, %v", r, back, err)
		}
	}
	// Escaped strings take encoding/json; the others must not.
	if fast != 3 {
		t.Errorf("%d of %d records took the fast path; want 3 (all but the one with escaped strings)", fast, len(userRecordSeeds))
	}
	for _, v := range []string{
		`{"userName":"a","version":1,"created":"0001-01-01T00:00:00Z","modified":"0001-01-01T00:00:00Z"} `,
		`{"userName":"a","attributes":{"x":tru},"version":1,"created":"0001-01-01T00:00:00Z","modified":"0001-01-01T00:00:00Z"}`,
		`{"userName":"a","version":01,"created":"0001-01-01T00:00:00Z","modified":"0001-01-01T00:00:00Z"}`,
		`{"userName":"\xff","version":1,"created":"0001-01-01T00:00:00Z","modified":"0001-01-01T00:00:00Z"}`,
	} {
		var r userRecord
		if fastDecodeUser([]byte(v), &r) {
			t.Errorf("fastDecodeUser took %s; want encoding/json to", v)
		}
	}
}

func FuzzFastDecodeUser(f *testing.F) {
	for _, r := range userRecordSeeds {
		v, _ := encode(&r)
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		checkUserDecode(t, v)
		// And what encode writes for what Unmarshal reads, which must be fast
		// unless it holds an escape.
		var r userRecord
		if json.Unmarshal(v, &r) != nil {
			return
		}
		w, err := encode(&r)
		if err != nil {
			return
		}
		checkUserDecode(t, w)
	})
}
