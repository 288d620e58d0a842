package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/scimbridge/scimbridge/admin"
	"github.com/scimbridge/scimbridge/internal/bearer"
	"github.com/scimbridge/scimbridge/internal/edge"
	"github.com/scimbridge/scimbridge/internal/metrics"
	"github.com/scimbridge/scimbridge/internal/reqlog"
	"github.com/scimbridge/scimbridge/scim"
	"github.com/scimbridge/scimbridge/store"
)

// gate admits requests at the edge of each surface, before they reach it:
// the IP allowlists (per directory for SCIM, per org for the admin API),
// the per-token rate limits, the brake on failed authentication, and the
// audit events of refused requests and admin actions. It passes the
// request on unchanged (never a copy), so the route pattern the surface's
// mux sets stays visible to the metrics middleware around it.
type gate struct {
	st       store.Store
	settings store.Settings // nil: no allowlists, default rates
	audit    store.Auditor  // nil: no audit events
	limiter  *edge.Limiter
	proxies  edge.Proxies
	m        *metrics.Metrics
	rate     float64
	burst    int
	log      zerolog.Logger
	now      func() time.Time

	mu       sync.Mutex
	cache    map[string]cachedSettings
	refusals map[string]*refusal
	fails    map[string]*failWindow
}

// settingsTTL is how long settings read from the store are used: a
// change through the admin API applies within it (tests shorten it).
var settingsTTL = 2 * time.Second

// Edge constants.
const (

	// maxBadAuth is how many failed authentications one address may
	// make on one surface per minute before it gets 429.
	maxBadAuth = 60
	// A refusal of one kind from one address is audited once a minute;
	// the repeats are counted into the next event. Audit events of
	// refusals are capped at auditRate per second overall.
	refusalWindow = time.Minute
	auditRate     = 20
	auditBurst    = 100
	maxRefusals   = 10_000
)

type cachedSettings struct {
	found  bool
	failed bool // the store could not be read (not cached)
	allow  edge.Allowlist
	rate   float64
	burst  int
	at     time.Time
}

type failWindow struct {
	start time.Time
	n     int
}

type refusal struct {
	last    time.Time
	repeats int
}

func newGate(st store.Store, m *metrics.Metrics, proxies edge.Proxies, rate float64, burst int, log zerolog.Logger) *gate {
	g := &gate{
		st: st, limiter: edge.NewLimiter(nil), proxies: proxies, m: m, rate: rate, burst: burst, log: log,
		now: time.Now, cache: map[string]cachedSettings{}, refusals: map[string]*refusal{},
		fails: map[string]*failWindow{},
	}
	g.settings, _ = st.(store.Settings)
	g.audit, _ = st.(store.Auditor)
	return g
}

// pathParts returns the unescaped segments of the path after prefix.
func pathParts(r *http.Request, prefix string) []string {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), prefix)
	if !ok {
		return nil
	}
	parts := strings.Split(rest, "/")
	for i, p := range parts {
		u, err := url.PathUnescape(p)
		if err != nil {
			return nil
		}
		parts[i] = u
	}
	return parts
}

// dirSettings returns a directory's allowlist and rate (cached).
func (g *gate) dirSettings(ctx context.Context, k store.DirKey) cachedSettings {
	key := "dir\x00" + k.Org + "\x00" + k.Directory
	if c, ok := g.cached(key); ok {
		return c
	}
	c := cachedSettings{rate: g.rate, burst: g.burst, at: g.now()}
	if g.settings != nil {
		s, err := g.settings.DirectorySettings(ctx, k)
		switch {
		case err == nil:
			c.found = true
			if s.RateLimit > 0 {
				c.rate = s.RateLimit
			}
			if s.RateBurst > 0 {
				c.burst = s.RateBurst
			}
			if c.allow, err = edge.ParseAllowlist(s.AllowCIDRs); err != nil {
				// Refused at PATCH; a bad stored list refuses everyone
				// rather than allowing everyone.
				g.log.Error().Err(err).Str("directory", k.String()).Msg("edge: stored allowlist does not parse")
				c.allow, _ = edge.ParseAllowlist([]string{"0.0.0.0/32"})
			}
		case !errors.Is(err, store.ErrNotFound):
			g.log.Error().Err(err).Msg("edge: read directory settings")
			c.failed = true
			return c // not cached: try again on the next request
		}
	}
	g.store(key, c)
	return c
}

// orgAllowlist returns an org's admin allowlist (cached).
func (g *gate) orgAllowlist(ctx context.Context, org string) cachedSettings {
	key := "org\x00" + org
	if c, ok := g.cached(key); ok {
		return c
	}
	c := cachedSettings{at: g.now()}
	if g.settings != nil {
		s, err := g.settings.OrgSettings(ctx, org)
		switch {
		case err == nil:
			c.found = true
			if c.allow, err = edge.ParseAllowlist(s.AdminAllowCIDRs); err != nil {
				g.log.Error().Err(err).Str("org", org).Msg("edge: stored allowlist does not parse")
				c.allow, _ = edge.ParseAllowlist([]string{"0.0.0.0/32"})
			}
		case !errors.Is(err, store.ErrNotFound):
			g.log.Error().Err(err).Msg("edge: read org settings")
			c.failed = true
			return c
		}
	}
	g.store(key, c)
	return c
}

func (g *gate) cached(key string) (cachedSettings, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.cache[key]
	if !ok || g.now().Sub(c.at) >= settingsTTL {
		return cachedSettings{}, false
	}
	return c, true
}

func (g *gate) store(key string, c cachedSettings) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.cache) >= maxRefusals {
		clear(g.cache)
	}
	g.cache[key] = c
}

// credentialKey names the caller for the rate limit: the hash of its
// bearer secret, read as internal/bearer reads it (so spacing and the
// scheme's case do not make new buckets; unknown tokens are limited too),
// or its address when it sent no bearer token.
func credentialKey(r *http.Request, ip netip.Addr) string {
	scheme, secret, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if secret = strings.TrimSpace(secret); found && strings.EqualFold(scheme, "Bearer") && secret != "" {
		sum := sha256.Sum256([]byte(secret))
		return "t:" + hex.EncodeToString(sum[:16])
	}
	return "ip:" + addrKey(ip)
}

// addrKey is the key of a client address: the address for IPv4, its /64
// for IPv6 (one host usually holds a whole /64, so a key per address
// would let it rotate past every limit).
func addrKey(ip netip.Addr) string {
	if ip.Is6() && !ip.Is4In6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String()
		}
	}
	return ip.String()
}

// scim admits a SCIM request.
func (g *gate) scim(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := g.proxies.ClientIP(r)
		parts := pathParts(r, scim.PathPrefix)
		var k store.DirKey
		if len(parts) >= 2 && parts[0] != "" && parts[1] != "" {
			k = store.DirKey{Org: parts[0], Directory: parts[1]}
		}
		s := cachedSettings{rate: g.rate, burst: g.burst}
		if k.Org != "" {
			s = g.dirSettings(r.Context(), k)
			if s.failed {
				// Fail closed: without the settings the allowlist is unknown.
				scim.WriteStatus(w, http.StatusServiceUnavailable, "the server cannot read this directory's settings; retry later")
				return
			}
			if s.found && !s.allow.Allows(ip) {
				g.refuse(r, "scim", k.Org, k.Directory, metrics.ReasonIPRefused, ip)
				scim.WriteStatus(w, http.StatusForbidden, "requests from your address are not allowed for this directory")
				return
			}
		}
		if !s.found {
			k = store.DirKey{} // not a directory: its name is no label or audit key
		}
		if ok, retry := g.limiter.Allow("scim\x00"+credentialKey(r, ip), s.rate, s.burst); !ok {
			g.rateLimited(w, r, "scim", k, ip, retry)
			scim.WriteStatus(w, http.StatusTooManyRequests, "too many requests for this token; retry after the time in Retry-After")
			return
		}
		if ok, retry := g.badAuthOK("scim", ip); !ok && !g.validToken(r) {
			g.rateLimited(w, r, "scim", k, ip, retry)
			scim.WriteStatus(w, http.StatusTooManyRequests, "too many failed authentications from your address; retry after the time in Retry-After")
			return
		}
		sw := &metrics.StatusRecorder{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.Status == http.StatusUnauthorized {
			g.badAuth("scim", ip)
			g.refuse(r, "scim", k.Org, k.Directory, metrics.ReasonBadToken, ip)
		}
	})
}

// badAuthOK reports whether ip may still try to authenticate on surface:
// at most maxBadAuth failures a minute (a fixed window per address), so
// guessing tokens is slow whatever tokens are tried. Callers that
// authenticate are never slowed. retry is the end of the window.
func (g *gate) badAuthOK(surface string, ip netip.Addr) (bool, time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.fails[surface+"\x00"+addrKey(ip)]
	if f == nil {
		return true, 0
	}
	if left := f.start.Add(time.Minute).Sub(g.now()); left > 0 && f.n >= maxBadAuth {
		return false, left
	}
	return true, 0
}

// validToken reports whether r carries a token the store knows (the
// surface still checks what it may do): asked only of braked addresses.
func (g *gate) validToken(r *http.Request) bool {
	_, ok, _ := bearer.Lookup(r, g.st)
	return ok
}

// badAuth counts a failed authentication of ip on surface.
func (g *gate) badAuth(surface string, ip netip.Addr) {
	key := surface + "\x00" + addrKey(ip)
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.fails[key]
	if f == nil || now.Sub(f.start) >= time.Minute {
		if len(g.fails) >= maxRefusals {
			// Full: forget the windows that are over; if none is, count
			// nothing new rather than reset everyone's brake.
			for k, old := range g.fails {
				if now.Sub(old.start) >= time.Minute {
					delete(g.fails, k)
				}
			}
			if len(g.fails) >= maxRefusals {
				return
			}
		}
		f = &failWindow{start: now}
		g.fails[key] = f
	}
	f.n++
}

// rateLimited answers the headers of a 429 and counts it. k is the
// directory (or org) only when it exists: names from unauthenticated
// paths never become metric labels or audit keys.
func (g *gate) rateLimited(w http.ResponseWriter, r *http.Request, surface string, k store.DirKey, ip netip.Addr, retry time.Duration) {
	w.Header().Set("Retry-After", edge.RetryAfterSeconds(retry))
	label := "other"
	if k.Org != "" {
		label = k.Org
		if k.Directory != "" {
			label = k.String()
		}
	}
	g.m.RateLimited(surface, label)
	g.refuse(r, surface, k.Org, k.Directory, "rate_limited", ip)
}

// admin admits an admin API request; after it, it audits the action.
func (g *gate) admin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := g.proxies.ClientIP(r)
		parts := pathParts(r, admin.PathPrefix)
		org := ""
		if len(parts) >= 2 && parts[0] == "orgs" {
			org = parts[1]
		}
		tok, tokOK, _ := bearer.Lookup(r, g.st)
		if org != "" {
			s := g.orgAllowlist(r.Context(), org)
			switch {
			case s.failed:
				admin.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the server cannot read this org's settings; retry later")
				return
			case !s.found:
				org = "" // not an org: its name is no label or audit key
			case !(tokOK && tok.Kind == store.TokenSuper) && !s.allow.Allows(ip):
				g.refuse(r, "admin", org, "", metrics.ReasonIPRefused, ip)
				admin.WriteError(w, http.StatusForbidden, "forbidden", "requests from your address are not allowed for this org's admin API")
				return
			}
		}
		if ok, retry := g.limiter.Allow("admin\x00"+credentialKey(r, ip), g.rate, g.burst); !ok {
			g.rateLimited(w, r, "admin", store.DirKey{Org: org}, ip, retry)
			admin.WriteError(w, http.StatusTooManyRequests, "rate_limited", "too many requests for this token; retry after the time in Retry-After")
			return
		}
		if ok, retry := g.badAuthOK("admin", ip); !ok && !tokOK {
			g.rateLimited(w, r, "admin", store.DirKey{Org: org}, ip, retry)
			admin.WriteError(w, http.StatusTooManyRequests, "rate_limited", "too many failed authentications from your address; retry after the time in Retry-After")
			return
		}
		sw := &metrics.StatusRecorder{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		switch {
		case sw.Status == http.StatusUnauthorized:
			g.badAuth("admin", ip)
			g.refuse(r, "admin", org, "", metrics.ReasonBadToken, ip)
		case sw.Status < 400 && r.Method != http.MethodGet && r.Method != http.MethodHead && tokOK:
			g.auditAction(r, org, tok, sw.Status, ip)
		}
	})
}

// sso admits a single sign-on request: a rate limit per address (browsers
// carry no token before they sign in).
func (g *gate) sso(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := g.proxies.ClientIP(r)
		if ok, retry := g.limiter.Allow("sso\x00ip:"+addrKey(ip), g.rate, g.burst); !ok {
			g.rateLimited(w, r, "sso", store.DirKey{}, ip, retry)
			http.Error(w, "too many requests; retry later", http.StatusTooManyRequests)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// auditAction appends admin.action for a successful admin write.
func (g *gate) auditAction(r *http.Request, org string, tok store.Token, status int, ip netip.Addr) {
	if g.audit == nil {
		return
	}
	route := strings.TrimPrefix(r.Pattern, r.Method+" ")
	data, _ := json.Marshal(map[string]any{
		"method": r.Method, "route": route, "status": status,
		"request_id": reqlog.ID(r), "client_ip": ip.String(),
	})
	ctx := store.WithActor(context.WithoutCancel(r.Context()), store.Actor{Type: store.ActorToken, ID: tok.ID, Name: tok.Name})
	res := store.ResourceRef{Type: store.ResourceRequest, ID: reqlog.ID(r)}
	if err := g.appendAudit(ctx, org, "", store.EventAdminAction, res, data); err != nil {
		g.log.Error().Err(err).Str("request_id", reqlog.ID(r)).Msg("edge: audit admin action")
	}
}

// refuse counts a refused request and audits it: once a minute per
// surface, org, reason and address, the repeats counted into the next
// event, and at most auditRate events a second overall.
func (g *gate) refuse(r *http.Request, surface, org, dir, reason string, ip netip.Addr) {
	if reason != "rate_limited" {
		g.m.Refused(surface, reason)
	}
	if g.audit == nil {
		return
	}
	key := surface + "\x00" + org + "\x00" + reason + "\x00" + addrKey(ip)
	now := g.now()
	g.mu.Lock()
	e := g.refusals[key]
	if e != nil && now.Sub(e.last) < refusalWindow {
		e.repeats++
		g.mu.Unlock()
		return
	}
	// Each org has its own budget, so junk aimed at unknown orgs (which
	// all land in the org-less outbox) cannot crowd out an org's events.
	if ok, _ := g.limiter.Allow("audit\x00"+org, auditRate, auditBurst); !ok {
		if e != nil {
			e.repeats++ // kept for the next event of this key
		}
		g.mu.Unlock()
		return
	}
	repeats := 0
	if e != nil {
		repeats = e.repeats
	}
	if len(g.refusals) >= maxRefusals {
		for k, old := range g.refusals {
			if now.Sub(old.last) >= refusalWindow && old.repeats == 0 {
				delete(g.refusals, k)
			}
		}
	}
	if len(g.refusals) < maxRefusals || e != nil {
		g.refusals[key] = &refusal{last: now}
	}
	g.mu.Unlock()
	data, _ := json.Marshal(map[string]any{
		"surface": surface, "reason": reason, "method": r.Method, "client_ip": ip.String(),
		"request_id": reqlog.ID(r), "repeats_before": repeats,
	})
	ctx := store.WithActor(context.WithoutCancel(r.Context()), store.Actor{Type: store.ActorSystem, ID: "edge"})
	res := store.ResourceRef{Type: store.ResourceRequest, ID: reqlog.ID(r)}
	if err := g.appendAudit(ctx, org, dir, store.EventRequestRefused, res, data); err != nil {
		g.log.Error().Err(err).Str("request_id", reqlog.ID(r)).Msg("edge: audit refused request")
	}
}

// appendAudit appends an audit event to org's outbox, or to the org-less
// one when org does not exist (it has no outbox).
func (g *gate) appendAudit(ctx context.Context, org, dir, typ string, res store.ResourceRef, data json.RawMessage) error {
	err := g.audit.AppendAudit(ctx, org, dir, typ, res, data)
	if errors.Is(err, store.ErrNotFound) && org != "" {
		err = g.audit.AppendAudit(ctx, "", "", typ, res, data)
	}
	return err
}
