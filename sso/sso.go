package sso

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/rs/zerolog/hlog"

	"github.com/scimbridge/scimbridge/internal/reqlog"
	"github.com/scimbridge/scimbridge/internal/rulescache"
	"github.com/scimbridge/scimbridge/store"
)

// PathPrefix is where the handler is mounted.
const PathPrefix = "/sso/"

// Defaults of the per-directory settings (store.SSOConfig).
const (
	DefaultSessionIdle     = 8 * time.Hour
	DefaultSessionAbsolute = 24 * time.Hour
	DefaultClockSkew       = 90 * time.Second
	// DefaultMetadataRefresh is how often an IdP metadata URL is fetched.
	DefaultMetadataRefresh = 24 * time.Hour
	// DefaultMaxBodyBytes caps what the ACS reads (a SAMLResponse with a
	// few hundred groups is far below it).
	DefaultMaxBodyBytes = 256 << 10
	// LoginTTL is how long a started login may take at the IdP.
	LoginTTL = 10 * time.Minute
	// MaxClaimGroups caps how many group values of one login are kept.
	MaxClaimGroups = 1000
)

// Cookie names.
const (
	SessionCookie = "scimbridge_session"
	// BrowserCookie binds pending logins to the browser that started them.
	BrowserCookie = "scimbridge_login"
)

// Methods.
const (
	MethodSAML = "saml"
	MethodOIDC = "oidc"
)

// Reasons of a failed login: the reason field of sso.login_failed and of
// the log line. They name a class of failure, never the data.
const (
	ReasonNotConfigured   = "not_configured"   // the directory has no IdP for this method
	ReasonBadRequest      = "bad_request"      // malformed request (missing fields, too large)
	ReasonStateMismatch   = "state_mismatch"   // unknown, used, expired or other-browser login state
	ReasonInvalidResponse = "invalid_response" // SAML response refused (signature, audience, time, …)
	ReasonUnsignedAssert  = "unsigned_assertion"
	ReasonReplay          = "replay"            // assertion or token already used
	ReasonIdPError        = "idp_error"         // the IdP answered with an error
	ReasonTokenExchange   = "token_exchange"    // OIDC code exchange failed
	ReasonInvalidToken    = "invalid_token"     // OIDC ID token refused
	ReasonNoIdentity      = "no_identity"       // no usable user name in the assertion or token
	ReasonNotProvisioned  = "not_provisioned"   // no such person and JIT is off
	ReasonAmbiguous       = "ambiguous_account" // the identity matches several people
	ReasonInactive        = "inactive"          // the person is deactivated
	ReasonInternal        = "internal"
)

// Config configures a Handler.
type Config struct {
	Store store.Store // must also implement store.SSO
	// PublicURL is the server's external base URL (scheme, host, optional
	// path): SAML entity ids, ACS URLs and OIDC redirect URIs are built
	// from it, and must equal what the IdP is told. Cookies are Secure
	// when it is https.
	PublicURL string
	Sealer    *Sealer
	Log       zerolog.Logger
	Now       func() time.Time // nil: time.Now
	// HTTPClient makes the outbound requests (IdP metadata, OIDC
	// discovery, JWKS, token endpoint). Nil: a client with a 10 s
	// timeout.
	HTTPClient   *http.Client
	MaxBodyBytes int64 // ACS body cap; 0: DefaultMaxBodyBytes
	// Observe, when set, is told the result of every login: "success" or
	// the failure reason (for metrics).
	Observe func(method, result string)
}

// Handler serves /sso/. It is safe for concurrent use.
type Handler struct {
	st      store.Store
	sso     store.SSO
	public  *url.URL
	secure  bool
	sealer  *Sealer
	log     zerolog.Logger
	now     func() time.Time
	client  *http.Client
	maxBody int64
	mux     *http.ServeMux
	observe func(method, result string)

	rules rulescache.Cache
	oidc  oidcState // per-directory providers, see oidc.go
	saml  samlState // per-directory service providers, see saml.go

	spKeyMu sync.Mutex // serialises SP key generation
}

// New returns a Handler.
func New(cfg Config) (*Handler, error) {
	ss, ok := cfg.Store.(store.SSO)
	if !ok {
		return nil, errors.New("sso: the store does not keep single sign-on state")
	}
	if cfg.Sealer == nil {
		return nil, errors.New("sso: a sealer is required")
	}
	u, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sso: public URL %q is not an absolute http(s) URL", cfg.PublicURL)
	}
	h := &Handler{
		st: cfg.Store, sso: ss, public: u, secure: u.Scheme == "https",
		sealer: cfg.Sealer, log: cfg.Log, now: cfg.Now, client: cfg.HTTPClient,
		maxBody: cfg.MaxBodyBytes, observe: cfg.Observe,
	}
	if h.observe == nil {
		h.observe = func(string, string) {}
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.client == nil {
		h.client = &http.Client{Timeout: 10 * time.Second}
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sso/{org}/{dir}/saml/metadata", h.dir(h.samlMetadata))
	mux.HandleFunc("GET /sso/{org}/{dir}/saml/login", h.dir(h.samlLogin))
	mux.HandleFunc("POST /sso/{org}/{dir}/saml/acs", h.dir(h.samlACS))
	mux.HandleFunc("GET /sso/{org}/{dir}/oidc/login", h.dir(h.oidcLogin))
	mux.HandleFunc("GET /sso/{org}/{dir}/oidc/callback", h.dir(h.oidcCallback))
	mux.HandleFunc("GET /sso/session", h.getSession)
	mux.HandleFunc("POST /sso/logout", h.logout)
	h.mux = mux
	return h, nil
}

// ServeHTTP serves /sso/.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	h.mux.ServeHTTP(w, r)
}

// dirContext is the directory a request is for, with its settings.
type dirContext struct {
	Dir store.Directory
	Cfg store.SSOConfig
}

// Key returns the directory's key.
func (d *dirContext) Key() store.DirKey { return d.Dir.Key() }

// dir resolves {org}/{dir} and its settings before calling fn; an unknown
// directory is 404.
func (h *Handler) dir(fn func(w http.ResponseWriter, r *http.Request, d *dirContext)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k := store.DirKey{Org: r.PathValue("org"), Directory: r.PathValue("dir")}
		dir, err := h.st.Directory(r.Context(), k)
		if errors.Is(err, store.ErrNotFound) {
			h.page(w, r, http.StatusNotFound, "No such directory.")
			return
		}
		if err != nil {
			h.internal(w, r, fmt.Errorf("sso: read directory %s: %w", k, err))
			return
		}
		cfg, err := h.sso.SSOConfig(r.Context(), k)
		if err != nil {
			h.internal(w, r, fmt.Errorf("sso: read settings of %s: %w", k, err))
			return
		}
		fn(w, r, &dirContext{Dir: dir, Cfg: cfg})
	}
}

// URL returns the external URL of path (which starts with /).
func (h *Handler) URL(path string) string {
	u := *h.public
	u.Path = strings.TrimRight(u.Path, "/") + path
	return u.String()
}

// DirURL returns the external URL of a directory's SSO endpoint, like
// DirURL(k, "saml/acs").
func (h *Handler) DirURL(k store.DirKey, endpoint string) string {
	return h.URL("/sso/" + url.PathEscape(k.Org) + "/" + url.PathEscape(k.Directory) + "/" + endpoint)
}

func (h *Handler) skew(d *dirContext) time.Duration {
	if d.Cfg.ClockSkew > 0 {
		return d.Cfg.ClockSkew
	}
	return DefaultClockSkew
}

// Login state.

// randomString returns n random bytes, base64url.
func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("sso: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hash(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// browserBinding returns the hash of the browser cookie of r, setting a
// new cookie on w when r has none.
func (h *Handler) browserBinding(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if c, err := r.Cookie(BrowserCookie); err == nil && len(c.Value) >= 32 && len(c.Value) <= 64 {
		return hash(c.Value), nil
	}
	v, err := randomString(32)
	if err != nil {
		return nil, err
	}
	c := &http.Cookie{
		Name: BrowserCookie, Value: v, Path: h.cookiePath(), HttpOnly: true,
		MaxAge: int(LoginTTL / time.Second),
	}
	if h.secure {
		// The SAML ACS is a cross-site POST from the IdP: a Lax cookie
		// would not come back with it.
		c.Secure, c.SameSite = true, http.SameSiteNoneMode
	}
	http.SetCookie(w, c)
	return hash(v), nil
}

// cookiePath is the path of the login-binding cookie: /sso/ under the
// public URL's path, where the ACS and the callback are.
func (h *Handler) cookiePath() string {
	return strings.TrimRight(h.public.Path, "/") + "/sso/"
}

// newLoginState starts a login of method in directory d: it binds it to
// the browser, checks the return URL (query parameter return_to) and
// returns the state for the protocol to complete (RequestID, Nonce,
// Verifier, Issuer) and store with h.sso.PutLoginState. An unacceptable
// return URL is an error whose message can be shown.
func (h *Handler) newLoginState(w http.ResponseWriter, r *http.Request, d *dirContext, method string) (store.LoginState, error) {
	returnTo, err := h.returnURL(d, r.URL.Query().Get("return_to"))
	if err != nil {
		return store.LoginState{}, err
	}
	bh, err := h.browserBinding(w, r)
	if err != nil {
		return store.LoginState{}, err
	}
	id, err := randomString(24)
	if err != nil {
		return store.LoginState{}, err
	}
	return store.LoginState{
		ID: id, Org: d.Dir.Org, Directory: d.Dir.Name, Method: method,
		BrowserHash: bh, ReturnTo: returnTo, Expires: h.now().Add(LoginTTL),
	}, nil
}

// takeLoginState takes the login state id (single use) and checks that it
// belongs to this browser, directory and method. On failure it returns the
// reason.
func (h *Handler) takeLoginState(r *http.Request, d *dirContext, id, method string) (store.LoginState, string, error) {
	if id == "" || len(id) > 128 {
		return store.LoginState{}, ReasonStateMismatch, errors.New("no login state")
	}
	st, err := h.sso.TakeLoginState(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.LoginState{}, ReasonStateMismatch, errors.New("unknown, used or expired login state")
	}
	if err != nil {
		return store.LoginState{}, ReasonInternal, err
	}
	c, cerr := r.Cookie(BrowserCookie)
	switch {
	case st.Org != d.Dir.Org || st.Directory != d.Dir.Name || st.Method != method:
		return store.LoginState{}, ReasonStateMismatch, errors.New("login state of another directory or method")
	case cerr != nil || !equalHash(hash(c.Value), st.BrowserHash):
		return store.LoginState{}, ReasonStateMismatch, errors.New("login state of another browser")
	case !h.now().Before(st.Expires):
		return store.LoginState{}, ReasonStateMismatch, errors.New("login state expired")
	}
	return st, "", nil
}

// returnURL checks where a login may return: "" (the default), a local
// path of this server, or a URL under one of the directory's ReturnURLs.
func (h *Handler) returnURL(d *dirContext, s string) (string, error) {
	if s == "" {
		if len(d.Cfg.ReturnURLs) > 0 {
			return d.Cfg.ReturnURLs[0], nil
		}
		return h.URL("/sso/session"), nil
	}
	if len(s) > 2048 {
		return "", errors.New("return_to is too long")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", errors.New("return_to is not a URL")
	}
	if u.Scheme == "" && u.Host == "" && u.User == nil && strings.HasPrefix(u.Path, "/") &&
		!strings.HasPrefix(s, "//") && !strings.Contains(s, "\\") && !strings.HasPrefix(s, "/\t") {
		return h.URL(u.Path) + queryOf(u), nil
	}
	for _, allowed := range d.Cfg.ReturnURLs {
		if underURL(u, allowed) {
			return u.String(), nil
		}
	}
	return "", errors.New("return_to is not an allowed return URL of this directory")
}

func queryOf(u *url.URL) string {
	s := ""
	if u.RawQuery != "" {
		s = "?" + u.RawQuery
	}
	if u.Fragment != "" {
		s += "#" + u.EscapedFragment()
	}
	return s
}

// underURL reports whether u has the scheme and host of allowed and a path
// under its path.
func underURL(u *url.URL, allowed string) bool {
	a, err := url.Parse(allowed)
	if err != nil || u.User != nil {
		return false
	}
	if !strings.EqualFold(u.Scheme, a.Scheme) || !strings.EqualFold(u.Host, a.Host) {
		return false
	}
	ap := strings.TrimRight(a.Path, "/")
	return u.Path == ap || strings.HasPrefix(u.Path, ap+"/") || (ap == "" && u.Path == "")
}

// Identity is what a protocol established about the person at the IdP.
type Identity struct {
	Method  string // MethodSAML or MethodOIDC
	Issuer  string // the IdP entity id or OIDC issuer
	Subject string // NameID or sub
	// UserName is matched against SCIM userName: the SAML NameID, or the
	// OIDC preferred_username (falling back to email).
	UserName string
	// Email is matched against SCIM emails only when EmailVerified: a
	// SAML NameID in email format, an OIDC email with email_verified.
	Email         string
	EmailVerified bool
	GivenName     string
	FamilyName    string
	DisplayName   string
	// Groups are the values of the groups claim, when GroupsPresent.
	// GroupsOverflow means the IdP said there were too many to send
	// (Entra's groups.link or _claim_names): the SCIM memberships are
	// used instead.
	Groups         []string
	GroupsPresent  bool
	GroupsOverflow bool
}

// Pages.

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>scimbridge sign-in</title></head>
<body><p>{{.Message}}</p>{{if .RequestID}}<p>Request id: <code>{{.RequestID}}</code></p>{{end}}</body></html>
`))

// page writes a small HTML page with a message and the request id.
func (h *Handler) page(w http.ResponseWriter, r *http.Request, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(status)
	_ = pageTemplate.Execute(w, struct{ Message, RequestID string }{msg, reqlog.ID(r)})
}

func (h *Handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	hlog.FromRequest(r).Error().Err(err).Msg("sso: internal error")
	h.page(w, r, http.StatusInternalServerError, "Sign-in failed because of an internal error.")
}

// fail refuses a login: it logs the reason (never the assertion or the
// token: err must not carry them), appends sso.login_failed, and answers
// with status and a page that names the reason.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, d *dirContext, method, reason string, status int, err error) {
	l := hlog.FromRequest(r).Warn().Str("org", d.Dir.Org).Str("directory", d.Dir.Name).
		Str("method", method).Str("reason", reason)
	if err != nil {
		l = l.Str("error", clip(err.Error(), 300))
	}
	l.Msg("sso: login refused")
	h.observe(method, reason)
	data, _ := jsonObject(map[string]any{"method": method, "reason": reason, "request_id": reqlog.ID(r)})
	ctx := store.WithActor(context.WithoutCancel(r.Context()), store.Actor{Type: store.ActorSystem, ID: "sso"})
	if aerr := h.sso.AppendSSOEvent(ctx, d.Dir.Org, store.SSOEvent{
		Type: store.EventSSOLoginFailed, Directory: d.Dir.Name, Data: data,
	}); aerr != nil {
		hlog.FromRequest(r).Error().Err(aerr).Msg("sso: append sso.login_failed")
	}
	h.page(w, r, status, "Sign-in failed ("+reason+"). Ask your administrator, giving the request id below.")
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Cookies.

func (h *Handler) setSessionCookie(w http.ResponseWriter, secret string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: secret, Path: "/", HttpOnly: true,
		Secure: h.secure, SameSite: http.SameSiteLaxMode, Expires: expires,
	})
}

func (h *Handler) clearCookie(w http.ResponseWriter, name, path string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: path, HttpOnly: true, Secure: h.secure, MaxAge: -1,
	})
}

// ErrInvalidSettings marks settings an administrator gave that cannot be
// used (metadata that does not parse, an issuer that is not https, …).
// The admin API answers it with 400 and the error's message.
var ErrInvalidSettings = errors.New("invalid single sign-on settings")

// invalid returns an ErrInvalidSettings error with a message for the admin.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidSettings, fmt.Sprintf(format, args...))
}

// Run does the handler's background work until ctx is done: every minute
// it refetches the IdP metadata URLs that are due (RefreshMetadata) and
// every ten minutes it deletes expired sessions, login states and replay
// keys.
func (h *Handler) Run(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	var lastPrune time.Time
	for {
		h.RefreshMetadata(ctx)
		if now := h.now(); now.Sub(lastPrune) >= 10*time.Minute {
			lastPrune = now
			if n, err := h.sso.PruneSSO(ctx, now.UTC()); err != nil {
				if ctx.Err() == nil {
					h.log.Error().Err(err).Msg("sso: prune")
				}
			} else if n > 0 {
				h.log.Debug().Int("deleted", n).Msg("sso: pruned expired sessions and login states")
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
