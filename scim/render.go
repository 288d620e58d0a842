package scim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/rs/zerolog/hlog"

	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

// projection is the attributes / excludedAttributes selection of RFC 7644
// section 3.9. Paths are attribute names split into segments, the way a
// Doc nests them: ["name", "givenName"], ["urn:…:User", "manager",
// "value"]. "id" and "schemas" are always returned.
type projection struct {
	incl [][]string // nil: everything
	excl [][]string
}

// parseProjection resolves the listed names against the types a response
// may carry; names that resolve for none of them are ignored (a root
// search asks for user and group attributes at once).
func parseProjection(types []*resource.Type, attributes, excluded []string) projection {
	var p projection
	resolve := func(names []string) [][]string {
		var out [][]string
		for _, n := range names {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			for _, t := range types {
				a, urn, err := t.ResolveName(n)
				if err != nil {
					continue
				}
				if urn != "" {
					out = append(out, []string{urn})
					continue
				}
				var path []string
				if a.Extension(t) {
					path = append(path, a.SchemaURN)
				}
				path = append(path, a.Def.Name())
				if a.Sub != nil {
					path = append(path, a.Sub.Name())
				}
				out = append(out, path)
			}
		}
		return out
	}
	if len(attributes) > 0 {
		p.incl = resolve(attributes)
		if p.incl == nil {
			p.incl = [][]string{} // asked for, none known: only id and schemas
		}
	}
	p.excl = resolve(excluded)
	return p
}

func splitList(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

func hasPrefix(path, prefix []string) bool {
	if len(prefix) > len(path) {
		return false
	}
	for i := range prefix {
		if path[i] != prefix[i] {
			return false
		}
	}
	return true
}

// keep says whether the value at path is returned whole, in part (some
// of its sub-attributes), or not at all.
func (p projection) keep(path []string) (whole, partial bool) {
	for _, e := range p.excl {
		if hasPrefix(path, e) {
			return false, false
		}
	}
	exclBelow := false
	for _, e := range p.excl {
		if len(e) > len(path) && hasPrefix(e, path) {
			exclBelow = true
		}
	}
	if p.incl == nil {
		return !exclBelow, exclBelow
	}
	for _, i := range p.incl {
		if hasPrefix(path, i) {
			return !exclBelow, exclBelow
		}
	}
	for _, i := range p.incl {
		if len(i) > len(path) && hasPrefix(i, path) {
			return false, true
		}
	}
	return false, false
}

func (p projection) empty() bool { return p.incl == nil && len(p.excl) == 0 }

// apply returns doc reduced to the selection. id and schemas always stay.
func (p projection) apply(doc map[string]any) map[string]any {
	if p.empty() {
		return doc
	}
	out := make(map[string]any, len(doc))
	for k, v := range doc {
		if k == "id" || k == "schemas" {
			out[k] = v
			continue
		}
		if fv, ok := p.filter(v, []string{k}); ok {
			out[k] = fv
		}
	}
	return out
}

func (p projection) filter(v any, path []string) (any, bool) {
	whole, partial := p.keep(path)
	if whole {
		return v, true
	}
	if !partial {
		return nil, false
	}
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, cv := range x {
			if fv, ok := p.filter(cv, append(path[:len(path):len(path)], k)); ok {
				out[k] = fv
			}
		}
		return out, len(out) > 0
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if fe, ok := p.filter(e, path); ok {
				out = append(out, fe)
			}
		}
		return out, len(out) > 0
	}
	return v, true
}

// schemasOf lists the core schema and the extensions present in doc.
func schemasOf(t *resource.Type, doc map[string]any) []string {
	out := []string{t.Schema.ID}
	for _, e := range t.Extensions {
		if _, ok := doc[e.ID]; ok {
			out = append(out, e.ID)
		}
	}
	return out
}

func decodeDoc(attrs []byte) (map[string]any, error) {
	doc := map[string]any{}
	if len(attrs) == 0 {
		return doc, nil
	}
	dec := json.NewDecoder(bytes.NewReader(attrs))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	return doc, nil
}

func (c *call) location(t *resource.Type, id string) string {
	return c.base + t.Endpoint + "/" + id
}

func (c *call) meta(t *resource.Type, id string, r store.Record) map[string]any {
	return map[string]any{
		"resourceType": t.Name,
		"created":      resource.FormatTime(r.Created),
		"lastModified": resource.FormatTime(r.Modified),
		"version":      resource.ETag(r.Version),
		"location":     c.location(t, id),
	}
}

// userDoc renders a stored user as its SCIM representation (before
// projection).
func (c *call) userDoc(u store.User) (map[string]any, error) {
	t := resource.User()
	doc, err := decodeDoc(u.Attributes)
	if err != nil {
		return nil, err
	}
	doc["schemas"] = schemasOf(t, doc)
	doc["id"] = u.ID
	doc["meta"] = c.meta(t, u.ID, store.Record{Version: u.Version, Created: u.Created, Modified: u.Modified})
	if len(u.Groups) > 0 {
		groups := make([]any, len(u.Groups))
		for i, g := range u.Groups {
			ref := map[string]any{
				"value": g.ID,
				"$ref":  c.location(resource.Group(), g.ID),
				"type":  "direct",
			}
			if g.DisplayName != "" {
				ref["display"] = g.DisplayName
			}
			groups[i] = ref
		}
		doc["groups"] = groups
	}
	return doc, nil
}

// groupDoc renders a stored group without its members.
func (c *call) groupDoc(g store.Group) (map[string]any, error) {
	t := resource.Group()
	doc, err := decodeDoc(g.Attributes)
	if err != nil {
		return nil, err
	}
	doc["schemas"] = schemasOf(t, doc)
	doc["id"] = g.ID
	doc["meta"] = c.meta(t, g.ID, store.Record{Version: g.Version, Created: g.Created, Modified: g.Modified})
	return doc, nil
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// writeHeader sets the headers of a successful SCIM response.
func writeHeader(w http.ResponseWriter, status int, etag string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	if etag != "" {
		h.Set("ETag", etag)
	}
	w.WriteHeader(status)
}

// writeGroup streams a group: the document first, then its members read
// from the store memberChunk at a time, so a group of 100,000 members is
// never held in memory whole. The members are read after the group
// record, in separate short read transactions (a slow client must not
// hold a transaction open); a concurrent change may show in the list.
func (s *Server) writeGroup(c *call, w io.Writer, g store.Group, p projection) error {
	doc, err := c.groupDoc(g)
	if err != nil {
		return err
	}
	doc = p.apply(doc)
	whole, partial := p.keep([]string{"members"})
	b, err := marshal(doc)
	if err != nil {
		return err
	}
	if (!whole && !partial) || g.MemberCount == 0 {
		_, err = w.Write(b)
		return err
	}
	b = b[:len(b)-1] // drop the closing brace; members follow
	if len(doc) > 0 {
		b = append(b, ',')
	}
	b = append(b, `"members":[`...)
	if _, err := w.Write(b); err != nil {
		return err
	}
	// Chunks are read in separate transactions. The stream stops at the
	// last position the group had when it was read, so a member removed
	// and added again meanwhile (it goes to the end) is not listed twice.
	var after uint64
	first, done := true, false
	for !done {
		refs, err := s.store.GroupMembers(c.r.Context(), c.dir.Key(), g.ID, after, memberChunk)
		if err != nil {
			return err
		}
		done = len(refs) < memberChunk
		if i := slices.IndexFunc(refs, func(m store.MemberRef) bool { return m.Pos > g.LastPos }); i >= 0 {
			refs, done = refs[:i], true
		}
		var buf bytes.Buffer
		for _, m := range refs {
			mem := map[string]any{
				"value": m.ID,
				"$ref":  c.location(resource.User(), m.ID),
				"type":  "User",
			}
			if m.DisplayName != "" {
				mem["display"] = m.DisplayName
			}
			var v any = mem
			if partial {
				if v, _ = p.filter(mem, []string{"members"}); v == nil {
					v = map[string]any{}
				}
			}
			mb, err := marshal(v)
			if err != nil {
				return err
			}
			if !first {
				buf.WriteByte(',')
			}
			first = false
			buf.Write(mb)
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
		if len(refs) > 0 {
			after = refs[len(refs)-1].Pos
		}
	}
	_, err = w.Write([]byte("]}"))
	return err
}

// abortStream ends a response whose body has started: the client sees a
// cut connection rather than a body that looks whole.
func abortStream(r *http.Request, err error) {
	hlog.FromRequest(r).Error().Err(err).Msg("response aborted while streaming")
	panic(http.ErrAbortHandler)
}
