package metrics

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// SourceTimeout bounds the calls to the outbox and token sources during
// one scrape (the context they get expires after it). A source must honour
// its context: one that blocks past it holds the scrape.
const SourceTimeout = 5 * time.Second

// Source names, the label of scimbridge_metrics_source_errors_total.
const (
	sourceOutbox = "outbox"
	sourceTokens = "tokens"
)

// OutboxStat is the state of one subscription of an org's outbox, as the
// outbox source reports it at scrape time.
type OutboxStat struct {
	Org          string
	Subscription string // its id; "" for a stat that only reports the org's LastSeq
	// Depth is the number of events after the subscription's cursor.
	Depth uint64
	// Lag is the age of the oldest event not yet delivered (0 when Depth
	// is 0).
	Lag time.Duration
	// State is the subscription's state ("active", "failing", "paused").
	State string
	// LastSeq is the highest seq the org has given (store.EventPage.Last),
	// the same in every stat of the org. An org without subscriptions can
	// report it with a stat whose Subscription is empty.
	LastSeq uint64
}

// TokenStat describes one bearer token, as the token source reports it at
// scrape time. It carries no secret and no hash.
type TokenStat struct {
	ID, Kind, Org, Directory, Name string
	Expires                        time.Time // zero: never expires
}

// SetOutboxSource sets the function that reports the outbox at each
// scrape, as the gauges
//
//	scimbridge_outbox_depth{org,subscription}
//	scimbridge_delivery_lag_seconds{org,subscription}
//	scimbridge_subscription_state{org,subscription,state} (1 for the current state)
//	scimbridge_outbox_last_seq{org}
//
// When it fails (returns an error or panics) the scrape goes on without
// these gauges and scimbridge_metrics_source_errors_total{source="outbox"}
// grows. A second stat for the same org and subscription is dropped and
// counted the same way. It may be called at any time; nil removes the
// source.
func (m *Metrics) SetOutboxSource(f func(ctx context.Context) ([]OutboxStat, error)) {
	if m == nil {
		return
	}
	m.sources.outbox.Store(&f)
}

// SetTokenSource sets the function that reports the bearer tokens at each
// scrape, as the gauge
//
//	scimbridge_token_expiry_seconds{id,kind,org,directory,name}
//
// in seconds until the token expires (negative once it has). Tokens that
// never expire are left out. Failures are handled as in SetOutboxSource,
// with source="tokens"; a second stat with the same ID is dropped.
func (m *Metrics) SetTokenSource(f func(ctx context.Context) ([]TokenStat, error)) {
	if m == nil {
		return
	}
	m.sources.tokens.Store(&f)
}

// SetInFlightSource sets the function that reports, at each scrape, the
// gauge scimbridge_inflight_requests (edge.Concurrency.InFlight, or the
// sum over several). Until it is set the gauge is not exported.
func (m *Metrics) SetInFlightSource(f func() int) {
	if m == nil {
		return
	}
	m.sources.inFlight.Store(&f)
}

// sources is the collector of the values computed at scrape time.
type sources struct {
	now      func() time.Time
	outbox   atomic.Pointer[func(context.Context) ([]OutboxStat, error)]
	tokens   atomic.Pointer[func(context.Context) ([]TokenStat, error)]
	inFlight atomic.Pointer[func() int]

	depth, lag, state, lastSeq, expiry, inFlightDesc *prometheus.Desc
	errors                                           *prometheus.CounterVec
}

func newSources(now func() time.Time) *sources {
	name := func(n string) string { return prometheus.BuildFQName(namespace, "", n) }
	s := &sources{
		now: now,
		depth: prometheus.NewDesc(name("outbox_depth"),
			"Events in the outbox after the subscription's cursor.",
			[]string{"org", "subscription"}, nil),
		lag: prometheus.NewDesc(name("delivery_lag_seconds"),
			"Age of the oldest event the subscription has not delivered yet.",
			[]string{"org", "subscription"}, nil),
		state: prometheus.NewDesc(name("subscription_state"),
			"1 for the current state of the subscription (active, failing, paused).",
			[]string{"org", "subscription", "state"}, nil),
		lastSeq: prometheus.NewDesc(name("outbox_last_seq"),
			"Highest event seq the org has given.",
			[]string{"org"}, nil),
		expiry: prometheus.NewDesc(name("token_expiry_seconds"),
			"Seconds until the bearer token expires (negative once it has); tokens without expiry are not listed.",
			[]string{"id", "kind", "org", "directory", "name"}, nil),
		inFlightDesc: prometheus.NewDesc(name("inflight_requests"),
			"Requests running now that count against the concurrency limit.",
			nil, nil),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "metrics_source_errors_total",
			Help: "Scrapes at which a metrics source (outbox, tokens) failed or reported stats that had to be dropped.",
		}, []string{"source"}),
	}
	s.errors.WithLabelValues(sourceOutbox)
	s.errors.WithLabelValues(sourceTokens)
	return s
}

func (s *sources) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{s.depth, s.lag, s.state, s.lastSeq, s.expiry, s.inFlightDesc} {
		ch <- d
	}
	s.errors.Describe(ch)
}

// Collect calls the sources, then reports the error counter, so that a
// scrape sees the errors of its own calls.
func (s *sources) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), SourceTimeout)
	defer cancel()
	if f := s.outbox.Load(); f != nil && *f != nil {
		if !s.collectOutbox(ctx, *f, ch) {
			s.errors.WithLabelValues(sourceOutbox).Inc()
		}
	}
	if f := s.tokens.Load(); f != nil && *f != nil {
		if !s.collectTokens(ctx, *f, ch) {
			s.errors.WithLabelValues(sourceTokens).Inc()
		}
	}
	if f := s.inFlight.Load(); f != nil && *f != nil {
		if n, ok := call(func() (int, error) { return (*f)(), nil }); ok {
			emit(ch, s.inFlightDesc, float64(n))
		}
	}
	s.errors.Collect(ch)
}

// collectOutbox reports the outbox; false when the source failed or some
// stats were dropped.
func (s *sources) collectOutbox(ctx context.Context, f func(context.Context) ([]OutboxStat, error), ch chan<- prometheus.Metric) bool {
	stats, ok := call(func() ([]OutboxStat, error) { return f(ctx) })
	if !ok {
		return false
	}
	type subKey struct{ org, sub string }
	seen := make(map[subKey]bool, len(stats))
	last := make(map[string]uint64)
	var orgs []string // in first-seen order
	for _, st := range stats {
		if _, known := last[st.Org]; !known {
			orgs = append(orgs, st.Org)
		}
		last[st.Org] = max(last[st.Org], st.LastSeq)
		if st.Subscription == "" {
			continue
		}
		k := subKey{st.Org, st.Subscription}
		if seen[k] {
			ok = false
			continue
		}
		seen[k] = true
		ok = emit(ch, s.depth, float64(st.Depth), st.Org, st.Subscription) && ok
		ok = emit(ch, s.lag, st.Lag.Seconds(), st.Org, st.Subscription) && ok
		if st.State != "" {
			ok = emit(ch, s.state, 1, st.Org, st.Subscription, st.State) && ok
		}
	}
	for _, org := range orgs {
		ok = emit(ch, s.lastSeq, float64(last[org]), org) && ok
	}
	return ok
}

// collectTokens reports the tokens' expiry; false when the source failed
// or some stats were dropped.
func (s *sources) collectTokens(ctx context.Context, f func(context.Context) ([]TokenStat, error), ch chan<- prometheus.Metric) bool {
	stats, ok := call(func() ([]TokenStat, error) { return f(ctx) })
	if !ok {
		return false
	}
	now := s.now()
	seen := make(map[string]bool, len(stats))
	for _, t := range stats {
		if t.Expires.IsZero() {
			continue
		}
		if seen[t.ID] {
			ok = false
			continue
		}
		seen[t.ID] = true
		ok = emit(ch, s.expiry, t.Expires.Sub(now).Seconds(), t.ID, t.Kind, t.Org, t.Directory, t.Name) && ok
	}
	return ok
}

// call runs f, turning a panic into a failure: a bug in a source must not
// fail the scrape, let alone the process.
func call[T any](f func() (T, error)) (v T, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			var zero T
			v, ok = zero, false
		}
	}()
	v, err := f()
	if err != nil {
		return v, false
	}
	return v, true
}

// emit sends one gauge; false when its label values are invalid (not
// UTF-8), in which case nothing is sent.
func emit(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) bool {
	m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, v, labels...)
	if err != nil {
		return false
	}
	ch <- m
	return true
}
