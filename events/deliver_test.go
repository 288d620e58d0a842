package events

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// TestDeliveryFailuresTimeoutsSlowness: a receiver that fails with 500,
// then hangs past the timeout, then answers slowly still gets every event
// at least once, in seq order, signed; redeliveries are recognisable by
// event id.
func TestDeliveryFailuresTimeoutsSlowness(t *testing.T) {
	st := openStore(t)
	start := last(t, st, "acme")
	rc := newReceiver(t, start, func(n int, w http.ResponseWriter, r *http.Request) bool {
		switch {
		case n <= 3: // fails
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
			return true
		case n == 4 || n == 7: // hangs past the client's timeout
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return true
		case n <= 10: // slow but within the timeout
			time.Sleep(150 * time.Millisecond)
		}
		return false
	})
	sub := subscribe(t, st, store.SubscriptionWebhook, rc.srv.URL+"/hook", rc.secret)
	d := New(st, testConfig(), testLogger(t))
	run(t, d)

	const n = 60
	for i := range 6 {
		createUsers(t, st, string(rune('a'+i)), n/6)
		time.Sleep(30 * time.Millisecond)
	}
	through := start + n
	eventually(t, 20*time.Second, "every event arrived", func() bool { return rc.has(start, through) })
	dups := rc.check()
	if dups == 0 {
		t.Errorf("no duplicate after a timed-out delivery; want the batch sent again")
	}
	eventually(t, 5*time.Second, "the cursor reached the last event", func() bool {
		s, _ := st.Subscription(t.Context(), "acme", sub.ID)
		return s.Cursor == through && s.State == store.SubscriptionActive && s.Failures == 0 && s.LastError == ""
	})
	rc.mu.Lock()
	t.Logf("%d events in %d requests, %d duplicate receipts", n, rc.requests, dups)
	rc.mu.Unlock()
}

// TestFailingThenRecovers: a subscription that keeps failing is marked
// failing with its last error, and resumes where it stopped.
func TestFailingThenRecovers(t *testing.T) {
	st := openStore(t)
	start := last(t, st, "acme")
	var mu sync.Mutex
	down := true
	rc := newReceiver(t, start, func(n int, w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if down {
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, strings.Repeat("<html>", 1<<20)) // a big answer is not read in full
			return true
		}
		return false
	})
	sub := subscribe(t, st, store.SubscriptionWebhook, rc.srv.URL, rc.secret)
	run(t, New(st, testConfig(), testLogger(t)))
	createUsers(t, st, "u", 3)
	var got store.Subscription
	eventually(t, 5*time.Second, "the subscription is failing", func() bool {
		got, _ = st.Subscription(t.Context(), "acme", sub.ID)
		return got.State == store.SubscriptionFailing
	})
	if got.Cursor != start || got.Failures < 3 || !strings.HasPrefix(got.LastError, "HTTP 502: ") || len(got.LastError) > 300 ||
		got.FailingSince.IsZero() || got.NextAttempt.IsZero() {
		t.Errorf("failing subscription = cursor %d, failures %d, last error %q, failing since %v, next %v",
			got.Cursor, got.Failures, got.LastError, got.FailingSince, got.NextAttempt)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	eventually(t, 5*time.Second, "delivery resumed", func() bool {
		got, _ = st.Subscription(t.Context(), "acme", sub.ID)
		return got.State == store.SubscriptionActive && got.Cursor == start+3
	})
	rc.check()
}

// TestPausedAfterMaxRetryAge: a streak of failures longer than MaxRetryAge
// pauses the subscription; nothing is tried until it is resumed.
func TestPausedAfterMaxRetryAge(t *testing.T) {
	st := openStore(t)
	var hits sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(time.Now(), true)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	sub := subscribe(t, st, store.SubscriptionWebhook, srv.URL, []byte("k"))
	cfg := testConfig()
	cfg.MaxRetryAge = 100 * time.Millisecond
	run(t, New(st, cfg, testLogger(t)))
	createUsers(t, st, "u", 1)
	eventually(t, 5*time.Second, "the subscription is paused", func() bool {
		s, _ := st.Subscription(t.Context(), "acme", sub.ID)
		return s.State == store.SubscriptionPaused
	})
	count := func() (n int) { hits.Range(func(any, any) bool { n++; return true }); return n }
	before := count()
	time.Sleep(300 * time.Millisecond)
	if after := count(); after != before {
		t.Errorf("a paused subscription was tried %d more times", after-before)
	}
}

// TestDeadSubscriberDelaysNothing: one subscriber hangs on every request
// and another fails every time; the healthy one gets each event at once,
// and SCIM writes take as long as without any subscriber.
func TestDeadSubscriberDelaysNothing(t *testing.T) {
	st := openStore(t)
	// Baseline: writes with no delivery running.
	base := createUsers(t, st, "base", 40)

	start := last(t, st, "acme")
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	fail := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer fail.Close()
	healthy := newReceiver(t, start, nil)
	subscribe(t, st, store.SubscriptionWebhook, hang.URL, []byte("k"))
	subscribe(t, st, store.SubscriptionWebhook, fail.URL, []byte("k"))
	subscribe(t, st, store.SubscriptionWebhook, healthy.srv.URL, healthy.secret)
	cfg := testConfig()
	cfg.Timeout = 10 * time.Second // the dead one holds its request open the whole test
	cfg.BackoffBase, cfg.BackoffCap = 20*time.Millisecond, 100*time.Millisecond
	run(t, New(st, cfg, testLogger(t)))
	time.Sleep(200 * time.Millisecond) // the dead one is now stuck in a request

	const n = 40
	written := make([]time.Time, n)
	var took []time.Duration
	for i := range n {
		written[i] = time.Now()
		took = append(took, createUsers(t, st, "live"+string(rune('a'+i%26))+string(rune('a'+i/26)), 1)...)
		time.Sleep(5 * time.Millisecond)
	}
	eventually(t, 5*time.Second, "the healthy subscriber got every event", func() bool { return healthy.has(start, start+n) })
	healthy.check()
	var lag []time.Duration
	healthy.mu.Lock()
	for i := range n {
		lag = append(lag, healthy.arrived[start+uint64(i)+1].Sub(written[i]))
	}
	healthy.mu.Unlock()
	slices.Sort(lag)
	// The dead subscriber holds its request for 10 s: a healthy one that
	// waited on it would lag by seconds. The bound is loose on purpose, so
	// a busy machine does not make it flaky; it tells blocked from not.
	if p := lag[len(lag)*9/10]; p > 3*time.Second {
		t.Errorf("healthy subscriber: p90 delay from write to arrival %s while another hangs; want well under the 10 s hang (all: %v)", p, lag)
	}
	bm, wm := median(base), median(took)
	t.Logf("write latency: median %s without delivery, %s with a hanging, a failing and a healthy subscriber (max %s); healthy p90 lag %s",
		bm, wm, slices.Max(took), lag[len(lag)*9/10])
	if wm > 5*bm+100*time.Millisecond {
		t.Errorf("median write latency %s with subscribers vs %s without; writes must not wait on delivery", wm, bm)
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestSplunkSink delivers to a local HEC-compatible receiver.
func TestSplunkSink(t *testing.T) {
	st := openStore(t)
	start := last(t, st, "acme")
	var mu sync.Mutex
	var seqs []uint64
	var problems []string
	requests := 0
	hec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		requests++
		if r.URL.Path != "/splunk/services/collector" || r.Method != http.MethodPost {
			problems = append(problems, r.Method+" "+r.URL.Path)
		}
		if got := r.Header.Get("Authorization"); got != "Splunk hec-token" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"text":"Invalid token","code":4}`)
			problems = append(problems, "Authorization: "+got)
			return
		}
		if requests == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"text":"Server is busy","code":9}`)
			return
		}
		sc := bufio.NewScanner(r.Body)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var ev struct {
				Time       float64     `json:"time"`
				Source     string      `json:"source"`
				SourceType string      `json:"sourcetype"`
				Event      store.Event `json:"event"`
			}
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				problems = append(problems, err.Error())
				continue
			}
			if ev.SourceType != "scimbridge:test" || ev.Source != "scimbridge" || ev.Event.Org != "acme" ||
				math.Abs(ev.Time-float64(ev.Event.OccurredAt.UnixMilli())/1000) > 0.001 {
				problems = append(problems, sc.Text())
			}
			if !slices.Contains(seqs, ev.Event.Seq) {
				seqs = append(seqs, ev.Event.Seq)
			}
		}
		io.WriteString(w, `{"text":"Success","code":0}`)
	}))
	defer hec.Close()
	id, _ := store.NewID()
	if err := st.CreateSubscription(t.Context(), store.Subscription{ID: id, Org: "acme", Kind: store.SubscriptionSplunk,
		URL: hec.URL + "/splunk/", Secret: []byte("hec-token"), SourceType: "scimbridge:test", State: store.SubscriptionActive, Cursor: start}); err != nil {
		t.Fatal(err)
	}
	run(t, New(st, testConfig(), testLogger(t)))
	createUsers(t, st, "s", 12)
	eventually(t, 5*time.Second, "every event reached the HEC", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seqs) == 12
	})
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
	for i, s := range seqs {
		if s != start+uint64(i)+1 {
			t.Fatalf("HEC got seqs %v; want %d.. in order", seqs, start+1)
		}
	}
}

// TestReplay: moving the cursor back (what the admin replay does)
// delivers again from there.
func TestReplay(t *testing.T) {
	st := openStore(t)
	start := last(t, st, "acme")
	rc := newReceiver(t, start, nil)
	sub := subscribe(t, st, store.SubscriptionWebhook, rc.srv.URL, rc.secret)
	run(t, New(st, testConfig(), testLogger(t)))
	createUsers(t, st, "r", 5)
	eventually(t, 5*time.Second, "first delivery", func() bool { return rc.has(start, start+5) })
	eventually(t, 5*time.Second, "cursor saved", func() bool {
		s, _ := st.Subscription(t.Context(), "acme", sub.ID)
		return s.Cursor == start+5
	})
	// Replay from seq start+3.
	if _, err := st.UpdateSubscription(t.Context(), "acme", sub.ID, func(s *store.Subscription) error {
		s.Cursor, s.State, s.NextAttempt = start+2, store.SubscriptionActive, time.Time{}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rc.start(start + 2)
	eventually(t, 5*time.Second, "replayed events arrived again", func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		n := 0
		for _, c := range rc.seen {
			n += c - 1
		}
		return n == 3
	})
	rc.check()
}

// TestCursorExpired: a subscription whose events were pruned is marked
// failing with an error that says where it can replay from.
func TestCursorExpired(t *testing.T) {
	st := openStore(t)
	createUsers(t, st, "x", 3)
	if _, err := st.PruneEvents(t.Context(), "acme", time.Now().Add(time.Hour), math.MaxUint64); err != nil {
		t.Fatal(err)
	}
	id, _ := store.NewID()
	if err := st.CreateSubscription(t.Context(), store.Subscription{ID: id, Org: "acme", Kind: store.SubscriptionWebhook,
		URL: "http://127.0.0.1:1/", Secret: []byte("k"), State: store.SubscriptionActive, Cursor: 0}); err != nil {
		t.Fatal(err)
	}
	run(t, New(st, testConfig(), testLogger(t)))
	var got store.Subscription
	eventually(t, 5*time.Second, "the subscription is failing", func() bool {
		got, _ = st.Subscription(t.Context(), "acme", id)
		return got.State == store.SubscriptionFailing
	})
	if !strings.Contains(got.LastError, "pruned") || !strings.Contains(got.LastError, "replay from it") {
		t.Errorf("LastError = %q; want it to say the events were pruned and to replay", got.LastError)
	}
}

// TestPruneKeepsUnread: pruning never deletes what a subscriber has not
// read, and deletes old events of orgs without subscribers.
func TestPruneKeepsUnread(t *testing.T) {
	st := openStore(t)
	start := last(t, st, "acme")
	createUsers(t, st, "p", 10)
	if _, err := st.CreateDirectory(t.Context(), store.Directory{Org: "globex", Name: "okta", Profile: "okta"}); err != nil {
		t.Fatal(err)
	}
	id, _ := store.NewID()
	if err := st.CreateSubscription(t.Context(), store.Subscription{ID: id, Org: "acme", Kind: store.SubscriptionWebhook,
		URL: "https://hooks.example.com/", Secret: []byte("k"), State: store.SubscriptionPaused, Cursor: start + 4}); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Retention = time.Nanosecond
	time.Sleep(5 * time.Millisecond)
	d := New(st, cfg, testLogger(t))
	n, err := d.Prune(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := int(start + 4 + 1); n != want { // acme's through the cursor, and globex's directory.created
		t.Errorf("Prune() = %d; want %d", n, want)
	}
	if p, err := st.Events(t.Context(), "acme", store.EventQuery{After: start + 4}); err != nil || len(p.Events) != 6 {
		t.Errorf("Events(after the cursor) = %d events, %v; want the 6 unread ones", len(p.Events), err)
	}
	if _, err := st.Events(t.Context(), "globex", store.EventQuery{}); !errors.Is(err, store.ErrCursorExpired) {
		t.Errorf("Events(globex, 0) = %v; want its events pruned", err)
	}
	// With the default retention nothing this young goes.
	if n, err := New(st, Config{}, testLogger(t)).Prune(t.Context()); n != 0 || err != nil {
		t.Errorf("Prune() with 30 days of retention = %d, %v; want 0", n, err)
	}
}
