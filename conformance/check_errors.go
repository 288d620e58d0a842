package conformance

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

var errorChecks = []check{
	{name: "errors/malformed-json", run: checkMalformedJSON},
	{name: "errors/wrong-type", run: checkWrongType},
	{name: "errors/missing-required-attribute", run: checkMissingUserName},
	{name: "errors/status-is-a-string", run: checkErrorStatusString},
	{name: "errors/unknown-route", run: checkUnknownRoute},
	{name: "errors/patch-envelope", run: checkPatchEnvelope},
}

// wantNotCreated fails if a user named userName exists. Only a resource
// with that very userName counts, so a server that ignores the filter is
// not taken for one that stored the refused user.
func (s *suite) wantNotCreated(ctx context.Context, userName string) error {
	r, err := s.do(ctx, "GET", "/Users?filter="+filterQuery("userName eq "+quote(userName)), nil)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	for _, m := range r.resources() {
		if strings.EqualFold(str(m, "userName"), userName) {
			return failf("a refused create left a user %q behind", userName)
		}
	}
	return nil
}

// RFC 7644 section 3.12: a body that does not parse is 400 invalidSyntax.
func checkMalformedJSON(ctx context.Context, s *suite) error {
	userName := s.userName("malformed")
	r, err := s.do(ctx, "POST", "/Users", `{"schemas":["`+userURN+`"],"userName":"`+userName+`",`)
	if err != nil {
		return err
	}
	if err := r.wantSCIMError(http.StatusBadRequest, "invalidSyntax"); err != nil {
		return err
	}
	return s.wantNotCreated(ctx, userName)
}

// A value of the wrong type (a string for the complex name, an object
// for the boolean active) is 400.
func checkWrongType(ctx context.Context, s *suite) error {
	for _, bad := range []map[string]any{
		{"name": "Just a string"},
		{"active": map[string]any{"value": true}},
	} {
		body := s.userBody("wrongtype", bad)
		r, err := s.do(ctx, "POST", "/Users", body)
		if err != nil {
			return err
		}
		if err := r.wantSCIMError(http.StatusBadRequest, "invalidValue", "invalidSyntax"); err != nil {
			return err
		}
		if err := s.wantNotCreated(ctx, body["userName"].(string)); err != nil {
			return err
		}
	}
	return nil
}

// userName is required (RFC 7643 section 4.1.1): 400 invalidValue.
func checkMissingUserName(ctx context.Context, s *suite) error {
	body := s.userBody("nousername", map[string]any{"userName": nil, "displayName": s.name("nousername")})
	r, err := s.do(ctx, "POST", "/Users", body)
	if err != nil {
		return err
	}
	return r.wantSCIMError(http.StatusBadRequest, "invalidValue", "invalidSyntax")
}

// RFC 7644 section 3.12: "status" is the HTTP status code as a JSON
// string, in every error: a 404, a 400 and a 409 are provoked, and every
// one of them that the server does answer with an error is checked
// (whether it should have is the business of other checks).
func checkErrorStatusString(ctx context.Context, s *suite) error {
	u, err := s.createUser(ctx, "status", nil)
	if err != nil {
		return err
	}
	cases := []struct {
		method, path string
		body         any
	}{
		{"GET", userPath(randomUUID()), nil},
		{"GET", "/Users?filter=" + filterQuery(`userName eq`), nil},
		{"POST", "/Users", s.userBody("status", map[string]any{"userName": str(u, "userName")})},
	}
	errs := 0
	for _, c := range cases {
		r, err := s.do(ctx, c.method, c.path, c.body)
		if err != nil {
			return err
		}
		if r.status < 400 {
			continue
		}
		errs++
		if err := r.wantSCIMError(r.status); err != nil {
			return err
		}
		if err := r.wantSCIMContentType(); err != nil {
			return err
		}
	}
	if errs == 0 {
		return failf("none of a GET of an unknown id, a malformed filter and a duplicate userName was answered with an error")
	}
	return nil
}

func checkUnknownRoute(ctx context.Context, s *suite) error {
	r, err := s.do(ctx, "GET", "/ConformanceNoSuchEndpoint", nil)
	if err != nil {
		return err
	}
	if err := r.want(http.StatusNotFound); err != nil {
		return err
	}
	if v, ok := get(r.obj, "status").(string); r.obj != nil && has(r.obj, "status") && (!ok || v != "404") {
		return failf("%s: error \"status\" = %s; want the JSON string \"404\"", r, jsonText(get(r.obj, "status")))
	}
	return nil
}

// A PATCH that is not a PatchOp (wrong schema, unknown op, no
// Operations) is 400.
func checkPatchEnvelope(ctx context.Context, s *suite) error {
	u, err := s.createUser(ctx, "envelope", nil)
	if err != nil {
		return err
	}
	for _, body := range []map[string]any{
		{"schemas": []any{userURN}, "Operations": []any{op("replace", "displayName", "x")}},
		patchBody(op("merge", "displayName", "x")),
		{"schemas": []any{patchOpURN}},
	} {
		r, err := s.do(ctx, "PATCH", userPath(str(u, "id")), body)
		if err != nil {
			return err
		}
		if err := r.wantSCIMError(http.StatusBadRequest); err != nil {
			return failf("PATCH %s: %v", jsonText(body), err)
		}
	}
	got, err := s.read(ctx, userPath(str(u, "id")))
	if err != nil {
		return err
	}
	return wantValue(got, "Conformance envelope", "displayName")
}

var robustnessChecks = []check{
	{name: "robustness/oversized-body", run: checkOversizedBody},
	{name: "robustness/deeply-nested-filter", run: checkDeepFilter},
	{name: "robustness/deeply-nested-json", run: checkDeepJSON},
	{name: "robustness/unicode-round-trip", run: checkUnicode},
}

// quickly is how long a refusal of a hostile request may take.
const quickly = 3 * time.Second

// A body over 8 MiB is refused (413, or 400) and creates nothing. It is
// sent with Expect: 100-continue, so a server that refuses on
// Content-Length need not read it.
func checkOversizedBody(ctx context.Context, s *suite) error {
	body := s.userBody("oversized", nil)
	userName := body["userName"].(string)
	body["displayName"] = strings.Repeat("x", 8<<20+1024)
	r, err := s.do(ctx, "POST", "/Users", body, "Expect", "100-continue")
	if err != nil {
		// The server closed the connection rather than read 8 MiB: a
		// refusal too, if it still serves and stored nothing.
		if _, err2 := s.read(ctx, "/ServiceProviderConfig"); err2 != nil {
			return fmt.Errorf("the oversized request failed (%v) and the server no longer answers: %w", err, err2)
		}
		return s.wantNotCreated(ctx, userName)
	}
	if err := r.want(http.StatusRequestEntityTooLarge, http.StatusBadRequest); err != nil {
		return err
	}
	return s.wantNotCreated(ctx, userName)
}

// A filter nested 10,000 deep is refused quickly, before a parser spends
// seconds on it, and the server still answers.
func checkDeepFilter(ctx context.Context, s *suite) error {
	const depth = 10000
	f := strings.Repeat("(", depth) + `userName eq "x"` + strings.Repeat(")", depth)
	r, err := s.do(ctx, "GET", "/Users?filter="+filterQuery(f), nil)
	if err != nil {
		return err
	}
	// 414 and 431: a front end refused the URL before the SCIM server saw it.
	if err := r.want(http.StatusBadRequest, http.StatusRequestURITooLong, http.StatusRequestHeaderFieldsTooLarge); err != nil {
		return err
	}
	if r.elapsed > quickly {
		return failf("%s took %s; want a refusal within %s", r, r.elapsed.Round(time.Millisecond), quickly)
	}
	_, err = s.read(ctx, "/ServiceProviderConfig")
	return err
}

// A body nested 10,000 deep is 400, quickly.
func checkDeepJSON(ctx context.Context, s *suite) error {
	const depth = 10000
	userName := s.userName("deepjson")
	body := `{"schemas":["` + userURN + `"],"userName":"` + userName + `","nickName":` +
		strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
	r, err := s.do(ctx, "POST", "/Users", body)
	if err != nil {
		return err
	}
	if err := r.want(http.StatusBadRequest, http.StatusRequestEntityTooLarge); err != nil {
		return err
	}
	if r.elapsed > quickly {
		return failf("%s took %s; want a refusal within %s", r, r.elapsed.Round(time.Millisecond), quickly)
	}
	return s.wantNotCreated(ctx, userName)
}

// Non-ASCII text (Latin, CJK, an emoji outside the BMP) comes back byte
// for byte.
func checkUnicode(ctx context.Context, s *suite) error {
	display := "Zoë Łukasz Ñandú 日本語 😀 " + randomHex(2)
	u, err := s.createUser(ctx, "unicode", map[string]any{
		"displayName": display,
		"name":        map[string]any{"givenName": "Zoë", "familyName": "Ñandú"},
	})
	if err != nil {
		return err
	}
	stored, err := s.read(ctx, userPath(str(u, "id")))
	if err != nil {
		return err
	}
	for _, m := range []map[string]any{u, stored} {
		if err := wantValue(m, display, "displayName"); err != nil {
			return err
		}
		if err := wantValue(m, "Ñandú", "name", "familyName"); err != nil {
			return err
		}
	}
	r, err := s.do(ctx, "GET", "/Users?filter="+filterQuery("displayName eq "+quote(display)), nil)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	if got := r.ids(); len(got) != 1 || got[0] != str(u, "id") {
		return failf("displayName eq %s found %v; want the user %s", quote(display), got, str(u, "id"))
	}
	return nil
}

var bulkChecks = []check{
	{name: "bulk/create", run: checkBulk},
}

// RFC 7644 section 3.7, when bulk is advertised: one POST operation,
// answered with its status and location.
func checkBulk(ctx context.Context, s *suite) error {
	if err := s.need("bulk"); err != nil {
		return err
	}
	body := s.userBody("bulk", nil)
	r, err := s.do(ctx, "POST", "/Bulk", map[string]any{
		"schemas":    []any{bulkRequestURN},
		"Operations": []any{map[string]any{"method": "POST", "path": "/Users", "bulkId": "conformance1", "data": body}},
	})
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	if !hasString(list(r.obj, "schemas"), bulkResponseURN) {
		return failf("schemas = %s; want %s", jsonText(get(r.obj, "schemas")), bulkResponseURN)
	}
	ops := list(r.obj, "Operations")
	if len(ops) != 1 {
		return failf("%d operations answered; want 1: %s", len(ops), r.snippet())
	}
	loc, id := str(ops[0], "location"), ""
	if i := strings.LastIndex(loc, "/Users/"); i >= 0 {
		id = loc[i+len("/Users/"):]
	}
	s.register("Users", id, body["userName"].(string))
	if st := str(ops[0], "status"); st != strconv.Itoa(http.StatusCreated) {
		return failf("operation status = %s; want \"201\"", jsonText(get(ops[0], "status")))
	}
	if str(ops[0], "bulkId") != "conformance1" || loc == "" {
		return failf("operation = %s; want its bulkId and a location", jsonText(ops[0]))
	}
	return nil
}
