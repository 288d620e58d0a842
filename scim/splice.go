package scim

import (
	"slices"
	"strconv"
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
	var buf [32]jsonscan.Member
	members, ok := jsonscan.TopMembers(attrs, buf[:0])
	if !ok || !utf8.Valid(attrs) { // the slow path would replace invalid bytes
		return dst, false
	}
	out := slices.Grow(dst, len(attrs)+len(c.base)*(2+len(u.Groups))+256+128*len(u.Groups))
	// Our members, in sorted order: groups (when there are any), id, meta,
	// schemas. They replace the document's own.
	ours := []string{"groups", "id", "meta", "schemas"}
	if len(u.Groups) == 0 {
		ours = ours[1:]
	}
	keep := func(k string) bool {
		switch k {
		case "schemas", "id", "meta":
			return false
		case "groups":
			return len(u.Groups) == 0
		}
		return true
	}
	out = jsonscan.AppendMerged(out, members, keep, ours, func(out []byte, name string) []byte {
		switch name {
		case "groups":
			return c.appendGroupRefs(out, u.Groups)
		case "id":
			return jsonscan.AppendString(out, u.ID)
		case "meta":
			return c.appendMeta(out, t, u.ID, store.Record{Version: u.Version, Created: u.Created, Modified: u.Modified})
		}
		// schemas: the extensions the document carries decide them.
		out = append(out, '[')
		out = jsonscan.AppendString(out, t.Schema.ID)
		for _, e := range t.Extensions {
			for _, m := range members {
				if string(m.Key) == e.ID {
					out = append(out, ',')
					out = jsonscan.AppendString(out, e.ID)
					break
				}
			}
		}
		return append(out, ']')
	})
	return out, true
}

// appendMeta appends the meta of a resource, as marshal renders c.meta.
func (c *call) appendMeta(b []byte, t *resource.Type, id string, r store.Record) []byte {
	b = append(b, `{"created":"`...)
	b = r.Created.UTC().AppendFormat(b, resource.TimeLayout)
	b = append(b, `","lastModified":"`...)
	b = r.Modified.UTC().AppendFormat(b, resource.TimeLayout)
	b = append(b, `","location":`...)
	b = c.appendLocation(b, t, id)
	b = append(b, `,"resourceType":`...)
	b = jsonscan.AppendString(b, t.Name)
	b = append(b, `,"version":"W/\"`...)
	b = strconv.AppendUint(b, r.Version, 10)
	return append(b, `\""}`...)
}

// appendLocation appends c.location(t, id) as a JSON string.
func (c *call) appendLocation(b []byte, t *resource.Type, id string) []byte {
	if !plainString(c.base) || !plainString(t.Endpoint) || !plainString(id) {
		return jsonscan.AppendString(b, c.location(t, id))
	}
	b = append(b, '"')
	b = append(b, c.base...)
	b = append(b, t.Endpoint...)
	b = append(b, '/')
	b = append(b, id...)
	return append(b, '"')
}

// appendGroupRefs appends a user's groups, as marshal renders userDoc's.
func (c *call) appendGroupRefs(b []byte, groups []store.GroupRef) []byte {
	b = append(b, '[')
	for i, g := range groups {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"$ref":`...)
		b = c.appendLocation(b, resource.Group(), g.ID)
		if g.DisplayName != "" {
			b = append(b, `,"display":`...)
			b = jsonscan.AppendString(b, g.DisplayName)
		}
		b = append(b, `,"type":"direct","value":`...)
		b = jsonscan.AppendString(b, g.ID)
		b = append(b, '}')
	}
	return append(b, ']')
}

// plainString reports whether s is written in JSON as it is, between quotes.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
