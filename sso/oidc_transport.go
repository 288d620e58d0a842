package sso

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// oidcTransport is the transport of every request to an OP. It caps
// response bodies at MaxOIDCResponseBytes (go-oidc reads discovery and
// JWKS bodies whole) and answers GETs of a known JWKS URL from jwksCache.
type oidcTransport struct {
	base  http.RoundTripper
	state *oidcState
	now   func() time.Time
}

var errResponseTooLarge = fmt.Errorf("sso: OP response larger than %d bytes", MaxOIDCResponseBytes)

// errJWKSRateLimited is returned for a JWKS fetch within the backoff after
// a failed one, when no key set is cached.
var errJWKSRateLimited = errors.New("sso: JWKS fetch rate-limited after a failure")

// RoundTrip implements http.RoundTripper.
func (t *oidcTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet {
		if c := t.state.jwksFor(req.URL.String(), false); c != nil {
			return c.roundTrip(t.base, req, t.now())
		}
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &cappedBody{rc: resp.Body, left: MaxOIDCResponseBytes}
	return resp, nil
}

// jwksCache is the last key set fetched from one JWKS URL. go-oidc's
// RemoteKeySet fetches the key set again for every token whose key id it
// does not know (coalescing only concurrent fetches); this cache lets at
// most one request through per JWKSMinRefetch (per jwksFailureBackoff
// after a failure) and answers the others with the cached key set, which
// the RemoteKeySet then searches in vain for the forged key id.
type jwksCache struct {
	mu          sync.Mutex // held during a fetch, so concurrent callers wait for it
	body        []byte     // last successful key set; nil before the first
	contentType string
	next        time.Time // no fetch before
}

func (c *jwksCache) roundTrip(base http.RoundTripper, req *http.Request, now time.Time) (*http.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Before(c.next) {
		if c.body == nil {
			return nil, errJWKSRateLimited
		}
		return c.response(req), nil
	}
	c.next = now.Add(jwksFailureBackoff)
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(&cappedBody{rc: resp.Body, left: MaxOIDCResponseBytes})
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("sso: read JWKS: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	}
	c.body, c.contentType = body, resp.Header.Get("Content-Type")
	c.next = now.Add(JWKSMinRefetch)
	return c.response(req), nil
}

// response returns the cached key set as an answer to req.
func (c *jwksCache) response(req *http.Request) *http.Response {
	h := http.Header{}
	if c.contentType != "" {
		h.Set("Content-Type", c.contentType)
	}
	h.Set("Content-Length", strconv.Itoa(len(c.body)))
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(c.body)), ContentLength: int64(len(c.body)),
		Request: req,
	}
}

// cappedBody fails a read that goes past left bytes, instead of silently
// truncating.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, errResponseTooLarge
	}
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }
