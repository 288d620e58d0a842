// Package jsonscan reads and writes JSON byte by byte where encoding/json
// is too slow for a hot path: it finds where values end in JSON that
// scimbridge wrote itself (compact, valid), without decoding them, and
// appends strings as encoding/json encodes them. It is shared by the SCIM
// renderer, which splices stored documents into responses, and the bolt
// store, which writes event envelopes and reads its user records without
// encoding/json; neither may import the other.
package jsonscan

import (
	"bytes"
	"unicode/utf8"
)

// SkipValue returns the end of the compact JSON value that starts at i.
// It trusts the document to be valid JSON (it was written by marshal) and
// only finds where the value ends; whitespace outside strings (not
// compact) is refused.
func SkipValue(doc []byte, i int) (int, bool) {
	if i >= len(doc) {
		return 0, false
	}
	switch doc[i] {
	case '"':
		return SkipString(doc, i)
	case '{', '[':
		depth := 0
		for i < len(doc) {
			switch doc[i] {
			case '"':
				end, ok := SkipString(doc, i)
				if !ok {
					return 0, false
				}
				i = end
				continue
			case '{', '[':
				depth++
			case ' ', '\n', '\t', '\r':
				return 0, false // not compact: a caller's copy would differ from encoding/json's
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	default: // number, true, false, null
		start := i
		for i < len(doc) && doc[i] != ',' && doc[i] != '}' && doc[i] != ']' {
			if doc[i] == ' ' || doc[i] == '\n' || doc[i] == '\t' || doc[i] == '\r' {
				return 0, false
			}
			i++
		}
		return i, i > start
	}
}

// SkipString returns the index after the string that starts at doc[i].
func SkipString(doc []byte, i int) (int, bool) {
	for i++; i < len(doc); i++ {
		switch doc[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// Member is one member of a JSON object: its key (between the quotes,
// without escapes) and its value, as they are in the document.
type Member struct {
	Key, Value []byte
}

// TopMembers splits a compact JSON object into its members, appended to
// dst[:0] (a caller's array keeps small documents off the heap). It returns
// false when doc is not a compact object, a key holds an escape, or the
// keys are not in strictly increasing order.
func TopMembers(doc []byte, dst []Member) ([]Member, bool) {
	if len(doc) < 2 || doc[0] != '{' || doc[len(doc)-1] != '}' {
		return nil, false
	}
	members := dst[:0]
	i := 1
	if doc[i] == '}' {
		return members, i == len(doc)-1
	}
	for {
		if i >= len(doc) || doc[i] != '"' {
			return nil, false
		}
		ks := i + 1
		i = ks
		for i < len(doc) && doc[i] != '"' {
			if doc[i] == '\\' {
				return nil, false
			}
			i++
		}
		if i+1 >= len(doc) || doc[i+1] != ':' {
			return nil, false
		}
		key := doc[ks:i]
		if n := len(members); n > 0 && bytes.Compare(members[n-1].Key, key) >= 0 {
			return nil, false
		}
		vs := i + 2
		ve, ok := SkipValue(doc, vs)
		if !ok {
			return nil, false
		}
		members = append(members, Member{Key: key, Value: doc[vs:ve]})
		switch {
		case ve == len(doc)-1 && doc[ve] == '}':
			return members, true
		case ve < len(doc) && doc[ve] == ',':
			i = ve + 1
		default:
			return nil, false
		}
	}
}

const hexDigits = "0123456789abcdef"

// AppendMerged appends the object whose members are those of members (as
// TopMembers returns them: keys sorted) that keep accepts, and those named
// in ours (sorted), whose values value appends, all in key order, as
// encoding/json writes a map.
func AppendMerged(dst []byte, members []Member, keep func(key string) bool, ours []string, value func(dst []byte, name string) []byte) []byte {
	dst = append(dst, '{')
	next := 0 // ours[next] is the first of ours not written yet
	first := true
	member := func(key string) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = AppendString(dst, key)
		dst = append(dst, ':')
	}
	writeOurs := func(before string, all bool) {
		for ; next < len(ours) && (all || ours[next] < before); next++ {
			member(ours[next])
			dst = value(dst, ours[next])
		}
	}
	for _, m := range members {
		k := string(m.Key)
		if !keep(k) {
			continue
		}
		writeOurs(k, false)
		member(k)
		dst = append(dst, m.Value...)
	}
	writeOurs("", true)
	return append(dst, '}')
}

// AppendString appends s as a JSON string the way encoding/json does
// without HTML escaping: control characters, U+2028 and U+2029 escaped,
// invalid UTF-8 replaced by U+FFFD.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
