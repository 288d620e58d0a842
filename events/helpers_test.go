package events

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

var acme = store.DirKey{Org: "acme", Directory: "okta"}

// openStore opens a real bbolt store with orgs acme (directory okta) and
// globex.
func openStore(t *testing.T) *bolt.DB {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, org := range []string{"acme", "globex"} {
		if _, err := st.CreateOrg(t.Context(), org); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.CreateDirectory(t.Context(), store.Directory{Org: "acme", Name: "okta", Profile: "okta"}); err != nil {
		t.Fatal(err)
	}
	return st
}

// testConfig is for receivers on loopback, with small delays.
func testConfig() Config {
	return Config{
		AllowPrivateNetworks: true, AllowInsecureHTTP: true,
		BatchSize: 5, Timeout: 300 * time.Millisecond, ConnectTimeout: 200 * time.Millisecond,
		BackoffBase: 10 * time.Millisecond, BackoffCap: 80 * time.Millisecond, FailingAfter: 3,
		PollInterval: 50 * time.Millisecond, PruneInterval: time.Hour,
	}
}

func last(t *testing.T, st store.Store, org string) uint64 {
	t.Helper()
	p, err := st.Events(t.Context(), org, store.EventQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return p.Last
}

// subscribe adds a subscription that starts after the org's last event.
func subscribe(t *testing.T, st *bolt.DB, kind, url string, secret []byte) store.Subscription {
	t.Helper()
	id, _ := store.NewID()
	s := store.Subscription{ID: id, Org: "acme", Kind: kind, URL: url, Secret: secret, State: store.SubscriptionActive, Cursor: last(t, st, "acme")}
	if err := st.CreateSubscription(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

// createUsers writes n users (n user.created events) and returns how long
// each write took.
func createUsers(t *testing.T, st store.Store, prefix string, n int) []time.Duration {
	t.Helper()
	var took []time.Duration
	for i := range n {
		start := time.Now()
		name := fmt.Sprintf("%s%03d@acme.example", prefix, i)
		if _, err := st.CreateUser(t.Context(), acme, store.User{UserName: name, Active: true, Attributes: []byte(`{"userName":"` + name + `"}`)}); err != nil {
			t.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	return took
}

// run starts d.Run until the test ends.
func run(t *testing.T, d *Deliverer) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run() = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Run did not return within 5s of the cancel")
		}
	})
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// receiver is a webhook endpoint that checks what a real consumer would:
// the signature (and its age), the headers, and that no batch skips an
// event (in seq order, no gap after what it has seen). It records every
// event it receives, duplicates included.
type receiver struct {
	t      *testing.T
	secret []byte
	srv    *httptest.Server
	// behave, when set, may answer request n (1-based) itself, after the
	// events were recorded; it returns false to let the receiver answer 200.
	behave func(n int, w http.ResponseWriter, r *http.Request) bool

	mu       sync.Mutex
	requests int
	seen     map[string]int // event id → times received
	order    []uint64       // seqs of first receipts, in arrival order
	maxSeq   uint64
	arrived  map[uint64]time.Time
	problems []string
}

func newReceiver(t *testing.T, after uint64, behave func(n int, w http.ResponseWriter, r *http.Request) bool) *receiver {
	secret, _, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{t: t, secret: []byte(secret), behave: behave, seen: map[string]int{}, maxSeq: after, arrived: map[uint64]time.Time{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

// start sets the seq the receiver expects to come first.
func (rc *receiver) start(after uint64) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.maxSeq = after
}

func (rc *receiver) problem(format string, args ...any) {
	rc.problems = append(rc.problems, fmt.Sprintf(format, args...))
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.requests++
	n := rc.requests
	if err := Verify(rc.secret, r.Header.Get(HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
		rc.problem("request %d: Verify() = %v", n, err)
	}
	if ct, ua := r.Header.Get("Content-Type"), r.Header.Get("User-Agent"); ct != "application/json" || ua != "scimbridge" {
		rc.problem("request %d: Content-Type %q, User-Agent %q", n, ct, ua)
	}
	var msg struct {
		Events []store.Event `json:"events"`
	}
	if err := json.Unmarshal(body, &msg); err != nil || len(msg.Events) == 0 {
		rc.problem("request %d: body %s: %v", n, body, err)
	} else {
		if id := r.Header.Get(HeaderEventID); id != msg.Events[0].ID {
			rc.problem("request %d: %s %q is not the first event's id %q", n, HeaderEventID, id, msg.Events[0].ID)
		}
		if first := msg.Events[0].Seq; first > rc.maxSeq+1 {
			rc.problem("request %d: starts at seq %d after %d was the highest seen: a gap", n, first, rc.maxSeq)
		}
		for i, e := range msg.Events {
			if i > 0 && e.Seq != msg.Events[i-1].Seq+1 {
				rc.problem("request %d: seq %d follows %d", n, e.Seq, msg.Events[i-1].Seq)
			}
			if rc.seen[e.ID] == 0 {
				rc.order = append(rc.order, e.Seq)
				rc.arrived[e.Seq] = time.Now()
			}
			rc.seen[e.ID]++
			rc.maxSeq = max(rc.maxSeq, e.Seq)
		}
	}
	rc.mu.Unlock()
	if rc.behave != nil && rc.behave(n, w, r) {
		return
	}
	w.WriteHeader(http.StatusOK)
}

// has reports whether every seq in (after, through] arrived.
func (rc *receiver) has(after, through uint64) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for s := after + 1; s <= through; s++ {
		if _, ok := rc.arrived[s]; !ok {
			return false
		}
	}
	return true
}

// check fails the test for every problem and for first receipts out of
// seq order; it returns how many duplicate receipts there were.
func (rc *receiver) check() (dups int) {
	rc.t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, p := range rc.problems {
		rc.t.Error(p)
	}
	for i := 1; i < len(rc.order); i++ {
		if rc.order[i] != rc.order[i-1]+1 {
			rc.t.Errorf("first receipts in order %v: not consecutive at %d", rc.order, i)
			break
		}
	}
	for _, n := range rc.seen {
		dups += n - 1
	}
	return dups
}

func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
}
