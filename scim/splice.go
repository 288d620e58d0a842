package scim

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/scimbridge/scimbridge/internal/jsonscan"
	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

// Rendering a user without decoding it. A user is stored as its canonical
// document (compact JSON, top-level attributes in sorted order, written by
// marshal), and its representation is that document with schemas, id,
// meta and groups put in. userDoc + marshal decode the whole document into
// maps and encode it again, which was a fifth of the CPU of a userName
// lookup. appendUser copies the stored attributes byte for byte and splices
// the four members in at their sorted places, which gives the same JSON
// as marshal(userDoc(u)), and the same bytes but for <, > and & (stored
// as \u003c, \u003e and \u0026, which the slow path writes plain); a test
// and a fuzzer hold the two to that. It gives up, and
// the caller takes the slow path, on anything it does not expect: a
// document that is not an object, keys out of order, a key with an
// escape, or bytes that are not UTF-8.

// appendUser appends the representation of u (with no projection) to dst.
// It returns false, and dst unchanged, when it cannot splice.
func (c *call) appendUser(dst []byte, u store.User) ([]byte, bool) {
	attrs := u.Attributes
	if len(attrs) == 0 {
		attrs = []byte("{}")
	}
	t := resource.User()
	members, ok := jsonscan.TopMembers(attrs)
	if !ok || !utf8.Valid(attrs) { // the slow path would replace invalid bytes
		return dst, false
	}
	// The extensions the document carries decide schemas.
	schemas := make([]string, 1, 1+len(t.Extensions))
	schemas[0] = t.Schema.ID
	for _, e := range t.Extensions {
		for _, m := range members {
			if string(m.Key) == e.ID {
				schemas = append(schemas, e.ID)
				break
			}
		}
	}
	type insert struct {
		key   string
		write func(b []byte) []byte
	}
	inserts := make([]insert, 0, 4)
	if len(u.Groups) > 0 {
		inserts = append(inserts, insert{"groups", func(b []byte) []byte { return c.appendGroupRefs(b, u.Groups) }})
	}
	inserts = append(inserts,
		insert{"id", func(b []byte) []byte { return appendJSONString(b, u.ID) }},
		insert{"meta", func(b []byte) []byte {
			return c.appendMeta(b, t, u.ID, store.Record{Version: u.Version, Created: u.Created, Modified: u.Modified})
		}},
		insert{"schemas", func(b []byte) []byte {
			b = append(b, '[')
			for i, s := range schemas {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, s)
			}
			return append(b, ']')
		}},
	)
	out := append(dst, '{')
	first := true
	member := func(key string, write func([]byte) []byte, raw []byte) {
		if !first {
			out = append(out, ',')
		}
		first = false
		out = appendJSONString(out, key)
		out = append(out, ':')
		if write != nil {
			out = write(out)
		} else {
			out = append(out, raw...)
		}
	}
	next := 0
	for _, m := range members {
		k := string(m.Key)
		for next < len(inserts) && inserts[next].key < k {
			member(inserts[next].key, inserts[next].write, nil)
			next++
		}
		switch k {
		case "schemas", "id", "meta":
			continue // replaced by ours
		case "groups":
			if len(u.Groups) > 0 {
				continue
			}
		}
		member(k, nil, m.Value)
	}
	for ; next < len(inserts); next++ {
		member(inserts[next].key, inserts[next].write, nil)
	}
	return append(out, '}'), true
}

// appendMeta appends the meta of a resource, as marshal renders c.meta.
func (c *call) appendMeta(b []byte, t *resource.Type, id string, r store.Record) []byte {
	b = append(b, `{"created":`...)
	b = appendJSONString(b, resource.FormatTime(r.Created))
	b = append(b, `,"lastModified":`...)
	b = appendJSONString(b, resource.FormatTime(r.Modified))
	b = append(b, `,"location":`...)
	b = appendJSONString(b, c.location(t, id))
	b = append(b, `,"resourceType":`...)
	b = appendJSONString(b, t.Name)
	b = append(b, `,"version":`...)
	b = appendJSONString(b, resource.ETag(r.Version))
	return append(b, '}')
}

// appendGroupRefs appends a user's groups, as marshal renders userDoc's.
func (c *call) appendGroupRefs(b []byte, groups []store.GroupRef) []byte {
	b = append(b, '[')
	for i, g := range groups {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"$ref":`...)
		b = appendJSONString(b, c.location(resource.Group(), g.ID))
		if g.DisplayName != "" {
			b = append(b, `,"display":`...)
			b = appendJSONString(b, g.DisplayName)
		}
		b = append(b, `,"type":"direct","value":`...)
		b = appendJSONString(b, g.ID)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendJSONString appends s as marshal encodes it (no HTML escaping).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return appendJSONStringSlow(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendJSONStringSlow(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimRight(buf.Bytes(), "\n")...)
}
