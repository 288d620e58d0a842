package filter

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	scimerrors "github.com/elimity-com/scim/errors"
	scimfilter "github.com/scim2/filter-parser/v2"

	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

// Default limits, used for the zero fields of Limits.
const (
	DefaultMaxLength = 4096 // bytes of filter text
	DefaultMaxDepth  = 16   // nesting of ( ) and [ ] (not always carries parentheses)
	DefaultMaxTerms  = 64   // comparisons, value filter terms included
)

// Limits caps filter work; zero (or negative) fields take the defaults.
type Limits struct {
	MaxLength int // bytes of the filter as received, before trimming
	MaxDepth  int // nesting of ( ) and [ ]; a not counts through its parentheses
	MaxTerms  int // comparisons, including those inside value filters
}

func (l Limits) withDefaults() Limits {
	if l.MaxLength <= 0 {
		l.MaxLength = DefaultMaxLength
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxTerms <= 0 {
		l.MaxTerms = DefaultMaxTerms
	}
	return l
}

// Filter is a parsed and validated filter for one resource type. It is
// immutable and safe for concurrent use. A nil *Filter is "no filter": it
// matches everything and plans a full scan.
type Filter struct {
	t    *resource.Type
	root *node
}

// Parse parses and validates a filter for resource type t. The checks that
// bound the work (length, UTF-8, nesting depth) run before the parser; the
// term count runs while compiling. Every error is a 400 with scimType
// invalidFilter and a detail that names the attribute, operator or limit at
// fault (details are clipped to 400 bytes); only a nil t, a programming
// error, is a 500.
func Parse(t *resource.Type, s string, lim Limits) (*Filter, *scimerrors.ScimError) {
	if t == nil {
		return nil, &scimerrors.ScimError{Status: http.StatusInternalServerError, Detail: "filter: no resource type"}
	}
	lim = lim.withDefaults()
	root, err := parseExpr(s, lim)
	if err != nil {
		return nil, err
	}
	c := &compiler{t: t, listFilter: true, maxTerms: lim.MaxTerms}
	n, err := c.expr(root)
	if err != nil {
		return nil, err
	}
	return &Filter{t: t, root: n}, nil
}

// invalidFilter builds the 400 invalidFilter error of every refusal.
func invalidFilter(format string, args ...any) *scimerrors.ScimError {
	return clipDetail(resource.Err(scimerrors.ScimTypeInvalidFilter, format, args...))
}

// maxDetail bounds an error detail: details quote parts of the filter, and
// a 4 KiB attribute name need not be echoed whole.
const maxDetail = 400

func clipDetail(e *scimerrors.ScimError) *scimerrors.ScimError {
	if len(e.Detail) > maxDetail {
		n := maxDetail
		for n > 0 && !utf8.RuneStart(e.Detail[n]) {
			n--
		}
		e.Detail = e.Detail[:n] + "…"
	}
	return e
}

// prepare runs the checks that bound the parser's work and the lenient
// rewrites (the attr[...].sub rewrite only when rewriteSub is set: in a
// PATCH path that shape is not a filter), and returns the text to parse
// with the tokens it was made of.
func prepare(s string, lim Limits, what string, rewriteSub bool) (string, []token, string) {
	if len(s) > lim.MaxLength {
		return "", nil, "the " + what + " is longer than the limit of " + strconv.Itoa(lim.MaxLength) + " bytes"
	}
	if !utf8.ValidString(s) {
		return "", nil, "the " + what + " is not valid UTF-8"
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil, "the " + what + " is empty"
	}
	r, why := scan(s, lim.MaxDepth, lim.MaxTerms)
	if why != "" {
		return "", nil, why
	}
	// A valid filter has one more comparison than and/or keywords; refuse
	// before parsing what cannot fit in MaxTerms.
	if r.keywords+1 > lim.MaxTerms {
		return "", nil, tooManyTerms(lim.MaxTerms)
	}
	return render(r.toks, rewriteSub), r.toks, ""
}

// parseExpr prepares and parses a filter into the parser's AST.
func parseExpr(s string, lim Limits) (scimfilter.Expression, *scimerrors.ScimError) {
	text, toks, why := prepare(s, lim, "filter", true)
	if why != "" {
		return nil, invalidFilter("%s", why)
	}
	if e, ok := fastParse(toks); ok {
		return e, nil
	}
	e, perr := scimfilter.ParseFilterNumber([]byte(text))
	if perr != nil || e == nil {
		return nil, invalidFilter("%s", diagnose(toks))
	}
	return e, nil
}

// Match reports whether doc, a resource.View of a stored resource (with id
// and meta), satisfies the filter.
func (f *Filter) Match(doc resource.Doc) bool {
	if f == nil {
		return true
	}
	return f.root.match(f.t, doc)
}

// MatchRecord decodes r with resource.View and matches the result. A record
// that does not decode does not match.
func (f *Filter) MatchRecord(r store.Record) bool {
	if f == nil {
		return true
	}
	doc, err := resource.View(f.t, r)
	if err != nil {
		return false
	}
	return f.root.match(f.t, doc)
}

// Plan returns the index lookups whose union/intersection is a superset of
// the matching resources, or nil for a full scan. The caller applies Match
// to every candidate. Each call returns a new Plan that the caller may keep.
func (f *Filter) Plan() *store.Plan {
	if f == nil {
		return nil
	}
	return plan(f.t, f.root)
}

// Exact reports whether the plan's candidates are exactly the matches, so
// that the caller may skip Match: the filter is a single eq on an
// attribute whose index compares as the filter does (userName and group
// displayName folded with store.Fold, id and externalId case-exact). This
// is Okta's and Entra's existence probe, userName eq "…", on every
// create. The fuzz test checks candidates and matches agree whenever it
// holds.
func (f *Filter) Exact() bool {
	if f == nil || f.root.kind != nodeCmp || f.root.cmp.op != scimfilter.EQ {
		return false
	}
	p := planComparison(f.t, f.root.cmp)
	return p != nil && p.Op == store.PlanLookup && !p.Prefix && p.Field != store.FieldEmail
}

// String returns the filter in canonical form: canonical attribute names,
// lower-case operators, JSON-escaped string literals, the lenient forms
// rewritten, parentheses only where precedence needs them. Parse accepts it
// and yields the same filter.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	var b strings.Builder
	f.root.write(&b)
	return b.String()
}
