package loadtest_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/internal/reqlog"
	"github.com/scimbridge/scimbridge/loadtest"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

// server is our SCIM server on loopback over a real bbolt file, with one
// directory.
type server struct {
	st    store.Store
	dir   store.DirKey
	url   string
	token string
}

func newServer(t *testing.T) *server {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "scimbridge.db"), bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	d := store.Directory{Org: "acme", Name: "entra", Profile: "entra"}
	if _, err := st.CreateOrg(ctx, d.Org); err != nil {
		t.Fatalf("CreateOrg: %v", err)
	}
	if _, err := st.CreateDirectory(ctx, d); err != nil {
		t.Fatalf("CreateDirectory: %v", err)
	}
	secret, hash, prefix, err := store.NewTokenSecret()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := store.NewID()
	if err := st.CreateToken(ctx, store.Token{
		ID: id, Kind: store.TokenSCIM, Org: d.Org, Directory: d.Name, Name: "bench", Prefix: prefix, Hash: hash,
		Created: time.Now().UTC(),
	}); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	// Warnings and errors only: an access line per request would swamp
	// the test log.
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	srv := httptest.NewServer(reqlog.Wrap(log, scim.New(st, scim.Config{}), scim.WritePanic))
	t.Cleanup(srv.Close)
	return &server{st: st, dir: d.Key(), url: srv.URL + "/scim/v2/acme/entra", token: secret}
}

// counts reads what the store holds: users, groups, memberships, and
// active users.
func (s *server) counts(t *testing.T) (users, groups, memberships, active int) {
	t.Helper()
	ctx := context.Background()
	up, err := s.st.ListUsers(ctx, s.dir, store.Query{Count: 1 << 30})
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	for _, u := range up.Users {
		if u.Active {
			active++
		}
	}
	gp, err := s.st.ListGroups(ctx, s.dir, store.Query{Count: 1 << 30})
	if err != nil {
		t.Fatalf("ListGroups: %v", err)
	}
	for _, g := range gp.Groups {
		memberships += g.MemberCount
	}
	return up.Total, gp.Total, memberships, active
}

func run(t *testing.T, s *server, cfg loadtest.Config) (loadtest.Report, string) {
	t.Helper()
	var out bytes.Buffer
	cfg.URL, cfg.Token, cfg.Out = s.url, s.token, &out
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 4
	}
	if cfg.Duration == 0 {
		cfg.Duration = time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	rep, err := loadtest.Run(ctx, cfg)
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if strings.Contains(out.String(), s.token) {
		t.Errorf("the output contains the token")
	}
	return rep, out.String()
}

func wantNoErrors(t *testing.T, rep loadtest.Report) {
	t.Helper()
	for _, p := range rep.Phases {
		if p.Errors != 0 {
			t.Errorf("phase %s: %d errors, first: %s", p.Name, p.Errors, p.FirstError)
		}
		if p.Requests > 0 && (p.P50 <= 0 || p.P50 > p.P95 || p.P95 > p.P99 || p.P99 > p.Max) {
			t.Errorf("phase %s: percentiles p50 %v p95 %v p99 %v max %v not ordered", p.Name, p.P50, p.P95, p.P99, p.Max)
		}
		n := 0
		for _, m := range p.ByMethod {
			n += m.Requests
			if m.P50 <= 0 || m.P50 > m.P95 || m.P95 > m.P99 || m.P99 > m.Max || m.Max > p.Max {
				t.Errorf("phase %s, %s: percentiles p50 %v p95 %v p99 %v max %v not ordered or above the phase's max %v", p.Name, m.Method, m.P50, m.P95, m.P99, m.Max, p.Max)
			}
		}
		if p.ByMethod != nil && n != p.Requests {
			t.Errorf("phase %s: the methods count %d requests, the phase %d", p.Name, n, p.Requests)
		}
	}
}

func phase(t *testing.T, rep loadtest.Report, name string) loadtest.Phase {
	t.Helper()
	p, ok := rep.Phase(name)
	if !ok {
		t.Fatalf("no phase %q in %+v", name, rep.Phases)
	}
	return p
}

func TestSync(t *testing.T) {
	s := newServer(t)
	rep, out := run(t, s, loadtest.Config{Workload: "sync", Users: 200, Groups: 5, MembersPerPatch: 50})
	wantNoErrors(t, rep)
	if p := phase(t, rep, "users"); p.Ops != 200 || p.Requests != 400 {
		t.Errorf("users phase: %d ops, %d requests; want 200 users, 400 requests (probe + POST)", p.Ops, p.Requests)
	}
	if m := phase(t, rep, "users").ByMethod; len(m) != 2 || m[0].Method != "GET" || m[0].Requests != 200 || m[1].Method != "POST" || m[1].Requests != 200 {
		t.Errorf("users phase by method: %+v; want 200 GET, then 200 POST", m)
	}
	if !regexp.MustCompile(`\n  GET +200 req  p50 `).MatchString(out) || !regexp.MustCompile(`\n  POST +200 req  p50 `).MatchString(out) {
		t.Errorf("the output does not show the users phase's GETs and POSTs apart")
	}
	if p := phase(t, rep, "groups"); p.Ops != 5 || p.Requests != 10 {
		t.Errorf("groups phase: %d ops, %d requests; want 5, 10", p.Ops, p.Requests)
	}
	if p := phase(t, rep, "memberships"); p.ByMethod != nil {
		t.Errorf("memberships phase by method: %+v; want none (PATCH alone)", p.ByMethod)
	}
	// 3 memberships per user: 600 over 5 groups, 120 each, in PATCHes of
	// 50, 50 and 20.
	if p := phase(t, rep, "memberships"); p.Ops != 600 || p.Requests != 15 {
		t.Errorf("memberships phase: %d ops, %d requests; want 600, 15", p.Ops, p.Requests)
	}
	users, groups, members, _ := s.counts(t)
	if users != 200 || groups != 5 || members != 600 {
		t.Errorf("store holds %d users, %d groups, %d memberships; want 200, 5, 600", users, groups, members)
	}
	if rep.Users != 200 || rep.Groups != 5 || rep.Memberships != 600 {
		t.Errorf("report says %d users, %d groups, %d memberships; want 200, 5, 600", rep.Users, rep.Groups, rep.Memberships)
	}
	sum := rep.Summary()
	if !strings.HasPrefix(sum, "workload sync: 200 users in ") || !strings.HasSuffix(sum, "errors 0") || strings.Contains(sum, "\n") {
		t.Errorf("Summary() = %q", sum)
	}
	if !strings.HasSuffix(strings.TrimSpace(out), sum) {
		t.Errorf("the output does not end with the summary line")
	}
}

func TestLookup(t *testing.T) {
	s := newServer(t)
	rep, _ := run(t, s, loadtest.Config{Workload: "lookup", Users: 200})
	wantNoErrors(t, rep)
	if p := phase(t, rep, "setup-users"); p.Ops != 200 || p.Requests != 200 {
		t.Errorf("setup phase: %d ops, %d requests; want 200, 200", p.Ops, p.Requests)
	}
	p := phase(t, rep, "lookup")
	if p.Ops < 20 || p.Ops != p.Requests {
		t.Errorf("lookup phase: %d ops, %d requests; want the same, at least 20", p.Ops, p.Requests)
	}
	if p.Duration < time.Second || p.Duration > 5*time.Second {
		t.Errorf("lookup phase lasted %v; want about 1s", p.Duration)
	}
	if users, _, _, _ := s.counts(t); users != 200 {
		t.Errorf("store holds %d users; want 200", users)
	}
}

// TestLookupAtRate checks that Rate paces a timed phase: about Rate
// lookups a second, not as many as the server can take.
func TestLookupAtRate(t *testing.T) {
	s := newServer(t)
	rep, _ := run(t, s, loadtest.Config{Workload: "lookup", Users: 50, Rate: 100, Duration: 2 * time.Second})
	wantNoErrors(t, rep)
	p := phase(t, rep, "lookup")
	if p.Requests < 150 || p.Requests > 201 {
		t.Errorf("lookup at 100/s for 2s sent %d requests; want about 200 (150 to 201)", p.Requests)
	}
}

// TestRateCountsStalls checks that paced latencies are timed from when a
// request was due: a server that stalls for 400 ms makes every lookup due
// meanwhile late, not only the one it held. Timing from the send (closed
// loop) would show one slow request and a quick p95.
func TestRateCountsStalls(t *testing.T) {
	s := newServer(t)
	target, err := url.Parse(s.url)
	if err != nil {
		t.Fatal(err)
	}
	var lookups atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.RawQuery, "filter=") && lookups.Add(1) == 40 {
			time.Sleep(400 * time.Millisecond)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	var out bytes.Buffer
	rep, err := loadtest.Run(context.Background(), loadtest.Config{
		URL: front.URL + target.Path, Token: s.token, Out: &out, Workload: "lookup",
		Users: 20, Concurrency: 1, Rate: 100, Duration: 2 * time.Second,
	})
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	wantNoErrors(t, rep)
	p := phase(t, rep, "lookup")
	if p.Max < 400*time.Millisecond {
		t.Errorf("max latency %v; want the 400 ms stall at least", p.Max)
	}
	// About 40 lookups were due during the stall, a fifth of the ~200.
	if p.P95 < 100*time.Millisecond {
		t.Errorf("p95 %v; want the lookups due during the stall counted late (over 100 ms)", p.P95)
	}
}

func TestPatch(t *testing.T) {
	s := newServer(t)
	rep, _ := run(t, s, loadtest.Config{Workload: "patch", Users: 200})
	wantNoErrors(t, rep)
	p := phase(t, rep, "patch")
	if p.Ops < 20 || p.Ops != p.Requests {
		t.Errorf("patch phase: %d ops, %d requests; want the same, at least 20", p.Ops, p.Requests)
	}
	users, _, _, active := s.counts(t)
	if users != 200 {
		t.Errorf("store holds %d users; want 200", users)
	}
	// A third of the PATCHes deactivate a random user: with hundreds of
	// them, some users are inactive, and the reactivations keep some
	// active.
	if active == 0 || active == users {
		t.Errorf("%d of %d users active; want the PATCHes to have deactivated some, not all", active, users)
	}
}

func TestBigGroup(t *testing.T) {
	s := newServer(t)
	rep, _ := run(t, s, loadtest.Config{Workload: "biggroup", Users: 1200, Concurrency: 8, Duration: 200 * time.Millisecond})
	wantNoErrors(t, rep)
	if p := phase(t, rep, "setup-users"); p.Ops != 1300 {
		t.Errorf("setup phase: %d users; want 1300 (1200 + 100 spare)", p.Ops)
	}
	if p := phase(t, rep, "grow-to-1000"); p.Ops != 1000 || p.Requests != 10 {
		t.Errorf("grow-to-1000: %d ops, %d requests; want 1000, 10", p.Ops, p.Requests)
	}
	if p := phase(t, rep, "grow-to-1200"); p.Ops != 200 || p.Requests != 2 {
		t.Errorf("grow-to-1200: %d ops, %d requests; want 200, 2", p.Ops, p.Requests)
	}
	for _, at := range []string{"@1000", "@1200"} {
		for _, m := range []string{"add-100", "remove-1", "get-excluded", "lookup-displayName"} {
			if p := phase(t, rep, m+at); p.Ops < 1 || p.Ops != p.Requests {
				t.Errorf("%s%s: %d ops, %d requests; want at least 1, equal", m, at, p.Ops, p.Requests)
			}
		}
	}
	users, groups, members, _ := s.counts(t)
	if users != 1300 || groups != 1 || members != 1200 {
		t.Errorf("store holds %d users, %d groups, %d memberships; want 1300, 1, 1200 (the measurements restore the size)", users, groups, members)
	}
	if rep.Memberships != 1200 {
		t.Errorf("report says %d memberships; want 1200", rep.Memberships)
	}
}

func TestMixedWithCleanup(t *testing.T) {
	s := newServer(t)
	rep, _ := run(t, s, loadtest.Config{Workload: "mixed", Users: 200, Groups: 5, Cleanup: true})
	wantNoErrors(t, rep)
	p := phase(t, rep, "mixed")
	if p.Ops < 20 {
		t.Errorf("mixed phase: %d ops; want at least 20", p.Ops)
	}
	if rep.Users <= 200 || rep.Memberships == 0 {
		t.Errorf("report says %d users, %d memberships; want new users and memberships from the blend", rep.Users, rep.Memberships)
	}
	if c := phase(t, rep, "cleanup"); c.Ops != rep.Users+rep.Groups {
		t.Errorf("cleanup deleted %d; want %d users + %d groups", c.Ops, rep.Users, rep.Groups)
	}
	users, groups, members, _ := s.counts(t)
	if users != 0 || groups != 0 || members != 0 {
		t.Errorf("after cleanup the store holds %d users, %d groups, %d memberships; want none", users, groups, members)
	}
}

func TestMixedLeavesWhatItReports(t *testing.T) {
	s := newServer(t)
	rep, _ := run(t, s, loadtest.Config{Workload: "mixed", Users: 100, Groups: 3, Duration: 500 * time.Millisecond})
	wantNoErrors(t, rep)
	users, groups, members, _ := s.counts(t)
	if users != rep.Users || groups != 3 {
		t.Errorf("store holds %d users, %d groups; report says %d, 3", users, groups, rep.Users)
	}
	// Adds of a present member count in the report but change nothing.
	if members == 0 || members > rep.Memberships {
		t.Errorf("store holds %d memberships; want between 1 and the %d adds", members, rep.Memberships)
	}
}

func TestServerErrorsAreCounted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/scim+json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"500","detail":"boom"}`))
	}))
	defer srv.Close()
	var out bytes.Buffer
	rep, err := loadtest.Run(context.Background(), loadtest.Config{
		URL: srv.URL + "/scim/v2", Token: "secret-token", Workload: "sync", Users: 20, Groups: 2, Concurrency: 4, Out: &out,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	p := phase(t, rep, "users")
	if p.Errors != 20 || p.Ops != 0 || p.Requests != 20 {
		t.Errorf("users phase: %d errors, %d ops, %d requests; want 20, 0, 20 (every probe fails)", p.Errors, p.Ops, p.Requests)
	}
	if !strings.Contains(p.FirstError, "status 500") || !strings.Contains(p.FirstError, "boom") {
		t.Errorf("FirstError = %q; want the status and the body", p.FirstError)
	}
	if rep.Errors() != 22 {
		t.Errorf("Errors() = %d; want 22 (20 user probes, 2 group probes)", rep.Errors())
	}
	if !strings.HasSuffix(rep.Summary(), "errors 22") || !strings.Contains(out.String(), "first error: GET /Users?filter=") {
		t.Errorf("output does not show the errors:\n%s", out.String())
	}
	if strings.Contains(out.String(), "secret-token") {
		t.Errorf("the output contains the token")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []loadtest.Config{
		{URL: "", Workload: "sync"},
		{URL: "ftp://127.0.0.1/x", Workload: "sync"},
		{URL: "http://127.0.0.1:1/scim", Workload: "soak"},
		{URL: "http://127.0.0.1:1/scim", Workload: "sync", Users: -1},
	} {
		if _, err := loadtest.Run(context.Background(), cfg); !errors.Is(err, loadtest.ErrConfig) {
			t.Errorf("Run(%+v) = %v; want ErrConfig", cfg, err)
		}
	}
}

// TestExternal runs a workload against a running server on loopback, for
// measurements:
//
//	SCIMBRIDGE_BENCH_URL=http://127.0.0.1:18181/scim/v2/default/default \
//	SCIMBRIDGE_BENCH_TOKEN=scb_… SCIMBRIDGE_BENCH_WORKLOAD=sync \
//	SCIMBRIDGE_BENCH_USERS=20000 SCIMBRIDGE_BENCH_CONCURRENCY=16 \
//	go test ./loadtest/ -run TestExternal -v -timeout 1h
//
// SCIMBRIDGE_BENCH_GROUPS, _DURATION (a Go duration) and _CLEANUP=1 are
// optional.
func TestExternal(t *testing.T) {
	base := os.Getenv("SCIMBRIDGE_BENCH_URL")
	if base == "" {
		t.Skip("set SCIMBRIDGE_BENCH_URL and SCIMBRIDGE_BENCH_TOKEN to run against a server")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(u.Hostname()); (ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
		t.Fatalf("SCIMBRIDGE_BENCH_URL %s: the test only targets loopback", base)
	}
	num := func(name string) int {
		v := os.Getenv("SCIMBRIDGE_BENCH_" + name)
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("SCIMBRIDGE_BENCH_%s: %v", name, err)
		}
		return n
	}
	var d time.Duration
	if v := os.Getenv("SCIMBRIDGE_BENCH_DURATION"); v != "" {
		if d, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	rep, err := loadtest.Run(context.Background(), loadtest.Config{
		URL: base, Token: os.Getenv("SCIMBRIDGE_BENCH_TOKEN"), Workload: os.Getenv("SCIMBRIDGE_BENCH_WORKLOAD"),
		Users: num("USERS"), Groups: num("GROUPS"), Concurrency: num("CONCURRENCY"), Duration: d,
		Cleanup: os.Getenv("SCIMBRIDGE_BENCH_CLEANUP") == "1", Out: &out,
	})
	t.Logf("output:\n%s", out.String())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := rep.Errors(); n != 0 {
		t.Errorf("%d errors", n)
	}
}
