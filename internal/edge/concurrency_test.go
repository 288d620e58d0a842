package edge

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// blocking is a handler that signals when a request enters it and holds
// every request until release is closed.
type blocking struct {
	entered chan string
	release chan struct{}
}

func newBlocking() *blocking {
	return &blocking{entered: make(chan string, 100), release: make(chan struct{})}
}

func (b *blocking) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.entered <- r.URL.Path
	<-b.release
	w.WriteHeader(http.StatusNoContent)
}

func rejectWith503(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
}

func isStream(r *http.Request) bool { return r.URL.Path == "/stream" }

// serve runs one request through h in the background and returns its
// status when done.
func serve(h http.Handler, path string) <-chan int {
	done := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		done <- rec.Code
	}()
	return done
}

func waitEntered(t *testing.T, b *blocking, n int) {
	t.Helper()
	for range n {
		select {
		case <-b.entered:
		case <-time.After(5 * time.Second):
			t.Fatal("handler not entered")
		}
	}
}

func status(t *testing.T, done <-chan int) int {
	t.Helper()
	select {
	case code := <-done:
		return code
	case <-time.After(5 * time.Second):
		t.Fatal("request did not finish")
		return 0
	}
}

func TestConcurrencyRejectsBeyondMax(t *testing.T) {
	const limit = 3
	c := NewConcurrency(limit)
	c.wait = 20 * time.Millisecond
	b := newBlocking()
	h := c.Middleware(b, isStream, rejectWith503)

	var running []<-chan int
	for range limit {
		running = append(running, serve(h, "/work"))
	}
	waitEntered(t, b, limit)
	if got := c.InFlight(); got != limit {
		t.Errorf("InFlight() = %d; want %d", got, limit)
	}

	// One more is rejected after the short wait.
	start := time.Now()
	if got := status(t, serve(h, "/work")); got != http.StatusServiceUnavailable {
		t.Errorf("request beyond the limit: status %d; want 503", got)
	}
	if waited := time.Since(start); waited < c.wait {
		t.Errorf("rejected after %v; want a wait of at least %v", waited, c.wait)
	}

	// Exempt requests pass and are not counted.
	streams := []<-chan int{serve(h, "/stream"), serve(h, "/stream")}
	waitEntered(t, b, len(streams))
	if got := c.InFlight(); got != limit {
		t.Errorf("InFlight() with exempt requests running = %d; want %d", got, limit)
	}

	close(b.release)
	for _, done := range append(running, streams...) {
		if got := status(t, done); got != http.StatusNoContent {
			t.Errorf("admitted request: status %d; want 204", got)
		}
	}
	if got := c.InFlight(); got != 0 {
		t.Errorf("InFlight() after all finished = %d; want 0", got)
	}
	// Slots are free again.
	if got := status(t, serve(h, "/work")); got != http.StatusNoContent {
		t.Errorf("request after the others finished: status %d; want 204", got)
	}
}

func TestConcurrencyWaitsForASlot(t *testing.T) {
	c := NewConcurrency(1)
	c.wait = 5 * time.Second
	entered := make(chan struct{}, 2)
	release := make(chan struct{})
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		if r.URL.Path == "/slow" {
			<-release
		}
	}), nil, rejectWith503)

	first := serve(h, "/slow")
	<-entered
	second := serve(h, "/fast")
	time.Sleep(10 * time.Millisecond) // let it start waiting
	close(release)
	if got := status(t, first); got != http.StatusOK {
		t.Errorf("first: status %d; want 200", got)
	}
	if got := status(t, second); got != http.StatusOK {
		t.Errorf("second, which waited for the slot: status %d; want 200", got)
	}
}

func TestConcurrencyClientGoneWhileWaiting(t *testing.T) {
	c := NewConcurrency(1)
	c.wait = time.Minute
	b := newBlocking()
	defer close(b.release)
	rejected := make(chan struct{})
	h := c.Middleware(b, nil, func(w http.ResponseWriter, r *http.Request) { close(rejected) })
	serve(h, "/hold")
	waitEntered(t, b, 1)

	ctx, cancel := context.WithCancel(context.Background())
	go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil))
	cancel()
	select {
	case <-rejected:
	case <-time.After(5 * time.Second):
		t.Fatal("a request whose client went away kept waiting")
	}
}

func TestConcurrencyReleasesOnPanic(t *testing.T) {
	c := NewConcurrency(1)
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}), nil, rejectWith503)
	func() {
		defer func() { _ = recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	if got := c.InFlight(); got != 0 {
		t.Fatalf("InFlight() after a panic = %d; want 0", got)
	}
	select {
	case c.slots <- struct{}{}:
	default:
		t.Fatal("the slot of a panicking request was not released")
	}
}

func TestConcurrencyUnbounded(t *testing.T) {
	c := NewConcurrency(0)
	b := newBlocking()
	h := c.Middleware(b, nil, func(w http.ResponseWriter, r *http.Request) { t.Error("rejected without a bound") })
	var dones []<-chan int
	for range 50 {
		dones = append(dones, serve(h, "/"))
	}
	waitEntered(t, b, 50)
	if got := c.InFlight(); got != 50 {
		t.Errorf("InFlight() = %d; want 50", got)
	}
	close(b.release)
	for _, d := range dones {
		status(t, d)
	}
}

// TestConcurrencyNeverExceedsMax hammers a bound from many goroutines and
// checks that no more than max handlers ever run at once.
func TestConcurrencyNeverExceedsMax(t *testing.T) {
	const limit = 4
	c := NewConcurrency(limit)
	var mu sync.Mutex
	running, peak := 0, 0
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		running++
		peak = max(peak, running)
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
	}), nil, rejectWith503)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for range 10 {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
			}
		})
	}
	wg.Wait()
	if peak > limit {
		t.Errorf("%d handlers ran at once; want at most %d", peak, limit)
	}
}
