package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// ExpiringThresholds are the days before its expiry at which a token is
// announced with a token.expiring event, tightest first. An expired SCIM
// token silently stops provisioning (Entra then quarantines the job), so
// the warning must come while there is time to rotate.
var ExpiringThresholds = [...]int{1, 7, 14}

// expiringThreshold returns the tightest threshold that t has crossed at
// now: t expires within that many days and has not expired. A token
// without expiry, already expired, or replaced by a rotation (its end is
// the planned end of the overlap, and its replacement is what matters)
// has none.
func expiringThreshold(t store.Token, now time.Time) (int, bool) {
	if t.Expires.IsZero() || t.Expired(now) || t.ReplacedBy != "" {
		return 0, false
	}
	left := t.Expires.Sub(now)
	for _, days := range ExpiringThresholds {
		if left <= time.Duration(days)*24*time.Hour {
			return days, true
		}
	}
	return 0, false
}

// CheckExpiring announces the tokens that expire soon: it walks the tokens
// of every org and the super tokens and, for each that has crossed a
// threshold (ExpiringThresholds) at now, calls MarkTokenExpiring with the
// tightest one. The store announces each threshold once per token, across
// restarts, and never a looser one after a tighter one, so CheckExpiring
// may run as often as wanted (the server runs it hourly), concurrently
// too. A token first seen inside several thresholds (created for
// less than 14 days, or after downtime) gets one event, for the tightest.
// It returns how many events it emitted. A token revoked meanwhile is
// skipped; other failures do not stop the walk and are returned together.
func CheckExpiring(ctx context.Context, st store.Store, now time.Time) (int, error) {
	orgs, err := st.Orgs(ctx)
	if err != nil {
		return 0, fmt.Errorf("check expiring tokens: %w", err)
	}
	scopes := []string{""} // super tokens
	for _, o := range orgs {
		scopes = append(scopes, o.Name)
	}
	n := 0
	var errs []error
	for _, org := range scopes {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		tokens, err := st.Tokens(ctx, org)
		if err != nil {
			errs = append(errs, fmt.Errorf("check expiring tokens of org %q: %w", org, err))
			continue
		}
		for _, t := range tokens {
			days, ok := expiringThreshold(t, now)
			if !ok {
				continue
			}
			marked, err := st.MarkTokenExpiring(ctx, t.ID, days)
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				errs = append(errs, fmt.Errorf("check expiring token %s: %w", t.ID, err))
			case marked:
				n++
			}
		}
	}
	return n, errors.Join(errs...)
}
