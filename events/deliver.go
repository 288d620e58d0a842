package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/store"
)

// Deliverer pushes the outbox of every org to its subscriptions. Create it
// with New and call Run once.
type Deliverer struct {
	st     store.Store
	subs   store.Subscriptions // nil: the store keeps none; Run only prunes
	waiter store.EventWaiter   // nil: poll every PollInterval
	cfg    Config
	log    zerolog.Logger
	client *http.Client
}

// New returns a Deliverer over st. If st does not implement
// store.Subscriptions, Run delivers nothing and only prunes.
func New(st store.Store, cfg Config, log zerolog.Logger) *Deliverer {
	cfg = cfg.withDefaults()
	d := &Deliverer{st: st, cfg: cfg, log: log, client: newClient(cfg)}
	d.subs, _ = st.(store.Subscriptions)
	d.waiter, _ = st.(store.EventWaiter)
	return d
}

// Run delivers until ctx is done, then stops every delivery goroutine,
// waits for them and returns nil. It also prunes the outbox every
// PruneInterval (first at once). An attempt that ctx interrupts is
// retried from the same cursor at the next start.
func (d *Deliverer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	workers := map[[2]string]context.CancelFunc{}
	defer func() {
		for _, cancel := range workers {
			cancel()
		}
		wg.Wait()
	}()
	wg.Go(func() { d.pruneLoop(ctx) })
	for {
		if d.subs != nil {
			d.syncWorkers(ctx, &wg, workers)
		}
		if !sleep(ctx, d.cfg.PollInterval, nil) {
			return nil
		}
	}
}

// syncWorkers starts a goroutine for every new subscription and stops
// those of deleted ones.
func (d *Deliverer) syncWorkers(ctx context.Context, wg *sync.WaitGroup, workers map[[2]string]context.CancelFunc) {
	all, err := d.subs.AllSubscriptions(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Error().Err(err).Msg("events: listing subscriptions failed")
		}
		return
	}
	seen := make(map[[2]string]bool, len(all))
	for _, s := range all {
		k := [2]string{s.Org, s.ID}
		seen[k] = true
		if workers[k] != nil {
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		workers[k] = cancel
		wg.Go(func() { d.deliverLoop(wctx, s.Org, s.ID) })
	}
	for k, cancel := range workers {
		if !seen[k] {
			cancel()
			delete(workers, k)
		}
	}
}

// errMoved means the subscription's cursor was changed (by a replay)
// during an attempt: the attempt's outcome no longer applies.
var errMoved = errors.New("events: cursor moved during delivery")

// deliverLoop delivers one subscription until ctx is done or the
// subscription is deleted.
func (d *Deliverer) deliverLoop(ctx context.Context, org, id string) {
	log := d.log.With().Str("org", org).Str("subscription", id).Logger()
	for ctx.Err() == nil {
		sub, err := d.subs.Subscription(ctx, org, id)
		if errors.Is(err, store.ErrNotFound) {
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				log.Error().Err(err).Msg("events: reading subscription failed")
			}
			sleep(ctx, d.cfg.PollInterval, nil)
			continue
		}
		if sub.State == store.SubscriptionPaused {
			sleep(ctx, d.cfg.PollInterval, nil)
			continue
		}
		if wait := sub.NextAttempt.Sub(d.cfg.Now()); wait > 0 {
			sleep(ctx, min(wait, d.cfg.PollInterval), nil)
			continue
		}
		page, err := d.st.Events(ctx, org, store.EventQuery{After: sub.Cursor, Limit: d.cfg.BatchSize, Types: sub.Types, Directory: sub.Directory})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var expired *store.CursorExpiredError
			switch {
			case errors.As(err, &expired):
				d.failed(ctx, log, sub, fmt.Errorf("events after seq %d were pruned before they could be delivered (retention window); the oldest available seq is %d: replay from it (events in between are lost to this subscription)", expired.After, expired.Oldest), true)
			case errors.Is(err, store.ErrCursorAhead):
				d.failed(ctx, log, sub, fmt.Errorf("the cursor %d is past the last event of the org: replay from a seq that exists", sub.Cursor), true)
			default:
				log.Error().Err(err).Msg("events: reading the outbox failed")
				sleep(ctx, d.cfg.PollInterval, nil)
			}
			continue
		}
		if len(page.Events) == 0 {
			if page.Next > sub.Cursor { // the filter skipped a window
				if err := d.advance(ctx, sub, page.Next, false); err != nil && !errors.Is(err, errMoved) && ctx.Err() == nil {
					log.Error().Err(err).Msg("events: saving the cursor failed")
					sleep(ctx, d.cfg.PollInterval, nil)
				}
				continue
			}
			var wake <-chan struct{}
			if d.waiter != nil {
				if wake, err = d.waiter.WaitEvents(ctx, org, page.Next); err != nil {
					wake = nil
				}
			}
			sleep(ctx, d.cfg.PollInterval, wake)
			continue
		}
		if err := d.send(ctx, sub, page.Events); err != nil {
			if ctx.Err() != nil {
				return
			}
			d.failed(ctx, log, sub, err, false)
			continue
		}
		if err := d.advance(ctx, sub, page.Next, true); err != nil && !errors.Is(err, errMoved) && ctx.Err() == nil {
			log.Error().Err(err).Msg("events: saving the cursor failed")
			sleep(ctx, d.cfg.PollInterval, nil)
		}
	}
}

// advance moves the cursor of sub to next, unless a replay moved it
// meanwhile; after a delivery it also records the success.
func (d *Deliverer) advance(ctx context.Context, sub store.Subscription, next uint64, delivered bool) error {
	now := d.cfg.Now().UTC()
	_, err := d.subs.UpdateSubscription(ctx, sub.Org, sub.ID, func(s *store.Subscription) error {
		if s.Cursor != sub.Cursor {
			return errMoved
		}
		s.Cursor = next
		if delivered {
			s.State, s.Failures, s.LastError = store.SubscriptionActive, 0, ""
			s.LastAttempt, s.LastSuccess = now, now
			s.NextAttempt, s.FailingSince = time.Time{}, time.Time{}
		}
		return nil
	})
	return err
}

// failed records a failed attempt and when to try again. stuck failures
// (the cursor cannot be read) go to failing at once and wait the cap.
func (d *Deliverer) failed(ctx context.Context, log zerolog.Logger, sub store.Subscription, cause error, stuck bool) {
	now := d.cfg.Now().UTC()
	msg := redact(cause.Error(), sub.Secret)
	if len(msg) > 500 {
		msg = msg[:500] + "…"
	}
	upd, err := d.subs.UpdateSubscription(ctx, sub.Org, sub.ID, func(s *store.Subscription) error {
		if s.Cursor != sub.Cursor {
			return errMoved
		}
		s.Failures++
		s.LastAttempt, s.LastError = now, msg
		if s.FailingSince.IsZero() {
			s.FailingSince = now
		}
		delay := d.backoff(s.Failures)
		if stuck {
			delay = d.cfg.BackoffCap
		}
		if stuck || s.Failures >= d.cfg.FailingAfter {
			s.State = store.SubscriptionFailing
		}
		if d.cfg.MaxRetryAge > 0 && now.Sub(s.FailingSince) >= d.cfg.MaxRetryAge {
			s.State = store.SubscriptionPaused
		}
		s.NextAttempt = now.Add(delay)
		return nil
	})
	switch {
	case errors.Is(err, errMoved) || errors.Is(err, store.ErrNotFound) || ctx.Err() != nil:
	case err != nil:
		log.Error().Err(err).Msg("events: recording a failed delivery failed")
		sleep(ctx, d.cfg.PollInterval, nil)
	case upd.State != sub.State:
		log.Warn().Str("state", upd.State).Int("failures", upd.Failures).Str("error", msg).Uint64("cursor", upd.Cursor).
			Time("next_attempt", upd.NextAttempt).Msg("events: subscription changed state")
	default:
		log.Debug().Int("failures", upd.Failures).Str("error", msg).Time("next_attempt", upd.NextAttempt).Msg("events: delivery failed")
	}
}

// backoff is the delay after the n-th failure in a row: full jitter over
// min(cap, base·2^(n-1)), never zero.
func (d *Deliverer) backoff(n int) time.Duration {
	ceil := d.cfg.BackoffCap
	if n < 40 {
		if b := d.cfg.BackoffBase << (n - 1); b > 0 && b < ceil {
			ceil = b
		}
	}
	return time.Duration(rand.Int64N(int64(ceil))) + 1
}

// send makes one delivery attempt of evs (in seq order) to sub.
func (d *Deliverer) send(ctx context.Context, sub store.Subscription, evs []store.Event) error {
	u, err := ValidateURL(sub.URL, d.cfg)
	if err != nil {
		return err
	}
	var body []byte
	h := http.Header{}
	switch sub.Kind {
	case store.SubscriptionWebhook:
		if body, err = json.Marshal(struct {
			Events []store.Event `json:"events"`
		}{evs}); err != nil {
			return fmt.Errorf("encode events: %w", err)
		}
		h.Set(HeaderSignature, Sign(sub.Secret, d.cfg.Now(), body))
		h.Set(HeaderEventID, evs[0].ID)
		h.Set(HeaderSubscriptionID, sub.ID)
	case store.SubscriptionSplunk:
		st := sub.SourceType
		if st == "" {
			st = d.cfg.SplunkSourceType
		}
		if body, err = hecBody(evs, st); err != nil {
			return err
		}
		h.Set("Authorization", "Splunk "+string(sub.Secret))
		u = splunkURL(u)
	default:
		return fmt.Errorf("unknown subscription kind %q", sub.Kind)
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "scimbridge")
	res, err := d.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // without the URL, which may carry a token
			if ue.Timeout() {
				return fmt.Errorf("no response within %s", d.cfg.Timeout)
			}
			err = ue.Err
		}
		return fmt.Errorf("request failed: %w", err)
	}
	defer res.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(res.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, MaxResponseBody))
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		return nil
	}
	if res.StatusCode >= 300 && res.StatusCode < 400 {
		return fmt.Errorf("HTTP %d: redirects are not followed; configure the final URL", res.StatusCode)
	}
	return fmt.Errorf("HTTP %d: %q", res.StatusCode, excerpt)
}

// splunkURL is the HEC endpoint under base, unless base already names it.
func splunkURL(base *url.URL) *url.URL {
	u := *base
	if p := strings.TrimRight(u.Path, "/"); !strings.HasSuffix(p, "/services/collector") && !strings.HasSuffix(p, "/services/collector/event") {
		u.Path = p + "/services/collector"
		u.RawPath = ""
	}
	return &u
}

// hecBody is evs as Splunk HEC events, one JSON object per line.
func hecBody(evs []store.Event, sourceType string) ([]byte, error) {
	var buf bytes.Buffer
	for _, e := range evs {
		ts := float64(e.OccurredAt.UnixMilli()) / 1000
		b, err := json.Marshal(struct {
			Time       json.Number `json:"time"`
			Source     string      `json:"source"`
			SourceType string      `json:"sourcetype"`
			Event      store.Event `json:"event"`
		}{json.Number(strconv.FormatFloat(ts, 'f', 3, 64)), "scimbridge", sourceType, e})
		if err != nil {
			return nil, fmt.Errorf("encode event %d: %w", e.Seq, err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

// sleep waits for dur, wake or the end of ctx; false when ctx is done.
func sleep(ctx context.Context, dur time.Duration, wake <-chan struct{}) bool {
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

// Prune deletes, in every org and in the outbox of org "", the events
// older than the retention window that every subscription of the org has
// passed. It returns how many it deleted. Run calls it every
// PruneInterval; it is safe to call concurrently with delivery (a replay
// that races with it to a pruned seq ends in a cursor_expired failure,
// never a silent gap).
func (d *Deliverer) Prune(ctx context.Context) (int, error) {
	orgs, err := d.st.Orgs(ctx)
	if err != nil {
		return 0, fmt.Errorf("events: prune: %w", err)
	}
	keep := map[string]uint64{}
	if d.subs != nil {
		all, err := d.subs.AllSubscriptions(ctx)
		if err != nil {
			return 0, fmt.Errorf("events: prune: %w", err)
		}
		for _, s := range all {
			if c, ok := keep[s.Org]; !ok || s.Cursor < c {
				keep[s.Org] = s.Cursor
			}
		}
	}
	before := d.cfg.Now().Add(-d.cfg.Retention)
	names := []string{""}
	for _, o := range orgs {
		names = append(names, o.Name)
	}
	total := 0
	for _, org := range names {
		keepAfter, ok := keep[org]
		if !ok {
			keepAfter = math.MaxUint64
		}
		for {
			n, err := d.st.PruneEvents(ctx, org, before, keepAfter)
			total += n
			if err != nil {
				return total, fmt.Errorf("events: prune: %w", err)
			}
			if n < store.MaxEventPrune {
				break
			}
		}
	}
	return total, nil
}

func (d *Deliverer) pruneLoop(ctx context.Context) {
	for {
		n, err := d.Prune(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			d.log.Error().Err(err).Msg("events: pruning the outbox failed")
		case n > 0:
			d.log.Info().Int("pruned", n).Dur("retention", d.cfg.Retention).Msg("events: pruned the outbox")
		}
		if !sleep(ctx, d.cfg.PruneInterval, nil) {
			return
		}
	}
}

// secretShapes are credentials a receiver might echo back in an error
// body: they never reach LastError, the admin API or the logs.
var secretShapes = regexp.MustCompile(`(?i)(splunk\s+\S+|bearer\s+\S+|whsec_\S+)`)

// redact removes the subscription's secret, and anything shaped like a
// credential, from a failure message.
func redact(msg string, secret []byte) string {
	if len(secret) > 0 {
		msg = strings.ReplaceAll(msg, string(secret), "[redacted]")
	}
	return secretShapes.ReplaceAllString(msg, "[redacted]")
}
