package scim

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/rs/zerolog/hlog"

	"github.com/scimbridge/scimbridge/scim/filter"
	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

// listParams are the query parameters of a listing (RFC 7644 section
// 3.4.2), from the URL of a GET or the body of a POST .search.
type listParams struct {
	filter     string
	sortBy     string
	desc       bool
	startIndex int
	count      int
	attributes []string
	excluded   []string
}

func (s *Server) pageSize(count int, given bool) int {
	switch {
	case !given:
		return s.cfg.MaxPageSize
	case count < 0:
		return 0
	case count > s.cfg.MaxPageSize:
		return s.cfg.MaxPageSize
	}
	return count
}

func parseSortOrder(v string) (desc bool, err *scimerrors.ScimError) {
	switch strings.ToLower(v) {
	case "", "ascending":
		return false, nil
	case "descending":
		return true, nil
	}
	return false, resource.Err(scimerrors.ScimTypeInvalidValue, "sortOrder must be \"ascending\" or \"descending\"")
}

func (s *Server) queryParams(c *call) (listParams, error) {
	q := c.r.URL.Query()
	p := listParams{
		filter:     q.Get("filter"),
		sortBy:     q.Get("sortBy"),
		startIndex: 1,
		attributes: splitList(q.Get("attributes")),
		excluded:   splitList(q.Get("excludedAttributes")),
	}
	var e *scimerrors.ScimError
	if p.desc, e = parseSortOrder(q.Get("sortOrder")); e != nil {
		return p, e
	}
	if v := q.Get("startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, resource.Err(scimerrors.ScimTypeInvalidValue, "startIndex must be an integer")
		}
		p.startIndex = max(n, 1)
	}
	count, given := 0, false
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, resource.Err(scimerrors.ScimTypeInvalidValue, "count must be an integer")
		}
		count, given = n, true
	}
	p.count = s.pageSize(count, given)
	return p, nil
}

// searchParams reads a SearchRequest body (RFC 7644 section 3.4.3).
func (s *Server) searchParams(c *call) (listParams, error) {
	p := listParams{startIndex: 1}
	obj, err := s.readObject(c)
	if err != nil {
		return p, err
	}
	schemaOK := false
	if list, ok := obj["schemas"].([]any); ok {
		for _, v := range list {
			schemaOK = schemaOK || v == resource.SearchRequestSchema
		}
	}
	if !schemaOK {
		return p, resource.Err(scimerrors.ScimTypeInvalidSyntax, "\"schemas\" must list %q", resource.SearchRequestSchema)
	}
	str := func(key string) (string, error) {
		v, ok := obj[key]
		if !ok || v == nil {
			return "", nil
		}
		sv, ok := v.(string)
		if !ok {
			return "", resource.Err(scimerrors.ScimTypeInvalidValue, "%q must be a string", key)
		}
		return sv, nil
	}
	num := func(key string) (int, bool, error) {
		v, ok := obj[key]
		if !ok || v == nil {
			return 0, false, nil
		}
		n, ok := v.(json.Number)
		if !ok {
			return 0, false, resource.Err(scimerrors.ScimTypeInvalidValue, "%q must be an integer", key)
		}
		i, err := strconv.Atoi(n.String())
		if err != nil {
			return 0, false, resource.Err(scimerrors.ScimTypeInvalidValue, "%q must be an integer", key)
		}
		return i, true, nil
	}
	list := func(key string) ([]string, error) {
		v, ok := obj[key]
		if !ok || v == nil {
			return nil, nil
		}
		arr, ok := v.([]any)
		if !ok {
			return nil, resource.Err(scimerrors.ScimTypeInvalidValue, "%q must be an array of strings", key)
		}
		out := make([]string, 0, len(arr))
		for _, e := range arr {
			s, ok := e.(string)
			if !ok {
				return nil, resource.Err(scimerrors.ScimTypeInvalidValue, "%q must be an array of strings", key)
			}
			out = append(out, s)
		}
		return out, nil
	}
	var e *scimerrors.ScimError
	if p.filter, err = str("filter"); err != nil {
		return p, err
	}
	if p.sortBy, err = str("sortBy"); err != nil {
		return p, err
	}
	order, err := str("sortOrder")
	if err != nil {
		return p, err
	}
	if p.desc, e = parseSortOrder(order); e != nil {
		return p, e
	}
	if p.attributes, err = list("attributes"); err != nil {
		return p, err
	}
	if p.excluded, err = list("excludedAttributes"); err != nil {
		return p, err
	}
	start, given, err := num("startIndex")
	if err != nil {
		return p, err
	}
	if given {
		p.startIndex = max(start, 1)
	}
	count, given, err := num("count")
	if err != nil {
		return p, err
	}
	p.count = s.pageSize(count, given)
	return p, nil
}

func (s *Server) list(c *call, t *resource.Type) {
	p, err := s.queryParams(c)
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	s.runList(c, []*resource.Type{t}, p)
}

// search serves POST .search, on a resource type or (t nil) on the root,
// where users and groups are searched together.
func (s *Server) search(c *call, t *resource.Type) {
	p, err := s.searchParams(c)
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	types := []*resource.Type{resource.User(), resource.Group()}
	if t != nil {
		types = []*resource.Type{t}
	}
	s.runList(c, types, p)
}

// typeQuery is the store query of one resource type of a listing.
type typeQuery struct {
	t *resource.Type
	q store.Query
}

func (s *Server) buildQueries(types []*resource.Type, p listParams) ([]typeQuery, error) {
	var out []typeQuery
	var firstErr error
	for _, t := range types {
		q := store.Query{Desc: p.desc}
		if strings.TrimSpace(p.filter) != "" {
			f, e := filter.Parse(t, p.filter, s.cfg.Filter)
			if e != nil {
				if firstErr == nil {
					firstErr = e
				}
				continue
			}
			q.Plan = f.Plan()
			if !f.Exact() {
				q.Match = f.MatchRecord
			}
		}
		if p.sortBy != "" {
			key, e := filter.SortKey(t, p.sortBy)
			if e != nil {
				if firstErr == nil {
					firstErr = e
				}
				continue
			}
			q.SortKey = key
		}
		out = append(out, typeQuery{t: t, q: q})
	}
	if len(out) == 0 {
		return nil, firstErr
	}
	return out, nil
}

// listWriters are the 64 KiB buffers of listings: allocating one per
// request was 7% of the CPU of userName lookups.
var listWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 64<<10) }}

// runList answers a listing as a ListResponse. Resources are written as
// they are rendered; groups stream their members.
func (s *Server) runList(c *call, types []*resource.Type, p listParams) {
	queries, err := s.buildQueries(types, p)
	if err != nil {
		fail(c.w, c.r, err)
		return
	}
	proj := parseProjection(types, p.attributes, p.excluded)
	ctx := c.r.Context()
	dir := c.dir.Key()

	// Page across the types in order: the start index and count run over
	// the users first, then the groups.
	type page struct {
		users  []store.User
		groups []store.Group
	}
	var pages []page
	total, start, remaining := 0, p.startIndex, p.count
	for _, tq := range queries {
		q := tq.q
		q.StartIndex, q.Count = start, remaining
		var pg page
		var n int
		if tq.t == resource.User() {
			q.WithGroups = true
			up, err := s.store.ListUsers(ctx, dir, q)
			if err != nil {
				fail(c.w, c.r, err)
				return
			}
			pg.users, n = up.Users, up.Total
			remaining -= len(up.Users)
		} else {
			gp, err := s.store.ListGroups(ctx, dir, q)
			if err != nil {
				fail(c.w, c.r, err)
				return
			}
			pg.groups, n = gp.Groups, gp.Total
			remaining -= len(gp.Groups)
		}
		total += n
		start = max(start-n, 1)
		pages = append(pages, pg)
	}
	items := 0
	for _, pg := range pages {
		items += len(pg.users) + len(pg.groups)
	}

	writeHeader(c.w, http.StatusOK, "")
	head, _ := marshal(map[string]any{
		"schemas":      []string{resource.ListResponseSchema},
		"totalResults": total,
		"itemsPerPage": items,
		"startIndex":   p.startIndex,
	})
	bw := listWriters.Get().(*bufio.Writer)
	bw.Reset(c.w)
	defer func() {
		bw.Reset(nil) // drop what a failed stream left, and the ResponseWriter
		listWriters.Put(bw)
	}()
	bw.Write(head[:len(head)-1])
	bw.WriteString(`,"Resources":[`)
	first := true
	sep := func() {
		if !first {
			bw.WriteByte(',')
		}
		first = false
	}
	var scratch []byte
	for _, pg := range pages {
		for _, u := range pg.users {
			if proj.empty() {
				var ok bool
				if scratch, ok = c.appendUser(scratch[:0], u); ok {
					sep()
					bw.Write(scratch)
					continue
				}
			}
			doc, err := c.userDoc(u)
			if err != nil {
				abortStream(c.r, err)
			}
			b, err := marshal(proj.apply(doc))
			if err != nil {
				abortStream(c.r, err)
			}
			sep()
			bw.Write(b)
		}
		for _, g := range pg.groups {
			sep()
			if err := s.writeGroup(c, bw, g, proj); err != nil {
				abortStream(c.r, err)
			}
		}
	}
	bw.WriteString("]}")
	if err := bw.Flush(); err != nil {
		hlog.FromRequest(c.r).Debug().Err(err).Msg("client went away during a listing")
	}
}
