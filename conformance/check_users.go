package conformance

import (
	"context"
	"net/http"
	"strings"
	"time"
)

var userChecks = []check{
	{name: "users/create", run: checkUserCreate},
	{name: "users/get", run: checkUserGet},
	{name: "users/put", run: checkUserPut},
	{name: "users/delete", run: checkUserDelete},
	{name: "users/unknown-id", run: checkUserUnknownID},
	{name: "users/uniqueness", run: checkUserUniqueness},
	{name: "users/uniqueness-case-insensitive", run: checkUserUniquenessCase},
	{name: "users/password-never-returned", run: checkPasswordNeverReturned},
	{name: "users/client-id-ignored", run: checkClientIDIgnored},
	{name: "users/enterprise-extension", run: checkEnterpriseExtension},
}

// wantMeta checks meta of a resource: resourceType, created and
// lastModified as RFC 3339 dateTimes, and location ending in the
// resource's path.
func wantMeta(doc map[string]any, resourceType, endpoint string) error {
	id := str(doc, "id")
	if id == "" {
		return failf("the resource has no id")
	}
	meta := obj(doc, "meta")
	if meta == nil {
		return failf("the resource has no meta")
	}
	if got := str(meta, "resourceType"); got != resourceType {
		return failf("meta.resourceType = %q; want %q", got, resourceType)
	}
	for _, k := range []string{"created", "lastModified"} {
		if _, err := time.Parse(time.RFC3339Nano, str(meta, k)); err != nil {
			return failf("meta.%s = %s; want an RFC 3339 dateTime", k, jsonText(get(meta, k)))
		}
	}
	loc := str(meta, "location")
	if !strings.HasPrefix(loc, "http") || !strings.HasSuffix(loc, endpoint+"/"+id) {
		return failf("meta.location = %q; want an absolute URL ending in %s/%s", loc, endpoint, id)
	}
	return nil
}

// checkUserCreate: RFC 7644 section 3.3: 201, the resource with its id,
// meta and a Location header equal to meta.location.
func checkUserCreate(ctx context.Context, s *suite) error {
	body := s.userBody("create", nil)
	r, err := s.do(ctx, "POST", "/Users", body)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusCreated); err != nil {
		return err
	}
	if err := r.wantSCIMContentType(); err != nil {
		return err
	}
	if err := wantMeta(r.obj, "User", "/Users"); err != nil {
		return err
	}
	if loc := r.header.Get("Location"); loc != str(r.obj, "meta", "location") {
		return failf("Location header = %q; want meta.location %q (RFC 7644 section 3.3)", loc, str(r.obj, "meta", "location"))
	}
	if !hasString(list(r.obj, "schemas"), userURN) {
		return failf("schemas = %s; want it to contain %s", jsonText(get(r.obj, "schemas")), userURN)
	}
	if !strings.EqualFold(str(r.obj, "userName"), body["userName"].(string)) {
		return failf("userName = %q; want %q", str(r.obj, "userName"), body["userName"])
	}
	if err := wantValue(r.obj, "Conformance", "name", "givenName"); err != nil {
		return err
	}
	return wantValue(r.obj, true, "active")
}

func checkUserGet(ctx context.Context, s *suite) error {
	u, err := s.createUser(ctx, "get", nil)
	if err != nil {
		return err
	}
	r, err := s.do(ctx, "GET", userPath(str(u, "id")), nil)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	if err := r.wantSCIMContentType(); err != nil {
		return err
	}
	if err := wantMeta(r.obj, "User", "/Users"); err != nil {
		return err
	}
	for _, k := range []string{"id", "userName", "displayName"} {
		if str(r.obj, k) != str(u, k) {
			return failf("%s = %q; the create answered %q", k, str(r.obj, k), str(u, k))
		}
	}
	if str(r.obj, "meta", "created") != str(u, "meta", "created") {
		return failf("meta.created = %q; the create answered %q", str(r.obj, "meta", "created"), str(u, "meta", "created"))
	}
	return nil
}

// checkUserPut: RFC 7644 section 3.5.1. The resource read back, changed
// and sent whole (id, meta and all, which the server must ignore)
// replaces the stored one.
func checkUserPut(ctx context.Context, s *suite) error {
	u, err := s.createUser(ctx, "put", map[string]any{"title": "Before"})
	if err != nil {
		return err
	}
	id := str(u, "id")
	doc, err := s.read(ctx, userPath(id))
	if err != nil {
		return err
	}
	doc["displayName"] = "Conformance put replaced"
	doc["title"] = "After"
	doc["name"] = map[string]any{"givenName": "Replaced", "familyName": "Put"}
	r, err := s.do(ctx, "PUT", userPath(id), doc)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	verify := func(m map[string]any) error {
		if str(m, "id") != id {
			return failf("id = %q; want %q unchanged", str(m, "id"), id)
		}
		if err := wantValue(m, "Conformance put replaced", "displayName"); err != nil {
			return err
		}
		if err := wantValue(m, "After", "title"); err != nil {
			return err
		}
		if err := wantValue(m, "Replaced", "name", "givenName"); err != nil {
			return err
		}
		return wantValue(m, str(u, "userName"), "userName")
	}
	if err := verify(r.obj); err != nil {
		return failf("in the PUT response: %v", err)
	}
	stored, err := s.read(ctx, userPath(id))
	if err != nil {
		return err
	}
	if err := verify(stored); err != nil {
		return failf("read back after PUT: %v", err)
	}
	if str(stored, "meta", "created") != str(u, "meta", "created") {
		return failf("meta.created changed on PUT: %q -> %q", str(u, "meta", "created"), str(stored, "meta", "created"))
	}
	return nil
}

// checkUserDelete: RFC 7644 section 3.6: 204, then 404 for GET and for a
// second DELETE.
func checkUserDelete(ctx context.Context, s *suite) error {
	u, err := s.createUser(ctx, "delete", nil)
	if err != nil {
		return err
	}
	path := userPath(str(u, "id"))
	r, err := s.do(ctx, "DELETE", path, nil)
	if err != nil {
		return err
	}
	if err := r.want(http.StatusNoContent); err != nil {
		return err
	}
	for _, m := range []string{"GET", "DELETE"} {
		r, err := s.do(ctx, m, path, nil)
		if err != nil {
			return err
		}
		if err := r.wantSCIMError(http.StatusNotFound); err != nil {
			return err
		}
	}
	return nil
}

// checkUserUnknownID: every method on an id that does not exist is 404
// with a SCIM error body (Okta's and Entra's test suites check it).
func checkUserUnknownID(ctx context.Context, s *suite) error {
	path := userPath(randomUUID())
	for _, m := range []string{"GET", "PUT", "PATCH", "DELETE"} {
		var body any
		switch m {
		case "PUT":
			body = s.userBody("unknown", nil)
		case "PATCH":
			body = patchBody(op("replace", "displayName", "x"))
		}
		r, err := s.do(ctx, m, path, body)
		if err != nil {
			return err
		}
		if err := r.wantSCIMError(http.StatusNotFound); err != nil {
			return err
		}
	}
	return nil
}

// checkUserUniqueness: RFC 7644 section 3.3: a duplicate userName is 409
// with scimType uniqueness.
func checkUserUniqueness(ctx context.Context, s *suite) error {
	u, err := s.createUser(ctx, "unique", nil)
	if err != nil {
		return err
	}
	dup := s.userBody("unique", map[string]any{"userName": str(u, "userName")})
	r, err := s.do(ctx, "POST", "/Users", dup)
	if err != nil {
		return err
	}
	return r.wantSCIMError(http.StatusConflict, "uniqueness")
}

// checkUserUniquenessCase: userName is caseExact false (RFC 7643 section
// 4.1.1), so a name that differs only in case is the same name: 409.
func checkUserUniquenessCase(ctx context.Context, s *suite) error {
	u, err := s.createUser(ctx, "unique-case", nil)
	if err != nil {
		return err
	}
	dup := s.userBody("unique-case", map[string]any{"userName": strings.ToUpper(str(u, "userName"))})
	r, err := s.do(ctx, "POST", "/Users", dup)
	if err != nil {
		return err
	}
	return r.wantSCIMError(http.StatusConflict, "uniqueness")
}

// checkPasswordNeverReturned: password is writeOnly and returned
// "never" (RFC 7643 section 4.1.1): not in the create response, a GET, a
// listing, nor when asked for by name.
func checkPasswordNeverReturned(ctx context.Context, s *suite) error {
	secret := "Conf0rmance-" + randomHex(8) + "!"
	r, err := s.do(ctx, "POST", "/Users", s.userBody("password", map[string]any{"password": secret}))
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusCreated); err != nil {
		return err
	}
	id := str(r.obj, "id")
	reads := []*response{r}
	for _, path := range []string{
		userPath(id),
		userPath(id) + "?attributes=password",
		"/Users?filter=" + filterQuery("id eq "+quote(id)),
	} {
		g, err := s.do(ctx, "GET", path, nil)
		if err != nil {
			return err
		}
		if err := g.want(http.StatusOK); err != nil {
			return err
		}
		reads = append(reads, g)
	}
	for _, x := range reads {
		if strings.Contains(string(x.raw), secret) {
			return failf("%s: the password is in the response", x)
		}
		if has(x.obj, "password") {
			return failf("%s: the response has a password attribute", x)
		}
		for _, m := range x.resources() {
			if has(m, "password") {
				return failf("%s: a listed resource has a password attribute", x)
			}
		}
	}
	return nil
}

// checkClientIDIgnored: id and meta are readOnly and assigned by the
// server (RFC 7643 sections 3.1 and 2.2): a client-chosen id or
// meta.created in a create is ignored.
func checkClientIDIgnored(ctx context.Context, s *suite) error {
	clientID := "conformance-client-chosen-" + randomHex(4)
	u, err := s.createUser(ctx, "client-id", map[string]any{
		"id":   clientID,
		"meta": map[string]any{"resourceType": "User", "created": "2001-01-01T00:00:00Z", "version": `W/"client"`},
	})
	if err != nil {
		return err
	}
	if str(u, "id") == clientID {
		return failf("the server used the id the client sent (%q)", clientID)
	}
	if strings.HasPrefix(str(u, "meta", "created"), "2001-01-01") {
		return failf("the server used the meta.created the client sent")
	}
	if r, err := s.do(ctx, "GET", userPath(clientID), nil); err != nil {
		return err
	} else if r.status != http.StatusNotFound {
		return failf("%s; want 404: the client-chosen id must not name the user", r)
	}
	return nil
}

// checkEnterpriseExtension: a user with the enterprise extension (RFC
// 7643 section 4.3) keeps it, and lists its schema.
func checkEnterpriseExtension(ctx context.Context, s *suite) error {
	if err := s.needEnterprise(); err != nil {
		return err
	}
	u, err := s.createUser(ctx, "enterprise", map[string]any{
		enterpriseURN: map[string]any{"employeeNumber": "E-1042", "department": "Conformance"},
	})
	if err != nil {
		return err
	}
	stored, err := s.read(ctx, userPath(str(u, "id")))
	if err != nil {
		return err
	}
	for _, m := range []map[string]any{u, stored} {
		if !hasString(list(m, "schemas"), enterpriseURN) {
			return failf("schemas = %s; want it to contain %s", jsonText(get(m, "schemas")), enterpriseURN)
		}
		if err := wantValue(m, "E-1042", enterpriseURN, "employeeNumber"); err != nil {
			return err
		}
		if err := wantValue(m, "Conformance", enterpriseURN, "department"); err != nil {
			return err
		}
	}
	return nil
}
