// Package bearer reads the bearer token of a request and finds it in the
// store: the one place where every HTTP surface (SCIM, admin, backup)
// parses the Authorization header, so that a fix to it applies to all.
// It decides nothing about what a token may do: callers check its kind,
// org, directory and expiry.
package bearer

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/scimbridge/scimbridge/store"
)

// Tokens is the part of the store this package uses.
type Tokens interface {
	TokenByHash(ctx context.Context, hash []byte) (store.Token, error)
}

// Lookup returns the token named by r's "Authorization: Bearer <secret>"
// header (scheme case-insensitive). ok is false when the header is
// missing, not a bearer token, or names no token; err is set only when the
// store failed. The secret is hashed before the lookup and never kept.
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
	return tok, true, nil
}
