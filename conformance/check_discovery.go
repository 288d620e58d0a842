package conformance

import (
	"context"
	"net/http"
	"strings"
)

var discoveryChecks = []check{
	{name: "discovery/service-provider-config", run: checkServiceProviderConfig},
	{name: "discovery/authentication-schemes", run: checkAuthenticationSchemes},
	{name: "discovery/resource-types", run: checkResourceTypes},
	{name: "discovery/schemas", run: checkSchemas},
}

// checkServiceProviderConfig: RFC 7643 section 5. Every feature object is
// present with a boolean "supported"; filter.maxResults and the bulk
// limits are integers.
func checkServiceProviderConfig(ctx context.Context, s *suite) error {
	r, err := s.do(ctx, "GET", "/ServiceProviderConfig", nil)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	if err := r.wantSCIMContentType(); err != nil {
		return err
	}
	if !hasString(list(r.obj, "schemas"), spcURN) {
		return failf("schemas = %s; want it to contain %s", jsonText(get(r.obj, "schemas")), spcURN)
	}
	for _, f := range []string{"patch", "bulk", "filter", "changePassword", "sort", "etag"} {
		if obj(r.obj, f) == nil {
			return failf("%q is missing or not an object (RFC 7643 section 5 requires it): %s", f, r.snippet())
		}
		if _, ok := boolean(r.obj, f, "supported"); !ok {
			return failf("%s.supported = %s; want a JSON boolean", f, jsonText(get(r.obj, f, "supported")))
		}
	}
	if s.supported("filter") {
		if _, ok := integer(get(r.obj, "filter", "maxResults")); !ok {
			return failf("filter.maxResults = %s; want an integer when filtering is supported", jsonText(get(r.obj, "filter", "maxResults")))
		}
	}
	for _, k := range []string{"maxOperations", "maxPayloadSize"} {
		v := get(r.obj, "bulk", k)
		if v == nil && !s.supported("bulk") {
			continue
		}
		if _, ok := integer(v); !ok {
			return failf("bulk.%s = %s; want an integer", k, jsonText(v))
		}
	}
	return nil
}

// checkAuthenticationSchemes: RFC 7643 section 5 makes
// authenticationSchemes required; each names its type, name and
// description, and one of them is a bearer token, which is how the suite
// authenticates.
func checkAuthenticationSchemes(ctx context.Context, s *suite) error {
	r, err := s.do(ctx, "GET", "/ServiceProviderConfig", nil)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	schemes := list(r.obj, "authenticationSchemes")
	if len(schemes) == 0 {
		return failf("authenticationSchemes = %s; want a non-empty array", jsonText(get(r.obj, "authenticationSchemes")))
	}
	bearer := false
	for _, sc := range schemes {
		for _, k := range []string{"type", "name", "description"} {
			if str(sc, k) == "" {
				return failf("authentication scheme %s has no %q string", jsonText(sc), k)
			}
		}
		switch strings.ToLower(str(sc, "type")) {
		case "oauthbearertoken", "oauth2", "oauth":
			bearer = true
		}
	}
	if !bearer {
		return failf("no authentication scheme of type oauthbearertoken (or oauth2) among %s, yet the server takes a bearer token", jsonText(schemes))
	}
	return nil
}

// checkResourceTypes: RFC 7644 section 4: a ListResponse with User at
// /Users and Group at /Groups, each naming its core schema.
func checkResourceTypes(ctx context.Context, s *suite) error {
	r, err := s.do(ctx, "GET", "/ResourceTypes", nil)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	if err := r.wantSCIMContentType(); err != nil {
		return err
	}
	if !hasString(list(r.obj, "schemas"), listResponseURN) {
		return failf("schemas = %s; want a ListResponse (RFC 7644 section 4)", jsonText(get(r.obj, "schemas")))
	}
	want := map[string][2]string{"User": {"/Users", userURN}, "Group": {"/Groups", groupURN}}
	for _, rt := range r.resources() {
		w, ok := want[str(rt, "name")]
		if !ok {
			continue
		}
		if str(rt, "endpoint") != w[0] || str(rt, "schema") != w[1] {
			return failf("resource type %s: endpoint %q, schema %q; want %q and %q", str(rt, "name"), str(rt, "endpoint"), str(rt, "schema"), w[0], w[1])
		}
		if !hasString(list(rt, "schemas"), resourceTypeURN) {
			return failf("resource type %s: schemas = %s; want %s", str(rt, "name"), jsonText(get(rt, "schemas")), resourceTypeURN)
		}
		delete(want, str(rt, "name"))
	}
	for name := range want {
		return failf("no resource type %q in %s", name, r.snippet())
	}
	return nil
}

// checkSchemas: RFC 7644 section 4: /Schemas is a ListResponse with the
// User and Group schemas, each with typed attributes (userName a string),
// and one schema can be read at /Schemas/{id}.
func checkSchemas(ctx context.Context, s *suite) error {
	r, err := s.do(ctx, "GET", "/Schemas", nil)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	if err := r.wantSCIMContentType(); err != nil {
		return err
	}
	if !hasString(list(r.obj, "schemas"), listResponseURN) {
		return failf("schemas = %s; want a ListResponse (RFC 7644 section 4)", jsonText(get(r.obj, "schemas")))
	}
	found := map[string]map[string]any{}
	for _, sc := range r.resources() {
		found[str(sc, "id")] = sc
	}
	for _, id := range []string{userURN, groupURN} {
		sc := found[id]
		if sc == nil {
			return failf("/Schemas lists no schema %s", id)
		}
		attrs := list(sc, "attributes")
		if len(attrs) == 0 {
			return failf("schema %s has no attributes", id)
		}
		for _, a := range attrs {
			if str(a, "name") == "" || str(a, "type") == "" {
				return failf("schema %s: attribute %s lacks a name or type", id, jsonText(a))
			}
			if _, ok := boolean(a, "multiValued"); !ok {
				return failf("schema %s: attribute %q: multiValued = %s; want a boolean", id, str(a, "name"), jsonText(get(a, "multiValued")))
			}
		}
	}
	userName := false
	for _, a := range list(found[userURN], "attributes") {
		if str(a, "name") == "userName" {
			userName = str(a, "type") == "string"
		}
	}
	if !userName {
		return failf("the User schema does not declare userName as a string")
	}
	one, err := s.do(ctx, "GET", "/Schemas/"+userURN, nil)
	if err != nil {
		return err
	}
	if err := one.wantObject(http.StatusOK); err != nil {
		return err
	}
	if str(one.obj, "id") != userURN {
		return failf("%s: id = %q; want %s", one, str(one.obj, "id"), userURN)
	}
	return nil
}

var authChecks = []check{
	{name: "auth/no-token", run: checkNoToken},
	{name: "auth/bad-token", run: checkBadToken},
	{name: "auth/other-scheme", run: checkOtherScheme},
}

// wantUnauthorized sends a request with the Authorization header given
// (empty: none) and requires 401 with a WWW-Authenticate challenge (RFC
// 7235 section 3.1, RFC 6750 section 3). The token the suite was given is
// never sent.
func wantUnauthorized(ctx context.Context, s *suite, auth string) error {
	for _, path := range []string{"/Users", "/Groups", "/Users/" + randomUUID()} {
		r, err := s.do(ctx, "GET", path, nil, "Authorization", auth)
		if err != nil {
			return err
		}
		if err := r.want(http.StatusUnauthorized); err != nil {
			return err
		}
		if r.header.Get("WWW-Authenticate") == "" {
			return failf("%s: no WWW-Authenticate header on a 401 (RFC 7235 section 3.1)", r)
		}
		if r.obj != nil && has(r.obj, "Resources") {
			return failf("%s: a 401 answer carries resources: %s", r, r.snippet())
		}
	}
	return nil
}

func checkNoToken(ctx context.Context, s *suite) error {
	return wantUnauthorized(ctx, s, "")
}

func checkBadToken(ctx context.Context, s *suite) error {
	return wantUnauthorized(ctx, s, "Bearer conformance-invalid-"+randomHex(16))
}

func checkOtherScheme(ctx context.Context, s *suite) error {
	// Basic credentials that no server holds, then a bearer scheme with
	// no token.
	if err := wantUnauthorized(ctx, s, "Basic Y29uZm9ybWFuY2U6aW52YWxpZA=="); err != nil {
		return err
	}
	return wantUnauthorized(ctx, s, "Bearer ")
}
