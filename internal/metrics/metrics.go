package metrics

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "scimbridge"

// Reasons a request is refused at the edge, for Refused.
const (
	ReasonBadToken    = "bad_token"    // missing, unknown, expired or wrong-kind bearer token
	ReasonIPRefused   = "ip_refused"   // client address not in the allowlist
	ReasonRateLimited = "rate_limited" // counted by RateLimited; do not pass it to Refused
	ReasonOverloaded  = "overloaded"   // the concurrency bound was full
)

// LoginSuccess is the result label of a successful SSO login.
const LoginSuccess = "success"

// Kinds of store transaction, for ObserveStoreTx.
const (
	TxRead  = "read"
	TxWrite = "write"
)

// MaxScrapesInFlight bounds concurrent scrapes of Handler: every scrape
// calls the outbox and token sources, which read the store.
const MaxScrapesInFlight = 4

var (
	// requestBuckets span 0.5 ms (a cached discovery document) to 10 s (a
	// large list or a slow IdP round trip).
	requestBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	// storeTxBuckets span 0.1 ms (a read transaction) to 5 s (a write
	// waiting behind others for the single bbolt writer, fsync included).
	storeTxBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
)

// Metrics is scimbridge's set of metrics and the registry that holds
// them. Its methods are safe for concurrent use; a nil *Metrics records
// nothing.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	requests    *prometheus.CounterVec   // surface, route, method, status
	duration    *prometheus.HistogramVec // surface, route, method
	rateLimited *prometheus.CounterVec   // surface, directory
	refused     *prometheus.CounterVec   // surface, reason
	ssoLogins   *prometheus.CounterVec   // method, result
	storeTx     *prometheus.HistogramVec // kind
	sources     *sources
}

// New returns the metrics, registered on a new registry of their own.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests served, by surface, route pattern, method and the status written.",
		}, []string{"surface", "route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time from the start of an HTTP request to the end of its handler, by surface, route pattern and method.",
			Buckets: requestBuckets,
		}, []string{"surface", "route", "method"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "rate_limited_total",
			Help: "Requests refused by a rate limit, by surface and directory (org/directory).",
		}, []string{"surface", "directory"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "requests_refused_total",
			Help: "Requests refused at the edge, by surface and reason (bad_token, ip_refused, rate_limited, overloaded).",
		}, []string{"surface", "reason"}),
		ssoLogins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "sso_logins_total",
			Help: "SSO logins, by method (saml, oidc) and result (success or the reason of the failure).",
		}, []string{"method", "result"}),
		storeTx: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "store_transaction_seconds",
			Help:    "Duration of store transactions, by kind (read, write).",
			Buckets: storeTxBuckets,
		}, []string{"kind"}),
		sources: newSources(time.Now),
	}
	m.reg.MustRegister(
		m.requests, m.duration, m.rateLimited, m.refused, m.ssoLogins, m.storeTx, m.sources,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A metric that fails to collect is left out; the others are
		// still served. Nothing is logged.
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: MaxScrapesInFlight,
	})
	return m
}

// Handler returns the handler that serves the metrics in the Prometheus
// text (or protobuf) exposition format. It does not authenticate: mount
// it where only the scraper can reach it, or behind the caller's auth.
// A nil *Metrics serves 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return m.handler
}

// RateLimited counts a request refused by the rate limit of directory
// (its "org/directory" key; "" on surfaces without directories). It also
// counts the request in scimbridge_requests_refused_total with reason
// rate_limited, so do not call Refused for it as well.
func (m *Metrics) RateLimited(surface, directory string) {
	if m == nil {
		return
	}
	surface = label(surface)
	m.rateLimited.WithLabelValues(surface, label(directory)).Inc()
	m.refused.WithLabelValues(surface, ReasonRateLimited).Inc()
}

// Refused counts a request refused at the edge for reason, one of the
// Reason constants other than ReasonRateLimited (see RateLimited).
func (m *Metrics) Refused(surface, reason string) {
	if m == nil {
		return
	}
	m.refused.WithLabelValues(label(surface), label(reason)).Inc()
}

// SSOLogin counts an SSO login by method ("saml", "oidc") and result:
// LoginSuccess, or a short fixed reason of the failure ("bad_signature",
// "expired", "state_mismatch"...), never an error message.
func (m *Metrics) SSOLogin(method, result string) {
	if m == nil {
		return
	}
	m.ssoLogins.WithLabelValues(label(method), label(result)).Inc()
}

// ObserveStoreTx records the duration of one store transaction of kind
// TxRead or TxWrite. Its signature lets it be handed to the store as a
// plain func value, so that the store does not import this package.
func (m *Metrics) ObserveStoreTx(kind string, d time.Duration) {
	if m == nil {
		return
	}
	m.storeTx.WithLabelValues(label(kind)).Observe(d.Seconds())
}

// label returns s made valid UTF-8: the client library panics on a label
// value that is not, and metrics must never take a request down.
func label(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
