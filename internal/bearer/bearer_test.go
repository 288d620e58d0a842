package bearer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
	"github.com/scimbridge/scimbridge/store/bolt"
)

// counting is the real store, counting the touches it is asked for.
type counting struct {
	*bolt.DB
	n    atomic.Int32
	fail bool // make the store refuse: the touch runs with a done context
}

func (c *counting) TouchToken(ctx context.Context, id string, at time.Time) error {
	c.n.Add(1)
	if c.fail {
		done, cancel := context.WithCancel(ctx)
		cancel()
		ctx = done
	}
	return c.DB.TouchToken(ctx, id, at)
}

// onlyTokens is a store seen through Tokens alone: no Toucher.
type onlyTokens struct{ db *bolt.DB }

func (o onlyTokens) TokenByHash(ctx context.Context, h []byte) (store.Token, error) {
	return o.db.TokenByHash(ctx, h)
}

// clock is a settable now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

type fixture struct {
	db     *bolt.DB
	clock  *clock
	secret map[string]string // name → secret
	id     map[string]string // name → token id
}

// setup opens a real store with org acme, an admin token "admin" and an
// expired one "expired", and replaces the package's throttle with one on
// a test clock.
func setup(t *testing.T) *fixture {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if _, err := db.CreateOrg(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, clock: &clock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}, secret: map[string]string{}, id: map[string]string{}}
	for name, exp := range map[string]time.Time{"admin": {}, "other": {}, "expired": time.Now().Add(-time.Hour)} {
		secret, hash, prefix, err := store.NewTokenSecret()
		if err != nil {
			t.Fatal(err)
		}
		id, _ := store.NewID()
		if err := db.CreateToken(ctx, store.Token{ID: id, Kind: store.TokenAdmin, Org: "acme", Name: name, Prefix: prefix,
			Hash: hash, Created: time.Now().UTC(), Expires: exp}); err != nil {
			t.Fatal(err)
		}
		f.secret[name], f.id[name] = secret, id
	}
	saved := touches
	touches = newThrottle(TouchInterval, f.clock.now)
	t.Cleanup(func() { touches = saved })
	return f
}

func request(ctx context.Context, auth string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	return r
}

func (f *fixture) lastUsed(t *testing.T, name string) time.Time {
	t.Helper()
	tok, err := f.db.TokenByHash(context.Background(), store.HashToken(f.secret[name]))
	if err != nil {
		t.Fatal(err)
	}
	return tok.LastUsed
}

func TestLookup(t *testing.T) {
	f := setup(t)
	for _, tc := range []struct {
		auth string
		ok   bool
	}{
		{"", false},
		{"Basic " + f.secret["admin"], false},
		{"Bearer", false},
		{"Bearer ", false},
		{"Bearer scb_unknown", false},
		{"Bearer " + f.secret["admin"], true},
		{"bearer  " + f.secret["admin"] + " ", true},
	} {
		tok, ok, err := Lookup(request(context.Background(), tc.auth), f.db)
		if err != nil || ok != tc.ok || (ok && tok.ID != f.id["admin"]) {
			t.Errorf("Lookup(%q) = %s, %v, %v; want ok %v", strings.ReplaceAll(tc.auth, f.secret["admin"], "<secret>"), tok.ID, ok, err, tc.ok)
		}
	}
}

func TestLookupTouchesOncePerInterval(t *testing.T) {
	f := setup(t)
	st := &counting{DB: f.db}
	lookup := func(name string) {
		t.Helper()
		if _, ok, err := Lookup(request(context.Background(), "Bearer "+f.secret[name]), st); !ok || err != nil {
			t.Fatalf("Lookup(%s) = %v, %v", name, ok, err)
		}
	}
	t0 := f.clock.now()
	for range 5 {
		lookup("admin")
	}
	touches.wg.Wait()
	if n := st.n.Load(); n != 1 {
		t.Errorf("5 lookups in one instant: %d touches; want 1", n)
	}
	if got := f.lastUsed(t, "admin"); !got.Equal(t0) {
		t.Errorf("LastUsed = %v; want %v", got, t0)
	}

	// Within the interval: nothing; after it: one more.
	f.clock.add(30 * time.Second)
	lookup("admin")
	touches.wg.Wait()
	if n := st.n.Load(); n != 1 {
		t.Errorf("lookup 30s later: %d touches; want still 1", n)
	}
	f.clock.add(31 * time.Second)
	lookup("admin")
	touches.wg.Wait()
	if n := st.n.Load(); n != 2 {
		t.Errorf("lookup 61s later: %d touches; want 2", n)
	}
	if got, want := f.lastUsed(t, "admin"), t0.Add(61*time.Second); !got.Equal(want) {
		t.Errorf("LastUsed = %v; want %v", got, want)
	}

	// Each token has its own interval; an expired token is recorded too
	// (it was presented), and concurrent requests touch once.
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { lookup("other") })
	}
	wg.Wait()
	lookup("expired")
	touches.wg.Wait()
	if n := st.n.Load(); n != 4 {
		t.Errorf("after 20 concurrent lookups of another token and one of an expired one: %d touches; want 4", n)
	}
	if f.lastUsed(t, "other").IsZero() || f.lastUsed(t, "expired").IsZero() {
		t.Errorf("LastUsed of other, expired = %v, %v; want both set", f.lastUsed(t, "other"), f.lastUsed(t, "expired"))
	}
}

func TestLookupTouchOutlivesRequest(t *testing.T) {
	f := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	if _, ok, _ := Lookup(request(ctx, "Bearer "+f.secret["admin"]), f.db); !ok {
		t.Fatal("Lookup failed")
	}
	cancel() // the client went away; the touch still lands
	touches.wg.Wait()
	if f.lastUsed(t, "admin").IsZero() {
		t.Errorf("LastUsed after a canceled request = zero; want the touch recorded")
	}
}

func TestLookupWithoutToucher(t *testing.T) {
	f := setup(t)
	tok, ok, err := Lookup(request(context.Background(), "Bearer "+f.secret["admin"]), onlyTokens{f.db})
	touches.wg.Wait()
	if !ok || err != nil || tok.ID != f.id["admin"] {
		t.Fatalf("Lookup(store without TouchToken) = %v, %v", ok, err)
	}
	if got := f.lastUsed(t, "admin"); !got.IsZero() {
		t.Errorf("LastUsed = %v; want zero (the store cannot touch)", got)
	}
}

func TestLookupTouchFailureCounted(t *testing.T) {
	f := setup(t)
	st := &counting{DB: f.db, fail: true}
	before := TouchErrors()
	if _, ok, err := Lookup(request(context.Background(), "Bearer "+f.secret["admin"]), st); !ok || err != nil {
		t.Fatalf("Lookup with a failing touch = %v, %v; want the token anyway", ok, err)
	}
	touches.wg.Wait()
	if got := TouchErrors() - before; got != 1 {
		t.Errorf("TouchErrors() grew by %d; want 1", got)
	}
	// The failed touch keeps its interval: the next request does not retry.
	Lookup(request(context.Background(), "Bearer "+f.secret["admin"]), st)
	touches.wg.Wait()
	if n := st.n.Load(); n != 1 {
		t.Errorf("touches after a failure and another lookup = %d; want 1", n)
	}
	// A token deleted between the lookup and the touch is no failure.
	if err := f.db.DeleteToken(context.Background(), f.id["other"]); err != nil {
		t.Fatal(err)
	}
	before = TouchErrors()
	touches.touch(request(context.Background(), ""), f.db, f.id["other"])
	touches.wg.Wait()
	if got := TouchErrors() - before; got != 0 {
		t.Errorf("touch of a deleted token: TouchErrors() grew by %d; want 0", got)
	}
}

func TestThrottleBounded(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	th := newThrottle(time.Minute, c.now)
	for i := range maxThrottled {
		th.due(string(rune('a'+i%26)) + time.Duration(i).String())
	}
	c.add(2 * time.Minute)
	if _, ok := th.due("fresh"); !ok {
		t.Fatal("due(fresh) = false")
	}
	if n := len(th.last); n != 1 {
		t.Errorf("throttle keeps %d entries after pruning; want 1", n)
	}
}
