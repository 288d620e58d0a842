package edge

import (
	"net/http"
	"sync/atomic"
	"time"
)

// MaxWait is how long a request waits for a free slot of a full
// Concurrency before it is rejected. It absorbs a short spike without
// letting a queue build up behind a slow store.
const MaxWait = 100 * time.Millisecond

// Concurrency bounds the number of requests that run at once. It is safe
// for concurrent use, and one Concurrency can guard several surfaces (one
// Middleware each) so that they share one bound.
type Concurrency struct {
	slots    chan struct{} // nil: no bound
	wait     time.Duration
	inFlight atomic.Int64
}

// NewConcurrency returns a bound of max requests at once; max < 1 means
// no bound (InFlight still counts).
func NewConcurrency(max int) *Concurrency {
	c := &Concurrency{wait: MaxWait}
	if max >= 1 {
		c.slots = make(chan struct{}, max)
	}
	return c
}

// Middleware returns next behind the bound. A request that finds every
// slot taken waits up to MaxWait for one; if none frees up in time, or its
// client goes away while it waits, reject is called instead of next.
// reject writes the refusal in the caller's error format (503 with a
// Retry-After header).
//
// A request for which exempt returns true runs at once, takes no slot and
// is not counted by InFlight: long-lived requests such as the admin event
// stream must be exempt, or a few of them would hold the bound forever.
// exempt may be nil (no request is exempt).
func (c *Concurrency) Middleware(next http.Handler, exempt func(*http.Request) bool, reject func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if exempt != nil && exempt(r) {
			next.ServeHTTP(w, r)
			return
		}
		if !c.acquire(r) {
			reject(w, r)
			return
		}
		defer c.release()
		next.ServeHTTP(w, r)
	})
}

// InFlight returns the number of requests running now that hold a slot
// (exempt requests are not counted), for the in-flight gauge.
func (c *Concurrency) InFlight() int { return int(c.inFlight.Load()) }

func (c *Concurrency) acquire(r *http.Request) bool {
	if c.slots != nil {
		select {
		case c.slots <- struct{}{}:
		default:
			t := time.NewTimer(c.wait)
			defer t.Stop()
			select {
			case c.slots <- struct{}{}:
			case <-t.C:
				return false
			case <-r.Context().Done():
				return false
			}
		}
	}
	c.inFlight.Add(1)
	return true
}

func (c *Concurrency) release() {
	c.inFlight.Add(-1)
	if c.slots != nil {
		<-c.slots
	}
}
