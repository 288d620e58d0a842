package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/internal/edge"
	"github.com/scimbridge/scimbridge/internal/metrics"
	"github.com/scimbridge/scimbridge/store"
)

// splitList splits a comma-separated setting, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// outboxStats reports, for /metrics, every org's last seq and, per
// subscription, the events after its cursor and the age of the first of
// them.
func outboxStats(st store.Store) func(ctx context.Context) ([]metrics.OutboxStat, error) {
	subs, _ := st.(store.Subscriptions)
	return func(ctx context.Context) ([]metrics.OutboxStat, error) {
		orgs, err := st.Orgs(ctx)
		if err != nil {
			return nil, err
		}
		var out []metrics.OutboxStat
		now := time.Now()
		for _, o := range orgs {
			head, err := st.Events(ctx, o.Name, store.EventQuery{After: 0, Limit: 1})
			if expired := (*store.CursorExpiredError)(nil); errors.As(err, &expired) {
				// The first events were pruned: ask from the oldest kept.
				head, err = st.Events(ctx, o.Name, store.EventQuery{After: expired.Oldest - 1, Limit: 1})
			}
			if err != nil {
				return nil, err
			}
			last := head.Last
			out = append(out, metrics.OutboxStat{Org: o.Name, LastSeq: last})
			if subs == nil {
				continue
			}
			list, err := subs.Subscriptions(ctx, o.Name)
			if err != nil {
				return nil, err
			}
			for _, s := range list {
				stat := metrics.OutboxStat{Org: o.Name, Subscription: s.ID, State: s.State, LastSeq: last}
				if last > s.Cursor {
					stat.Depth = last - s.Cursor
					if p, err := st.Events(ctx, o.Name, store.EventQuery{After: s.Cursor, Limit: 1}); err == nil && len(p.Events) > 0 {
						stat.Lag = now.Sub(p.Events[0].OccurredAt)
					}
				}
				out = append(out, stat)
			}
		}
		return out, nil
	}
}

// tokenStats reports every token that expires, for /metrics.
func tokenStats(st store.Store) func(ctx context.Context) ([]metrics.TokenStat, error) {
	return func(ctx context.Context) ([]metrics.TokenStat, error) {
		orgs, err := st.Orgs(ctx)
		if err != nil {
			return nil, err
		}
		scopes := []string{""} // super tokens
		for _, o := range orgs {
			scopes = append(scopes, o.Name)
		}
		var out []metrics.TokenStat
		for _, org := range scopes {
			toks, err := st.Tokens(ctx, org)
			if err != nil {
				return nil, err
			}
			for _, t := range toks {
				if t.Expires.IsZero() {
					continue
				}
				out = append(out, metrics.TokenStat{ID: t.ID, Kind: string(t.Kind), Org: t.Org, Directory: t.Directory, Name: t.Name, Expires: t.Expires})
			}
		}
		return out, nil
	}
}

// allowlisted serves h only to clients in list (by proxies' rules).
func allowlisted(list edge.Allowlist, proxies edge.Proxies, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !list.Allows(proxies.ClientIP(r)) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
