package scim_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/reqlog"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/scim/filter"
	"github.com/scimbridge/scimbridge/store"
)

// The security suite: the attacks on the SCIM API of the security test
// catalog (libraries-and-attacks.md, section 8.3; the SCIM-nn ids below
// are its ids), sent over real HTTP to the real server on a real bbolt
// file. Every refused attack checks the status and the SCIM error (status,
// scimType) and that the store did not change: every user, group,
// membership and event of every tenant is read through the store API
// before and after (world.refused, world.state, world.unchanged). An
// attack the server accepts by design checks that it changed nothing but
// its own resource (world.changedOnly).
// Every response of this file also goes through world.send, which fails
// the case if a body carries Go internals (a file path, a stack, a store
// error), the test password, or a name of another tenant, and which
// detects a hang with a timeout (no timing assertions: the suite as a
// whole runs in a few seconds).

// attackTimeout bounds every request of this file. It detects a server
// that hangs on an input; it is not a performance assertion.
const attackTimeout = 20 * time.Second

// The population of a world. The names are distinctive so that a leak is
// found by a plain substring search.
const (
	aliceName      = "alice.okta@example.com"
	bobName        = "bob.okta@example.com"
	engName        = "Okta Engineering"
	erinName       = "erin.entra-only@example.com"
	entraGroupName = "Entra Only Group"
	oscarName      = "oscar.other-org@example.com"
	otherGroupName = "Other Org Group"

	// secretPassword is sent as a password; it must never come back in a
	// response, nor be stored, nor be logged.
	secretPassword = "Pw-n3ver-echo-7f3a"

	searchURN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
)

// internals are texts that only a leaked Go error, panic or store error
// would put in a response body.
var internals = []string{".go:", "goroutine ", "runtime error", "panic", "bbolt", "bolt:", "strconv.", "json: ", "store:"}

// tenants are the directories of a world; their orgs are acme and other.
var tenants = []store.DirKey{
	{Org: "acme", Directory: "okta"},
	{Org: "acme", Directory: "entra"},
	{Org: "other", Directory: "main"},
}

// world is a SCIM server over a real bbolt file with three tenants that
// each hold users and a group: acme/okta is the attacker's own directory,
// whose token every request carries unless a case says otherwise;
// acme/entra is another directory of the same org, other/main another
// org.
type world struct {
	*env
	logs *syncBuffer // everything the server logged

	alice, bob, eng   string // acme/okta: two users, a group holding alice
	erin, entraGroup  string // acme/entra: a user, a group holding erin
	oscar, otherGroup string // other/main: a user, a group holding oscar

	names   []string // every userName and group displayName created
	foreign []string // those of acme/entra and other/main
}

// syncBuffer is a bytes.Buffer the server's goroutines can write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newWorld(t *testing.T, cfg scim.Config) *world {
	t.Helper()
	e := newEnv(t, cfg)
	// The same server as newEnv's, with its log captured as well, so that
	// the cases can check that no secret reaches the log.
	logs := &syncBuffer{}
	log := zerolog.New(io.MultiWriter(logs, zerolog.NewTestWriter(t)))
	e.srv = httptest.NewServer(reqlog.Wrap(log, scim.New(e.st, cfg), scim.WritePanic))
	t.Cleanup(e.srv.Close)
	e.base = e.srv.URL + "/scim/v2/acme/okta"

	w := &world{env: e, logs: logs}
	w.alice = e.createUser(aliceName).str("id")
	w.bob = e.createUser(bobName).str("id")
	w.eng = e.createGroup(engName, w.alice).str("id")
	entra := e.tokensEnv("acme/entra")
	w.erin = entra.createUser(erinName).str("id")
	w.entraGroup = entra.createGroup(entraGroupName, w.erin).str("id")
	other := e.tokensEnv("other/main")
	w.oscar = other.createUser(oscarName).str("id")
	w.otherGroup = other.createGroup(otherGroupName, w.oscar).str("id")
	w.foreign = []string{erinName, entraGroupName, oscarName, otherGroupName}
	w.names = append([]string{aliceName, bobName, engName}, w.foreign...)
	return w
}

// on returns the harness bound to t, so that a failure inside a subtest is
// reported by (and stops) that subtest.
func (w *world) on(t *testing.T) *env {
	c := *w.env
	c.t = t
	return &c
}

// chunked wraps b in a reader of unknown length: the client sends it with
// Transfer-Encoding: chunked and no Content-Length.
func chunked(b []byte) io.Reader { return struct{ io.Reader }{bytes.NewReader(b)} }

// send makes one request as acme/okta under attackTimeout and checks the
// invariants of every response: no Go internals, no password, no name of
// another tenant. path is relative to acme/okta's base URL unless it
// starts with "http". body is nil, a string or []byte (sent with a
// Content-Length), an io.Reader (sent chunked, see chunked), or a value to
// encode as JSON. hdr are header name/value pairs: an empty value removes
// the header, a name starting with "+" adds a second value.
func (w *world) send(t *testing.T, method, path string, body any, hdr ...string) resp {
	t.Helper()
	target := path
	if !strings.HasPrefix(path, "http") {
		target = w.base + path
	}
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), attackTimeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+w.token)
	if body != nil {
		r.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		switch name, value := hdr[i], hdr[i+1]; {
		case strings.HasPrefix(name, "+"):
			r.Header.Add(name[1:], value)
		case value == "":
			r.Header.Del(name)
		default:
			r.Header.Set(name, value)
		}
	}
	what := method + " " + clip(path)
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: no answer within %v: the server hangs on this input", what, attackTimeout)
		}
		t.Fatalf("%s: %v", what, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s: read body: %v", what, err)
	}
	out := resp{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/scim+json") {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("%s: body is not a JSON object: %v\n%s", what, err, clip(string(raw)))
		}
	}
	text := string(raw)
	for _, s := range internals {
		if strings.Contains(text, s) {
			t.Errorf("%s: body contains %q, a sign of a leaked internal error:\n%s", what, s, clip(text))
		}
	}
	if strings.Contains(text, secretPassword) {
		t.Errorf("%s: body echoes the password:\n%s", what, clip(text))
	}
	for _, n := range w.foreign {
		if strings.Contains(text, n) {
			t.Errorf("%s: body names %q of another tenant:\n%s", what, n, clip(text))
		}
	}
	return out
}

// clip shortens s for a failure message: attack payloads are megabytes.
func clip(s string) string {
	if len(s) <= 300 {
		return s
	}
	return s[:300] + fmt.Sprintf("… (%d bytes)", len(s))
}

// storeState is everything a SCIM request can change, as the store API
// reads it.
type storeState struct {
	Users   map[store.DirKey][]store.User  // with their groups
	Groups  map[store.DirKey][]store.Group //
	Members map[string][]store.MemberRef   // by "org/directory/group id"
	Events  map[string][]store.Event       // the outbox of each org
}

// state reads every user, group, membership and event of the world.
func (w *world) state(t *testing.T) storeState {
	t.Helper()
	ctx := context.Background()
	s := storeState{
		Users:   map[store.DirKey][]store.User{},
		Groups:  map[store.DirKey][]store.Group{},
		Members: map[string][]store.MemberRef{},
		Events:  map[string][]store.Event{},
	}
	const all, chunk = 1 << 20, 1000
	for _, d := range tenants {
		up, err := w.st.ListUsers(ctx, d, store.Query{Count: all, WithGroups: true})
		if err != nil {
			t.Fatalf("ListUsers(%s): %v", d, err)
		}
		s.Users[d] = up.Users
		gp, err := w.st.ListGroups(ctx, d, store.Query{Count: all})
		if err != nil {
			t.Fatalf("ListGroups(%s): %v", d, err)
		}
		s.Groups[d] = gp.Groups
		for _, g := range gp.Groups {
			var members []store.MemberRef
			for after := uint64(0); ; {
				refs, err := w.st.GroupMembers(ctx, d, g.ID, after, chunk)
				if err != nil {
					t.Fatalf("GroupMembers(%s, %s): %v", d, g.ID, err)
				}
				members = append(members, refs...)
				if len(refs) < chunk {
					break
				}
				after = refs[len(refs)-1].Pos
			}
			s.Members[d.String()+"/"+g.ID] = members
		}
	}
	for _, org := range []string{"acme", "other"} {
		var events []store.Event
		for after := uint64(0); ; {
			p, err := w.st.Events(ctx, org, store.EventQuery{After: after, Limit: store.MaxEventLimit})
			if err != nil {
				t.Fatalf("Events(%s): %v", org, err)
			}
			events = append(events, p.Events...)
			if p.Next >= p.Last || p.Next == after {
				break
			}
			after = p.Next
		}
		s.Events[org] = events
	}
	return s
}

// unchanged fails t unless the store holds exactly what before holds.
func (w *world) unchanged(t *testing.T, before storeState, opts ...cmp.Option) {
	t.Helper()
	after := w.state(t)
	if reflect.DeepEqual(before, after) {
		return // cmp.Diff, which reports, is slow on byte slices
	}
	if diff := cmp.Diff(before, after, opts...); diff != "" {
		t.Errorf("store changed (-before +after):\n%s", diff)
	}
}

// changedOnly fails t unless the store differs from before only in the
// user or group id (created or updated, with its memberships) and in
// events about it: a request that had to write something wrote nothing
// else. It returns the state after.
func (w *world) changedOnly(t *testing.T, before storeState, id string) storeState {
	t.Helper()
	after := w.state(t)
	strip := func(s storeState) storeState {
		out := storeState{Users: map[store.DirKey][]store.User{}, Groups: map[store.DirKey][]store.Group{}, Members: map[string][]store.MemberRef{}, Events: map[string][]store.Event{}}
		for d, us := range s.Users {
			var kept []store.User
			for _, u := range us {
				if u.ID != id {
					u.Groups = slices.DeleteFunc(slices.Clone(u.Groups), func(g store.GroupRef) bool { return g.ID == id })
					kept = append(kept, u)
				}
			}
			out.Users[d] = kept
		}
		for d, gs := range s.Groups {
			out.Groups[d] = slices.DeleteFunc(slices.Clone(gs), func(g store.Group) bool { return g.ID == id })
		}
		for k, m := range s.Members {
			if !strings.HasSuffix(k, "/"+id) {
				// A member's display name follows its user.
				out.Members[k] = slices.DeleteFunc(slices.Clone(m), func(r store.MemberRef) bool { return r.ID == id })
			}
		}
		for org, evs := range s.Events {
			out.Events[org] = slices.DeleteFunc(slices.Clone(evs), func(e store.Event) bool { return e.Resource.ID == id })
		}
		return out
	}
	if diff := cmp.Diff(strip(before), strip(after), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("the request changed more than %s (-before +after):\n%s", id, diff)
	}
	return after
}

// refused sends one attack and checks that it is answered with the SCIM
// error of status and scimType and that the store did not change.
func (w *world) refused(t *testing.T, status int, scimType, method, path string, body any, hdr ...string) resp {
	t.Helper()
	before := w.state(t)
	r := w.send(t, method, path, body, hdr...)
	w.unchanged(t, before)
	w.on(t).wantError(r, status, scimType)
	return r
}

// userOf returns the user id of directory d.
func (s storeState) userOf(d store.DirKey, id string) (store.User, bool) {
	for _, u := range s.Users[d] {
		if u.ID == id {
			return u, true
		}
	}
	return store.User{}, false
}

func searchBody(filter string) map[string]any {
	return map[string]any{"schemas": []string{searchURN}, "filter": filter}
}

func members(ids ...string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"value": id}
	}
	return out
}

// listIDs checks that r is a ListResponse and returns its total and ids.
func listIDs(t *testing.T, r resp) (int, []string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status = %d; want 200\n%s", r.status, clip(string(r.raw)))
	}
	total, ok := r.body["totalResults"].(float64)
	if !ok {
		t.Fatalf("no totalResults: %s", clip(string(r.raw)))
	}
	got := ids(r)
	slices.Sort(got)
	return int(total), got
}

// SCIM-01, SCIM-02, SCIM-04: every request without a valid SCIM token of
// the directory in its URL is the same 401, leaks nothing and changes
// nothing.
func TestSecurityTokens(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	w := newWorld(t, scim.Config{Now: func() time.Time { return t0 }})
	ctx := context.Background()
	valid := w.token
	expired := w.newToken(store.TokenSCIM, "acme", "okta", t0) // expires at the server's now: Expired is !now.Before(Expires)
	notYetExpired := w.newToken(store.TokenSCIM, "acme", "okta", t0.Add(time.Second))
	revoked := w.newToken(store.TokenSCIM, "acme", "okta", time.Time{})
	tok, err := w.st.TokenByHash(ctx, store.HashToken(revoked))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.st.DeleteToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	admin := w.newToken(store.TokenAdmin, "acme", "", time.Time{})
	super := w.newToken(store.TokenSuper, "", "", time.Time{})
	secrets := []string{valid, expired, notYetExpired, revoked, admin, super, w.tokens["acme/entra"], w.tokens["other/main"]}

	type credentials struct {
		name  string
		hdr   []string // header pairs for send
		query string   // appended to the URL
	}
	bearer := func(name, value string) credentials {
		return credentials{name: name, hdr: []string{"Authorization", value}}
	}
	refusedCreds := []credentials{
		bearer("missing Authorization", ""),
		bearer("Bearer without a token", "Bearer"),
		bearer("Bearer and blanks", "Bearer   "),
		bearer("Basic with the token as password", "Basic "+base64.StdEncoding.EncodeToString([]byte("acme:"+valid))),
		bearer("Basic with the token as credentials", "Basic "+valid),
		bearer("token without a scheme", valid),
		bearer("another scheme", "Token "+valid),
		// RFC 6750 section 2.1: credentials = "Bearer" 1*SP b64token. A
		// tab is not SP, and a b64token has no blank, comma or quote.
		bearer("tab instead of a space", "Bearer\t"+valid),
		bearer("token followed by more", "Bearer "+valid+" x"),
		bearer("token with a comma", "Bearer "+valid+","),
		bearer("quoted token", `Bearer "`+valid+`"`),
		bearer("unknown token", "Bearer "+store.TokenPrefix+strings.Repeat("A", 43)),
		bearer("truncated token", "Bearer "+valid[:len(valid)-1]),
		bearer("token prefix shown in listings", "Bearer "+valid[:len(store.TokenPrefix)+6]),
		bearer("expired token", "Bearer "+expired),
		bearer("revoked token", "Bearer "+revoked),
		bearer("token of another directory of the org", "Bearer "+w.tokens["acme/entra"]),
		bearer("token of another org", "Bearer "+w.tokens["other/main"]),
		bearer("admin token of the org", "Bearer "+admin),
		bearer("super token", "Bearer "+super),
		// RFC 6750 section 2.3 (URI query parameter) is not supported: a
		// token in a URL ends up in logs and proxies.
		{name: "token in the query string", hdr: []string{"Authorization", ""}, query: "access_token=" + url.QueryEscape(valid)},
		{name: "two Authorization headers, the first not ours", hdr: []string{"Authorization", "Bearer " + w.tokens["other/main"], "+Authorization", "Bearer " + valid}},
	}
	requests := []struct {
		method, path string
		body         any
	}{
		{"GET", "/Users", nil},
		{"GET", "/Users/" + w.alice, nil},
		{"GET", "/Groups/" + w.eng, nil},
		{"GET", "/Users?filter=" + url.QueryEscape(`userName sw "a"`), nil},
		{"POST", "/Users", user("intruder@example.com")},
		{"PUT", "/Users/" + w.alice, user(aliceName, map[string]any{"displayName": "pwned"})},
		{"PATCH", "/Groups/" + w.eng, patchOps(op("add", "members", members(w.bob)))},
		{"DELETE", "/Users/" + w.alice, nil},
		{"POST", "/.search", searchBody("userName pr")},
		{"GET", "/ServiceProviderConfig", nil},
		{"GET", "/Schemas", nil},
		{"GET", "/ResourceTypes", nil},
		{"HEAD", "/ServiceProviderConfig", nil},
		{"HEAD", "/Users/" + w.alice, nil},
	}
	ids := []string{w.alice, w.bob, w.eng, w.erin, w.entraGroup, w.oscar, w.otherGroup}
	var detail string // every 401 says the same
	check401 := func(t *testing.T, r resp, method string) {
		t.Helper()
		if method == http.MethodHead {
			if r.status != http.StatusUnauthorized || len(r.raw) != 0 {
				t.Fatalf("HEAD: status %d, %d bytes; want 401 without a body", r.status, len(r.raw))
			}
		} else {
			w.on(t).wantError(r, http.StatusUnauthorized, "")
			if detail == "" {
				detail = r.str("detail")
			} else if got := r.str("detail"); got != detail {
				t.Errorf("detail = %q; want the same detail as every 401, %q", got, detail)
			}
		}
		if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
			t.Errorf("WWW-Authenticate = %q; want a Bearer challenge (RFC 6750 section 3)", got)
		}
		for _, s := range append(slices.Clone(w.names), ids...) {
			if strings.Contains(string(r.raw), s) {
				t.Errorf("401 body contains %q:\n%s", s, r.raw)
			}
		}
	}
	for _, c := range refusedCreds {
		t.Run(c.name, func(t *testing.T) {
			for _, rq := range requests {
				path := rq.path
				if c.query != "" {
					sep := "?"
					if strings.Contains(path, "?") {
						sep = "&"
					}
					path += sep + c.query
				}
				before := w.state(t)
				r := w.send(t, rq.method, path, rq.body, c.hdr...)
				w.unchanged(t, before)
				check401(t, r, rq.method)
			}
		})
	}

	// RFC 7235 section 2.1: the scheme is case-insensitive. RFC 6750
	// section 2.1: one or more spaces after it.
	accepted := []credentials{
		bearer("lower-case scheme", "bearer "+valid),
		bearer("upper-case scheme", "BEARER "+valid),
		bearer("two spaces", "Bearer  "+valid),
		bearer("token expiring a second after now", "Bearer "+notYetExpired),
	}
	for _, c := range accepted {
		t.Run("accepted: "+c.name, func(t *testing.T) {
			r := w.on(t).must(http.StatusOK, w.send(t, "GET", "/Users/"+w.alice, nil, c.hdr...))
			if r.str("userName") != aliceName {
				t.Errorf("GET = %s", r.raw)
			}
		})
	}

	// A valid token is bound to the directory of its URL: any other
	// directory, however the URL spells it, is the same 401.
	root := w.srv.URL + scim.PathPrefix
	for _, c := range []struct{ name, url string }{
		{"directory of the same org", root + "acme/entra/Users/" + w.erin},
		{"directory of another org", root + "other/main/Users/" + w.oscar},
		{"another org's group", root + "other/main/Groups/" + w.otherGroup},
		{"upper-case org", root + "ACME/okta/Users/" + w.alice},
		{"upper-case directory", root + "acme/OKTA/Users/" + w.alice},
		{"unknown directory", root + "acme/nope/Users"},
		{"encoded traversal in the directory", root + "acme/okta%2F..%2Fentra/Users/" + w.erin},
		{"encoded slash in the org", root + "acme%2Fokta/entra/Users/" + w.erin},
	} {
		t.Run("bound to its URL: "+c.name, func(t *testing.T) {
			for _, method := range []string{"GET", "DELETE"} {
				before := w.state(t)
				r := w.send(t, method, c.url, nil)
				w.unchanged(t, before)
				check401(t, r, method)
			}
		})
	}
	// A traversal in a decoded segment is routed as a path, never resolved.
	t.Run("bound to its URL: traversal after the directory", func(t *testing.T) {
		w.refused(t, http.StatusNotFound, "", "GET", root+"acme/okta/../entra/Users/"+w.erin, nil)
		w.refused(t, http.StatusNotFound, "", "DELETE", root+"acme/okta/%2e%2e/entra/Users/"+w.erin, nil)
	})

	t.Run("no token is logged", func(t *testing.T) {
		logs := w.logs.String()
		for _, s := range secrets {
			if strings.Contains(logs, s) {
				t.Errorf("the log contains the token %s…", s[:len(store.TokenPrefix)+6])
			}
		}
	})
}

// SCIM-09, SCIM-10: filters built to exhaust the parser are refused by the
// caps (length, nesting, terms) before it runs, in GET ?filter= and in
// POST .search, with 400 invalidFilter; the one exception is a URL longer
// than net/http's header limit, which the transport refuses first.
func TestSecurityFilterDoS(t *testing.T) {
	t.Parallel()
	nested := func(open, close string, n int) string {
		return strings.Repeat(open, n) + `displayName eq "x"` + strings.Repeat(close, n)
	}
	terms := func(n int, join, attr string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`%s eq "v%d"`, attr, i)
		}
		return strings.Join(parts, join)
	}
	attacks := []struct{ name, filter string }{
		{"5,000 nested parentheses", nested("(", ")", 5000)},
		{"5,000 nested not()", nested("not (", ")", 5000)},
		{"5,000 nested not() without blanks", nested("not(", ")", 5000)},
		{"100,000 unclosed parentheses", strings.Repeat("(", 100000)},
		{"5,000 nested parentheses in a value filter", "emails[" + strings.Repeat("(", 5000) + `value eq "x"` + strings.Repeat(")", 5000) + "]"},
		{"10,000 or terms", terms(10000, " or ", "displayName")},
		{"10,000 and terms", terms(10000, " and ", "displayName")},
		{"10,000 or terms in a value filter", "emails[" + terms(10000, " or ", "value") + "]"},
		{"20,000 bare keywords", strings.Repeat("or ", 20000)},
	}
	// A megabyte-long filter is a valid filter once the length cap is
	// raised, so it is attacked under the default limits only.
	long := func(n int) string { return `displayName eq "` + strings.Repeat("a", n) + `"` }

	type variant struct {
		name string
		cfg  scim.Config
	}
	for _, v := range []variant{
		{"default limits", scim.Config{}},
		// With the length cap out of the way, the nesting and term caps
		// are what must refuse, and their scan must stay linear.
		{"length cap raised to 8 MiB", scim.Config{Filter: filter.Limits{MaxLength: 8 << 20}}},
	} {
		t.Run(v.name, func(t *testing.T) {
			w := newWorld(t, v.cfg)
			list := slices.Clone(attacks)
			if v.cfg.Filter.MaxLength == 0 {
				list = append(list,
					struct{ name, filter string }{"900 KiB filter", long(900 << 10)},
					struct{ name, filter string }{"3 MiB filter", long(3 << 20)})
			} else {
				list = append(list, struct{ name, filter string }{"900 KiB of or terms", terms(36000, " or ", "displayName")})
			}
			for _, a := range list {
				t.Run(a.name, func(t *testing.T) {
					check := func(r resp) {
						t.Helper()
						if !strings.Contains(r.str("detail"), "limit") {
							t.Errorf("detail = %q; want the limit named", clip(r.str("detail")))
						}
					}
					q := "?filter=" + url.QueryEscape(a.filter)
					if len(q) < 1<<20 {
						check(w.refused(t, 400, "invalidFilter", "GET", "/Users"+q, nil))
						check(w.refused(t, 400, "invalidFilter", "GET", "/Groups"+q, nil))
					} else {
						// net/http refuses a request head above
						// DefaultMaxHeaderBytes (1 MiB) with its own
						// plain-text 431 before any handler runs. That is
						// the right answer: nothing is parsed.
						before := w.state(t)
						r := w.send(t, "GET", "/Users"+q, nil)
						w.unchanged(t, before)
						if r.status != http.StatusRequestHeaderFieldsTooLarge {
							t.Errorf("GET with a %d-byte URL: status %d; want 431 from net/http\n%s", len(q), r.status, clip(string(r.raw)))
						}
					}
					for _, p := range []string{"/.search", "/Users/.search", "/Groups/.search"} {
						check(w.refused(t, 400, "invalidFilter", "POST", p, searchBody(a.filter)))
					}
				})
			}
		})
	}
}

// SCIM-11: bodies above Config.MaxBodyBytes are refused with 413 and a
// SCIM error, with or without a Content-Length; a body of exactly the cap
// is accepted.
func TestSecurityBodyCap(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	w := newWorld(t, scim.Config{MaxBodyBytes: limit})
	// sized returns a user document of exactly n bytes (title pads it).
	sized := func(name string, n int) []byte {
		base, _ := json.Marshal(user(name, map[string]any{"title": ""}))
		b, _ := json.Marshal(user(name, map[string]any{"title": strings.Repeat("t", n-len(base))}))
		if len(b) != n {
			t.Fatalf("sized(%d) = %d bytes", n, len(b))
		}
		return b
	}
	ms := make([]string, 40000)
	for i := range ms {
		ms[i] = w.alice
	}
	bigGroup, _ := json.Marshal(map[string]any{"schemas": []string{groupURN}, "displayName": "big", "members": members(ms...)})
	bigPatch, _ := json.Marshal(patchOps(op("replace", "title", strings.Repeat("t", 1<<20))))
	bigSearch, _ := json.Marshal(searchBody(`displayName eq "` + strings.Repeat("a", 1<<20) + `"`))

	cases := []struct {
		name, method, path string
		body               any
	}{
		{"POST one byte over the cap", "POST", "/Users", sized("over@example.com", limit+1)},
		{"POST 11 MiB", "POST", "/Users", sized("over@example.com", 11<<20)},
		{"POST chunked, one byte over the cap", "POST", "/Users", chunked(sized("over@example.com", limit+1))},
		{"POST chunked, 8 MiB", "POST", "/Users", chunked(sized("over@example.com", 8<<20))},
		{"PUT over the cap", "PUT", "/Users/" + w.alice, sized(aliceName, limit+1)},
		{"PUT chunked over the cap", "PUT", "/Users/" + w.alice, chunked(sized(aliceName, 1<<20))},
		{"PATCH over the cap", "PATCH", "/Users/" + w.alice, bigPatch},
		{"PATCH chunked over the cap", "PATCH", "/Users/" + w.alice, chunked(bigPatch)},
		{"POST group chunked over the cap", "POST", "/Groups", chunked(bigGroup)},
		{"PUT group over the cap", "PUT", "/Groups/" + w.eng, bigGroup},
		{"POST .search over the cap", "POST", "/.search", bigSearch},
		{"POST .search chunked over the cap", "POST", "/Users/.search", chunked(bigSearch)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := w.refused(t, http.StatusRequestEntityTooLarge, "", c.method, c.path, c.body)
			if !strings.Contains(r.str("detail"), strconv.Itoa(limit)) {
				t.Errorf("detail = %q; want the limit (%d bytes) named", r.str("detail"), limit)
			}
		})
	}
	for _, c := range []struct {
		name string
		body func([]byte) any
	}{
		{"exactly the cap", func(b []byte) any { return b }},
		{"exactly the cap, chunked", func(b []byte) any { return chunked(b) }},
	} {
		t.Run("accepted: "+c.name, func(t *testing.T) {
			name := strings.ReplaceAll(c.name, " ", "-") + "@example.com"
			r := w.on(t).must(http.StatusCreated, w.send(t, "POST", "/Users", c.body(sized(name, limit))))
			if r.str("userName") != name {
				t.Errorf("created %s", clip(string(r.raw)))
			}
		})
	}
}

// SCIM-12: a PATCH with more operations than Config.MaxPatchOperations is
// refused whole, before any operation is read.
func TestSecurityPatchTooMany(t *testing.T) {
	t.Parallel()
	w := newWorld(t, scim.Config{})
	const limit = scim.DefaultMaxPatchOperations
	repeat := func(n int, o map[string]any) map[string]any {
		ops := make([]map[string]any, n)
		for i := range ops {
			ops[i] = o
		}
		return patchOps(ops...)
	}
	rename := func(n int) map[string]any {
		ops := make([]map[string]any, n)
		for i := range ops {
			ops[i] = op("replace", "displayName", fmt.Sprintf("name %d", i))
		}
		return patchOps(ops...)
	}
	cases := []struct {
		name, path string
		body       any
	}{
		{"one operation over the cap", "/Users/" + w.alice, rename(limit + 1)},
		{"5,000 operations", "/Users/" + w.alice, rename(5000)},
		{"5,000 password operations", "/Users/" + w.alice, repeat(5000, op("replace", "password", secretPassword))},
		{"5,000 member additions", "/Groups/" + w.eng, repeat(5000, op("add", "members", members(w.bob)))},
		{"5,000 member removals", "/Groups/" + w.eng, repeat(5000, op("remove", `members[value eq "`+w.alice+`"]`, nil))},
		// The count is checked before any operation is read, so 5,000
		// invalid operations cost no validation work either.
		{"5,000 invalid operations", "/Users/" + w.alice, repeat(5000, map[string]any{"op": "explode", "path": strings.Repeat("x.", 100)})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// tooMany is the scimType of RFC 7644 section 3.12 (table 9) for
			// "more than the server is willing to process", spelled so.
			r := w.refused(t, http.StatusBadRequest, "tooMany", "PATCH", c.path, c.body)
			if !strings.Contains(r.str("detail"), strconv.Itoa(limit)) {
				t.Errorf("detail = %q; want the cap (%d) named", r.str("detail"), limit)
			}
		})
	}
	// 200,000 operations are about 10 MB: the body cap (4 MiB by default)
	// refuses them before the operation count is known.
	t.Run("200,000 operations", func(t *testing.T) {
		one := `{"op":"replace","path":"displayName","value":"x"}`
		body := `{"schemas":["` + patchURN + `"],"Operations":[` + strings.Repeat(one+",", 200000-1) + one + `]}`
		w.refused(t, http.StatusRequestEntityTooLarge, "", "PATCH", "/Users/"+w.alice, body)
	})
	t.Run("accepted: exactly the cap, applied in one write", func(t *testing.T) {
		before := w.state(t)
		old, _ := before.userOf(tenants[0], w.alice)
		r := w.on(t).must(http.StatusOK, w.send(t, "PATCH", "/Users/"+w.alice, rename(limit)))
		if want := fmt.Sprintf("name %d", limit-1); r.str("displayName") != want {
			t.Errorf("displayName = %q; want %q", r.str("displayName"), want)
		}
		after := w.changedOnly(t, before, w.alice)
		if u, _ := after.userOf(tenants[0], w.alice); u.Version != old.Version+1 {
			t.Errorf("version %d → %d; want one write", old.Version, u.Version)
		}
	})
}

// SCIM-05, SCIM-19: ids in paths are unescaped once and must be one of
// ours, of this directory, and of the resource type of the path; anything
// else is 404 with every method, and nothing changes.
func TestSecurityPathIDs(t *testing.T) {
	t.Parallel()
	w := newWorld(t, scim.Config{})
	// doubled is alice's id with its first byte percent-encoded twice:
	// decoded once, as the server does, it is not an id.
	doubled := "%25" + fmt.Sprintf("%02X", w.alice[0]) + w.alice[1:]
	common := []struct{ name, seg string }{
		{"encoded slash", "a%2Fb"},
		{"encoded traversal", "..%2F..%2Facme%2Fentra%2FUsers%2F" + w.erin},
		{"dot-dot", ".."},
		{"dot", "."},
		{"encoded dot-dot", "%2e%2e"},
		{"encoded dot-dot then an id", "%2e%2e%2f" + w.bob},
		{"double-encoded slash", "%252F"},
		{"double-encoded id", doubled},
		{"NUL", "%00"},
		{"id then NUL", w.alice + "%00"},
		{"id then encoded slash", w.alice + "%2F"},
		{"id then path parameter", w.alice + ";x=1"},
		{"id after a blank", "%20" + w.alice},
		{"upper-case id", strings.ToUpper(w.alice)},
		{"overlong id", strings.Repeat("a", 64<<10)},
		{"id with a long tail", w.alice + strings.Repeat("0", 4096)},
		{"unknown id", "00000000-0000-4000-8000-000000000000"},
	}
	types := []struct {
		endpoint string
		foreign  []struct{ name, seg string }
		put      any
		patch    any
	}{
		{"/Users", []struct{ name, seg string }{
			{"user of another directory", w.erin},
			{"user of another org", w.oscar},
			{"group id", w.eng},
		}, user(aliceName, map[string]any{"displayName": "hijacked"}), patchOps(op("replace", "displayName", "hijacked"))},
		{"/Groups", []struct{ name, seg string }{
			{"group of another directory", w.entraGroup},
			{"group of another org", w.otherGroup},
			{"user id", w.alice},
		}, map[string]any{"schemas": []string{groupURN}, "displayName": "hijacked", "members": members(w.bob)},
			patchOps(op("add", "members", members(w.bob)))},
	}
	for _, ty := range types {
		for _, c := range append(slices.Clone(common), ty.foreign...) {
			t.Run(ty.endpoint+"/"+c.name, func(t *testing.T) {
				path := ty.endpoint + "/" + c.seg
				w.refused(t, http.StatusNotFound, "", "GET", path, nil)
				w.refused(t, http.StatusNotFound, "", "PUT", path, ty.put)
				w.refused(t, http.StatusNotFound, "", "PATCH", path, ty.patch)
				w.refused(t, http.StatusNotFound, "", "DELETE", path, nil)
				w.refused(t, http.StatusNotFound, "", "DELETE", path, nil, "If-Match", "*")
				// Two versions make the server read the resource to choose
				// one: that read is bound to the directory too.
				w.refused(t, http.StatusNotFound, "", "PATCH", path, ty.patch, "If-Match", `W/"1", W/"2"`)
			})
		}
	}
	// Segments after an id are never resolved against it.
	for _, tail := range []string{"/..", "/%2e%2e", "/.", "/", "/x"} {
		t.Run("trailing "+tail, func(t *testing.T) {
			w.refused(t, http.StatusNotFound, "", "DELETE", "/Users/"+w.alice+tail, nil)
			w.refused(t, http.StatusNotFound, "", "PUT", "/Users/"+w.alice+tail, user(aliceName))
			w.refused(t, http.StatusNotFound, "", "DELETE", "/Users/"+w.erin+tail+"/"+w.alice, nil)
		})
	}
	// Control: an id whose every byte is percent-encoded is decoded once,
	// to the id itself.
	t.Run("accepted: percent-encoded own id", func(t *testing.T) {
		var b strings.Builder
		for i := 0; i < len(w.alice); i++ {
			fmt.Fprintf(&b, "%%%02X", w.alice[i])
		}
		r := w.on(t).must(http.StatusOK, w.send(t, "GET", "/Users/"+b.String(), nil))
		if r.str("id") != w.alice {
			t.Errorf("GET = %s", r.raw)
		}
	})
}

// SCIM-14, SCIM-15, SCIM-16: userNames are unique under store.Fold (NFC,
// full case folding, NFC); names with invisible characters are refused;
// filters find the existing user under every colliding spelling.
func TestSecurityUserNameCollisions(t *testing.T) {
	t.Parallel()
	w := newWorld(t, scim.Config{})
	collisions := []struct{ name, existing, attack string }{
		{"case", "Carol.Case@example.com", "carol.case@EXAMPLE.COM"},
		{"sharp s against SS", "straße@example.com", "STRASSE@example.com"},
		{"SS against sharp s", "GROSS@example.com", "groß@example.com"},
		{"NFC against NFD", "jos\u00e9@example.com", "jose\u0301@example.com"},
		{"NFD against NFC", "rene\u0301@example.com", "REN\u00c9@example.com"},
		{"Kelvin sign", "kate@example.com", "\u212Aate@example.com"},
		{"fi ligature", "\ufb01le@example.com", "FILE@example.com"},
		{"dotted capital I against itself", "İzmir@example.com", "İZMIR@example.com"},
	}
	existing := map[string]string{}
	for _, c := range collisions {
		existing[c.existing] = w.createUser(c.existing).str("id")
	}
	for _, c := range collisions {
		t.Run("collision: "+c.name, func(t *testing.T) {
			if store.Fold(c.existing) != store.Fold(c.attack) {
				t.Fatalf("store.Fold(%q) != store.Fold(%q): the case is wrong", c.existing, c.attack)
			}
			w.refused(t, http.StatusConflict, "uniqueness", "POST", "/Users", user(c.attack))
			w.refused(t, http.StatusConflict, "uniqueness", "PUT", "/Users/"+w.bob, user(c.attack))
			w.refused(t, http.StatusConflict, "uniqueness", "PATCH", "/Users/"+w.bob, patchOps(op("replace", "userName", c.attack)))
			w.refused(t, http.StatusConflict, "uniqueness", "PATCH", "/Users/"+w.bob, patchOps(op("replace", "", map[string]any{"userName": c.attack})))
			for _, f := range []string{`userName eq "` + c.attack + `"`, `userName eq "` + c.existing + `"`} {
				_, got := listIDs(t, w.send(t, "GET", "/Users?filter="+url.QueryEscape(f), nil))
				if want := []string{existing[c.existing]}; !slices.Equal(got, want) {
					t.Errorf("filter %s = %v; want %v (the user %q)", f, got, want, c.existing)
				}
			}
		})
	}

	// Unicode full case folding maps U+0130 (İ) to "i̇" (i and U+0307), not
	// to "i": store.Fold applies no Turkish tailoring, so "İstanbul" and
	// "istanbul" are two users. That is the implemented and documented
	// rule (store.Fold), and the same rule holds in filters and login
	// matching, so the two never stand for each other.
	t.Run("no collision: dotted capital I against i", func(t *testing.T) {
		if store.Fold("İstanbul@example.com") == store.Fold("istanbul@example.com") {
			t.Fatalf("store.Fold folds İ to i; update this case")
		}
		plain := w.on(t).createUser("istanbul@example.com").str("id")
		before := w.state(t)
		dotted := w.on(t).must(http.StatusCreated, w.send(t, "POST", "/Users", user("İstanbul@example.com"))).str("id")
		w.changedOnly(t, before, dotted)
		for f, want := range map[string]string{
			`userName eq "İstanbul@example.com"`: dotted,
			`userName eq "İSTANBUL@example.com"`: dotted,
			`userName eq "istanbul@example.com"`: plain,
			`userName eq "ISTANBUL@example.com"`: plain,
		} {
			_, got := listIDs(t, w.send(t, "GET", "/Users?filter="+url.QueryEscape(f), nil))
			if !slices.Equal(got, []string{want}) {
				t.Errorf("filter %s = %v; want [%s]", f, got, want)
			}
		}
	})

	invisible := []struct{ name, userName string }{
		{"zero-width space", "carol\u200b.case@example.com"},
		{"zero-width joiner", "carol\u200d.case@example.com"},
		{"zero-width non-joiner", "carol\u200c.case@example.com"},
		{"word joiner", "carol\u2060.case@example.com"},
		{"byte order mark", "\ufeffcarol.case@example.com"},
		{"soft hyphen", "ca\u00adrol.case@example.com"},
		{"right-to-left override", "\u202emoc.elpmaxe@esac.lorac"},
		{"left-to-right isolate", "\u2066carol.case@example.com\u2069"},
		{"NUL", "carol.case@example.com\x00"},
		{"newline", "carol.case@example.com\nadmin"},
		{"escape", "carol.case@example.com\x1b[2J"},
	}
	// encoding/json decodes a lone surrogate escape to U+FFFD, so
	// "\ud800" and "\udfff" would be one name that neither client sent;
	// like invalid UTF-8 (TestBadInputChangesNothing) it is invalidSyntax.
	w.createUser("surrogate@example.com")
	for _, c := range []struct{ name, userName string }{
		{"lone high surrogate", `\ud800surrogate@example.com`},
		{"lone low surrogate", `\udfffsurrogate@example.com`},
		{"surrogates in the wrong order", `\udc00\ud800surrogate@example.com`},
		{"high surrogate before a plain escape", `\ud83d\u0041surrogate@example.com`},
		{"high surrogate at the end", `surrogate@example.com\ud83d`},
	} {
		t.Run("invalid text: "+c.name, func(t *testing.T) {
			raw := func(tmpl string) string { return strings.ReplaceAll(tmpl, "NAME", c.userName) }
			w.refused(t, http.StatusBadRequest, "invalidSyntax", "POST", "/Users", raw(`{"schemas":["`+userURN+`"],"userName":"NAME"}`))
			w.refused(t, http.StatusBadRequest, "invalidSyntax", "PUT", "/Users/"+w.bob, raw(`{"schemas":["`+userURN+`"],"userName":"NAME"}`))
			w.refused(t, http.StatusBadRequest, "invalidSyntax", "PATCH", "/Users/"+w.bob, raw(`{"schemas":["`+patchURN+`"],"Operations":[{"op":"replace","path":"userName","value":"NAME"}]}`))
			w.refused(t, http.StatusBadRequest, "invalidSyntax", "POST", "/.search", raw(`{"schemas":["`+searchURN+`"],"filter":"userName eq \"NAME\""}`))
			// A filter literal refuses it too (filter.ParseValueString).
			w.refused(t, http.StatusBadRequest, "invalidFilter", "GET", "/Users?filter="+url.QueryEscape(`userName eq "`+c.userName+`"`), nil)
		})
	}
	t.Run("accepted: escaped surrogate pair", func(t *testing.T) {
		before := w.state(t)
		r := w.on(t).must(http.StatusCreated, w.send(t, "POST", "/Users", `{"schemas":["`+userURN+`"],"userName":"\ud83d\ude00@example.com"}`))
		if r.str("userName") != "\U0001F600@example.com" {
			t.Errorf("userName = %q; want %q", r.str("userName"), "\U0001F600@example.com")
		}
		w.changedOnly(t, before, r.str("id"))
	})

	for _, c := range invisible {
		t.Run("invisible: "+c.name, func(t *testing.T) {
			// Refused as invalid before uniqueness is looked at: the name
			// is wrong whether or not it would collide.
			w.refused(t, http.StatusBadRequest, "invalidValue", "POST", "/Users", user(c.userName))
			w.refused(t, http.StatusBadRequest, "invalidValue", "PUT", "/Users/"+w.bob, user(c.userName))
			w.refused(t, http.StatusBadRequest, "invalidValue", "PATCH", "/Users/"+w.bob, patchOps(op("replace", "userName", c.userName)))
			w.refused(t, http.StatusBadRequest, "invalidValue", "PATCH", "/Users/"+w.bob, patchOps(op("replace", "", map[string]any{"userName": c.userName})))
			// In a group name as well.
			w.refused(t, http.StatusBadRequest, "invalidValue", "POST", "/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": strings.Replace(c.userName, "carol", "group", 1)})
			// Invisible characters are not folded away: the spelling
			// finds nobody, never the visible look-alike.
			f := `userName eq "` + strings.ReplaceAll(strings.ReplaceAll(c.userName, "\x00", `\u0000`), "\n", `\n`) + `"`
			f = strings.ReplaceAll(f, "\x1b", `\u001B`)
			if total, got := listIDs(t, w.send(t, "GET", "/Users?filter="+url.QueryEscape(f), nil)); total != 0 {
				t.Errorf("filter %q = %v; want nothing", f, got)
			}
		})
	}
}

// SCIM-20, SCIM-21, SCIM-22: read-only attributes (id, meta, groups,
// manager.displayName) are ignored in POST and PUT (RFC 7644 section
// 3.5.1: "Any values provided SHALL be ignored") and are a 400
// mutability when a PATCH names them (RFC 7644 section 3.5.2: a path that
// targets a readOnly attribute).
func TestSecurityReadOnlyAttributes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, scim.Config{})
	start := time.Now().Add(-time.Minute)
	forgedMeta := map[string]any{
		"resourceType": "Group",
		"created":      "2001-01-01T00:00:00Z",
		"lastModified": "2001-01-01T00:00:00Z",
		"version":      `W/"999"`,
		"location":     "https://evil.example/Users/x",
	}
	forged := map[string]any{
		"id":     w.alice, // an existing user's id
		"meta":   forgedMeta,
		"groups": []any{map[string]any{"value": w.eng, "display": engName, "type": "direct"}},
	}
	checkMeta := func(t *testing.T, r resp, id, endpoint string, version string) {
		t.Helper()
		meta, _ := r.body["meta"].(map[string]any)
		created, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(meta["created"]))
		switch {
		case r.str("id") != id:
			t.Errorf("id = %q; want %q", r.str("id"), id)
		case created.Before(start):
			t.Errorf("meta.created = %v; want the server's time", meta["created"])
		case meta["location"] != w.base+endpoint+"/"+id:
			t.Errorf("meta.location = %v; want %s", meta["location"], w.base+endpoint+"/"+id)
		case meta["version"] != version || r.header.Get("ETag") != version:
			t.Errorf("meta.version = %v, ETag %q; want %s", meta["version"], r.header.Get("ETag"), version)
		case r.body["groups"] != nil:
			t.Errorf("groups = %v; want none", r.body["groups"])
		}
	}

	t.Run("POST user with id, meta and groups", func(t *testing.T) {
		before := w.state(t)
		r := w.on(t).must(http.StatusCreated, w.send(t, "POST", "/Users", user("mallory@example.com", forged)))
		id := r.str("id")
		if id == w.alice || id == "" {
			t.Fatalf("created user has id %q: the forged id was used", id)
		}
		checkMeta(t, r, id, "/Users", `W/"1"`)
		// alice, eng and its members untouched; the new user in no group.
		after := w.changedOnly(t, before, id)
		if u, _ := after.userOf(tenants[0], id); len(u.Groups) != 0 {
			t.Errorf("stored groups = %v; want none", u.Groups)
		}
	})
	t.Run("POST group with id and meta", func(t *testing.T) {
		before := w.state(t)
		body := map[string]any{"schemas": []string{groupURN}, "displayName": "forged", "id": w.eng, "meta": forgedMeta}
		r := w.on(t).must(http.StatusCreated, w.send(t, "POST", "/Groups", body))
		if r.str("id") == w.eng {
			t.Fatalf("created group has the forged id")
		}
		checkMeta(t, r, r.str("id"), "/Groups", `W/"1"`)
		w.changedOnly(t, before, r.str("id"))
	})
	t.Run("PUT user with another id, meta and groups", func(t *testing.T) {
		before := w.state(t)
		old, _ := before.userOf(tenants[0], w.bob)
		r := w.on(t).must(http.StatusOK, w.send(t, "PUT", "/Users/"+w.bob, user(bobName, forged)))
		// A PUT writes a new version even when only ignored attributes
		// differ; everything else about bob stays, and nobody else moves.
		checkMeta(t, r, w.bob, "/Users", fmt.Sprintf(`W/"%d"`, old.Version+1))
		w.unchanged(t, before, cmpopts.IgnoreFields(store.User{}, "Version", "Modified"))
	})
	t.Run("PUT group with another id and meta", func(t *testing.T) {
		before := w.state(t)
		body := map[string]any{"schemas": []string{groupURN}, "displayName": engName, "id": w.otherGroup, "meta": forgedMeta, "members": members(w.alice)}
		r := w.on(t).must(http.StatusOK, w.send(t, "PUT", "/Groups/"+w.eng, body))
		if r.str("id") != w.eng {
			t.Errorf("id = %q; want %q", r.str("id"), w.eng)
		}
		w.unchanged(t, before, cmpopts.IgnoreFields(store.Group{}, "Version", "Modified"))
	})
	// Okta sends "id" in every path-less replace: ignored silently, and
	// meta with it; nothing else changes, so nothing is written.
	t.Run("PATCH path-less id and meta", func(t *testing.T) {
		before := w.state(t)
		w.on(t).must(http.StatusOK, w.send(t, "PATCH", "/Users/"+w.bob, patchOps(op("replace", "", map[string]any{"id": w.alice, "meta": forgedMeta}))))
		w.unchanged(t, before)
	})

	ent := entURN + ":"
	for _, c := range []struct {
		name, path string
		body       any
	}{
		{"replace id", "/Users/" + w.bob, patchOps(op("replace", "id", w.alice))},
		{"remove id", "/Users/" + w.bob, patchOps(op("remove", "id", nil))},
		{"replace meta", "/Users/" + w.bob, patchOps(op("replace", "meta", forgedMeta))},
		{"replace meta.version", "/Users/" + w.bob, patchOps(op("replace", "meta.version", `W/"999"`))},
		{"replace meta.created", "/Users/" + w.bob, patchOps(op("replace", "meta.created", "2001-01-01T00:00:00Z"))},
		{"add groups", "/Users/" + w.bob, patchOps(op("add", "groups", []any{map[string]any{"value": w.eng}}))},
		{"replace groups", "/Users/" + w.alice, patchOps(op("replace", "groups", []any{}))},
		{"remove groups", "/Users/" + w.alice, patchOps(op("remove", "groups", nil))},
		{"remove one group by filter", "/Users/" + w.alice, patchOps(op("remove", `groups[value eq "`+w.eng+`"]`, nil))},
		{"path-less groups", "/Users/" + w.bob, patchOps(op("add", "", map[string]any{"groups": []any{map[string]any{"value": w.eng}}}))},
		{"manager.displayName", "/Users/" + w.bob, patchOps(op("replace", ent+"manager.displayName", "The Boss"))},
		{"group id", "/Groups/" + w.eng, patchOps(op("replace", "id", w.otherGroup))},
		{"group meta.version", "/Groups/" + w.eng, patchOps(op("replace", "meta.version", `W/"999"`))},
		// The sub-attributes of members are immutable (RFC 7643 section
		// 4.2): a member is added or removed, never re-pointed.
		{"re-point a member", "/Groups/" + w.eng, patchOps(op("replace", `members[value eq "`+w.alice+`"].value`, w.oscar))},
		{"members.value", "/Groups/" + w.eng, patchOps(op("replace", "members.value", w.oscar))},
	} {
		t.Run("PATCH "+c.name, func(t *testing.T) {
			w.refused(t, http.StatusBadRequest, "mutability", "PATCH", c.path, c.body)
		})
	}
}

// SCIM-05, SCIM-06: references to another directory or org are never
// followed: members are refused (400 invalidValue, nothing linked),
// filters and searches find nothing, and a manager id stays an opaque
// value that is never resolved.
func TestSecurityCrossTenantReferences(t *testing.T) {
	t.Parallel()
	w := newWorld(t, scim.Config{})
	group := func(name string, ids ...string) map[string]any {
		return map[string]any{"schemas": []string{groupURN}, "displayName": name, "members": members(ids...)}
	}
	for _, f := range []struct{ name, id string }{
		{"user of another directory", w.erin},
		{"user of another org", w.oscar},
		{"group of another directory", w.entraGroup},
		{"group of another org", w.otherGroup},
	} {
		t.Run("member: "+f.name, func(t *testing.T) {
			const iv = "invalidValue"
			w.refused(t, 400, iv, "POST", "/Groups", group("new group", f.id))
			w.refused(t, 400, iv, "POST", "/Groups", group("new group", w.alice, f.id))
			w.refused(t, 400, iv, "PUT", "/Groups/"+w.eng, group(engName, w.alice, f.id))
			w.refused(t, 400, iv, "PATCH", "/Groups/"+w.eng, patchOps(op("add", "members", members(f.id))))
			w.refused(t, 400, iv, "PATCH", "/Groups/"+w.eng, patchOps(op("add", "members", map[string]any{"value": f.id})))
			w.refused(t, 400, iv, "PATCH", "/Groups/"+w.eng, patchOps(op("add", "members", members(w.bob, f.id))))
			w.refused(t, 400, iv, "PATCH", "/Groups/"+w.eng, patchOps(op("replace", "members", members(f.id))))
			w.refused(t, 400, iv, "PATCH", "/Groups/"+w.eng, patchOps(op("add", "", map[string]any{"members": members(f.id)})))
			w.refused(t, 400, iv, "PATCH", "/Groups/"+w.eng, patchOps(op("replace", "", map[string]any{"members": members(f.id)})))
			// Removing a member that is not one is success and changes
			// nothing, also when the id is another tenant's.
			for _, body := range []any{
				patchOps(op("remove", `members[value eq "`+f.id+`"]`, nil)),
				patchOps(op("remove", "members", members(f.id))),
			} {
				before := w.state(t)
				w.on(t).must(http.StatusNoContent, w.send(t, "PATCH", "/Groups/"+w.eng, body))
				w.unchanged(t, before)
			}
		})
	}

	// manager.value is the id the IdP gives for the manager (RFC 7643
	// section 4.3); IdPs send ids of their own, and the manager may be
	// provisioned later, so scimbridge stores it as an opaque string and
	// never resolves it: no displayName or $ref is derived from it, and a
	// displayName sent with it is readOnly and dropped. Another tenant's
	// id is therefore accepted and leads nowhere.
	t.Run("manager of another org", func(t *testing.T) {
		before := w.state(t)
		body := user("managed@example.com", map[string]any{
			"schemas": []string{userURN, entURN},
			entURN:    map[string]any{"manager": map[string]any{"value": w.oscar, "displayName": oscarName}},
		})
		r := w.on(t).must(http.StatusCreated, w.send(t, "POST", "/Users", body))
		ext, _ := r.body[entURN].(map[string]any)
		if diff := cmp.Diff(map[string]any{"value": w.oscar}, ext["manager"]); diff != "" {
			t.Errorf("manager (-want +got):\n%s", diff)
		}
		w.changedOnly(t, before, r.str("id"))

		before = w.state(t)
		r = w.on(t).must(http.StatusOK, w.send(t, "PATCH", "/Users/"+w.bob, patchOps(op("replace", entURN+":manager.value", w.erin))))
		ext, _ = r.body[entURN].(map[string]any)
		if diff := cmp.Diff(map[string]any{"value": w.erin}, ext["manager"]); diff != "" {
			t.Errorf("manager (-want +got):\n%s", diff)
		}
		w.changedOnly(t, before, w.bob)
	})

	// Filters and searches run inside the directory of the URL: another
	// tenant's ids and names match nothing.
	empty := []struct{ name, method, path string }{
		{"user id of another directory", "GET", "/Users?filter=" + url.QueryEscape(`id eq "`+w.erin+`"`)},
		{"user id of another org", "GET", "/Users?filter=" + url.QueryEscape(`id eq "`+w.oscar+`"`)},
		{"userName of another org", "GET", "/Users?filter=" + url.QueryEscape(`userName eq "`+oscarName+`"`)},
		{"userName prefix of another directory", "GET", "/Users?filter=" + url.QueryEscape(`userName sw "erin"`)},
		{"group id of another org", "GET", "/Groups?filter=" + url.QueryEscape(`id eq "`+w.otherGroup+`"`)},
		{"group name of another directory", "GET", "/Groups?filter=" + url.QueryEscape(`displayName eq "`+entraGroupName+`"`)},
		{"manager of another org", "GET", "/Users?filter=" + url.QueryEscape(`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "`+w.oscar+`" and userName eq "nobody"`)},
	}
	for _, c := range empty {
		t.Run("filter: "+c.name, func(t *testing.T) {
			before := w.state(t)
			if total, got := listIDs(t, w.send(t, c.method, c.path, nil)); total != 0 || len(got) != 0 {
				t.Errorf("%d results %v; want none", total, got)
			}
			w.unchanged(t, before)
		})
	}
	for _, c := range []struct{ name, path, filter string }{
		{"root search for a user id of another org", "/.search", `id eq "` + w.oscar + `"`},
		{"root search for a group id of another directory", "/.search", `id eq "` + w.entraGroup + `"`},
		{"user search for a user id of another directory", "/Users/.search", `id eq "` + w.erin + `"`},
		{"group search for a group id of another org", "/Groups/.search", `id eq "` + w.otherGroup + `"`},
	} {
		t.Run("search: "+c.name, func(t *testing.T) {
			before := w.state(t)
			if total, got := listIDs(t, w.send(t, "POST", c.path, searchBody(c.filter))); total != 0 || len(got) != 0 {
				t.Errorf("%d results %v; want none", total, got)
			}
			w.unchanged(t, before)
		})
	}
	t.Run("filter: own and foreign ids", func(t *testing.T) {
		f := fmt.Sprintf(`id eq "%s" or id eq "%s" or id eq "%s"`, w.erin, w.alice, w.oscar)
		if total, got := listIDs(t, w.send(t, "GET", "/Users?filter="+url.QueryEscape(f), nil)); total != 1 || !slices.Equal(got, []string{w.alice}) {
			t.Errorf("%d results %v; want only alice %s", total, got, w.alice)
		}
		if total, got := listIDs(t, w.send(t, "POST", "/.search", searchBody(f))); total != 1 || !slices.Equal(got, []string{w.alice}) {
			t.Errorf(".search: %d results %v; want only alice %s", total, got, w.alice)
		}
	})
	// Memberships are not filterable (they are not stored with the
	// resource): asking by another tenant's id is the same 400 as by ours.
	t.Run("filter: membership of another org", func(t *testing.T) {
		w.refused(t, 400, "invalidFilter", "GET", "/Groups?filter="+url.QueryEscape(`members.value eq "`+w.oscar+`"`), nil)
		w.refused(t, 400, "invalidFilter", "GET", "/Users?filter="+url.QueryEscape(`groups.value eq "`+w.otherGroup+`"`), nil)
	})
}

// SCIM-23, SCIM-36: a password is checked, never stored, never returned
// (send checks every response of this file for it) and never logged, on
// success and error paths alike.
func TestSecurityPasswordNeverEchoed(t *testing.T) {
	t.Parallel()
	w := newWorld(t, scim.Config{MaxBodyBytes: 64 << 10})
	withPassword := func(name string, extra ...map[string]any) map[string]any {
		return user(name, append([]map[string]any{{"password": secretPassword}}, extra...)...)
	}
	var created string
	t.Run("accepted", func(t *testing.T) {
		r := w.on(t).must(http.StatusCreated, w.send(t, "POST", "/Users", withPassword("pw@example.com")))
		created = r.str("id")
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"PUT", "/Users/" + created, withPassword("pw@example.com")},
			{"PATCH", "/Users/" + created, patchOps(op("replace", "password", secretPassword))},
			{"PATCH", "/Users/" + created, patchOps(op("add", "", map[string]any{"password": secretPassword, "displayName": "PW"}))},
			{"GET", "/Users/" + created + "?attributes=password", nil},
			{"GET", "/Users?attributes=password,userName", nil},
		} {
			r := w.send(t, c.method, c.path, c.body)
			if r.status >= 300 || r.body["password"] != nil {
				t.Errorf("%s %s: status %d, password %v", c.method, c.path, r.status, r.body["password"])
			}
		}
	})
	cases := []struct {
		name, method, path string
		body               any
		status             int
		scimType           string
	}{
		{"POST with an invalid attribute", "POST", "/Users", withPassword("pw2@example.com", map[string]any{"active": "yes"}), 400, "invalidValue"},
		{"POST a taken userName", "POST", "/Users", withPassword(aliceName), 409, "uniqueness"},
		{"POST a password with a NUL", "POST", "/Users", user("pw3@example.com", map[string]any{"password": secretPassword + "\x00"}), 400, "invalidValue"},
		{"POST a password that is not a string", "POST", "/Users", user("pw3@example.com", map[string]any{"password": map[string]any{"value": secretPassword}}), 400, "invalidValue"},
		{"POST malformed JSON after the password", "POST", "/Users", `{"schemas":["` + userURN + `"],"password":"` + secretPassword + `" x`, 400, "invalidSyntax"},
		{"POST the password twice", "POST", "/Users", `{"schemas":["` + userURN + `"],"userName":"pw4@example.com","password":"` + secretPassword + `","Password":"` + secretPassword + `"}`, 400, "invalidSyntax"},
		{"POST over the body cap", "POST", "/Users", withPassword("pw5@example.com", map[string]any{"title": strings.Repeat("t", 64<<10)}), 413, ""},
		{"PUT another tenant's user", "PUT", "/Users/" + w.oscar, withPassword(oscarName), 404, ""},
		{"PATCH with a bad operation after the password", "PATCH", "/Users/" + w.alice, patchOps(op("replace", "password", secretPassword), op("explode", "x", 1)), 400, "invalidSyntax"},
		{"PATCH a password with a control character", "PATCH", "/Users/" + w.alice, patchOps(op("replace", "password", secretPassword+"\x1b")), 400, "invalidValue"},
		{"PATCH a password that is not a string", "PATCH", "/Users/" + w.alice, patchOps(op("add", "", map[string]any{"password": []any{secretPassword, secretPassword}})), 400, "invalidValue"},
		{"filter on password", "GET", "/Users?filter=" + url.QueryEscape(`password eq "`+secretPassword+`"`), nil, 400, "invalidFilter"},
		{"search on password", "POST", "/.search", searchBody(`password eq "` + secretPassword + `"`), 400, "invalidFilter"},
		// RFC 7644 names no scimType for a bad sortBy; the server says
		// invalidValue (the parameter's value), which fits.
		{"sort by password", "GET", "/Users?sortBy=password", nil, 400, "invalidValue"},
		{"no token", "POST", "/Users", withPassword("pw6@example.com"), 401, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.status == http.StatusUnauthorized {
				hdr = []string{"Authorization", ""}
			}
			w.refused(t, c.status, c.scimType, c.method, c.path, c.body, hdr...)
		})
	}
	t.Run("never stored nor logged", func(t *testing.T) {
		st := w.state(t)
		for d, us := range st.Users {
			for _, u := range us {
				if strings.Contains(string(u.Attributes), secretPassword) {
					t.Errorf("user %s of %s is stored with the password", u.ID, d)
				}
			}
		}
		for org, evs := range st.Events {
			for _, e := range evs {
				b, err := json.Marshal(e)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(b), secretPassword) {
					t.Errorf("event %d (%s) of %s holds the password", e.Seq, e.Type, org)
				}
			}
		}
		if strings.Contains(w.logs.String(), secretPassword) {
			t.Errorf("the log holds the password")
		}
	})
}

// SCIM-29: errors carry a precise public message and never Go internals
// (send checks every response of this file for file paths, stacks and
// store errors); these inputs aim at the parsers whose messages could
// leak them.
func TestSecurityErrorsCarryNoInternals(t *testing.T) {
	t.Parallel()
	w := newWorld(t, scim.Config{})
	cases := []struct {
		name, method, path string
		body               any
		status             int
		scimType           string
	}{
		{"number overflow", "POST", "/Users", `{"schemas":["` + userURN + `"],"userName":1e999}`, 400, "invalidValue"},
		{"integer overflow in count", "GET", "/Users?count=99999999999999999999999", nil, 400, "invalidValue"},
		{"hex startIndex", "GET", "/Users?startIndex=0x10", nil, 400, "invalidValue"},
		{"count in .search as a string", "POST", "/.search", map[string]any{"schemas": []string{searchURN}, "count": "10"}, 400, "invalidValue"},
		{"truncated JSON", "POST", "/Users", `{"schemas":["` + userURN + `"],"userName":"t`, 400, "invalidSyntax"},
		{"JSON with a bad escape", "POST", "/Users", `{"schemas":["` + userURN + `"],"userName":"\q"}`, 400, "invalidSyntax"},
		{"empty body", "POST", "/Users", "", 400, "invalidSyntax"},
		{"unknown sortBy", "GET", "/Users?sortBy=" + url.QueryEscape("urn:x:y:z"), nil, 400, "invalidValue"},
		{"unterminated value path", "PATCH", "/Groups/" + w.eng, patchOps(op("remove", `members[value eq "x"`, nil)), 400, "invalidPath"},
		{"malformed If-Match", "PATCH", "/Users/" + w.alice, patchOps(op("replace", "displayName", "x")), 412, ""},
		{"readOnly dateTime that is not one", "PATCH", "/Users/" + w.alice, patchOps(op("replace", "meta.lastModified", "yesterday")), 400, "mutability"},
		{"filter with a bad dateTime", "GET", "/Users?filter=" + url.QueryEscape(`meta.created gt "yesterday"`), nil, 400, "invalidFilter"},
		{"filter with a bad number", "GET", "/Users?filter=" + url.QueryEscape(`userName eq 1e999999`), nil, 400, "invalidFilter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.status == http.StatusPreconditionFailed {
				hdr = []string{"If-Match", `"not-a-version`}
			}
			w.refused(t, c.status, c.scimType, c.method, c.path, c.body, hdr...)
		})
	}
}
