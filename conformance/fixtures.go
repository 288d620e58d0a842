package conformance

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// userBody is the body of a user create: a userName under the prefix, a
// name, a work email equal to the userName, active. A key of extra with a
// nil value removes that attribute; an enterprise key adds its schema.
func (s *suite) userBody(label string, extra map[string]any) map[string]any {
	userName := s.userName(label)
	u := map[string]any{
		"schemas":     []any{userURN},
		"userName":    userName,
		"displayName": "Conformance " + label,
		"name":        map[string]any{"givenName": "Conformance", "familyName": strings.ToUpper(label[:1]) + label[1:]},
		"emails":      []any{map[string]any{"value": userName, "type": "work", "primary": true}},
		"active":      true,
	}
	for k, v := range extra {
		if v == nil {
			delete(u, k)
			continue
		}
		u[k] = v
	}
	if _, ok := u[enterpriseURN]; ok {
		u["schemas"] = []any{userURN, enterpriseURN}
	}
	return u
}

// createUser creates a user from userBody and returns the created
// resource, which has an id.
func (s *suite) createUser(ctx context.Context, label string, extra map[string]any) (map[string]any, error) {
	return s.create(ctx, "/Users", s.userBody(label, extra))
}

// createGroup creates a group named under the prefix with the members
// given (user ids).
func (s *suite) createGroup(ctx context.Context, label string, members ...string) (map[string]any, error) {
	body := map[string]any{"schemas": []any{groupURN}, "displayName": s.name(label)}
	if len(members) > 0 {
		ms := make([]any, len(members))
		for i, m := range members {
			ms[i] = map[string]any{"value": m}
		}
		body["members"] = ms
	}
	return s.create(ctx, "/Groups", body)
}

func (s *suite) create(ctx context.Context, endpoint string, body map[string]any) (map[string]any, error) {
	r, err := s.do(ctx, "POST", endpoint, body)
	if err != nil {
		return nil, err
	}
	if err := r.wantObject(http.StatusCreated); err != nil {
		return nil, fmt.Errorf("creating a test resource: %w", err)
	}
	if str(r.obj, "id") == "" {
		return nil, failf("%s: the created resource has no id: %s", r, r.snippet())
	}
	return r.obj, nil
}

// createUsers creates n users and returns their ids.
func (s *suite) createUsers(ctx context.Context, label string, n int) ([]string, error) {
	var ids []string
	for range n {
		u, err := s.createUser(ctx, label, nil)
		if err != nil {
			return nil, err
		}
		ids = append(ids, str(u, "id"))
	}
	return ids, nil
}

// read GETs one resource (path such as "/Users/{id}") and requires 200
// with an object.
func (s *suite) read(ctx context.Context, path string) (map[string]any, error) {
	r, err := s.do(ctx, "GET", path, nil)
	if err != nil {
		return nil, err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return nil, err
	}
	return r.obj, nil
}

func userPath(id string) string  { return "/Users/" + url.PathEscape(id) }
func groupPath(id string) string { return "/Groups/" + url.PathEscape(id) }

// members reads a group and returns its member ids, sorted.
func (s *suite) members(ctx context.Context, groupID string) ([]string, error) {
	g, err := s.read(ctx, groupPath(groupID))
	if err != nil {
		return nil, err
	}
	return values(g, "members"), nil
}

// wantMembers fails unless the group's members are exactly want.
func (s *suite) wantMembers(ctx context.Context, groupID string, want ...string) error {
	got, err := s.members(ctx, groupID)
	if err != nil {
		return err
	}
	if !slices.Equal(got, sorted(want...)) {
		return failf("members of group %s = %v; want %v", groupID, got, sorted(want...))
	}
	return nil
}

// userGroups reads a user and returns the ids in its groups attribute.
func (s *suite) userGroups(ctx context.Context, userID string) ([]string, error) {
	u, err := s.read(ctx, userPath(userID))
	if err != nil {
		return nil, err
	}
	return values(u, "groups"), nil
}

// op builds one PATCH operation; an empty path or nil value is left out.
func op(o, path string, value any) map[string]any {
	m := map[string]any{"op": o}
	if path != "" {
		m["path"] = path
	}
	if value != nil {
		m["value"] = value
	}
	return m
}

func patchBody(ops ...map[string]any) map[string]any {
	l := make([]any, len(ops))
	for i, o := range ops {
		l[i] = o
	}
	return map[string]any{"schemas": []any{patchOpURN}, "Operations": l}
}

// patch sends a PATCH to path and requires success: 200 with the
// resource or 204 (RFC 7644 section 3.5.2 allows both). It returns the
// response body (nil for 204).
func (s *suite) patch(ctx context.Context, path string, ops ...map[string]any) (map[string]any, error) {
	r, err := s.do(ctx, "PATCH", path, patchBody(ops...))
	if err != nil {
		return nil, err
	}
	if err := r.want(http.StatusOK, http.StatusNoContent); err != nil {
		return nil, err
	}
	if r.status == http.StatusOK && len(strings.TrimSpace(string(r.raw))) > 0 {
		if r.obj == nil {
			return nil, failf("%s: body is not a JSON object: %s", r, r.snippet())
		}
		return r.obj, nil
	}
	return nil, nil
}

// patchUser PATCHes a user and applies verify to what the PATCH answered
// (when it answered 200 with a body) and to the user read back afterwards:
// both must show the change.
func (s *suite) patchUser(ctx context.Context, id string, verify func(u map[string]any) error, ops ...map[string]any) error {
	return s.patchAndVerify(ctx, userPath(id), verify, ops...)
}

func (s *suite) patchAndVerify(ctx context.Context, path string, verify func(m map[string]any) error, ops ...map[string]any) error {
	body, err := s.patch(ctx, path, ops...)
	if err != nil {
		return err
	}
	if body != nil && verify != nil {
		if err := verify(body); err != nil {
			return fmt.Errorf("in the PATCH response: %w", err)
		}
	}
	stored, err := s.read(ctx, path)
	if err != nil {
		return err
	}
	if verify != nil {
		if err := verify(stored); err != nil {
			return fmt.Errorf("read back after PATCH: %w", err)
		}
	}
	return nil
}

// wantValue fails unless the attribute at path has the JSON value want.
func wantValue(doc map[string]any, want any, path ...string) error {
	got := get(doc, path...)
	if jsonText(got) != jsonText(want) {
		return failf("%s = %s; want %s", strings.Join(path, "."), jsonText(got), jsonText(want))
	}
	return nil
}

// wantAbsent fails if the attribute at path has a value.
func wantAbsent(doc map[string]any, path ...string) error {
	if v := get(doc, path...); v != nil {
		if l, ok := v.([]any); ok && len(l) == 0 {
			return nil
		}
		return failf("%s = %s; want it absent", strings.Join(path, "."), jsonText(v))
	}
	return nil
}

// population is a fixed set of users shared by the read-only checks
// (filters, pagination, sorting, projection). No check changes them.
// Their userNames share prefix, so that every listing is scoped with
// userName sw prefix and never depends on what else the server holds.
type population struct {
	prefix string            // common userName prefix
	ids    map[string]string // key ("alice") → id
	names  map[string]string // key → userName
	docs   map[string]map[string]any
	extIDs map[string]string // key → externalId
	keys   map[string]string // id → key, for messages
	order  []string          // keys sorted by userName
}

var populationKeys = []string{"alice", "bob", "carol", "dave", "erin"}

// population creates the shared users once per run; later calls return
// the same users or the same error.
func (s *suite) population(ctx context.Context) (*population, error) {
	s.popOnce.Do(func() {
		s.pop, s.popErr = s.createPopulation(ctx)
		if s.popErr != nil {
			s.popErr = fmt.Errorf("could not create the shared test users: %w", s.popErr)
		}
	})
	return s.pop, s.popErr
}

func (s *suite) createPopulation(ctx context.Context) (*population, error) {
	p := &population{
		prefix: s.join("pop-"),
		ids:    map[string]string{},
		names:  map[string]string{},
		docs:   map[string]map[string]any{},
		extIDs: map[string]string{},
		keys:   map[string]string{},
		order:  populationKeys,
	}
	home := func(key string) map[string]any {
		return map[string]any{"value": p.prefix + key + "@home.example.org", "type": "home"}
	}
	work := func(key string) map[string]any {
		return map[string]any{"value": p.prefix + key + "@example.com", "type": "work", "primary": true}
	}
	attrs := map[string]map[string]any{
		"alice": {"title": "Engineer", "emails": []any{work("alice"), home("alice")}, "active": true,
			"name": map[string]any{"givenName": "Alice", "familyName": "Anders"}},
		"bob": {"title": "Manager", "nickName": "bobby", "emails": []any{work("bob")}, "active": false,
			"name": map[string]any{"givenName": "Bob", "familyName": "Baker"}},
		"carol": {"title": "Engineer", "emails": []any{home("carol")}, "active": true,
			"name": map[string]any{"givenName": "Carol", "familyName": "Chen"}},
		"dave": {"nickName": "dave", "emails": []any{work("dave")}, "active": true,
			"name": map[string]any{"givenName": "Dave", "familyName": "Diaz"}},
		"erin": {"title": "Director", "emails": []any{work("erin")}, "active": true,
			"name": map[string]any{"givenName": "Erin", "familyName": "Evans"}},
	}
	// Created out of name order, so that an order by creation is not
	// also an order by userName.
	for _, key := range []string{"dave", "alice", "erin", "carol", "bob"} {
		body := map[string]any{
			"schemas":     []any{userURN},
			"userName":    p.prefix + key + "@example.com",
			"displayName": "Conformance " + key,
		}
		if key != "erin" {
			p.extIDs[key] = randomUUID()
			body["externalId"] = p.extIDs[key]
		}
		for k, v := range attrs[key] {
			body[k] = v
		}
		doc, err := s.create(ctx, "/Users", body)
		if err != nil {
			return nil, err
		}
		id := str(doc, "id")
		p.ids[key], p.names[key], p.docs[key], p.keys[id] = id, body["userName"].(string), doc, key
	}
	return p, nil
}

// describe names ids by their population key, for messages.
func (p *population) describe(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		if k, ok := p.keys[id]; ok {
			out[i] = k
		} else {
			out[i] = "other:" + id
		}
	}
	return "[" + strings.Join(out, " ") + "]"
}

// scope restricts a filter to the population.
func (p *population) scope(filter string) string {
	return "(" + filter + ") and userName sw " + quote(p.prefix)
}

// idsOf returns the ids of the given keys.
func (p *population) idsOf(keys ...string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = p.ids[k]
	}
	return out
}

// wantUsers runs GET /Users?filter=… and fails unless the result is
// exactly the users of keys (in any order), with a consistent totalResults.
func (s *suite) wantUsers(ctx context.Context, p *population, filter string, keys ...string) error {
	r, err := s.do(ctx, "GET", "/Users?count=100&filter="+filterQuery(filter), nil)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	got, want := sorted(r.ids()...), sorted(p.idsOf(keys...)...)
	if !slices.Equal(got, want) {
		return failf("filter %s found %s; want %s", filter, p.describe(got), p.describe(want))
	}
	if total, ok := integer(get(r.obj, "totalResults")); !ok || total != len(want) {
		return failf("filter %s: totalResults = %s; want %d", filter, jsonText(get(r.obj, "totalResults")), len(want))
	}
	return nil
}
