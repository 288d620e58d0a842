package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// bench is one run: the filled Config, the client, and what was created.
type bench struct {
	cfg    Config
	client *http.Client
	out    io.Writer

	mu       sync.Mutex
	report   Report
	userIDs  []string // by user index; "" when the create failed
	groupIDs []string // by group index; "" when the create failed
	extra    []string // users created by mixed, beyond userIDs
}

// phase collects the measurements of one phase; its methods are safe for
// concurrent use.
type phase struct {
	name, unit string
	start      time.Time

	mu       sync.Mutex
	samples  map[string][]time.Duration // latencies by HTTP method
	requests int
	errors   int
	ops      int
	firstErr string
}

func (b *bench) begin(name, unit string) *phase {
	return &phase{name: name, unit: unit, start: time.Now()}
}

// fail counts a failed request and keeps the first error's text.
func (p *phase) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.mu.Lock()
	p.errors++
	if p.firstErr == "" {
		p.firstErr = msg
	}
	p.mu.Unlock()
}

func (p *phase) sample(method string, d time.Duration) {
	p.mu.Lock()
	p.requests++
	if p.samples == nil {
		p.samples = make(map[string][]time.Duration, 1)
	}
	p.samples[method] = append(p.samples[method], d)
	p.mu.Unlock()
}

func (p *phase) op(n int) {
	p.mu.Lock()
	p.ops += n
	p.mu.Unlock()
}

// end computes the phase's figures, adds it to the report and prints its
// line. A phase that sent nothing and failed nothing is left out.
func (b *bench) end(p *phase) Phase {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := Phase{
		Name: p.name, Unit: p.unit, Ops: p.ops, Requests: p.requests, Errors: p.errors,
		Duration: time.Since(p.start), FirstError: b.scrub(p.firstErr),
	}
	if out.Requests == 0 && out.Errors == 0 {
		return out
	}
	var all []time.Duration
	out.ByMethod, all = byMethod(p.samples)
	if n := len(all); n > 0 {
		out.P50, out.P95, out.P99 = percentile(all, 50), percentile(all, 95), percentile(all, 99)
		out.Max = all[n-1]
	}
	if out.Duration > 0 {
		out.Throughput = float64(out.Requests) / out.Duration.Seconds()
	}
	b.mu.Lock()
	b.report.Phases = append(b.report.Phases, out)
	b.mu.Unlock()
	fmt.Fprintln(b.out, out.Line())
	return out
}

// methodOrder is the order of the lines per method; other methods follow
// in name order.
var methodOrder = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// byMethod sorts each method's samples and returns their figures, in
// methodOrder (nil when there is one method), and all the samples sorted.
func byMethod(samples map[string][]time.Duration) ([]MethodLatency, []time.Duration) {
	methods := slices.Sorted(maps.Keys(samples))
	slices.SortStableFunc(methods, func(a, b string) int {
		ia, ib := slices.Index(methodOrder, a), slices.Index(methodOrder, b)
		if ia < 0 {
			ia = len(methodOrder)
		}
		if ib < 0 {
			ib = len(methodOrder)
		}
		return ia - ib
	})
	if len(methods) == 1 {
		s := samples[methods[0]]
		slices.Sort(s)
		return nil, s
	}
	var out []MethodLatency
	var all []time.Duration
	for _, m := range methods {
		s := samples[m]
		if len(s) == 0 {
			continue
		}
		slices.Sort(s)
		out = append(out, MethodLatency{
			Method: m, Requests: len(s),
			P50: percentile(s, 50), P95: percentile(s, 95), P99: percentile(s, 99), Max: s[len(s)-1],
		})
		all = append(all, s...)
	}
	slices.Sort(all)
	return out, all
}

// percentile is the nearest-rank percentile of sorted samples.
func percentile(sorted []time.Duration, pct int) time.Duration {
	rank := (pct*len(sorted) + 99) / 100 // ceil(pct/100 * n)
	return sorted[max(rank, 1)-1]
}

// scrub removes the token from a message.
func (b *bench) scrub(s string) string {
	if b.cfg.Token != "" {
		s = strings.ReplaceAll(s, b.cfg.Token, "[token]")
	}
	return s
}

// req is one request. path is relative to the SCIM base URL. want are the
// acceptable statuses. untimed requests (set-up and restore steps inside a
// measurement) count errors but add no latency sample and no request.
type req struct {
	method, path string
	body         any
	want         []int
	untimed      bool
}

// send sends r and returns the body when the status is one of r.want;
// otherwise it counts an error in p and returns false.
func (b *bench) send(ctx context.Context, p *phase, r req) ([]byte, bool) {
	var rd io.Reader
	if r.body != nil {
		raw, err := json.Marshal(r.body)
		if err != nil {
			p.fail("%s %s: encode body: %v", r.method, short(r.path), err)
			return nil, false
		}
		rd = bytes.NewReader(raw)
	}
	hr, err := http.NewRequestWithContext(ctx, r.method, b.cfg.URL+r.path, rd)
	if err != nil {
		p.fail("%s %s: %v", r.method, short(r.path), err)
		return nil, false
	}
	hr.Header.Set("Accept", scimMediaType)
	hr.Header.Set("Authorization", "Bearer "+b.cfg.Token)
	if r.body != nil {
		hr.Header.Set("Content-Type", scimMediaType)
	}
	start := intendedStart(ctx, time.Now())
	res, err := b.client.Do(hr)
	if err != nil {
		p.fail("%s %s: %v", r.method, short(r.path), err)
		return nil, false
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	io.Copy(io.Discard, res.Body) // let the connection be reused
	res.Body.Close()
	elapsed := time.Since(start)
	if err != nil {
		p.fail("%s %s: reading the response: %v", r.method, short(r.path), err)
		return nil, false
	}
	if !r.untimed {
		p.sample(r.method, elapsed)
	}
	if !slices.Contains(r.want, res.StatusCode) {
		p.fail("%s %s: status %d, want %s: %s", r.method, short(r.path), res.StatusCode, wantText(r.want), snippet(data))
		return nil, false
	}
	return data, true
}

func wantText(codes []int) string {
	s := make([]string, len(codes))
	for i, c := range codes {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, " or ")
}

func short(path string) string {
	if len(path) > 160 {
		return path[:140] + "…"
	}
	return path
}

func snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "(empty body)"
	}
	if len(b) > snippetBytes {
		return string(b[:snippetBytes]) + "…"
	}
	return string(b)
}

// forEach calls fn for i in [0, n) on b.cfg.Concurrency workers, until
// done or ctx ends.
func (b *bench) forEach(ctx context.Context, n int, fn func(i int)) {
	b.forEachC(ctx, n, b.cfg.Concurrency, fn)
}

func (b *bench) forEachC(ctx context.Context, n, workers int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// timed calls fn on b.cfg.Concurrency workers, each with its own random
// source, until d has passed, maxTimedOps calls were made or ctx ends.
// Calls in flight when d passes finish. With b.cfg.Rate set, call k (from 0) is
// due at start + k/Rate: a worker waits for the due time of the call it
// takes, and the first request of the call is timed from that due time
// (see intendedStart), so waiting behind a slow server counts as latency.
func (b *bench) timed(ctx context.Context, d time.Duration, fn func(ctx context.Context, rnd *rand.Rand)) {
	start := time.Now()
	deadline := start.Add(d)
	var calls atomic.Int64
	var interval time.Duration
	if b.cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / b.cfg.Rate)
	}
	var wg sync.WaitGroup
	for range b.cfg.Concurrency {
		rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		wg.Go(func() {
			// Paced, every call due before the deadline is sent, however
			// late: leaving out the latest would drop the worst latencies.
			for ctx.Err() == nil && (interval > 0 || time.Now().Before(deadline)) {
				k := calls.Add(1)
				if k > maxTimedOps {
					return
				}
				if interval == 0 {
					fn(ctx, rnd)
					continue
				}
				due := start.Add(time.Duration(k-1) * interval)
				if !due.Before(deadline) {
					return
				}
				if wait := time.Until(due); wait > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(wait):
					}
				}
				fn(context.WithValue(ctx, intendedKey{}, &due), rnd)
			}
		})
	}
	wg.Wait()
}

// intendedKey keys the due time of a paced call in its context: a
// *time.Time that the call's first request takes (and zeroes) as the
// start of its latency.
type intendedKey struct{}

// intendedStart returns when the request being sent should be timed from:
// now, or the due time of its paced call if that is earlier and this is
// the call's first request.
func intendedStart(ctx context.Context, now time.Time) time.Time {
	due, _ := ctx.Value(intendedKey{}).(*time.Time)
	if due == nil || due.IsZero() {
		return now
	}
	t := *due
	*due = time.Time{}
	if t.Before(now) {
		return t
	}
	return now
}

// SCIM wire constants.
const (
	scimMediaType = "application/scim+json"
	userURN       = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupURN      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	patchOpURN    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// listBody is what the checks read of a ListResponse.
type listBody struct {
	TotalResults *int `json:"totalResults"`
	Resources    []struct {
		ID       string `json:"id"`
		UserName string `json:"userName"`
		Members  any    `json:"members"`
	} `json:"Resources"`
}

// resourceBody is what the checks read of a resource.
type resourceBody struct {
	ID      string `json:"id"`
	Members any    `json:"members"`
}
