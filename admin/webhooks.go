package admin

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/events"
	"github.com/scimbridge/scimbridge/store"
)

// Limits of webhook subscriptions.
const (
	// maxWebhooks caps the subscriptions of one org (each has a delivery
	// goroutine).
	maxWebhooks = 20
	// maxWebhookTypes caps the event types of one subscription.
	maxWebhookTypes = 32
)

// eventsConfig is the delivery configuration whose URL policy
// (AllowInsecureHTTP, AllowPrivateNetworks) applies when a webhook is saved.
func (s *Server) eventsConfig() events.Config { return s.cfg.Events }

// subscriptions is the store's subscription capability, or a 501.
func (s *Server) subscriptions() (store.Subscriptions, error) {
	subs, ok := s.store.(store.Subscriptions)
	if !ok {
		return nil, errorf(http.StatusNotImplemented, "not_supported", "this store backend does not keep webhook subscriptions")
	}
	return subs, nil
}

// webhookView is a subscription as the API shows it: never its secret or
// Splunk token.
type webhookView struct {
	ID           string    `json:"id"`
	Kind         string    `json:"kind"`
	URL          string    `json:"url"`
	Types        []string  `json:"types"`
	Directory    string    `json:"directory,omitempty"`
	SourceType   string    `json:"sourcetype,omitempty"`
	SecretPrefix string    `json:"secret_prefix,omitempty"`
	State        string    `json:"state"`
	Cursor       uint64    `json:"cursor"`
	Lag          *uint64   `json:"lag,omitempty"` // events of the org after the cursor (before filtering)
	Failures     int       `json:"failures"`
	LastError    string    `json:"last_error,omitempty"`
	LastAttempt  time.Time `json:"last_attempt,omitzero"`
	LastSuccess  time.Time `json:"last_success,omitzero"`
	NextAttempt  time.Time `json:"next_attempt,omitzero"`
	FailingSince time.Time `json:"failing_since,omitzero"`
	Created      time.Time `json:"created"`
	// Secret is set only in the response that creates a webhook.
	Secret string `json:"secret,omitempty"`
}

func viewWebhook(sub store.Subscription, last uint64, known bool) webhookView {
	v := webhookView{
		ID: sub.ID, Kind: sub.Kind, URL: sub.URL, Types: sub.Types, Directory: sub.Directory, SourceType: sub.SourceType,
		SecretPrefix: sub.SecretPrefix, State: sub.State, Cursor: sub.Cursor, Failures: sub.Failures, LastError: sub.LastError,
		LastAttempt: sub.LastAttempt, LastSuccess: sub.LastSuccess, NextAttempt: sub.NextAttempt, FailingSince: sub.FailingSince,
		Created: sub.Created,
	}
	if v.Types == nil {
		v.Types = []string{}
	}
	if known && last >= sub.Cursor {
		lag := last - sub.Cursor
		v.Lag = &lag
	}
	return v
}

// orgLast returns the highest seq of the org's outbox.
func (s *Server) orgLast(ctx context.Context, org string) (uint64, error) {
	page, err := s.store.Events(ctx, org, store.EventQuery{Limit: 1})
	var expired *store.CursorExpiredError
	if errors.As(err, &expired) {
		page, err = s.store.Events(ctx, org, store.EventQuery{After: expired.Oldest - 1, Limit: 1})
	}
	return page.Last, err
}

type webhookRequest struct {
	URL         string   `json:"url"`
	Types       []string `json:"types"`
	Directory   string   `json:"directory"`
	Kind        string   `json:"kind"`
	SplunkToken string   `json:"splunk_token"`
	SourceType  string   `json:"sourcetype"`
}

func invalid(format string, args ...any) error {
	return errorf(http.StatusBadRequest, "invalid_request", format, args...)
}

// validEventType reports whether t looks like an event type: two
// lower-case words joined by a dot ("user.created", "access.granted").
func validEventType(t string) bool {
	prefix, name, ok := strings.Cut(t, ".")
	word := func(s string) bool {
		if s == "" {
			return false
		}
		for _, r := range s {
			if !(r >= 'a' && r <= 'z' || r == '_') {
				return false
			}
		}
		return true
	}
	return ok && len(t) <= 64 && word(prefix) && word(name)
}

// printable reports whether s is 1 to max printable ASCII characters
// without spaces.
func printable(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r > '~' {
			return false
		}
	}
	return true
}

// createWebhook answers POST /webhooks: it validates the URL against the
// egress policy and returns the subscription with its signing secret,
// which is never shown again. Delivery starts after the org's current last
// event.
func (s *Server) createWebhook(c *request) error {
	subs, err := s.subscriptions()
	if err != nil {
		return err
	}
	var in webhookRequest
	if err := decode(c.r, &in); err != nil {
		return err
	}
	ctx := c.r.Context()
	if in.Kind == "" {
		in.Kind = store.SubscriptionWebhook
	}
	sub := store.Subscription{Org: c.org, Kind: in.Kind, URL: in.URL, Directory: in.Directory, State: store.SubscriptionActive}
	if _, err := events.ValidateURL(in.URL, s.eventsConfig()); err != nil {
		return invalid("url: %s", strings.TrimPrefix(err.Error(), events.ErrInvalidURL.Error()+": "))
	}
	if len(in.Types) > maxWebhookTypes {
		return invalid("types: at most %d event types", maxWebhookTypes)
	}
	for _, t := range in.Types {
		if !validEventType(t) {
			return invalid("types: %q is not an event type (such as user.created)", t)
		}
		if !slices.Contains(sub.Types, t) {
			sub.Types = append(sub.Types, t)
		}
	}
	if in.Directory != "" {
		if _, err := s.store.Directory(ctx, store.DirKey{Org: c.org, Directory: in.Directory}); errors.Is(err, store.ErrNotFound) {
			return invalid("directory: this org has no directory %q", in.Directory)
		} else if err != nil {
			return err
		}
	}
	var secret string
	switch in.Kind {
	case store.SubscriptionWebhook:
		if in.SplunkToken != "" || in.SourceType != "" {
			return invalid("splunk_token and sourcetype are only for kind splunk")
		}
		if secret, sub.SecretPrefix, err = events.NewSecret(); err != nil {
			return err
		}
		sub.Secret = []byte(secret)
	case store.SubscriptionSplunk:
		if !printable(in.SplunkToken, 256) {
			return invalid("splunk_token: the HEC token is required (printable, no spaces, at most 256 characters)")
		}
		if in.SourceType != "" && !printable(in.SourceType, 128) {
			return invalid("sourcetype: printable, no spaces, at most 128 characters")
		}
		sub.Secret, sub.SourceType = []byte(in.SplunkToken), in.SourceType
		sub.SecretPrefix = in.SplunkToken[:min(4, len(in.SplunkToken))]
	default:
		return invalid("kind must be %q or %q", store.SubscriptionWebhook, store.SubscriptionSplunk)
	}
	existing, err := subs.Subscriptions(ctx, c.org)
	if err != nil {
		return err
	}
	if len(existing) >= maxWebhooks {
		return errorf(http.StatusConflict, "limit_reached", "this org already has %d webhooks, the most it may have", maxWebhooks)
	}
	if sub.Cursor, err = s.orgLast(ctx, c.org); err != nil {
		return err
	}
	if sub.ID, err = store.NewID(); err != nil {
		return err
	}
	sub.Created = s.cfg.Now().UTC()
	if err := subs.CreateSubscription(ctx, sub); err != nil {
		return err
	}
	v := viewWebhook(sub, sub.Cursor, true)
	v.Secret = secret
	c.w.Header().Set("Cache-Control", "no-store")
	writeJSON(c.w, http.StatusCreated, v)
	return nil
}

// listWebhooks answers GET /webhooks.
func (s *Server) listWebhooks(c *request) error {
	subs, err := s.subscriptions()
	if err != nil {
		return err
	}
	list, err := subs.Subscriptions(c.r.Context(), c.org)
	if err != nil {
		return err
	}
	last, err := s.orgLast(c.r.Context(), c.org)
	if err != nil {
		return err
	}
	out := make([]webhookView, 0, len(list))
	for _, sub := range list {
		out = append(out, viewWebhook(sub, last, true))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"webhooks": out, "last": last})
	return nil
}

// getWebhook answers GET /webhooks/{id}.
func (s *Server) getWebhook(c *request) error {
	subs, err := s.subscriptions()
	if err != nil {
		return err
	}
	sub, err := subs.Subscription(c.r.Context(), c.org, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.renderWebhook(c, sub)
}

func (s *Server) renderWebhook(c *request, sub store.Subscription) error {
	last, err := s.orgLast(c.r.Context(), c.org)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, viewWebhook(sub, last, true))
	return nil
}

// deleteWebhook answers DELETE /webhooks/{id}: delivery stops within the
// deliverer's poll interval, and its cursor no longer holds back pruning.
func (s *Server) deleteWebhook(c *request) error {
	subs, err := s.subscriptions()
	if err != nil {
		return err
	}
	if err := subs.DeleteSubscription(c.r.Context(), c.org, c.r.PathValue("id")); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// replayWebhook answers POST /webhooks/{id}/replay {"from_seq": N}: the
// next delivery starts at event N (which must still be retained), and the
// subscription is active again.
func (s *Server) replayWebhook(c *request) error {
	subs, err := s.subscriptions()
	if err != nil {
		return err
	}
	var in struct {
		FromSeq *uint64 `json:"from_seq"`
	}
	if err := decode(c.r, &in); err != nil {
		return err
	}
	if in.FromSeq == nil || *in.FromSeq < 1 {
		return invalid("from_seq: the seq of the first event to deliver again (1 or more) is required")
	}
	ctx := c.r.Context()
	id := c.r.PathValue("id")
	if _, err := subs.Subscription(ctx, c.org, id); err != nil {
		return err
	}
	cursor := *in.FromSeq - 1
	if _, err := s.store.Events(ctx, c.org, store.EventQuery{After: cursor, Limit: 1}); err != nil {
		if errors.Is(err, store.ErrCursorAhead) {
			return invalid("from_seq: %d is past the last event of this org", *in.FromSeq)
		}
		return cursorError(err)
	}
	sub, err := subs.UpdateSubscription(ctx, c.org, id, func(sub *store.Subscription) error {
		sub.Cursor = cursor
		reactivate(sub)
		return nil
	})
	if err != nil {
		return err
	}
	return s.renderWebhook(c, sub)
}

// resumeWebhook answers POST /webhooks/{id}/resume: a failing or paused
// subscription is tried again at once, from its cursor.
func (s *Server) resumeWebhook(c *request) error {
	subs, err := s.subscriptions()
	if err != nil {
		return err
	}
	sub, err := subs.UpdateSubscription(c.r.Context(), c.org, c.r.PathValue("id"), func(sub *store.Subscription) error {
		reactivate(sub)
		return nil
	})
	if err != nil {
		return err
	}
	return s.renderWebhook(c, sub)
}

func reactivate(sub *store.Subscription) {
	sub.State, sub.Failures = store.SubscriptionActive, 0
	sub.NextAttempt, sub.FailingSince = time.Time{}, time.Time{}
}
