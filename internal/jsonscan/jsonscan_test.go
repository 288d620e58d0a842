package jsonscan

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestTopMembers(t *testing.T) {
	ms, ok := TopMembers([]byte(`{"a":1,"b":{"c":"}\""},"d":[1,"]",{}],"e":null}`), nil)
	if !ok || len(ms) != 4 {
		t.Fatalf("TopMembers = %d members, %v; want 4, true", len(ms), ok)
	}
	want := []string{`1`, `{"c":"}\""}`, `[1,"]",{}]`, `null`}
	for i, m := range ms {
		if string(m.Value) != want[i] {
			t.Errorf("member %s = %s; want %s", m.Key, m.Value, want[i])
		}
	}
	for _, doc := range []string{``, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"b":1,"a":2}`, `{"a":1,"a":2}`, `{"a":"x`, `{"a":[1}`, `{"a\"b":1}`, `{"a": 1}`, `{"a":[ ]}`, `{"a":{"b":1 }}`, `{"a":[1,
2]}`, `[]`} {
		if _, ok := TopMembers([]byte(doc), nil); ok {
			t.Errorf("TopMembers(%s) accepted it", doc)
		}
	}
}

// FuzzTopMembers checks that TopMembers never panics, and that what it
// accepts from valid JSON is the object, member by member.
func FuzzTopMembers(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"b":{"c":[1,2,{"d":"\""}]}}`, `{"a":"\\","b":true}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		ms, ok := TopMembers(doc, nil)
		if !ok || !json.Valid(doc) {
			return
		}
		var b bytes.Buffer
		b.WriteByte('{')
		for i, m := range ms {
			if i > 0 {
				b.WriteByte(',')
			}
			if !json.Valid(m.Value) {
				t.Fatalf("member %q of %s: value %q is not JSON", m.Key, doc, m.Value)
			}
			b.WriteByte('"')
			b.Write(m.Key)
			b.WriteString(`":`)
			b.Write(m.Value)
		}
		b.WriteByte('}')
		if !bytes.Equal(b.Bytes(), doc) {
			t.Fatalf("members of %s put together give %s", doc, b.Bytes())
		}
	})
}

// FuzzAppendString holds AppendString to encoding/json without HTML
// escaping.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\x00\x1f", "\u2028", "\xff\xfe", "<>&", "日本", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("AppendString(%q) = %s; want %s", s, got, want)
		}
		var back string
		if err := json.Unmarshal(AppendString(nil, s), &back); err != nil || utf8.ValidString(s) && back != s {
			t.Errorf("AppendString(%q) decodes to %q, %v", s, back, err)
		}
	})
}

func TestAppendMerged(t *testing.T) {
	members, ok := TopMembers([]byte(`{"a":1,"c":[3],"x":9,"z":"z"}`), nil)
	if !ok {
		t.Fatal("TopMembers refused the document")
	}
	keep := func(k string) bool { return k != "x" }
	value := func(dst []byte, name string) []byte { return AppendString(dst, "our "+name) }
	for _, tc := range []struct {
		ours []string
		want string
	}{
		{nil, `{"a":1,"c":[3],"z":"z"}`},
		{[]string{"b", "x", "zz"}, `{"a":1,"b":"our b","c":[3],"x":"our x","z":"z","zz":"our zz"}`},
		{[]string{"0"}, `{"0":"our 0","a":1,"c":[3],"z":"z"}`},
	} {
		if got := string(AppendMerged([]byte("prefix "), members, keep, tc.ours, value)); got != "prefix "+tc.want {
			t.Errorf("AppendMerged(ours %q) = %s; want prefix %s", tc.ours, got, tc.want)
		}
	}
}
