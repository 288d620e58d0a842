package sso

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/rs/zerolog/hlog"
	"golang.org/x/oauth2"

	"github.com/scimbridge/scimbridge/store"
)

// The OpenID Connect relying party: /sso/{org}/{dir}/oidc/login sends the
// browser to the directory's OP with an authorization code request (PKCE
// S256, state, nonce); /sso/{org}/{dir}/oidc/callback takes the login state
// (single use, bound to the browser), exchanges the code, verifies the ID
// token and hands the identity to Handler.complete.
//
// go-oidc checks the signature (algorithms restricted to the asymmetric
// ones the OP advertises), iss and aud. This file adds what it leaves to
// the caller: nonce (required, equal, and recorded with ConsumeOnce so an
// ID token is accepted once), azp, exp/nbf/iat with the directory's clock
// skew, at_hash, the issuer the login started with (mix-up), and a bound on
// the JWKS refetches that tokens with unknown key ids cause.

// Limits and intervals of the relying party.
const (
	// JWKSMinRefetch is the least time between two fetches of one JWKS
	// URL. go-oidc refetches the key set for every token whose key id it
	// does not know; within this interval the last key set is served
	// from memory instead, so forged key ids cannot make the server hammer
	// the OP. A key rotated in less than this after the last fetch is
	// found once the interval has passed (OPs publish keys before use).
	JWKSMinRefetch = 30 * time.Second
	// jwksFailureBackoff is how long a failed JWKS fetch is not retried.
	jwksFailureBackoff = 5 * time.Second

	// DiscoveryTTL is how long a discovered provider is used before
	// discovery runs again (a failed rediscovery keeps the old one).
	DiscoveryTTL = 24 * time.Hour
	// discoveryRetry is how long a failed discovery is remembered, so a
	// flood of logins against a dead OP is not a flood of requests.
	discoveryRetry = 10 * time.Second
	// discoveryTimeout bounds one discovery request.
	discoveryTimeout = 10 * time.Second

	// MaxOIDCResponseBytes caps every response body read from an OP
	// (discovery, JWKS, token, userinfo).
	MaxOIDCResponseBytes = 1 << 20

	// DefaultGroupsClaim is the claim read for groups when the directory
	// names none.
	DefaultGroupsClaim = "groups"

	// maxCodeLen caps the authorization code of a callback.
	maxCodeLen = 4096
	// maxNonceRecord caps how long a used nonce is remembered.
	maxNonceRecord = 24 * time.Hour
)

// oidcAlgs are the only ID token signature algorithms accepted: asymmetric
// ones. HS* (the client secret as a MAC key) and none are never accepted.
var oidcAlgs = []string{
	oidc.RS256, oidc.RS384, oidc.RS512,
	oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.EdDSA,
}

// oidcState holds the relying party's per-directory providers (discovery
// result and ID token verifier, keyed by directory and settings version)
// and the JWKS cache that rate-limits key set fetches per JWKS URL. Its
// zero value is ready to use.
type oidcState struct {
	mu        sync.Mutex
	providers map[store.DirKey]*oidcEntry
	jwks      map[string]*jwksCache // by jwks_uri
	client    *http.Client          // built once by httpClient
}

// oidcEntry is the provider of one directory at one settings version.
type oidcEntry struct {
	issuer  string
	version uint64

	mu      sync.Mutex // held during discovery
	rp      *oidcRP
	fetched time.Time
	err     error
	failed  time.Time
}

// oidcRP is a discovered provider with the verifier for one client id.
type oidcRP struct {
	provider  *oidc.Provider
	verifier  *oidc.IDTokenVerifier
	authStyle oauth2.AuthStyle
	userinfo  bool // the OP has a userinfo endpoint
	issParam  bool // the OP sends iss in the authorization response (RFC 9207)
}

// httpClient returns the client of every request to an OP: h.client's
// transport behind the JWKS rate limit and the response size cap.
func (s *oidcState) httpClient(h *Handler) *http.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		base := h.client.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		s.client = &http.Client{
			Transport: &oidcTransport{base: base, state: s, now: h.now},
			Timeout:   h.client.Timeout,
			// Every hop of a redirect must be an acceptable OP URL,
			// as the SAML metadata fetch checks.
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 5 {
					return errors.New("too many redirects")
				}
				if err := checkOPURL(req.URL.String()); err != nil {
					return fmt.Errorf("redirect refused: %w", err)
				}
				return nil
			},
		}
	}
	return s.client
}

// jwksFor returns the cache of a JWKS URL, creating it when create is set.
func (s *oidcState) jwksFor(u string, create bool) *jwksCache {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.jwks[u]
	if c == nil && create {
		if s.jwks == nil {
			s.jwks = map[string]*jwksCache{}
		}
		c = &jwksCache{}
		s.jwks[u] = c
	}
	return c
}

// entry returns the cache entry of directory k at cfg's version. A request
// that read older settings than the cached entry gets an entry of its own
// that is not kept.
func (s *oidcState) entry(k store.DirKey, cfg store.SSOConfig) *oidcEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.providers[k]
	switch {
	case e != nil && e.version == cfg.Version && e.issuer == cfg.OIDC.Issuer:
		return e
	case e != nil && cfg.Version < e.version:
		return &oidcEntry{issuer: cfg.OIDC.Issuer, version: cfg.Version}
	}
	e = &oidcEntry{issuer: cfg.OIDC.Issuer, version: cfg.Version}
	if s.providers == nil {
		s.providers = map[store.DirKey]*oidcEntry{}
	}
	s.providers[k] = e
	return e
}

// oidcProvider returns the provider of the directory's settings, running
// discovery when there is none yet or it is older than DiscoveryTTL.
func (h *Handler) oidcProvider(ctx context.Context, k store.DirKey, cfg store.SSOConfig) (*oidcRP, error) {
	e := h.oidc.entry(k, cfg)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := h.now()
	if e.rp != nil && now.Sub(e.fetched) < DiscoveryTTL {
		return e.rp, nil
	}
	if e.err != nil && now.Sub(e.failed) < discoveryRetry && !now.Before(e.failed) {
		if e.rp != nil {
			return e.rp, nil
		}
		return nil, e.err
	}
	rp, err := h.discover(ctx, cfg.OIDC)
	if err != nil {
		e.err, e.failed = err, now
		if e.rp != nil {
			return e.rp, nil // keep the last good discovery while the OP is down
		}
		return nil, err
	}
	e.rp, e.fetched, e.err = rp, now, nil
	return rp, nil
}

// discover fetches the OP's discovery document and builds the verifier
// for oc's client id. Its errors can be shown to an administrator.
func (h *Handler) discover(ctx context.Context, oc store.OIDCConfig) (*oidcRP, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), discoveryTimeout)
	defer cancel()
	// The provider keeps the client of this context for its JWKS
	// fetches; the context's deadline applies to discovery only.
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, h.oidc.httpClient(h)), oc.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", oc.Issuer, err)
	}
	var meta struct {
		JWKSURI     string   `json:"jwks_uri"`
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
		Algs        []string `json:"id_token_signing_alg_values_supported"`
		IssParam    bool     `json:"authorization_response_iss_parameter_supported"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", oc.Issuer, err)
	}
	ep := p.Endpoint()
	for _, e := range []struct{ name, u string }{
		{"authorization_endpoint", ep.AuthURL}, {"token_endpoint", ep.TokenURL}, {"jwks_uri", meta.JWKSURI},
	} {
		if e.u == "" {
			return nil, fmt.Errorf("discovery of %s: no %s", oc.Issuer, e.name)
		}
		if err := checkOPURL(e.u); err != nil {
			return nil, fmt.Errorf("discovery of %s: %s: %w", oc.Issuer, e.name, err)
		}
	}
	userinfo := p.UserInfoEndpoint() != ""
	if userinfo {
		if err := checkOPURL(p.UserInfoEndpoint()); err != nil {
			return nil, fmt.Errorf("discovery of %s: userinfo_endpoint: %w", oc.Issuer, err)
		}
	}
	var algs []string
	for _, a := range meta.Algs {
		if slices.Contains(oidcAlgs, a) && !slices.Contains(algs, a) {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		algs = []string{oidc.RS256} // the algorithm every OP must support
	}
	// go-oidc requests the URL as parsed; the cache is keyed the same way.
	jwksURL, err := url.Parse(meta.JWKSURI)
	if err != nil {
		return nil, fmt.Errorf("discovery of %s: jwks_uri: %w", oc.Issuer, err)
	}
	h.oidc.jwksFor(jwksURL.String(), true)
	style := oauth2.AuthStyleInHeader // client_secret_basic, the default of the spec
	if len(meta.AuthMethods) > 0 && !slices.Contains(meta.AuthMethods, "client_secret_basic") &&
		slices.Contains(meta.AuthMethods, "client_secret_post") {
		style = oauth2.AuthStyleInParams
	}
	return &oidcRP{
		provider: p,
		// Time claims are checked by oidcToken with the directory's
		// skew (go-oidc has none on exp and a fixed 5 min on nbf).
		verifier: p.Verifier(&oidc.Config{
			ClientID: oc.ClientID, SupportedSigningAlgs: algs, SkipExpiryCheck: true,
		}),
		authStyle: style,
		userinfo:  userinfo,
		issParam:  meta.IssParam,
	}, nil
}

// checkOPURL accepts an https URL, or an http URL on a loopback host
// (tests, local development).
func checkOPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.User != nil || u.Host == "" || u.Fragment != "" {
		return errors.New("not an absolute URL without credentials and fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return errors.New("http is only allowed on loopback; use https")
	}
	return errors.New("not an https URL")
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// oidcScopes returns the scopes requested: openid first, then the
// configured ones (email and profile when none are).
func oidcScopes(configured []string) []string {
	if len(configured) == 0 {
		configured = []string{oidc.ScopeEmail, oidc.ScopeProfile}
	}
	out := []string{oidc.ScopeOpenID}
	for _, s := range configured {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func oidcSecretLabel(k store.DirKey) string {
	return "oidc-client-secret:" + k.Org + "/" + k.Directory
}

// oauth2Config returns the OAuth 2.0 client of directory d; with secret
// set it opens the sealed client secret.
func (h *Handler) oauth2Config(d *dirContext, rp *oidcRP, secret bool) (*oauth2.Config, error) {
	oc := d.Cfg.OIDC
	ep := rp.provider.Endpoint()
	ep.AuthStyle = rp.authStyle
	c := &oauth2.Config{
		ClientID: oc.ClientID, Endpoint: ep,
		RedirectURL: h.DirURL(d.Key(), "oidc/callback"), Scopes: oidcScopes(oc.Scopes),
	}
	if !secret {
		return c, nil
	}
	if len(oc.ClientSecretSealed) == 0 {
		c.Endpoint.AuthStyle = oauth2.AuthStyleInParams // a public client: client_id only
		return c, nil
	}
	plain, err := h.sealer.Open(oc.ClientSecretSealed, oidcSecretLabel(d.Key()))
	if err != nil {
		return nil, fmt.Errorf("sso: client secret of %s: %w", d.Key(), err)
	}
	c.ClientSecret = string(plain)
	return c, nil
}

// oidcLogin serves GET /sso/{org}/{dir}/oidc/login: it stores a login
// state (browser binding, nonce, PKCE verifier, issuer) and redirects to
// the OP's authorization endpoint.
func (h *Handler) oidcLogin(w http.ResponseWriter, r *http.Request, d *dirContext) {
	oc := d.Cfg.OIDC
	if oc.Issuer == "" || oc.ClientID == "" {
		h.fail(w, r, d, MethodOIDC, ReasonNotConfigured, http.StatusNotFound, errors.New("the directory has no OIDC provider"))
		return
	}
	rp, err := h.oidcProvider(r.Context(), d.Key(), d.Cfg)
	if err != nil {
		h.fail(w, r, d, MethodOIDC, ReasonIdPError, http.StatusBadGateway, err)
		return
	}
	st, err := h.newLoginState(w, r, d, MethodOIDC)
	if err != nil {
		h.fail(w, r, d, MethodOIDC, ReasonBadRequest, http.StatusBadRequest, err)
		return
	}
	nonce, err := randomString(24)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	st.Nonce, st.Verifier, st.Issuer = nonce, oauth2.GenerateVerifier(), oc.Issuer
	if err := h.sso.PutLoginState(r.Context(), st); err != nil {
		h.internal(w, r, fmt.Errorf("sso: store login state: %w", err))
		return
	}
	conf, err := h.oauth2Config(d, rp, false)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	http.Redirect(w, r, conf.AuthCodeURL(st.ID, oauth2.S256ChallengeOption(st.Verifier), oidc.Nonce(nonce)), http.StatusFound)
}

// oidcCallback serves GET /sso/{org}/{dir}/oidc/callback: the OP's
// authorization response.
func (h *Handler) oidcCallback(w http.ResponseWriter, r *http.Request, d *dirContext) {
	q := r.URL.Query()
	oc := d.Cfg.OIDC
	if oc.Issuer == "" || oc.ClientID == "" {
		h.fail(w, r, d, MethodOIDC, ReasonNotConfigured, http.StatusNotFound, errors.New("the directory has no OIDC provider"))
		return
	}
	if e := q.Get("error"); e != "" {
		// The state is taken all the same, so it cannot be used again.
		err := fmt.Errorf("the IdP answered error=%q description=%q", clip(e, 64), clip(q.Get("error_description"), 160))
		if _, reason, serr := h.takeLoginState(r, d, q.Get("state"), MethodOIDC); reason != "" {
			err = fmt.Errorf("%w; login state refused: %v", err, serr)
		}
		h.fail(w, r, d, MethodOIDC, ReasonIdPError, http.StatusUnauthorized, err)
		return
	}
	st, reason, err := h.takeLoginState(r, d, q.Get("state"), MethodOIDC)
	if reason == ReasonInternal {
		h.internal(w, r, err)
		return
	}
	if reason != "" {
		h.fail(w, r, d, MethodOIDC, reason, http.StatusUnauthorized, err)
		return
	}
	// Mix-up defence: the answer must come from the OP the login was
	// sent to, which must still be the directory's.
	if st.Issuer != oc.Issuer {
		h.fail(w, r, d, MethodOIDC, ReasonStateMismatch, http.StatusUnauthorized,
			errors.New("the login started with another issuer than the directory's current one"))
		return
	}
	if q.Has("iss") && q.Get("iss") != st.Issuer {
		h.fail(w, r, d, MethodOIDC, ReasonStateMismatch, http.StatusUnauthorized,
			fmt.Errorf("the authorization response names issuer %q", clip(q.Get("iss"), 200)))
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > maxCodeLen {
		h.fail(w, r, d, MethodOIDC, ReasonBadRequest, http.StatusBadRequest, errors.New("no usable authorization code"))
		return
	}
	rp, err := h.oidcProvider(r.Context(), d.Key(), d.Cfg)
	if err != nil {
		h.fail(w, r, d, MethodOIDC, ReasonIdPError, http.StatusBadGateway, err)
		return
	}
	if rp.issParam && !q.Has("iss") {
		h.fail(w, r, d, MethodOIDC, ReasonStateMismatch, http.StatusUnauthorized,
			errors.New("the OP sends iss in authorization responses and this one has none"))
		return
	}
	conf, err := h.oauth2Config(d, rp, true)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	ctx := oidc.ClientContext(r.Context(), h.oidc.httpClient(h))
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		status, err := exchangeError(err)
		h.fail(w, r, d, MethodOIDC, ReasonTokenExchange, status, err)
		return
	}
	id, reason, err := h.oidcIdentity(ctx, r, d, rp, st, tok)
	switch {
	case reason == ReasonInternal:
		h.internal(w, r, err)
		return
	case reason != "":
		h.fail(w, r, d, MethodOIDC, reason, http.StatusUnauthorized, err)
		return
	}
	h.complete(w, r, d, id, st.ReturnTo)
}

// exchangeError returns the status and loggable error of a failed code
// exchange: 401 when the OP refused the code (used, expired, wrong PKCE
// verifier, wrong client), 502 when it could not be asked. The error never
// carries the response body.
func exchangeError(err error) (int, error) {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		out := fmt.Errorf("token endpoint answered %d error=%q description=%q", status, clip(re.ErrorCode, 64), clip(re.ErrorDescription, 160))
		if status >= 400 && status < 500 {
			return http.StatusUnauthorized, out
		}
		return http.StatusBadGateway, out
	}
	return http.StatusBadGateway, fmt.Errorf("token request failed: %w", err)
}

// oidcIdentity verifies the ID token of tok for the login st and returns
// the identity it establishes, or the reason it is refused.
func (h *Handler) oidcIdentity(ctx context.Context, r *http.Request, d *dirContext, rp *oidcRP, st store.LoginState, tok *oauth2.Token) (Identity, string, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, ReasonInvalidToken, errors.New("the token response has no id_token")
	}
	idt, err := rp.verifier.Verify(ctx, raw)
	if err != nil {
		return Identity{}, ReasonInvalidToken, err
	}
	claims := map[string]json.RawMessage{}
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, ReasonInvalidToken, fmt.Errorf("ID token claims: %w", err)
	}
	if err := h.checkIDToken(d, idt, claims, st, tok); err != nil {
		return Identity{}, ReasonInvalidToken, err
	}
	// The nonce is single use: an ID token is accepted once, even if its
	// login state were somehow presented twice.
	expires := idt.Expiry.Add(h.skew(d))
	if limit := h.now().Add(maxNonceRecord); expires.After(limit) {
		expires = limit
	}
	sum := sha256.Sum256([]byte(st.Issuer + "\n" + idt.Nonce))
	err = h.sso.ConsumeOnce(ctx, "oidc-nonce:"+hex.EncodeToString(sum[:]), expires.UTC())
	if errors.Is(err, store.ErrReplay) {
		return Identity{}, ReasonReplay, errors.New("ID token already used (nonce seen before)")
	}
	if err != nil {
		return Identity{}, ReasonInternal, fmt.Errorf("sso: record nonce: %w", err)
	}

	groupsClaim := d.Cfg.OIDC.GroupsClaim
	if groupsClaim == "" {
		groupsClaim = DefaultGroupsClaim
	}
	if rp.userinfo && tok.AccessToken != "" && needUserinfo(claims, groupsClaim) {
		ui, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			// Without userinfo the login goes on with the ID token alone:
			// no groups claim means the SCIM memberships, no user name
			// means a refusal in complete.
			hlog.FromRequest(r).Warn().Str("org", d.Dir.Org).Str("directory", d.Dir.Name).
				Str("error", userinfoErrorClass(err)).Msg("sso: oidc userinfo failed; using the ID token alone")
		} else {
			if ui.Subject != idt.Subject {
				return Identity{}, ReasonInvalidToken, errors.New("userinfo names another subject than the ID token")
			}
			uc := map[string]json.RawMessage{}
			if err := ui.Claims(&uc); err != nil {
				return Identity{}, ReasonInvalidToken, fmt.Errorf("userinfo claims: %w", err)
			}
			mergeUserinfo(claims, uc)
		}
	}
	return identityFromClaims(idt.Issuer, idt.Subject, claims, groupsClaim), "", nil
}

// checkIDToken makes the checks go-oidc leaves to the caller.
func (h *Handler) checkIDToken(d *dirContext, idt *oidc.IDToken, claims map[string]json.RawMessage, st store.LoginState, tok *oauth2.Token) error {
	clientID := d.Cfg.OIDC.ClientID
	now, skew := h.now(), h.skew(d)
	if idt.Subject == "" {
		return errors.New("the ID token has no sub")
	}
	if idt.Nonce == "" {
		return errors.New("the ID token has no nonce")
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return errors.New("the ID token's nonce is not the one of this login")
	}
	azp := claimString(claims, "azp")
	if len(idt.Audience) > 1 && azp == "" {
		return errors.New("the ID token has several audiences and no azp")
	}
	if azp != "" && azp != clientID {
		return fmt.Errorf("the ID token was issued to another party (azp %q)", clip(azp, 100))
	}
	if idt.Expiry.IsZero() {
		return errors.New("the ID token has no exp")
	}
	if !now.Before(idt.Expiry.Add(skew)) {
		return fmt.Errorf("the ID token expired at %s", idt.Expiry.UTC().Format(time.RFC3339))
	}
	if idt.IssuedAt.IsZero() {
		return errors.New("the ID token has no iat")
	}
	if idt.IssuedAt.After(now.Add(skew)) {
		return fmt.Errorf("the ID token's iat %s is in the future", idt.IssuedAt.UTC().Format(time.RFC3339))
	}
	if raw, ok := claims["nbf"]; ok && string(raw) != "null" {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return errors.New("the ID token's nbf is not a number")
		}
		f, err := n.Float64()
		if err != nil {
			return errors.New("the ID token's nbf is not a number")
		}
		if nbf := time.Unix(int64(f), 0); nbf.After(now.Add(skew)) {
			return fmt.Errorf("the ID token is not valid before %s", nbf.UTC().Format(time.RFC3339))
		}
	}
	if idt.AccessTokenHash != "" {
		if tok.AccessToken == "" {
			return errors.New("the ID token has at_hash and the token response no access token")
		}
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return fmt.Errorf("at_hash: %w", err)
		}
	}
	return nil
}

// needUserinfo reports whether the ID token lacks what userinfo may
// supply: any user name (OPs that follow OIDC Core 5.4 put profile and
// email claims only in userinfo when they issue an access token), or the
// groups claim without an overage marker (Okta's org authorization server
// sends groups from userinfo only).
func needUserinfo(c map[string]json.RawMessage, groupsClaim string) bool {
	if claimString(c, "preferred_username") == "" && claimString(c, "email") == "" {
		return true
	}
	return !claimPresent(c, groupsClaim) && !groupsOverflow(c, groupsClaim)
}

// registeredClaims are never taken from userinfo.
var registeredClaims = []string{
	"iss", "sub", "aud", "exp", "iat", "nbf", "nonce", "azp", "at_hash", "c_hash",
	"auth_time", "jti", "acr", "amr", "sid",
}

// mergeUserinfo adds the userinfo claims the ID token does not have.
// email and email_verified go together: a verified flag from one source
// never vouches for an address from the other.
func mergeUserinfo(c, ui map[string]json.RawMessage) {
	idEmail := claimPresent(c, "email")
	for k, v := range ui {
		if slices.Contains(registeredClaims, k) || claimPresent(c, k) {
			continue
		}
		if k == "email_verified" && idEmail {
			continue
		}
		if k == "email" {
			delete(c, "email_verified")
			if ev, ok := ui["email_verified"]; ok {
				c["email_verified"] = ev
			}
		}
		c[k] = v
	}
}

// identityFromClaims maps verified claims to an Identity.
func identityFromClaims(issuer, subject string, c map[string]json.RawMessage, groupsClaim string) Identity {
	id := Identity{
		Method: MethodOIDC, Issuer: issuer, Subject: subject,
		UserName:    claimString(c, "preferred_username"),
		Email:       claimString(c, "email"),
		GivenName:   claimString(c, "given_name"),
		FamilyName:  claimString(c, "family_name"),
		DisplayName: claimString(c, "name"),
	}
	id.EmailVerified = id.Email != "" && claimBool(c, "email_verified")
	if id.UserName == "" && id.EmailVerified {
		id.UserName = id.Email
	}
	switch {
	case groupsOverflow(c, groupsClaim):
		id.GroupsOverflow = true
	case claimPresent(c, groupsClaim):
		id.Groups, id.GroupsPresent = claimStrings(c[groupsClaim])
	}
	return id
}

// groupsOverflow reports Entra's overage markers: the groups claim moved to
// a distributed claim source, or hasgroups (implicit flow).
func groupsOverflow(c map[string]json.RawMessage, groupsClaim string) bool {
	if claimBool(c, "hasgroups") {
		return true
	}
	var names map[string]json.RawMessage
	if raw, ok := c["_claim_names"]; ok && json.Unmarshal(raw, &names) == nil {
		_, a := names[groupsClaim]
		_, b := names[DefaultGroupsClaim]
		return a || b
	}
	return false
}

func claimPresent(c map[string]json.RawMessage, k string) bool {
	v, ok := c[k]
	return ok && string(v) != "null"
}

func claimString(c map[string]json.RawMessage, k string) string {
	var s string
	if raw, ok := c[k]; ok && json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	return ""
}

// claimBool reads a boolean claim; "true" as a string counts (AWS Cognito
// sends email_verified so).
func claimBool(c map[string]json.RawMessage, k string) bool {
	raw, ok := c[k]
	if !ok {
		return false
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	return json.Unmarshal(raw, &s) == nil && s == "true"
}

// claimStrings reads a claim that is an array of strings or one string;
// other element types are skipped. ok is false when the claim is of
// another type, which counts as absent.
func claimStrings(raw json.RawMessage) (vals []string, ok bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s = strings.TrimSpace(s); s == "" {
			return []string{}, true
		}
		return []string{s}, true
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return nil, false
	}
	vals = make([]string, 0, len(list))
	for _, e := range list {
		if json.Unmarshal(e, &s) == nil {
			vals = append(vals, s)
		}
	}
	return vals, true
}

// userinfoErrorClass keeps the head of a userinfo error (go-oidc's
// "oidc: userinfo: 401 Unauthorized"), not the body the OP answered,
// which go-oidc appends and which may hold personal data.
func userinfoErrorClass(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "userinfo: "); i >= 0 {
		rest := msg[i+len("userinfo: "):]
		if j := strings.Index(rest, ": "); j >= 0 {
			return clip(msg[:i+len("userinfo: ")+j], 120)
		}
	}
	return clip(msg, 120)
}
