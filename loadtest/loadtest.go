package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Workload names.
const (
	WorkloadSync     = "sync"
	WorkloadLookup   = "lookup"
	WorkloadPatch    = "patch"
	WorkloadBigGroup = "biggroup"
	WorkloadMixed    = "mixed"
)

// Workloads lists the workload names, in the order the CLI shows them.
var Workloads = []string{WorkloadSync, WorkloadLookup, WorkloadPatch, WorkloadBigGroup, WorkloadMixed}

// Defaults of Config's zero values.
const (
	DefaultUsers           = 1000
	DefaultConcurrency     = 16
	DefaultDuration        = 30 * time.Second
	DefaultMembersPerPatch = 100
	DefaultTimeout         = time.Hour
	// DefaultPrefixStart starts the default Prefix, which ends with a
	// random suffix and "-".
	DefaultPrefixStart = "bench-"
	// MembershipsPerUser is how many group memberships the sync workload
	// creates per user, spread evenly over the groups (the target: 300,000
	// memberships for 100,000 users).
	MembershipsPerUser = 3
)

const (
	// requestTimeout is the per-request timeout of the default client.
	requestTimeout = 30 * time.Second
	// maxTimedOps bounds the operations of one timed phase, whatever its
	// Duration.
	maxTimedOps = 20_000_000
	// maxResponseBytes caps what is read of one response.
	maxResponseBytes = 64 << 20
	// snippetBytes is how much of a response body an error quotes.
	snippetBytes = 200
	// bigGroupReps is the most repetitions of one measurement of the
	// biggroup workload (fewer when Duration runs out first).
	bigGroupReps = 100
	// bigGroupFirstCheckpoint is the group size of the first biggroup
	// measurement; the second is Users.
	bigGroupFirstCheckpoint = 1000
	// bigGroupSpare is how many users beyond Users the biggroup workload
	// creates, to add and remove them at each checkpoint.
	bigGroupSpare = 100
	// mixedGroups is the number of groups of the mixed workload when
	// Config.Groups is 0.
	mixedGroups = 10
)

// Config is one run of a workload.
type Config struct {
	// URL is the SCIM base URL, e.g.
	// http://127.0.0.1:8080/scim/v2/default/default.
	URL string
	// Token is the bearer token. It is only sent in the Authorization
	// header; it is removed from any error text before that is reported.
	Token string
	// Workload is one of Workloads.
	Workload string
	// Users is how many users the workload creates (DefaultUsers when 0).
	// For biggroup it is the final group size; the workload creates 100
	// more.
	Users int
	// Groups is how many groups sync creates (Users/100, at least 1, when
	// 0) and mixed creates (10 when 0). Other workloads ignore it.
	Groups int
	// Concurrency is how many requests are in flight at once
	// (DefaultConcurrency when 0).
	Concurrency int
	// Duration is how long the timed phases run: lookup, patch and mixed,
	// and the bound of each biggroup measurement (DefaultDuration when 0).
	Duration time.Duration
	// Rate, when above 0, paces the timed phases (lookup, patch, mixed) at
	// Rate operations per second in total, at evenly spaced intended start
	// times, instead of sending the next as soon as a worker is free. A
	// request's latency is then measured from its intended start, not
	// from when it was sent, so a server that falls behind shows in the
	// percentiles (no coordinated omission). It is how to measure latency
	// at a given load, e.g. Entra's 25 requests per second, rather than at
	// saturation. Concurrency still bounds what is in flight.
	Rate float64
	// NoProbe leaves out the existence probe (GET filter=userName eq)
	// that sync sends before each user create, as Okta and Entra do: the
	// users phase then measures creates alone.
	NoProbe bool
	// MembersPerPatch is how many members one group PATCH adds
	// (DefaultMembersPerPatch when 0). The biggroup measurements always add
	// 100 and remove 1.
	MembersPerPatch int
	// Prefix starts the userName and displayName of everything the run
	// creates; empty means "bench-" plus a random suffix and "-". Names
	// must not already exist on the server.
	Prefix string
	// Cleanup deletes every user and group the run created, at the end,
	// concurrently (a "cleanup" phase).
	Cleanup bool
	// Timeout bounds the whole run; when it passes, Run stops and returns
	// what it measured with an error. 0 means DefaultTimeout, plus Duration
	// when that is set, so a timed phase of an hour still has an hour for
	// the counted phases around it.
	Timeout time.Duration
	// Client sends the requests. nil means the load tool's own HTTP/1.1
	// keep-alive transport (see conns) with a 30-second timeout per
	// request.
	Client *http.Client
	// Out receives a line per phase as it ends and the summary line; nil
	// discards them.
	Out io.Writer
}

// Phase is what one phase of a workload measured. Latencies are per HTTP
// request; Ops counts the phase's units (users created, memberships
// added, lookups) and may differ from Requests.
type Phase struct {
	Name string
	// Unit names what Ops counts: "users", "groups", "memberships",
	// "lookups", "patches", "ops", "deletes".
	Unit     string
	Ops      int
	Requests int
	// Errors counts requests that failed: transport errors, an unexpected
	// status, or a body that does not say what it should.
	Errors     int
	Duration   time.Duration
	Throughput float64 // requests per second
	P50        time.Duration
	P95        time.Duration
	P99        time.Duration
	Max        time.Duration
	// ByMethod splits the latencies by HTTP method when the phase sent
	// more than one (an Okta create is a GET probe, then a POST): the
	// server's read and write paths, apart.
	ByMethod []MethodLatency
	// FirstError is the text of the first failure, "" when none.
	FirstError string
}

// MethodLatency is the latency of one HTTP method's requests in a phase.
type MethodLatency struct {
	Method             string
	Requests           int
	P50, P95, P99, Max time.Duration
}

// OpsPerSecond is Ops divided by Duration.
func (p Phase) OpsPerSecond() float64 {
	if p.Duration <= 0 {
		return 0
	}
	return float64(p.Ops) / p.Duration.Seconds()
}

// Line renders the phase as one line, as Run prints it.
func (p Phase) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "phase %-22s %8d %-11s %8d req in %8s  %9.0f %s/s  %9.0f req/s  p50 %s  p95 %s  p99 %s  max %s  errors %d",
		p.Name, p.Ops, p.Unit, p.Requests, round(p.Duration), p.OpsPerSecond(), p.Unit, p.Throughput,
		round(p.P50), round(p.P95), round(p.P99), round(p.Max), p.Errors)
	for _, m := range p.ByMethod {
		fmt.Fprintf(&b, "\n  %-6s %8d req  p50 %s  p95 %s  p99 %s  max %s",
			m.Method, m.Requests, round(m.P50), round(m.P95), round(m.P99), round(m.Max))
	}
	if p.FirstError != "" {
		fmt.Fprintf(&b, "\n  first error: %s", p.FirstError)
	}
	return b.String()
}

// Report is the result of a run.
type Report struct {
	Workload string
	Phases   []Phase
	Total    time.Duration
	// Users, Groups and Memberships are what the run created and that
	// remain (before Cleanup): users and groups whose create succeeded,
	// memberships added by PATCHes that succeeded (for mixed, an add of a
	// present member counts too, so the store may hold fewer).
	Users, Groups, Memberships int
}

// Errors is the sum of the phases' errors.
func (r Report) Errors() int {
	n := 0
	for _, p := range r.Phases {
		n += p.Errors
	}
	return n
}

// Phase returns the phase named name, or false.
func (r Report) Phase(name string) (Phase, bool) {
	for _, p := range r.Phases {
		if p.Name == name {
			return p, true
		}
	}
	return Phase{}, false
}

// Summary renders the run as one line: the workload's headline figures,
// the total time and the errors, e.g. "workload sync: 100000 users in
// 41.2s (2427/s), 1000 groups, 300000 memberships in 30.1s (9967/s);
// total 71.3s; errors 0".
func (r Report) Summary() string {
	var parts []string
	ph := func(name string) Phase { p, _ := r.Phase(name); return p }
	switch r.Workload {
	case WorkloadSync:
		u, g, m := ph("users"), ph("groups"), ph("memberships")
		parts = append(parts,
			fmt.Sprintf("%d users in %s (%.0f/s)", u.Ops, round(u.Duration), u.OpsPerSecond()),
			fmt.Sprintf("%d groups in %s (%.0f/s)", g.Ops, round(g.Duration), g.OpsPerSecond()),
			fmt.Sprintf("%d memberships in %s (%.0f/s, %d PATCHes p99 %s)", m.Ops, round(m.Duration), m.OpsPerSecond(), m.Requests, round(m.P99)),
			fmt.Sprintf("sync %s", round(u.Duration+g.Duration+m.Duration)))
	case WorkloadLookup:
		l := ph("lookup")
		parts = append(parts, fmt.Sprintf("%d lookups in %s (%.0f/s) at %d users, p50 %s p99 %s",
			l.Ops, round(l.Duration), l.OpsPerSecond(), r.Users, round(l.P50), round(l.P99)))
	case WorkloadPatch:
		p := ph("patch")
		parts = append(parts, fmt.Sprintf("%d user PATCHes in %s (%.0f/s) at %d users, p50 %s p99 %s",
			p.Ops, round(p.Duration), p.OpsPerSecond(), r.Users, round(p.P50), round(p.P99)))
	case WorkloadBigGroup:
		for _, p := range r.Phases {
			if strings.Contains(p.Name, "@") {
				parts = append(parts, fmt.Sprintf("%s p50 %s p99 %s", p.Name, round(p.P50), round(p.P99)))
			}
		}
	case WorkloadMixed:
		p := ph("mixed")
		parts = append(parts, fmt.Sprintf("%d ops in %s (%.0f/s), p50 %s p99 %s",
			p.Ops, round(p.Duration), p.OpsPerSecond(), round(p.P50), round(p.P99)))
	}
	line := "workload " + r.Workload + ": " + strings.Join(parts, ", ")
	return fmt.Sprintf("%s; total %s; errors %d", line, round(r.Total), r.Errors())
}

// round shortens a duration for display.
func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// ErrConfig is wrapped by Run's errors about an invalid Config.
var ErrConfig = errors.New("invalid load test configuration")

// Run drives cfg.Workload against the SCIM endpoint at cfg.URL, printing
// a line per phase to cfg.Out as it ends and the summary line last. Failed
// requests are counted in the report, not returned: Run returns an error
// only for an invalid Config, or when ctx ends or cfg.Timeout passes (the
// report then holds what was measured until then). Everything the run
// creates is named with cfg.Prefix; it never reads, changes or deletes
// anything else.
func Run(ctx context.Context, cfg Config) (Report, error) {
	b, err := newBench(cfg)
	if err != nil {
		return Report{}, err
	}
	if cfg.Client == nil {
		defer b.client.CloseIdleConnections()
	}
	ctx, cancel := context.WithTimeout(ctx, runTimeout(cfg))
	defer cancel()

	start := time.Now()
	switch b.cfg.Workload {
	case WorkloadSync:
		b.sync(ctx)
	case WorkloadLookup:
		b.lookup(ctx)
	case WorkloadPatch:
		b.patch(ctx)
	case WorkloadBigGroup:
		b.bigGroup(ctx)
	case WorkloadMixed:
		b.mixed(ctx)
	}
	runErr := ctx.Err()
	if b.cfg.Cleanup {
		// Cleanup runs even after a timeout or cancellation, on its own
		// bounded context.
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), runTimeout(cfg))
		b.cleanup(cctx)
		ccancel()
	}
	b.report.Total = time.Since(start)
	fmt.Fprintln(b.out, b.report.Summary())
	if runErr != nil {
		return b.report, fmt.Errorf("workload %s stopped: %w", b.cfg.Workload, runErr)
	}
	return b.report, nil
}

// newBench validates cfg and fills its defaults.
func newBench(cfg Config) (*bench, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("%w: no URL", ErrConfig)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: URL %q is not an http or https URL", ErrConfig, cfg.URL)
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	known := false
	for _, w := range Workloads {
		known = known || cfg.Workload == w
	}
	if !known {
		return nil, fmt.Errorf("%w: workload %q; want one of %s", ErrConfig, cfg.Workload, strings.Join(Workloads, ", "))
	}
	if cfg.Users < 0 || cfg.Groups < 0 || cfg.Concurrency < 0 || cfg.Duration < 0 || cfg.MembersPerPatch < 0 || cfg.Rate < 0 {
		return nil, fmt.Errorf("%w: negative users, groups, concurrency, duration, members per patch or rate", ErrConfig)
	}
	if cfg.Users == 0 {
		cfg.Users = DefaultUsers
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Duration == 0 {
		cfg.Duration = DefaultDuration
	}
	if cfg.MembersPerPatch == 0 {
		cfg.MembersPerPatch = DefaultMembersPerPatch
	}
	if cfg.Groups == 0 {
		switch cfg.Workload {
		case WorkloadSync:
			cfg.Groups = max(1, cfg.Users/100)
		case WorkloadMixed:
			cfg.Groups = mixedGroups
		}
	}
	if cfg.Prefix == "" {
		var r [4]byte
		if _, err := rand.Read(r[:]); err != nil {
			return nil, fmt.Errorf("random prefix: %w", err)
		}
		cfg.Prefix = DefaultPrefixStart + hex.EncodeToString(r[:]) + "-"
	}
	client := cfg.Client
	if client == nil {
		// No Client.Timeout: the transport puts requestTimeout on each
		// connection, without the timer and goroutine that a client
		// timeout costs per request.
		client = &http.Client{Transport: newConns(u.Scheme, u.Host)}
	}
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	return &bench{cfg: cfg, client: client, out: out, report: Report{Workload: cfg.Workload}}, nil
}

// runTimeout is the bound of a whole run: see Config.Timeout.
func runTimeout(cfg Config) time.Duration {
	if cfg.Timeout > 0 {
		return cfg.Timeout
	}
	return DefaultTimeout + max(cfg.Duration, 0)
}
