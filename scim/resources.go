package scim

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimbridge/scimbridge/scim/patch"
	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

// userFromDoc fills the store record of a user from its validated
// document. active is always present in doc (the callers see to it).
func userFromDoc(doc resource.Doc) (store.User, error) {
	attrs, err := json.Marshal(doc)
	if err != nil {
		return store.User{}, err
	}
	u := store.User{Attributes: attrs}
	u.UserName, _ = doc["userName"].(string)
	u.ExternalID, _ = doc["externalId"].(string)
	u.DisplayName, _ = doc["displayName"].(string)
	u.Active, _ = doc["active"].(bool)
	if emails, ok := doc["emails"].([]any); ok {
		for _, e := range emails {
			if m, ok := e.(map[string]any); ok {
				if v, ok := m["value"].(string); ok {
					u.Emails = append(u.Emails, v)
				}
			}
		}
	}
	return u, nil
}

// groupFromDoc fills the store record of a group and takes the member ids
// out of doc (members live in the store as keys of their own).
func groupFromDoc(doc resource.Doc) (store.Group, []string, error) {
	var members []string
	if list, ok := doc["members"].([]any); ok {
		for _, e := range list {
			m, _ := e.(map[string]any)
			v, _ := m["value"].(string)
			if v == "" {
				return store.Group{}, nil, resource.Err(scimerrors.ScimTypeInvalidValue, "every member needs a \"value\" with the id of a user")
			}
			members = append(members, v)
		}
	}
	delete(doc, "members")
	attrs, err := json.Marshal(doc)
	if err != nil {
		return store.Group{}, nil, err
	}
	g := store.Group{Attributes: attrs}
	g.DisplayName, _ = doc["displayName"].(string)
	g.ExternalID, _ = doc["externalId"].(string)
	return g, members, nil
}

// readObject reads and strictly decodes the request body under the cap.
func (s *Server) readObject(c *call) (map[string]any, error) {
	body, e := readBody(c.r, s.cfg.MaxBodyBytes)
	if e != nil {
		return nil, e
	}
	obj, e := decodeObject(body)
	if e != nil {
		return nil, e
	}
	return obj, nil
}

func (s *Server) readDoc(c *call, t *resource.Type) (resource.Doc, error) {
	obj, err := s.readObject(c)
	if err != nil {
		return nil, err
	}
	doc, e := t.Normalize(obj, c.prof.values)
	if e != nil {
		return nil, e
	}
	return doc, nil
}

func (s *Server) create(c *call, t *resource.Type) {
	doc, err := s.readDoc(c, t)
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	ctx := c.r.Context()
	if t == resource.User() {
		if _, ok := doc["active"]; !ok {
			doc["active"] = true
		}
		u, err := userFromDoc(doc)
		if err != nil {
			fail(c.w, c.r, err)
			return
		}
		u, err = s.store.CreateUser(ctx, c.dir.Key(), u)
		if err != nil {
			fail(c.w, c.r, err)
			return
		}
		c.w.Header().Set("Location", c.location(t, u.ID))
		s.writeUser(c, http.StatusCreated, u, projectionOf(c, t))
		return
	}
	g, members, err := groupFromDoc(doc)
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	g, err = s.store.CreateGroup(ctx, c.dir.Key(), g, members)
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	c.w.Header().Set("Location", c.location(t, g.ID))
	s.respondGroup(c, http.StatusCreated, g, projectionOf(c, t))
}

// projectionOf reads attributes and excludedAttributes from the query.
func projectionOf(c *call, types ...*resource.Type) projection {
	q := c.r.URL.Query()
	return parseProjection(types, splitList(q.Get("attributes")), splitList(q.Get("excludedAttributes")))
}

func (s *Server) writeUser(c *call, status int, u store.User, p projection) {
	if p.empty() {
		if b, ok := c.appendUser(nil, u); ok {
			writeHeader(c.w, status, resource.ETag(u.Version))
			_, _ = c.w.Write(b)
			return
		}
	}
	doc, err := c.userDoc(u)
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	b, err := marshal(p.apply(doc))
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	writeHeader(c.w, status, resource.ETag(u.Version))
	_, _ = c.w.Write(b)
}

func (s *Server) respondGroup(c *call, status int, g store.Group, p projection) {
	writeHeader(c.w, status, resource.ETag(g.Version))
	if c.r.Method == http.MethodHead {
		return
	}
	if err := s.writeGroup(c, c.w, g, p); err != nil {
		abortStream(c.r, err)
	}
}

func (s *Server) get(c *call, t *resource.Type, id string) {
	ctx := c.r.Context()
	if t == resource.User() {
		u, err := s.store.User(ctx, c.dir.Key(), id)
		if err != nil {
			fail(c.w, c.r, err)
			return
		}
		if notModified(c, u.Version) {
			return
		}
		s.writeUser(c, http.StatusOK, u, projectionOf(c, t))
		return
	}
	g, err := s.store.Group(ctx, c.dir.Key(), id)
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	if notModified(c, g.Version) {
		return
	}
	s.respondGroup(c, http.StatusOK, g, projectionOf(c, t))
}

// notModified answers 304 when If-None-Match names the current version.
func notModified(c *call, version uint64) bool {
	h := c.r.Header.Get("If-None-Match")
	if h == "" {
		return false
	}
	etag := resource.ETag(version)
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == strings.TrimPrefix(etag, "W/") {
			c.w.Header().Set("ETag", etag)
			c.w.WriteHeader(http.StatusNotModified)
			return true
		}
	}
	return false
}

// ifMatch returns the version the If-Match header requires (0: none). A
// list of tags is resolved against the current version; a tag that can
// never match (malformed, or not one of ours) fails with 412.
func (s *Server) ifMatch(c *call, t *resource.Type, id string) (uint64, error) {
	h := strings.TrimSpace(c.r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	var versions []uint64
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if len(tag) >= 2 && tag[0] == '"' && tag[len(tag)-1] == '"' {
			if v, err := strconv.ParseUint(tag[1:len(tag)-1], 10, 64); err == nil && v > 0 {
				versions = append(versions, v)
			}
		}
	}
	if len(versions) == 0 {
		return 0, store.ErrVersionMismatch
	}
	if len(versions) == 1 {
		return versions[0], nil
	}
	var current uint64
	ctx := c.r.Context()
	if t == resource.User() {
		u, err := s.store.User(ctx, c.dir.Key(), id)
		if err != nil {
			return 0, err
		}
		current = u.Version
	} else {
		g, err := s.store.Group(ctx, c.dir.Key(), id)
		if err != nil {
			return 0, err
		}
		current = g.Version
	}
	for _, v := range versions {
		if v == current {
			return v, nil
		}
	}
	return 0, store.ErrVersionMismatch
}

func (s *Server) replace(c *call, t *resource.Type, id string) {
	doc, err := s.readDoc(c, t)
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	ver, err := s.ifMatch(c, t, id)
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	ctx := c.r.Context()
	if t == resource.User() {
		_, err := s.store.UpdateUser(ctx, c.dir.Key(), id, ver, func(u *store.User) error {
			d := cloneDoc(doc)
			if _, ok := d["active"]; !ok {
				// A PUT that leaves active out does not reactivate nor
				// deactivate: deprovisioning is never undone by omission.
				d["active"] = u.Active
			}
			next, err := userFromDoc(d)
			if err != nil {
				return err
			}
			setUser(u, next)
			return nil
		})
		if err != nil {
			fail(c.w, c.r, err)
			return
		}
		s.respondUser(c, id)
		return
	}
	g, members, err := groupFromDoc(doc)
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	updated, err := s.store.UpdateGroup(ctx, c.dir.Key(), id, ver, func(cur *store.Group, m store.Members) (store.MemberChange, error) {
		cur.DisplayName, cur.ExternalID, cur.Attributes = g.DisplayName, g.ExternalID, g.Attributes
		return minimalChange(store.MemberChange{RemoveAll: true, Add: members}, m), nil
	})
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	s.respondGroup(c, http.StatusOK, updated, projectionOf(c, t))
}

// respondUser renders a user after a write, re-reading it for its groups.
func (s *Server) respondUser(c *call, id string) {
	full, err := s.store.User(c.r.Context(), c.dir.Key(), id)
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	s.writeUser(c, http.StatusOK, full, projectionOf(c, resource.User()))
}

func setUser(u *store.User, next store.User) {
	u.UserName, u.ExternalID, u.DisplayName = next.UserName, next.ExternalID, next.DisplayName
	u.Active, u.Emails, u.Attributes = next.Active, next.Emails, next.Attributes
}

func cloneDoc(doc resource.Doc) resource.Doc {
	out := make(resource.Doc, len(doc)+1)
	for k, v := range doc {
		out[k] = v
	}
	return out
}

// minimalChange turns a "replace every member" change into the members to
// remove and to add, reading the current membership: a PUT or a PATCH
// replace of a 100,000-member group that changes ten members writes ten
// pairs of keys, not 200,000.
func minimalChange(ch store.MemberChange, m store.Members) store.MemberChange {
	if !ch.RemoveAll || m == nil {
		return ch
	}
	want := make(map[string]bool, len(ch.Add))
	for _, id := range ch.Add {
		want[id] = true
	}
	out := store.MemberChange{}
	m.Each(func(id string) bool {
		if !want[id] {
			out.Remove = append(out.Remove, id)
		}
		return true
	})
	seen := make(map[string]bool, len(ch.Add))
	for _, id := range ch.Add {
		if !seen[id] && !m.Has(id) {
			out.Add = append(out.Add, id)
		}
		seen[id] = true
	}
	return out
}

func (s *Server) patch(c *call, t *resource.Type, id string) {
	obj, err := s.readObject(c)
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	opts := patch.Options{Options: c.prof.values, MaxOperations: s.cfg.MaxPatchOperations, Filter: s.cfg.Filter, ReplaceUpserts: c.prof.replaceUpserts}
	ops, e := patch.Request(obj, opts)
	if e != nil {
		fail(c.w, c.r, e)
		return
	}
	ver, err := s.ifMatch(c, t, id)
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	ctx := c.r.Context()
	if t == resource.User() {
		_, err := s.store.UpdateUser(ctx, c.dir.Key(), id, ver, func(u *store.User) error {
			doc, err := decodeDoc(u.Attributes)
			if err != nil {
				return err
			}
			res, e := patch.Apply(t, doc, nil, ops, opts)
			if e != nil {
				return e
			}
			if !res.Changed {
				return errUnchanged
			}
			if _, ok := res.Doc["active"]; !ok {
				res.Doc["active"] = u.Active
			}
			next, err := userFromDoc(res.Doc)
			if err != nil {
				return err
			}
			setUser(u, next)
			return nil
		})
		if err != nil && !errors.Is(err, errUnchanged) {
			fail(c.w, c.r, err)
			return
		}
		s.respondUser(c, id)
		return
	}
	g, err := s.store.UpdateGroup(ctx, c.dir.Key(), id, ver, func(g *store.Group, m store.Members) (store.MemberChange, error) {
		doc, err := decodeDoc(g.Attributes)
		if err != nil {
			return store.MemberChange{}, err
		}
		res, e := patch.Apply(t, doc, m, ops, opts)
		if e != nil {
			return store.MemberChange{}, e
		}
		if !res.Changed {
			return store.MemberChange{}, errUnchanged
		}
		next, _, err := groupFromDoc(res.Doc)
		if err != nil {
			return store.MemberChange{}, err
		}
		g.DisplayName, g.ExternalID, g.Attributes = next.DisplayName, next.ExternalID, next.Attributes
		if res.Members == nil {
			return store.MemberChange{}, nil
		}
		return minimalChange(*res.Members, m), nil
	})
	if errors.Is(err, errUnchanged) {
		g, err = s.store.Group(ctx, c.dir.Key(), id)
	}
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	q := c.r.URL.Query()
	if q.Get("attributes") == "" && q.Get("excludedAttributes") == "" {
		// RFC 7644 section 3.5.2 allows 204; a group's body can be
		// 100,000 members long, and Entra ID expects 204 here.
		writeHeader(c.w, http.StatusNoContent, resource.ETag(g.Version))
		return
	}
	s.respondGroup(c, http.StatusOK, g, projectionOf(c, t))
}

func (s *Server) delete(c *call, t *resource.Type, id string) {
	ver, err := s.ifMatch(c, t, id)
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	if t == resource.User() {
		err = s.store.DeleteUser(c.r.Context(), c.dir.Key(), id, ver)
	} else {
		err = s.store.DeleteGroup(c.r.Context(), c.dir.Key(), id, ver)
	}
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	c.w.WriteHeader(http.StatusNoContent)
}
