package conformance

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

var filterChecks = []check{
	{name: "filter/username-eq-case-insensitive", run: checkFilterUserName},
	{name: "filter/externalid-eq", run: checkFilterExternalID},
	{name: "filter/id-eq", run: checkFilterID},
	{name: "filter/emails-value-eq", run: checkFilterEmailsValue},
	{name: "filter/emails-value-path", run: checkFilterEmailsValuePath},
	{name: "filter/and", run: checkFilterAnd},
	{name: "filter/or", run: checkFilterOr},
	{name: "filter/not", run: checkFilterNot},
	{name: "filter/pr", run: checkFilterPresent},
	{name: "filter/co-sw-ew", run: checkFilterSubstring},
	{name: "filter/meta-lastmodified-gt", run: checkFilterLastModified},
	{name: "filter/escaped-quotes", run: checkFilterEscapedQuotes},
	{name: "filter/unknown-attribute", run: checkFilterUnknownAttribute},
	{name: "filter/malformed", run: checkFilterMalformed},
	{name: "filter/random-guid-probe", run: checkFilterGUIDProbe},
}

// withPopulation runs fn with the shared users.
func withPopulation(fn func(ctx context.Context, s *suite, p *population) error) func(context.Context, *suite) error {
	return func(ctx context.Context, s *suite) error {
		p, err := s.population(ctx)
		if err != nil {
			return err
		}
		return fn(ctx, s, p)
	}
}

// RFC 7643 section 4.1.1: userName is caseExact false, so eq ignores case
// (Okta's test suite looks a user up in upper case).
var checkFilterUserName = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	if err := s.wantUsers(ctx, p, "userName eq "+quote(strings.ToUpper(p.names["alice"])), "alice"); err != nil {
		return err
	}
	return s.wantUsers(ctx, p, "userName eq "+quote(p.names["alice"]), "alice")
})

// externalId is caseExact true (RFC 7643 section 3.1): the same GUID in
// upper case is another value.
var checkFilterExternalID = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	if err := s.wantUsers(ctx, p, "externalId eq "+quote(p.extIDs["bob"]), "bob"); err != nil {
		return err
	}
	return s.wantUsers(ctx, p, "externalId eq "+quote(strings.ToUpper(p.extIDs["bob"])))
})

var checkFilterID = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	return s.wantUsers(ctx, p, "id eq "+quote(p.ids["carol"]), "carol")
})

var checkFilterEmailsValue = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	return s.wantUsers(ctx, p, "emails.value eq "+quote(p.prefix+"alice@home.example.org"), "alice")
})

var checkFilterEmailsValuePath = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	if err := s.wantUsers(ctx, p, p.scope(`emails[type eq "work"]`), "alice", "bob", "dave", "erin"); err != nil {
		return err
	}
	return s.wantUsers(ctx, p, p.scope(`emails[type eq "home" and value co "carol"]`), "carol")
})

var checkFilterAnd = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	return s.wantUsers(ctx, p, p.scope(`title eq "Engineer" and active eq true`), "alice", "carol")
})

var checkFilterOr = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	return s.wantUsers(ctx, p, p.scope(`title eq "Manager" or title eq "Director"`), "bob", "erin")
})

var checkFilterNot = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	return s.wantUsers(ctx, p, p.scope(`not (title eq "Engineer")`), "bob", "dave", "erin")
})

var checkFilterPresent = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	if err := s.wantUsers(ctx, p, p.scope(`nickName pr`), "bob", "dave"); err != nil {
		return err
	}
	return s.wantUsers(ctx, p, p.scope(`not (title pr)`), "dave")
})

// co, sw and ew on userName ignore case, as eq does.
var checkFilterSubstring = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	if err := s.wantUsers(ctx, p, p.scope(`userName co "AROL@"`), "carol"); err != nil {
		return err
	}
	if err := s.wantUsers(ctx, p, "userName sw "+quote(strings.ToUpper(p.prefix+"b")), "bob"); err != nil {
		return err
	}
	return s.wantUsers(ctx, p, p.scope(`userName ew "ERIN@EXAMPLE.COM"`), "erin")
})

// meta.lastModified compares as a dateTime (RFC 7644 section 3.4.2.2).
// The bounds are an hour either side of alice's own lastModified, so the
// check depends on neither clock skew nor timestamp resolution.
var checkFilterLastModified = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	lm := str(p.docs["alice"], "meta", "lastModified")
	t, err := time.Parse(time.RFC3339Nano, lm)
	if err != nil {
		return failf("alice's meta.lastModified = %q; want an RFC 3339 dateTime", lm)
	}
	alice := "userName eq " + quote(p.names["alice"])
	before := t.Add(-time.Hour).UTC().Format(time.RFC3339)
	after := t.Add(time.Hour).UTC().Format(time.RFC3339)
	if err := s.wantUsers(ctx, p, fmt.Sprintf("meta.lastModified gt %q and %s", before, alice), "alice"); err != nil {
		return err
	}
	if err := s.wantUsers(ctx, p, fmt.Sprintf("meta.lastModified gt %q and %s", after, alice)); err != nil {
		return err
	}
	return s.wantUsers(ctx, p, fmt.Sprintf("meta.lastModified lt %q and %s", after, alice), "alice")
})

// A literal with escaped quotes and a backslash is one JSON string: it
// finds the user whose displayName it spells, and an injection attempt
// finds nothing.
func checkFilterEscapedQuotes(ctx context.Context, s *suite) error {
	display := `Conformance "quoted" back\slash ` + randomHex(4)
	u, err := s.createUser(ctx, "quotes", map[string]any{"displayName": display})
	if err != nil {
		return err
	}
	r, err := s.do(ctx, "GET", "/Users?filter="+filterQuery("displayName eq "+quote(display)), nil)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	if got := r.ids(); len(got) != 1 || got[0] != str(u, "id") {
		return failf("displayName eq %s found %v; want exactly the user %s", quote(display), got, str(u, "id"))
	}
	inject := `x" or "1" eq "1`
	r, err = s.do(ctx, "GET", "/Users?filter="+filterQuery("displayName eq "+quote(inject)), nil)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	if n := len(r.resources()); n != 0 {
		return failf("displayName eq %s (one literal) found %d users; want none", quote(inject), n)
	}
	return nil
}

// An attribute the schema does not define is 400 invalidFilter, never an
// unfiltered list (an IdP that gets one creates duplicates).
func checkFilterUnknownAttribute(ctx context.Context, s *suite) error {
	for _, f := range []string{`conformanceBogusAttribute eq "x"`, `emails[conformanceBogus eq "x"]`} {
		r, err := s.do(ctx, "GET", "/Users?filter="+filterQuery(f), nil)
		if err != nil {
			return err
		}
		if err := r.wantSCIMError(http.StatusBadRequest, "invalidFilter"); err != nil {
			return failf("filter %s: %v", f, err)
		}
	}
	return nil
}

func checkFilterMalformed(ctx context.Context, s *suite) error {
	for _, f := range []string{`userName eq`, `(userName eq "x"`, `userName zz "x"`, `userName eq "unterminated`} {
		r, err := s.do(ctx, "GET", "/Users?filter="+filterQuery(f), nil)
		if err != nil {
			return err
		}
		if err := r.wantSCIMError(http.StatusBadRequest, "invalidFilter"); err != nil {
			return failf("filter %s: %v", f, err)
		}
	}
	return nil
}

// Entra's "Test connection" filters on a random GUID and expects 200 with
// an empty ListResponse; Okta's test suite does the same for an unknown
// user.
func checkFilterGUIDProbe(ctx context.Context, s *suite) error {
	guid := randomUUID()
	for _, path := range []string{
		"/Users?filter=" + filterQuery("userName eq "+quote(guid)),
		"/Users?filter=" + filterQuery("externalId eq "+quote(guid)),
		"/Groups?excludedAttributes=members&filter=" + filterQuery("displayName eq "+quote(guid)),
	} {
		r, err := s.do(ctx, "GET", path, nil)
		if err != nil {
			return err
		}
		if err := r.wantObject(http.StatusOK); err != nil {
			return err
		}
		if !hasString(list(r.obj, "schemas"), listResponseURN) {
			return failf("%s: schemas = %s; want a ListResponse", r, jsonText(get(r.obj, "schemas")))
		}
		if n, ok := integer(get(r.obj, "totalResults")); !ok || n != 0 {
			return failf("%s: totalResults = %s; want 0", r, jsonText(get(r.obj, "totalResults")))
		}
		if len(r.resources()) != 0 {
			return failf("%s: resources returned for a random GUID: %s", r, r.snippet())
		}
	}
	return nil
}
