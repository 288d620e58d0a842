package conformance

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/reqlog"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

// knownServerBugs lists the checks that fail against scimbridge because
// the server is wrong, not the check: check name → why. The tests
// tolerate exactly these failures, and fail when one of them passes, so
// that the entry is removed with the fix.
var knownServerBugs = map[string]string{}

// testServer is our SCIM server in-process over a real bbolt file, with
// one directory per test run (the directory's profile decides, among
// other things, whether "False" strings are booleans).
type testServer struct {
	st      store.Store
	handler http.Handler
	mu      sync.Mutex
	tokens  map[string]string // directory name → SCIM token
}

const testOrg = "acme"

func newTestServer(t testing.TB, cfg scim.Config) *testServer {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "scimbridge.db"), bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateOrg(context.Background(), testOrg); err != nil {
		t.Fatalf("CreateOrg: %v", err)
	}
	// Warnings and errors only: a run is some thousand requests.
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	return &testServer{
		st:      st,
		handler: reqlog.Wrap(log, scim.New(st, cfg), scim.WritePanic),
		tokens:  map[string]string{},
	}
}

// directory creates a directory with the given profile and a SCIM token
// for it, and returns its base path and token.
func (ts *testServer) directory(t testing.TB, name, profile string) (string, string) {
	t.Helper()
	ctx := context.Background()
	if _, err := ts.st.CreateDirectory(ctx, store.Directory{Org: testOrg, Name: name, Profile: profile}); err != nil {
		t.Fatalf("CreateDirectory(%s): %v", name, err)
	}
	secret, hash, prefix, err := store.NewTokenSecret()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := store.NewID()
	if err := ts.st.CreateToken(ctx, store.Token{
		ID: id, Kind: store.TokenSCIM, Org: testOrg, Directory: name, Name: "conformance",
		Prefix: prefix, Hash: hash, Created: time.Now().UTC(),
	}); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	ts.mu.Lock()
	ts.tokens[name] = secret
	ts.mu.Unlock()
	return scim.PathPrefix + testOrg + "/" + name, secret
}

func (ts *testServer) token(dir string) string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.tokens[dir]
}

// snapshot is every user and group of a directory, read from the store:
// id → version (and, for groups, the member count).
type snapshot struct {
	Users  map[string]uint64
	Groups map[string]string
}

func (ts *testServer) snapshot(t testing.TB, dir string) snapshot {
	t.Helper()
	ctx := context.Background()
	key := store.DirKey{Org: testOrg, Directory: dir}
	up, err := ts.st.ListUsers(ctx, key, store.Query{Count: 1 << 30})
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	gp, err := ts.st.ListGroups(ctx, key, store.Query{Count: 1 << 30})
	if err != nil {
		t.Fatalf("ListGroups: %v", err)
	}
	s := snapshot{Users: map[string]uint64{}, Groups: map[string]string{}}
	for _, u := range up.Users {
		s.Users[u.ID] = u.Version
	}
	for _, g := range gp.Groups {
		s.Groups[g.ID] = fmt.Sprintf("v%d/%d members", g.Version, g.MemberCount)
	}
	if len(s.Users) != up.Total || len(s.Groups) != gp.Total {
		t.Fatalf("snapshot read %d of %d users, %d of %d groups", len(s.Users), up.Total, len(s.Groups), gp.Total)
	}
	return s
}

var (
	resultLine  = regexp.MustCompile(`^(PASS  [a-z0-9/-]+|(FAIL|SKIP)  [a-z0-9/-]+: \S.*)$`)
	summaryLine = regexp.MustCompile(`^(\d+) passed, (\d+) failed(, (\d+) skipped)?$`)
)

// checkOutput checks the printed report against the summary: one line per
// result in order, then the summary line.
func checkOutput(t *testing.T, out string, sum Summary) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(sum.Results)+1 {
		t.Fatalf("%d output lines for %d results:\n%s", len(lines), len(sum.Results), out)
	}
	for i, r := range sum.Results {
		if !resultLine.MatchString(lines[i]) || !strings.HasPrefix(lines[i], r.Status.String()+"  "+r.Name) {
			t.Errorf("line %d = %q; want the result %+v", i+1, lines[i], r)
		}
	}
	last := lines[len(lines)-1]
	if !summaryLine.MatchString(last) || last != sum.Line() {
		t.Errorf("summary line = %q; want %q", last, sum.Line())
	}
	if sum.Passed+sum.Failed+sum.Skipped != len(sum.Results) {
		t.Errorf("counts %d+%d+%d != %d results", sum.Passed, sum.Failed, sum.Skipped, len(sum.Results))
	}
	if r := sum.Results[len(sum.Results)-1]; r.Name != "cleanup" {
		t.Errorf("last result = %q; want cleanup", r.Name)
	}
}

// wantConformant fails the test for every failed check that is not a
// known server bug, listing them all, and for every known bug that now
// passes.
func wantConformant(t *testing.T, sum Summary, out string) {
	t.Helper()
	var failed []string
	for _, r := range sum.Results {
		bug, known := knownServerBugs[r.Name]
		switch {
		case r.Status == Fail && known:
			t.Logf("known server bug %s (%s): %s", r.Name, bug, r.Reason)
		case r.Status == Fail:
			failed = append(failed, "  "+r.Name+": "+r.Reason)
		case r.Status == Pass && known:
			t.Errorf("%s passes now: remove it from knownServerBugs", r.Name)
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d checks failed against our server:\n%s", len(failed), strings.Join(failed, "\n"))
	}
	if t.Failed() {
		t.Logf("full report:\n%s", out)
	}
}

// runSuite runs the suite on one directory, through the handler or over
// loopback, and checks the report's format and that the directory holds
// exactly what it held before.
func runSuite(t *testing.T, ts *testServer, loop *httptest.Server, dir, profile string, tweak func(*Config)) (Summary, string) {
	t.Helper()
	path := scim.PathPrefix + testOrg + "/" + dir
	var out bytes.Buffer
	cfg := Config{Token: ts.token(dir), Profile: profile, Out: &out}
	if loop != nil {
		cfg.URL = loop.URL + path
	} else {
		cfg.URL, cfg.Handler = "http://scimbridge.test"+path, ts.handler
	}
	if tweak != nil {
		tweak(&cfg)
	}
	before := ts.snapshot(t, dir)
	start := time.Now()
	sum, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	t.Logf("%s: %s in %s", dir, sum.Line(), time.Since(start).Round(time.Millisecond))
	checkOutput(t, out.String(), sum)
	if strings.Contains(out.String(), cfg.Token) {
		t.Errorf("the report contains the token")
	}
	if diff := cmp.Diff(before, ts.snapshot(t, dir)); diff != "" {
		t.Errorf("the directory differs after the run (-before +after):\n%s", diff)
	}
	return sum, out.String()
}

func TestOurServer(t *testing.T) {
	ts := newTestServer(t, scim.Config{})
	loop := httptest.NewServer(ts.handler)
	t.Cleanup(loop.Close)
	type run struct{ mode, profile string }
	var runs []run
	for _, mode := range []string{"handler", "loopback"} {
		for _, profile := range []string{ProfileGeneric, ProfileOkta, ProfileEntra} {
			runs = append(runs, run{mode, profile})
		}
	}
	runs = append(runs, run{"handler", ProfileGoogle})
	for _, r := range runs {
		dir := r.mode + "-" + r.profile
		ts.directory(t, dir, r.profile)
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			var l *httptest.Server
			if r.mode == "loopback" {
				l = loop
			}
			sum, out := runSuite(t, ts, l, dir, r.profile, nil)
			wantConformant(t, sum, out)
			for _, res := range sum.Results {
				wantSkip := strings.Contains(res.Name, "/") && isProfileCheck(res.Name) && !strings.HasPrefix(res.Name, r.profile+"/")
				if wantSkip && res.Status != Skip {
					t.Errorf("%s ran with profile %s: %v %s", res.Name, r.profile, res.Status, res.Reason)
				}
				if !wantSkip && res.Status == Skip && !strings.HasPrefix(res.Name, "bulk/") {
					t.Errorf("%s skipped against our server: %s", res.Name, res.Reason)
				}
			}
		})
	}
}

func isProfileCheck(name string) bool {
	for _, p := range []string{ProfileOkta, ProfileEntra, ProfileGoogle} {
		if strings.HasPrefix(name, p+"/") {
			return true
		}
	}
	return false
}

// TestExistingData runs the suite on a directory that already holds users
// and groups that look like the suite's own (leftovers of another run,
// the same titles and email shapes, a group with members), with a page
// size smaller than the directory, and checks that it passes and leaves
// every one of them untouched, version included.
func TestExistingData(t *testing.T) {
	ts := newTestServer(t, scim.Config{MaxPageSize: 20})
	path, token := ts.directory(t, "busy", ProfileGeneric)
	h := ts.handler
	post := func(endpoint string, body map[string]any) string {
		t.Helper()
		s := &suite{base: "http://scimbridge.test" + path, token: token, client: &http.Client{Transport: handlerTransport{h}}}
		r, err := s.do(context.Background(), "POST", endpoint, body)
		if err != nil || r.status != http.StatusCreated {
			t.Fatalf("POST %s: %v %v", endpoint, err, r)
		}
		return str(r.obj, "id")
	}
	var ids []string
	other := DefaultPrefix + "deadbeef-"
	for i, key := range []string{"alice", "bob", "carol", "dave", "erin", "create1", "patch2", "group3"} {
		ids = append(ids, post("/Users", map[string]any{
			"schemas":     []any{userURN},
			"userName":    other + "pop-" + key + "@example.com",
			"displayName": "Conformance " + key,
			"title":       "Engineer",
			"nickName":    "dave",
			"externalId":  fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			"emails": []any{
				map[string]any{"value": other + "pop-" + key + "@example.com", "type": "work", "primary": true},
				map[string]any{"value": other + "pop-" + key + "@home.example.org", "type": "home"},
			},
		}))
	}
	for i := range 40 {
		ids = append(ids, post("/Users", map[string]any{
			"schemas":  []any{userURN},
			"userName": fmt.Sprintf("person%02d@example.com", i),
			"active":   i%3 != 0,
		}))
	}
	members := []any{}
	for _, id := range ids[:5] {
		members = append(members, map[string]any{"value": id})
	}
	post("/Groups", map[string]any{"schemas": []any{groupURN}, "displayName": other + "group1", "members": members})
	post("/Groups", map[string]any{"schemas": []any{groupURN}, "displayName": "Conformance group", "externalId": "00000000-0000-4000-8000-000000000001"})

	sum, out := runSuite(t, ts, nil, "busy", ProfileGeneric, nil)
	wantConformant(t, sum, out)
	// A second run with a prefix of its own choosing, over the same data.
	sum, out = runSuite(t, ts, nil, "busy", ProfileGeneric, func(c *Config) { c.Prefix = "ci-run-7" })
	wantConformant(t, sum, out)
}

// breaking wraps our handler with a fault, for the tests that prove the
// suite can fail.
type breaking func(w http.ResponseWriter, r *http.Request, next http.Handler)

func (b breaking) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { b(w, r, next) })
}

// TestBrokenServer runs the suite against our server with one fault
// injected and checks that the checks responsible for it fail, that the
// report says so, and that cleanup still leaves the directory as it was.
func TestBrokenServer(t *testing.T) {
	ts := newTestServer(t, scim.Config{})
	cases := []struct {
		name  string
		fault breaking
		fail  []string // these checks must fail
	}{
		{
			name: "drops If-Match",
			fault: func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				r.Header.Del("If-Match")
				next.ServeHTTP(w, r)
			},
			fail: []string{"etag/if-match-stale"},
		},
		{
			name: "answers 500 on filters",
			fault: func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if r.Method == http.MethodGet && r.URL.Query().Get("filter") != "" {
					w.Header().Set("Content-Type", scimMediaType)
					w.WriteHeader(http.StatusInternalServerError)
					io.WriteString(w, `{"schemas":["`+errorURN+`"],"status":"500","detail":"broken"}`)
					return
				}
				next.ServeHTTP(w, r)
			},
			fail: []string{"filter/username-eq-case-insensitive", "filter/random-guid-probe", "page/startindex-count", "projection/attributes", "groups/filter-displayname"},
		},
		{
			name: "acknowledges PATCH without applying it",
			fault: func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if r.Method == http.MethodPatch {
					w.WriteHeader(http.StatusNoContent)
					return
				}
				next.ServeHTTP(w, r)
			},
			fail: []string{"patch/replace-with-path", "patch/remove-value-filter", "patch/no-target", "groups/patch-add-member", "etag/if-match-stale"},
		},
		{
			name: "error status as a number, unfiltered lists for unknown attributes",
			fault: func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				if strings.Contains(r.URL.RawQuery, "conformanceBogus") {
					r.URL.RawQuery = ""
				}
				rec := httptest.NewRecorder()
				next.ServeHTTP(rec, r)
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				w.Write(regexp.MustCompile(`"status":"(\d+)"`).ReplaceAll(rec.Body.Bytes(), []byte(`"status":$1`)))
			},
			fail: []string{"errors/status-is-a-string", "filter/unknown-attribute", "users/unknown-id", "users/uniqueness"},
		},
		{
			name: "accepts any token",
			fail: []string{"auth/no-token", "auth/bad-token", "auth/other-scheme"},
		},
	}
	for i, c := range cases {
		dir := fmt.Sprintf("broken%d", i)
		_, token := ts.directory(t, dir, ProfileGeneric)
		if c.fault == nil {
			// Accepts any token: every request is sent on with the right one.
			c.fault = func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				r.Header.Set("Authorization", "Bearer "+token)
				next.ServeHTTP(w, r)
			}
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sum, out := runSuite(t, ts, nil, dir, ProfileGeneric, func(cfg *Config) {
				cfg.Handler = c.fault.wrap(ts.handler)
			})
			status := map[string]Status{}
			for _, r := range sum.Results {
				status[r.Name] = r.Status
			}
			for _, name := range c.fail {
				if status[name] != Fail {
					t.Errorf("%s = %v; want FAIL", name, status[name])
				}
				if !strings.Contains(out, "FAIL  "+name+": ") {
					t.Errorf("the report has no FAIL line for %s", name)
				}
			}
			if status["cleanup"] != Pass {
				t.Errorf("cleanup = %v; want PASS:\n%s", status["cleanup"], out)
			}
			if sum.Failed < len(c.fail) {
				t.Errorf("Failed = %d; want at least %d", sum.Failed, len(c.fail))
			}
		})
	}
}

func TestRunRefuses(t *testing.T) {
	ts := newTestServer(t, scim.Config{})
	path, token := ts.directory(t, "refuse", ProfileGeneric)
	closed := httptest.NewServer(ts.handler)
	closed.Close()
	loop := httptest.NewServer(ts.handler)
	t.Cleanup(loop.Close)
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no URL", Config{Token: token}, "invalid URL"},
		{"relative URL", Config{URL: "scim/v2/acme/refuse", Token: token}, "invalid URL"},
		{"other scheme", Config{URL: "ftp://example.com/scim", Token: token}, "invalid URL"},
		{"query in URL", Config{URL: loop.URL + path + "?x=1", Token: token}, "query"},
		{"no token", Config{URL: loop.URL + path}, "token is required"},
		{"unknown profile", Config{URL: loop.URL + path, Token: token, Profile: "ping"}, "unknown profile"},
		{"unreachable", Config{URL: closed.URL + path, Token: token}, "cannot reach"},
		{"wrong token", Config{URL: loop.URL + path, Token: "scb_wrong" + token[len(token)/2:]}, "refused the token"},
		{"other directory", Config{URL: loop.URL + scim.PathPrefix + testOrg + "/nope", Token: token}, "refused the token"},
		{"not a SCIM URL", Config{URL: loop.URL + "/nothing/here", Token: token}, "not a SCIM base URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			c.cfg.Out = &out
			sum, err := Run(context.Background(), c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Run = %v; want an error containing %q", err, c.want)
			}
			if len(sum.Results) != 0 || out.Len() != 0 {
				t.Errorf("Run printed %q and returned %d results; want nothing", out.String(), len(sum.Results))
			}
			if c.cfg.Token != "" && strings.Contains(err.Error(), c.cfg.Token) {
				t.Errorf("the error contains the token: %v", err)
			}
		})
	}
}

// TestCancelledRunCleansUp cancels a run after its first checks and
// checks that it stops, reports the cleanup, and leaves nothing behind.
func TestCancelledRunCleansUp(t *testing.T) {
	ts := newTestServer(t, scim.Config{})
	path, token := ts.directory(t, "cancel", ProfileGeneric)
	before := ts.snapshot(t, "cancel")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n++; n == 60 {
			cancel()
		}
		ts.handler.ServeHTTP(w, r)
	})
	var out bytes.Buffer
	sum, err := Run(ctx, Config{URL: "http://scimbridge.test" + path, Token: token, Handler: h, Out: &out})
	if err != context.Canceled {
		t.Errorf("Run = %v; want context.Canceled", err)
	}
	checkOutput(t, out.String(), sum)
	if last := sum.Results[len(sum.Results)-1]; last.Status != Pass {
		t.Errorf("cleanup = %+v; want PASS", last)
	}
	if sum.Failed != 0 {
		t.Errorf("a cancelled run reported failures:\n%s", out.String())
	}
	if r := sum.Results[len(sum.Results)-2]; r.Status != Skip || r.Reason != "the run was cancelled" {
		t.Errorf("the check running at cancellation = %+v; want SKIP, the run was cancelled", r)
	}
	if len(sum.Results) >= len(allChecks()) {
		t.Errorf("%d results; want the run stopped early", len(sum.Results))
	}
	if diff := cmp.Diff(before, ts.snapshot(t, "cancel")); diff != "" {
		t.Errorf("the directory differs after a cancelled run (-before +after):\n%s", diff)
	}
}

func TestCheckNames(t *testing.T) {
	seen := map[string]bool{}
	name := regexp.MustCompile(`^[a-z]+/[a-z0-9-]+$`)
	for _, c := range allChecks() {
		if !name.MatchString(c.name) || seen[c.name] || c.name == "cleanup" {
			t.Errorf("check name %q is malformed or repeated", c.name)
		}
		seen[c.name] = true
		if c.profile != "" && !strings.HasPrefix(c.name, c.profile+"/") {
			t.Errorf("check %q of profile %q is not named after it", c.name, c.profile)
		}
	}
	for name := range knownServerBugs {
		if !seen[name] {
			t.Errorf("knownServerBugs names %q, which is not a check", name)
		}
	}
}

// TestCleanupReportsLeftovers runs the suite against a server that
// answers DELETE with 204 and deletes nothing: the delete checks and
// cleanup must fail, and cleanup must say what is left.
func TestCleanupReportsLeftovers(t *testing.T) {
	ts := newTestServer(t, scim.Config{})
	path, token := ts.directory(t, "leftovers", ProfileGeneric)
	fake := breaking(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
	var out bytes.Buffer
	// With a handler, a URL of only the path will do.
	sum, err := Run(context.Background(), Config{URL: path, Token: token, Handler: fake.wrap(ts.handler), Out: &out})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	status := map[string]Result{}
	for _, r := range sum.Results {
		status[r.Name] = r
	}
	for _, name := range []string{"users/delete", "groups/delete", "cleanup"} {
		if status[name].Status != Fail {
			t.Errorf("%s = %+v; want FAIL", name, status[name])
		}
	}
	if r := status["cleanup"]; !strings.Contains(r.Reason, "still exists after DELETE") {
		t.Errorf("cleanup reason = %q; want it to name what is left", r.Reason)
	}
	if left := ts.snapshot(t, "leftovers"); len(left.Users) == 0 || len(left.Groups) == 0 {
		t.Errorf("the fake DELETE deleted something: %d users, %d groups left", len(left.Users), len(left.Groups))
	}
}

// TestCheckPanicIsAFailure: a check that panics on a response shape it
// did not expect fails; the run goes on.
func TestCheckPanicIsAFailure(t *testing.T) {
	s := &suite{profile: ProfileGeneric}
	r := s.runCheck(context.Background(), check{name: "x/panics", run: func(context.Context, *suite) error {
		var m map[string]any
		m["boom"] = 1
		return nil
	}})
	if r.Status != Fail || !strings.Contains(r.Reason, "panicked") {
		t.Errorf("run = %+v; want a failure that says the check panicked", r)
	}
	r = s.runCheck(context.Background(), check{name: "okta/x", profile: ProfileOkta, run: nil})
	if r.Status != Skip || r.Reason != "okta profile only (this run: generic)" {
		t.Errorf("run = %+v; want SKIP for another profile", r)
	}
}
