package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// scrape returns the body of a scrape of m's Handler through a real
// server.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: status %d; want 200\n%s", resp.StatusCode, body)
	}
	return string(body)
}

// grepLines returns the lines of s that contain sub, for failure messages.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestCounters(t *testing.T) {
	m := New()
	m.RateLimited("scim", "acme/main")
	m.RateLimited("scim", "acme/main")
	m.Refused("scim", ReasonBadToken)
	m.Refused("admin", ReasonIPRefused)
	m.Refused("scim", ReasonOverloaded)
	m.SSOLogin("oidc", LoginSuccess)
	m.SSOLogin("saml", "bad_signature")
	m.Refused("scim", "\xffbad") // not UTF-8: must not panic

	want := `
# HELP scimbridge_rate_limited_total Requests refused by a rate limit, by surface and directory (org/directory).
# TYPE scimbridge_rate_limited_total counter
scimbridge_rate_limited_total{directory="acme/main",surface="scim"} 2
# HELP scimbridge_requests_refused_total Requests refused at the edge, by surface and reason (bad_token, ip_refused, rate_limited, overloaded).
# TYPE scimbridge_requests_refused_total counter
scimbridge_requests_refused_total{reason="bad_token",surface="scim"} 1
scimbridge_requests_refused_total{reason="ip_refused",surface="admin"} 1
scimbridge_requests_refused_total{reason="overloaded",surface="scim"} 1
scimbridge_requests_refused_total{reason="rate_limited",surface="scim"} 2
scimbridge_requests_refused_total{reason="REPLACEMENTbad",surface="scim"} 1
# HELP scimbridge_sso_logins_total SSO logins, by method (saml, oidc) and result (success or the reason of the failure).
# TYPE scimbridge_sso_logins_total counter
scimbridge_sso_logins_total{method="oidc",result="success"} 1
scimbridge_sso_logins_total{method="saml",result="bad_signature"} 1
`
	want = strings.ReplaceAll(want, "REPLACEMENT", "\uFFFD")
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want),
		"scimbridge_rate_limited_total", "scimbridge_requests_refused_total", "scimbridge_sso_logins_total"); err != nil {
		t.Error(err)
	}
}

func TestObserveStoreTx(t *testing.T) {
	m := New()
	m.ObserveStoreTx(TxRead, 200*time.Microsecond)
	m.ObserveStoreTx(TxWrite, 3*time.Millisecond)
	m.ObserveStoreTx(TxWrite, 2*time.Second)
	want := `
# HELP scimbridge_store_transaction_seconds Duration of store transactions, by kind (read, write).
# TYPE scimbridge_store_transaction_seconds histogram
scimbridge_store_transaction_seconds_bucket{kind="read",le="0.0001"} 0
scimbridge_store_transaction_seconds_bucket{kind="read",le="0.00025"} 1
scimbridge_store_transaction_seconds_bucket{kind="read",le="0.0005"} 1
scimbridge_store_transaction_seconds_bucket{kind="read",le="0.001"} 1
scimbridge_store_transaction_seconds_bucket{kind="read",le="0.0025"} 1
scimbridge_store_transaction_seconds_bucket{kind="read",le="0.005"} 1
scimbridge_store_transaction_seconds_bucket{kind="read",le="0.01"} 1
scimbridge_store_transaction_seconds_bucket{kind="read",le="0.025"} 1
scimbridge_store_transaction_seconds_bucket{kind="read",le="0.05"} 1
scimbridge_store_transaction_seconds_bucket{kind="read",le="0.1"} 1
scimbridge_store_transaction_seconds_bucket{kind="read",le="0.25"} 1
scimbridge_store_transaction_seconds_bucket{kind="read",le="0.5"} 1
scimbridge_store_transaction_seconds_bucket{kind="read",le="1"} 1
scimbridge_store_transaction_seconds_bucket{kind="read",le="2.5"} 1
scimbridge_store_transaction_seconds_bucket{kind="read",le="5"} 1
scimbridge_store_transaction_seconds_bucket{kind="read",le="+Inf"} 1
scimbridge_store_transaction_seconds_sum{kind="read"} 0.0002
scimbridge_store_transaction_seconds_count{kind="read"} 1
scimbridge_store_transaction_seconds_bucket{kind="write",le="0.0001"} 0
scimbridge_store_transaction_seconds_bucket{kind="write",le="0.00025"} 0
scimbridge_store_transaction_seconds_bucket{kind="write",le="0.0005"} 0
scimbridge_store_transaction_seconds_bucket{kind="write",le="0.001"} 0
scimbridge_store_transaction_seconds_bucket{kind="write",le="0.0025"} 0
scimbridge_store_transaction_seconds_bucket{kind="write",le="0.005"} 1
scimbridge_store_transaction_seconds_bucket{kind="write",le="0.01"} 1
scimbridge_store_transaction_seconds_bucket{kind="write",le="0.025"} 1
scimbridge_store_transaction_seconds_bucket{kind="write",le="0.05"} 1
scimbridge_store_transaction_seconds_bucket{kind="write",le="0.1"} 1
scimbridge_store_transaction_seconds_bucket{kind="write",le="0.25"} 1
scimbridge_store_transaction_seconds_bucket{kind="write",le="0.5"} 1
scimbridge_store_transaction_seconds_bucket{kind="write",le="1"} 1
scimbridge_store_transaction_seconds_bucket{kind="write",le="2.5"} 2
scimbridge_store_transaction_seconds_bucket{kind="write",le="5"} 2
scimbridge_store_transaction_seconds_bucket{kind="write",le="+Inf"} 2
scimbridge_store_transaction_seconds_sum{kind="write"} 2.003
scimbridge_store_transaction_seconds_count{kind="write"} 2
`
	if err := testutil.CollectAndCompare(m.storeTx, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func TestRequestBuckets(t *testing.T) {
	if requestBuckets[0] != 0.0005 || requestBuckets[len(requestBuckets)-1] != 10 {
		t.Errorf("request buckets span %v .. %v; want 0.0005 .. 10", requestBuckets[0], requestBuckets[len(requestBuckets)-1])
	}
}

func TestOwnRegistry(t *testing.T) {
	m := New()
	m.Refused("scim", ReasonBadToken)
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "scimbridge_") {
			t.Errorf("%s is on the default registry", mf.GetName())
		}
	}
	// Two instances do not collide.
	New().Refused("scim", ReasonBadToken)
	body := scrape(t, m)
	for _, want := range []string{"go_goroutines ", "process_", `scimbridge_requests_refused_total{reason="bad_token",surface="scim"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func TestOutboxSource(t *testing.T) {
	m := New()
	m.SetOutboxSource(func(ctx context.Context) ([]OutboxStat, error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("the outbox source got a context without deadline")
		}
		return []OutboxStat{
			{Org: "acme", Subscription: "wh-1", Depth: 12, Lag: 90 * time.Second, State: "failing", LastSeq: 500},
			{Org: "acme", Subscription: "splunk-1", Depth: 0, Lag: 0, State: "active", LastSeq: 500},
			{Org: "globex", Subscription: "wh-9", Depth: 3, Lag: 1500 * time.Millisecond, State: "paused", LastSeq: 41},
			{Org: "initech", LastSeq: 7}, // no subscription
		}, nil
	})
	want := `
# HELP scimbridge_delivery_lag_seconds Age of the oldest event the subscription has not delivered yet.
# TYPE scimbridge_delivery_lag_seconds gauge
scimbridge_delivery_lag_seconds{org="acme",subscription="splunk-1"} 0
scimbridge_delivery_lag_seconds{org="acme",subscription="wh-1"} 90
scimbridge_delivery_lag_seconds{org="globex",subscription="wh-9"} 1.5
# HELP scimbridge_outbox_depth Events in the outbox after the subscription's cursor.
# TYPE scimbridge_outbox_depth gauge
scimbridge_outbox_depth{org="acme",subscription="splunk-1"} 0
scimbridge_outbox_depth{org="acme",subscription="wh-1"} 12
scimbridge_outbox_depth{org="globex",subscription="wh-9"} 3
# HELP scimbridge_outbox_last_seq Highest event seq the org has given.
# TYPE scimbridge_outbox_last_seq gauge
scimbridge_outbox_last_seq{org="acme"} 500
scimbridge_outbox_last_seq{org="globex"} 41
scimbridge_outbox_last_seq{org="initech"} 7
# HELP scimbridge_subscription_state 1 for the current state of the subscription (active, failing, paused).
# TYPE scimbridge_subscription_state gauge
scimbridge_subscription_state{org="acme",state="active",subscription="splunk-1"} 1
scimbridge_subscription_state{org="acme",state="failing",subscription="wh-1"} 1
scimbridge_subscription_state{org="globex",state="paused",subscription="wh-9"} 1
# HELP scimbridge_metrics_source_errors_total Scrapes at which a metrics source (outbox, tokens) failed or reported stats that had to be dropped.
# TYPE scimbridge_metrics_source_errors_total counter
scimbridge_metrics_source_errors_total{source="outbox"} 0
scimbridge_metrics_source_errors_total{source="tokens"} 0
`
	if err := testutil.CollectAndCompare(m.sources, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func TestTokenSource(t *testing.T) {
	m := New()
	m.sources.now = func() time.Time { return fixedNow }
	m.SetTokenSource(func(ctx context.Context) ([]TokenStat, error) {
		return []TokenStat{
			{ID: "t1", Kind: "scim", Org: "acme", Directory: "main", Name: "Entra", Expires: fixedNow.Add(30 * 24 * time.Hour)},
			{ID: "t2", Kind: "admin", Org: "acme", Name: "ops", Expires: fixedNow.Add(-90 * time.Second)},
			{ID: "t3", Kind: "super", Name: "bootstrap"}, // never expires
		}, nil
	})
	want := `
# HELP scimbridge_token_expiry_seconds Seconds until the bearer token expires (negative once it has); tokens without expiry are not listed.
# TYPE scimbridge_token_expiry_seconds gauge
scimbridge_token_expiry_seconds{directory="",id="t2",kind="admin",name="ops",org="acme"} -90
scimbridge_token_expiry_seconds{directory="main",id="t1",kind="scim",name="Entra",org="acme"} 2.592e+06
`
	if err := testutil.CollectAndCompare(m.sources, strings.NewReader(want), "scimbridge_token_expiry_seconds"); err != nil {
		t.Error(err)
	}
}

func TestInFlightSource(t *testing.T) {
	m := New()
	if n := testutil.CollectAndCount(m.sources, "scimbridge_inflight_requests"); n != 0 {
		t.Errorf("inflight gauge exported %d times before a source was set; want 0", n)
	}
	m.SetInFlightSource(func() int { return 7 })
	want := `
# HELP scimbridge_inflight_requests Requests running now that count against the concurrency limit.
# TYPE scimbridge_inflight_requests gauge
scimbridge_inflight_requests 7
`
	if err := testutil.CollectAndCompare(m.sources, strings.NewReader(want), "scimbridge_inflight_requests"); err != nil {
		t.Error(err)
	}
}

// TestSourceErrorsDoNotFailTheScrape scrapes through Handler with sources
// that fail in every way: the scrape is a 200 with everything else in it,
// and the failures are counted.
func TestSourceErrorsDoNotFailTheScrape(t *testing.T) {
	tests := []struct {
		name   string
		outbox func(context.Context) ([]OutboxStat, error)
		tokens func(context.Context) ([]TokenStat, error)
		// wantSeries are lines the scrape must contain.
		wantSeries []string
	}{
		{
			name:   "errors",
			outbox: func(context.Context) ([]OutboxStat, error) { return nil, errors.New("store closed") },
			tokens: func(context.Context) ([]TokenStat, error) {
				return []TokenStat{{ID: "t1", Expires: fixedNow.Add(time.Hour)}}, errors.New("partial")
			},
		},
		{
			name:   "panics",
			outbox: func(context.Context) ([]OutboxStat, error) { panic("bug") },
			tokens: func(context.Context) ([]TokenStat, error) { var s []TokenStat; _ = s[3]; return s, nil },
		},
		{
			name: "duplicates and bad labels",
			outbox: func(context.Context) ([]OutboxStat, error) {
				return []OutboxStat{
					{Org: "acme", Subscription: "wh-1", Depth: 1, LastSeq: 5},
					{Org: "acme", Subscription: "wh-1", Depth: 2, LastSeq: 5},
					{Org: "acme", Subscription: "wh-\xff", Depth: 3, LastSeq: 5},
				}, nil
			},
			tokens: func(context.Context) ([]TokenStat, error) {
				return []TokenStat{
					{ID: "t1", Name: "a", Expires: fixedNow.Add(time.Hour)},
					{ID: "t1", Name: "b", Expires: fixedNow.Add(time.Hour)},
					{ID: "t2", Name: "\xc3", Expires: fixedNow.Add(time.Hour)},
				}, nil
			},
			wantSeries: []string{
				`scimbridge_outbox_depth{org="acme",subscription="wh-1"} 1`,
				`scimbridge_outbox_last_seq{org="acme"} 5`,
				`scimbridge_token_expiry_seconds{directory="",id="t1",kind="",name="a",org=""} 3600`,
			},
		},
		{
			name: "deadline",
			outbox: func(ctx context.Context) ([]OutboxStat, error) {
				dl, ok := ctx.Deadline()
				if !ok || time.Until(dl) > SourceTimeout {
					return nil, errors.New("no deadline")
				}
				return nil, context.DeadlineExceeded
			},
			tokens: func(context.Context) ([]TokenStat, error) { return nil, context.Canceled },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New()
			m.sources.now = func() time.Time { return fixedNow }
			m.Refused("scim", ReasonBadToken)
			m.SetOutboxSource(tt.outbox)
			m.SetTokenSource(tt.tokens)
			m.SetInFlightSource(func() int { return 2 })
			for i := 1; i <= 2; i++ {
				body := scrape(t, m)
				for _, want := range append([]string{
					`scimbridge_requests_refused_total{reason="bad_token",surface="scim"} 1`,
					`scimbridge_inflight_requests 2`,
					`go_goroutines `,
					`scimbridge_metrics_source_errors_total{source="outbox"} ` + strconv.Itoa(i),
					`scimbridge_metrics_source_errors_total{source="tokens"} ` + strconv.Itoa(i),
				}, tt.wantSeries...) {
					if !strings.Contains(body, want) {
						t.Errorf("scrape %d lacks %q:\n%s", i, want, grepLines(body, "scimbridge_"))
					}
				}
				if tt.wantSeries == nil && (strings.Contains(body, "scimbridge_outbox_") || strings.Contains(body, "scimbridge_token_expiry")) {
					t.Errorf("scrape %d has gauges from a failed source:\n%s", i, grepLines(body, "scimbridge_"))
				}
				for _, dropped := range []string{`subscription="wh-1"} 2`, `subscription="wh-` + "\xff", `name="b"`, `id="t2"`} {
					if strings.Contains(body, dropped) {
						t.Errorf("scrape %d has a dropped stat %q:\n%s", i, dropped, grepLines(body, "scimbridge_"))
					}
				}
			}
		})
	}
}

func TestSourceCanBeRemoved(t *testing.T) {
	m := New()
	m.SetOutboxSource(func(context.Context) ([]OutboxStat, error) {
		return []OutboxStat{{Org: "acme", Subscription: "wh-1"}}, nil
	})
	if n := testutil.CollectAndCount(m.sources, "scimbridge_outbox_depth"); n != 1 {
		t.Fatalf("outbox_depth series = %d; want 1", n)
	}
	m.SetOutboxSource(nil)
	if n := testutil.CollectAndCount(m.sources, "scimbridge_outbox_depth"); n != 0 {
		t.Fatalf("outbox_depth series after removing the source = %d; want 0", n)
	}
}

func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.RateLimited("scim", "acme/main")
	m.Refused("scim", ReasonBadToken)
	m.SSOLogin("oidc", LoginSuccess)
	m.ObserveStoreTx(TxWrite, time.Millisecond)
	m.SetOutboxSource(nil)
	m.SetTokenSource(nil)
	m.SetInFlightSource(nil)
	called := false
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called = true })
	m.Middleware("scim", nil, next).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if !called {
		t.Error("nil Middleware did not call next")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Handler status = %d; want 404", rec.Code)
	}
}

// TestScrapeAndCompare scrapes a real server end to end with the
// testutil helper, as Prometheus would.
func TestScrapeAndCompare(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /scim/v2/{org}/{dir}/Users/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	})
	app := httptest.NewServer(m.Middleware("scim", nil, mux))
	defer app.Close()
	get(t, app.URL+"/scim/v2/acme/main/Users/2819c223")
	metricsSrv := httptest.NewServer(m.Handler())
	defer metricsSrv.Close()
	want := `
# HELP scimbridge_http_requests_total HTTP requests served, by surface, route pattern, method and the status written.
# TYPE scimbridge_http_requests_total counter
scimbridge_http_requests_total{method="GET",route="/scim/v2/{org}/{dir}/Users/{id}",status="404",surface="scim"} 1
`
	if err := testutil.ScrapeAndCompare(metricsSrv.URL, strings.NewReader(want), "scimbridge_http_requests_total"); err != nil {
		t.Error(err)
	}
}
