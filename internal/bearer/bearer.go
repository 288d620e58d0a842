// Package bearer reads the bearer token of a request and finds it in the
// store: the one place where every HTTP surface (SCIM, admin, backup)
// parses the Authorization header, so that a fix to it applies to all.
// It decides nothing about what a token may do: callers check its kind,
// org, directory and expiry.
//
// It also records when each token was last presented (store.Token
// LastUsed), when the store can (Toucher): at most once per token per
// TouchInterval, in the background, so that a request never waits for
// that write. The secret is hashed at once and is never kept or logged
// (the package logs nothing).
package bearer

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// Tokens is the part of the store this package uses.
type Tokens interface {
	TokenByHash(ctx context.Context, hash []byte) (store.Token, error)
}

// Toucher is the optional capability of a store to record a token's last
// use (store.Store has it). Lookup uses it when the store it is given
// implements it.
type Toucher interface {
	TouchToken(ctx context.Context, id string, at time.Time) error
}

// TouchInterval is how often at most Lookup records the use of one token:
// LastUsed is exact to this much, and a busy token costs one write per
// interval, not one per request.
const TouchInterval = time.Minute

// touchTimeout bounds one background write of a last use.
const touchTimeout = 5 * time.Second

// Lookup returns the token named by r's "Authorization: Bearer <secret>"
// header (scheme case-insensitive). ok is false when the header is
// missing, not a bearer token, or names no token; err is set only when the
// store failed. The secret is hashed before the lookup and never kept.
//
// When st is also a Toucher, a token found is recorded as used (see
// TouchInterval), even when the caller then refuses it (expired, wrong
// kind or org): LastUsed says when it was last presented, which is what
// tells an operator that an IdP still sends a token.
func Lookup(r *http.Request, st Tokens) (tok store.Token, ok bool, err error) {
	scheme, secret, found := strings.Cut(r.Header.Get("Authorization"), " ")
	secret = strings.TrimSpace(secret)
	if !found || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return store.Token{}, false, nil
	}
	tok, err = st.TokenByHash(r.Context(), store.HashToken(secret))
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, false, nil
	}
	if err != nil {
		return store.Token{}, false, err
	}
	if t, ok := st.(Toucher); ok {
		touches.touch(r, t, tok.ID)
	}
	return tok, true, nil
}

// touches is the throttle of every Lookup in the process.
var touches = newThrottle(TouchInterval, time.Now)

// maxThrottled bounds the throttle's memory: past it, entries older than
// the interval are dropped (they would allow a touch anyway).
const maxThrottled = 4096

// throttle remembers when each token was last touched.
type throttle struct {
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	last map[string]time.Time // token id → time of the last touch started

	wg sync.WaitGroup // touches in flight (tests wait for them)
}

func newThrottle(every time.Duration, now func() time.Time) *throttle {
	return &throttle{every: every, now: now, last: map[string]time.Time{}}
}

// due reports whether token id may be touched now and, if so, reserves
// the interval for it: of concurrent requests with one token, one
// touches. A failed write keeps its reservation (the next interval
// tries again), so a failing store is not hit once per request.
func (t *throttle) due(id string) (time.Time, bool) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, ok := t.last[id]; ok && now.Sub(last) < t.every && !now.Before(last) {
		return now, false
	}
	if len(t.last) >= maxThrottled {
		for k, last := range t.last {
			if now.Sub(last) >= t.every {
				delete(t.last, k)
			}
		}
	}
	t.last[id] = now
	return now, true
}

// touch records the use of token id in the background when it is due.
// The write outlives the request (context.WithoutCancel, bounded by
// touchTimeout). A failure is counted (TouchErrors), not logged: the
// write may outlive the request's logger and, at shutdown, the store,
// and a store that cannot write fails the requests' own writes loudly
// anyway. A token deleted meanwhile is not a failure.
func (t *throttle) touch(r *http.Request, st Toucher, id string) {
	at, ok := t.due(id)
	if !ok {
		return
	}
	ctx := context.WithoutCancel(r.Context())
	t.wg.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, touchTimeout)
		defer cancel()
		if err := st.TouchToken(ctx, id, at); err != nil && !errors.Is(err, store.ErrNotFound) {
			touchErrors.Add(1)
		}
	})
}

var touchErrors atomic.Uint64

// TouchErrors returns how many background writes of a token's last use
// failed since the process started, for the metrics.
func TouchErrors() uint64 { return touchErrors.Load() }
