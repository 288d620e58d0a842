package conformance

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

var pageChecks = []check{
	{name: "page/list-response", run: checkListResponse},
	{name: "page/startindex-count", run: checkPages},
	{name: "page/stable-order", run: checkStableOrder},
	{name: "page/count-zero", run: checkCountZero},
	{name: "page/beyond-the-end", run: checkBeyondEnd},
	{name: "page/out-of-range-values", run: checkOutOfRange},
}

// listPage GETs one page of the population (query is added to the
// population's scope filter) and checks the ListResponse envelope.
func (s *suite) listPage(ctx context.Context, p *population, query string) (*response, error) {
	path := "/Users?filter=" + filterQuery("userName sw "+quote(p.prefix))
	if query != "" {
		path += "&" + query
	}
	r, err := s.do(ctx, "GET", path, nil)
	if err != nil {
		return nil, err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return nil, err
	}
	return r, nil
}

// wantEnvelope checks a ListResponse: the schema, integer totalResults,
// itemsPerPage and startIndex (Okta requires JSON integers), itemsPerPage
// equal to the resources returned, and the values expected.
func wantEnvelope(r *response, total, start, items int) error {
	if !hasString(list(r.obj, "schemas"), listResponseURN) {
		return failf("%s: schemas = %s; want [%s]", r, jsonText(get(r.obj, "schemas")), listResponseURN)
	}
	got := map[string]int{}
	for _, k := range []string{"totalResults", "itemsPerPage", "startIndex"} {
		v := get(r.obj, k)
		n, ok := integer(v)
		if !ok {
			if v == nil && k != "totalResults" && items == 0 {
				continue // optional on an empty page
			}
			return failf("%s: %s = %s; want a JSON integer", r, k, jsonText(v))
		}
		got[k] = n
	}
	if got["totalResults"] != total {
		return failf("%s: totalResults = %d; want %d", r, got["totalResults"], total)
	}
	if n := len(r.resources()); n != items {
		return failf("%s: %d resources; want %d", r, n, items)
	}
	if v, ok := got["itemsPerPage"]; ok && v != items {
		return failf("%s: itemsPerPage = %d, but %d resources were returned", r, v, items)
	}
	if v, ok := got["startIndex"]; ok && v != start {
		return failf("%s: startIndex = %d; want %d", r, v, start)
	}
	return nil
}

var checkListResponse = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	r, err := s.listPage(ctx, p, "")
	if err != nil {
		return err
	}
	if err := r.wantSCIMContentType(); err != nil {
		return err
	}
	return wantEnvelope(r, len(p.ids), 1, len(p.ids))
})

// walk reads the population two at a time (Okta imports with startIndex
// and count) and returns the ids in the order given.
func (s *suite) walk(ctx context.Context, p *population, extra string) ([]string, error) {
	var all []string
	n := len(p.ids)
	for start := 1; start <= n; start += 2 {
		q := fmt.Sprintf("startIndex=%d&count=2", start)
		if extra != "" {
			q += "&" + extra
		}
		r, err := s.listPage(ctx, p, q)
		if err != nil {
			return nil, err
		}
		if err := wantEnvelope(r, n, start, min(2, n-start+1)); err != nil {
			return nil, err
		}
		all = append(all, r.ids()...)
	}
	return all, nil
}

// RFC 7644 section 3.4.2.4: pages of count from startIndex (1-based) cover
// every match once.
var checkPages = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	all, err := s.walk(ctx, p, "")
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, id := range all {
		if seen[id] {
			return failf("user %s is on two pages: %s", p.describe([]string{id}), p.describe(all))
		}
		seen[id] = true
	}
	if !slices.Equal(sorted(all...), sorted(p.idsOf(populationKeys...)...)) {
		return failf("the pages hold %s; want every user of the filter once", p.describe(all))
	}
	return nil
})

// Paging is only usable if the order does not change between reads (Okta
// requires it).
var checkStableOrder = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	first, err := s.walk(ctx, p, "")
	if err != nil {
		return err
	}
	second, err := s.walk(ctx, p, "")
	if err != nil {
		return err
	}
	if !slices.Equal(first, second) {
		return failf("two walks over the same pages differ: %s then %s", p.describe(first), p.describe(second))
	}
	return nil
})

// RFC 7644 section 3.4.2.4: count=0 returns no resources but the total.
var checkCountZero = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	r, err := s.listPage(ctx, p, "count=0")
	if err != nil {
		return err
	}
	return wantEnvelope(r, len(p.ids), 1, 0)
})

var checkBeyondEnd = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	r, err := s.listPage(ctx, p, "startIndex=100&count=10")
	if err != nil {
		return err
	}
	return wantEnvelope(r, len(p.ids), 100, 0)
})

// RFC 7644 section 3.4.2.4: a startIndex below 1 SHALL be read as 1, a
// negative count as 0.
var checkOutOfRange = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	r, err := s.listPage(ctx, p, "startIndex=0&count=2")
	if err != nil {
		return err
	}
	if err := wantEnvelope(r, len(p.ids), 1, 2); err != nil {
		return fmt.Errorf("startIndex=0: %w", err)
	}
	r, err = s.listPage(ctx, p, "count=-1")
	if err != nil {
		return err
	}
	if err := wantEnvelope(r, len(p.ids), 1, 0); err != nil {
		return fmt.Errorf("count=-1: %w", err)
	}
	return nil
})

var sortChecks = []check{
	{name: "sort/ascending", run: checkSortAscending},
	{name: "sort/descending-paged", run: checkSortDescending},
}

// RFC 7644 section 3.4.2.3, if sort is advertised.
var checkSortAscending = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	if err := s.need("sort"); err != nil {
		return err
	}
	r, err := s.listPage(ctx, p, "sortBy=userName")
	if err != nil {
		return err
	}
	if got, want := r.ids(), p.idsOf(p.order...); !slices.Equal(got, want) {
		return failf("sortBy=userName gave %s; want %s", p.describe(got), p.describe(want))
	}
	return nil
})

var checkSortDescending = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	if err := s.need("sort"); err != nil {
		return err
	}
	r, err := s.listPage(ctx, p, "sortBy=userName&sortOrder=descending&startIndex=2&count=2")
	if err != nil {
		return err
	}
	if got, want := r.ids(), p.idsOf("dave", "carol"); !slices.Equal(got, want) {
		return failf("sortBy=userName&sortOrder=descending&startIndex=2&count=2 gave %s; want %s", p.describe(got), p.describe(want))
	}
	return nil
})

var projectionChecks = []check{
	{name: "projection/attributes", run: checkAttributes},
	{name: "projection/excluded-attributes", run: checkExcludedAttributes},
	{name: "projection/id-always-returned", run: checkIDAlways},
	{name: "projection/sub-attributes", run: checkSubAttributes},
}

// project GETs alice with the query, both by id and in a listing, and
// applies verify to both.
func (s *suite) project(ctx context.Context, p *population, query string, verify func(m map[string]any) error) error {
	r, err := s.do(ctx, "GET", userPath(p.ids["alice"])+"?"+query, nil)
	if err != nil {
		return err
	}
	if err := r.wantObject(http.StatusOK); err != nil {
		return err
	}
	if err := verify(r.obj); err != nil {
		return failf("GET /Users/{id}?%s: %v", query, err)
	}
	l, err := s.do(ctx, "GET", "/Users?filter="+filterQuery("id eq "+quote(p.ids["alice"]))+"&"+query, nil)
	if err != nil {
		return err
	}
	if err := l.wantObject(http.StatusOK); err != nil {
		return err
	}
	res := l.resources()
	if len(res) != 1 {
		return failf("%s: %d resources; want 1", l, len(res))
	}
	if err := verify(res[0]); err != nil {
		return failf("GET /Users?filter=id eq …&%s: %v", query, err)
	}
	return nil
}

// wantKeys fails unless doc has every key of present and none of absent.
func wantKeys(doc map[string]any, present, absent []string) error {
	for _, k := range present {
		if !has(doc, k) {
			return failf("%q is missing: %s", k, jsonText(doc))
		}
	}
	for _, k := range absent {
		if has(doc, k) {
			return failf("%q is returned though not asked for: %s", k, jsonText(doc))
		}
	}
	return nil
}

// RFC 7644 section 3.4.2.5: attributes returns those asked for (and the
// "always" ones); the others are left out.
var checkAttributes = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	return s.project(ctx, p, "attributes=userName,title", func(m map[string]any) error {
		return wantKeys(m, []string{"id", "userName", "title"}, []string{"emails", "name", "displayName", "active"})
	})
})

var checkExcludedAttributes = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	return s.project(ctx, p, "excludedAttributes=emails,title", func(m map[string]any) error {
		return wantKeys(m, []string{"id", "userName", "name", "displayName"}, []string{"emails", "title"})
	})
})

// id is returned "always": neither attributes nor excludedAttributes
// removes it.
var checkIDAlways = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	if err := s.project(ctx, p, "attributes=title", func(m map[string]any) error {
		return wantKeys(m, []string{"id", "title"}, []string{"userName"})
	}); err != nil {
		return err
	}
	return s.project(ctx, p, "excludedAttributes=id,title", func(m map[string]any) error {
		return wantKeys(m, []string{"id", "userName"}, []string{"title"})
	})
})

// A sub-attribute name ("name.givenName") returns only that part of the
// complex or multi-valued attribute.
var checkSubAttributes = withPopulation(func(ctx context.Context, s *suite, p *population) error {
	return s.project(ctx, p, "attributes=name.givenName,emails.value", func(m map[string]any) error {
		if err := wantKeys(m, []string{"id", "name", "emails"}, []string{"userName", "title"}); err != nil {
			return err
		}
		if err := wantKeys(obj(m, "name"), []string{"givenName"}, []string{"familyName"}); err != nil {
			return fmt.Errorf("name: %w", err)
		}
		for _, e := range list(m, "emails") {
			em, _ := e.(map[string]any)
			if err := wantKeys(em, []string{"value"}, []string{"type", "primary"}); err != nil {
				return fmt.Errorf("emails: %w", err)
			}
		}
		if len(list(m, "emails")) != 2 || !strings.Contains(jsonText(get(m, "emails")), "@home.example.org") {
			return failf("emails = %s; want both of alice's emails, value only", jsonText(get(m, "emails")))
		}
		return nil
	})
})
