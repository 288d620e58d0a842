package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog/hlog"

	"github.com/scimbridge/scimbridge/internal/reqlog"
	"github.com/scimbridge/scimbridge/store"
)

// eventQuery reads after, limit, type (repeatable or comma-separated) and
// directory from the query string.
func eventQuery(c *request, after uint64) (store.EventQuery, error) {
	q := c.r.URL.Query()
	eq := store.EventQuery{After: after, Directory: q.Get("directory")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return eq, errorf(http.StatusBadRequest, "invalid_request", "limit must be a positive integer")
		}
		eq.Limit = min(n, store.MaxEventLimit)
	}
	for _, t := range q["type"] {
		for _, s := range strings.Split(t, ",") {
			if s = strings.TrimSpace(s); s != "" {
				eq.Types = append(eq.Types, s)
			}
		}
	}
	return eq, nil
}

func parseCursor(v string) (uint64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, errorf(http.StatusBadRequest, "invalid_request", "after must be an event seq (a non-negative integer)")
	}
	return n, nil
}

// cursorError turns the store's cursor errors into their public form.
func cursorError(err error) error {
	var expired *store.CursorExpiredError
	switch {
	case errors.As(err, &expired):
		return errorf(http.StatusGone, "cursor_expired",
			"events after %d were pruned (older than the retention window); the oldest available seq is %d: read from after=%d, or resynchronise",
			expired.After, expired.Oldest, expired.Oldest-1)
	case errors.Is(err, store.ErrCursorAhead):
		return errorf(http.StatusBadRequest, "cursor_ahead", "after is past the last event of this org; it is not a cursor of this org")
	}
	return err
}

// listEvents answers GET /events?after=SEQ&limit=N&type=T: events in seq
// order and the cursor to continue from.
func (s *Server) listEvents(c *request) error {
	after, err := parseCursor(c.r.URL.Query().Get("after"))
	if err != nil {
		return err
	}
	q, err := eventQuery(c, after)
	if err != nil {
		return err
	}
	page, err := s.store.Events(c.r.Context(), c.org, q)
	if err != nil {
		return cursorError(err)
	}
	events := page.Events
	if events == nil {
		events = []store.Event{}
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"events": events, "next": page.Next, "last": page.Last})
	return nil
}

// maxStreamAge is how long one event stream stays open before the client
// must reconnect (and be authenticated again).
const maxStreamAge = time.Hour

// streamKeepAlive is how often an idle stream sends a comment line, so
// proxies do not close it.
const streamKeepAlive = 15 * time.Second

// streamEvents answers GET /events/stream?after=SEQ as Server-Sent Events:
// each event is sent with its seq as the SSE id, so a client that
// reconnects with Last-Event-ID resumes where it stopped.
func (s *Server) streamEvents(c *request) error {
	v := c.r.URL.Query().Get("after")
	if id := c.r.Header.Get("Last-Event-ID"); id != "" {
		v = id
	}
	after, err := parseCursor(v)
	if err != nil {
		return err
	}
	q, err := eventQuery(c, after)
	if err != nil {
		return err
	}
	ctx := c.r.Context()
	// The first read decides between an error response and a stream.
	page, err := s.store.Events(ctx, c.org, q)
	if err != nil {
		return cursorError(err)
	}
	flusher, _ := c.w.(http.Flusher)
	rc := http.NewResponseController(c.w)
	h := c.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	c.w.WriteHeader(http.StatusOK)
	waiter, _ := s.store.(store.EventWaiter)
	// A stream lives at most maxStreamAge and re-checks its token on every
	// pass, so a revoked or expired token stops feeding events at once;
	// clients reconnect with Last-Event-ID and are authenticated again.
	deadline := s.cfg.Now().Add(maxStreamAge)
	for {
		if tok, err := s.store.TokenByHash(ctx, c.token.Hash); err != nil || tok.Expired(s.cfg.Now()) || !s.cfg.Now().Before(deadline) {
			fmt.Fprint(c.w, "event: end\ndata: \"reconnect with Last-Event-ID\"\n\n")
			return nil
		}
		_ = rc.SetWriteDeadline(time.Now().Add(time.Minute))
		for _, e := range page.Events {
			b, err := json.Marshal(e)
			if err != nil {
				return nil
			}
			if _, err := fmt.Fprintf(c.w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Type, b); err != nil {
				return nil // the client has gone
			}
		}
		if flusher != nil {
			flusher.Flush()
		}
		q.After = page.Next
		if page.Next < page.Last {
			// A filter skipped a window of events: read on at once.
		} else if err := s.wait(c, waiter, q.After); err != nil {
			return nil
		}
		if page, err = s.store.Events(ctx, c.org, q); err != nil {
			// Pruned under a slow reader: say so in the stream, then end
			// it. Anything else is logged; the client sees the request id.
			msg := "internal error; quote request id " + reqlog.ID(c.r) + " to your administrator"
			var ae *apiError
			if errors.As(cursorError(err), &ae) {
				msg = ae.Message
			} else {
				hlog.FromRequest(c.r).Error().Err(err).Msg("event stream failed")
			}
			fmt.Fprintf(c.w, "event: error\ndata: %q\n\n", msg)
			return nil
		}
	}
}

// wait blocks until an event after seq may exist, the keep-alive is due
// (it then writes a comment), or the client goes.
func (s *Server) wait(c *request, waiter store.EventWaiter, after uint64) error {
	ctx := c.r.Context()
	var ch <-chan struct{}
	if waiter != nil {
		var err error
		if ch, err = waiter.WaitEvents(ctx, c.org, after); err != nil {
			return err
		}
	}
	poll := time.NewTimer(streamKeepAlive)
	defer poll.Stop()
	fallback := time.NewTicker(time.Second) // without a waiter, poll
	defer fallback.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stopping:
			fmt.Fprint(c.w, "event: end\ndata: \"the server is stopping; reconnect with Last-Event-ID\"\n\n")
			return errStopping
		case <-ch:
			return nil
		case <-poll.C:
			if _, err := fmt.Fprint(c.w, ": keep-alive\n\n"); err != nil {
				return err
			}
			if f, ok := c.w.(http.Flusher); ok {
				f.Flush()
			}
			return nil
		case <-fallback.C:
			if waiter == nil {
				return nil
			}
		}
	}
}
