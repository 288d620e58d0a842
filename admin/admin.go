// Package admin serves the admin REST API under /admin/v1: the operations
// an org's administrators perform on directories, tokens and people (and,
// as they land, rules, access and events). JSON in and out; every error is
// {"error": {"code": "...", "message": "..."}}.
//
// Authentication is a bearer admin token of the org named in the URL, or
// a super token. An admin token of another org gets 404, exactly like an
// org that does not exist: nothing tells one org that another exists. The
// package owns no state: it calls the store and renders what it returns.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog/hlog"

	"github.com/scimbridge/scimbridge/events"
	"github.com/scimbridge/scimbridge/internal/bearer"
	"github.com/scimbridge/scimbridge/internal/reqlog"
	"github.com/scimbridge/scimbridge/sso"
	"github.com/scimbridge/scimbridge/store"
)

// PathPrefix is where the admin API is mounted.
const PathPrefix = "/admin/v1/"

// maxBody caps admin request bodies.
const maxBody = 1 << 20

// Config holds the admin API's settings.
type Config struct {
	// PublicURL is the server's external URL, used to print SCIM base URLs.
	PublicURL string
	// Profiles are the valid directory profiles; the first is the default.
	Profiles []string
	// Events is the delivery configuration; its URL policy applies when a
	// webhook is saved.
	Events events.Config
	// MaxRevokeShare is the mass-revocation guard of rules publishing
	// (0: mapping's default, 10%).
	MaxRevokeShare float64
	// SSO is the single sign-on handler whose settings the API manages;
	// nil: the SSO endpoints answer 404.
	SSO *sso.Handler
	Now func() time.Time
}

// Server serves the admin API.
type Server struct {
	store store.Store
	cfg   Config
	mux   *http.ServeMux
	// stopping is closed by Stop: event streams end, so a graceful
	// shutdown does not wait for them.
	stopping chan struct{}
	stopOnce sync.Once
}

var errStopping = errors.New("admin: the server is stopping")

// Stop ends the event streams in progress (they tell their clients to
// reconnect); give it to http.Server.RegisterOnShutdown.
func (s *Server) Stop() { s.stopOnce.Do(func() { close(s.stopping) }) }

// New returns the admin API over st.
func New(st store.Store, cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	s := &Server{store: st, cfg: cfg, mux: http.NewServeMux(), stopping: make(chan struct{})}
	org := "/admin/v1/orgs/{org}"
	s.handle("GET "+org+"/directories", s.listDirectories)
	s.handle("POST "+org+"/directories", s.createDirectory)
	s.handle("GET "+org+"/directories/{dir}/tokens", s.listTokens)
	s.handle("POST "+org+"/directories/{dir}/tokens", s.createToken)
	s.handle("DELETE "+org+"/directories/{dir}/tokens/{token}", s.revokeToken)
	s.handle("POST "+org+"/directories/{dir}/tokens/{token}/rotate", s.rotateToken)
	s.registerTokens(org)
	s.handle("GET "+org+"/users", s.findUsers)
	s.registerRules(org)
	s.registerBackup()
	s.registerSSO(org)
	s.registerSettings(org)
	s.handle("GET "+org+"/events", s.listEvents)
	s.handle("GET "+org+"/events/stream", s.streamEvents)
	s.handle("GET "+org+"/webhooks", s.listWebhooks)
	s.handle("POST "+org+"/webhooks", s.createWebhook)
	s.handle("GET "+org+"/webhooks/{id}", s.getWebhook)
	s.handle("DELETE "+org+"/webhooks/{id}", s.deleteWebhook)
	s.handle("POST "+org+"/webhooks/{id}/replay", s.replayWebhook)
	s.handle("POST "+org+"/webhooks/{id}/resume", s.resumeWebhook)
	return s
}

// apiError is an error with its public code, status and message.
type apiError struct {
	Status  int
	Code    string
	Message string
	extra   map[string]any // more fields of the error object (problems, violations)
	cause   error
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return e.Message + ": " + e.cause.Error()
	}
	return e.Message
}

func (e *apiError) Unwrap() error { return e.cause }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

var errNotFound = errorf(http.StatusNotFound, "not_found", "not found")

// request is one authenticated call: the org it is scoped to and the
// token that made it.
type request struct {
	w     http.ResponseWriter
	r     *http.Request
	org   string
	token store.Token
}

type handlerFunc func(c *request) error

func (s *Server) handle(pattern string, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authenticate(w, r)
		if err == nil {
			err = h(c)
		}
		if err != nil {
			fail(w, r, err)
		}
	})
}

// ServeHTTP routes an admin request. Unknown routes and methods get JSON
// errors too.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern == "" {
		// Tell 405 from 404 by trying the other methods on the same path.
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, p := s.mux.Handler(probe); p != "" {
				fail(w, r, errorf(http.StatusMethodNotAllowed, "method_not_allowed", "%s is not allowed on this path", r.Method))
				return
			}
		}
		fail(w, r, errorf(http.StatusNotFound, "not_found", "no such endpoint"))
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*request, error) {
	unauthorized := errorf(http.StatusUnauthorized, "unauthorized", "a valid admin bearer token is required")
	tok, ok, err := bearer.Lookup(r, s.store)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, unauthorized
	}
	if tok.Expired(s.cfg.Now()) || (tok.Kind != store.TokenAdmin && tok.Kind != store.TokenSuper) {
		return nil, unauthorized
	}
	org := r.PathValue("org")
	if tok.Kind == store.TokenAdmin && tok.Org != org {
		return nil, errNotFound
	}
	if tok.Kind == store.TokenSuper {
		if err := s.orgExists(r.Context(), org); err != nil {
			return nil, err
		}
	}
	hlog.FromRequest(r).UpdateContext(func(c zerologContext) zerologContext {
		return c.Str("org", org).Str("token_id", tok.ID)
	})
	r = r.WithContext(store.WithActor(r.Context(), store.Actor{Type: store.ActorToken, ID: tok.ID, Name: tok.Name}))
	return &request{w: w, r: r, org: org, token: tok}, nil
}

func (s *Server) orgExists(ctx context.Context, org string) error {
	orgs, err := s.store.Orgs(ctx)
	if err != nil {
		return err
	}
	for _, o := range orgs {
		if o.Name == org {
			return nil
		}
	}
	return errNotFound
}

// fail renders err. Store errors become their public form; anything else
// is a 500 whose message carries only the request id, and is logged.
func fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var conflict *store.ConflictError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &conflict):
		ae = errorf(http.StatusConflict, "conflict", "%s %q already exists", conflict.Field, conflict.Value)
	case errors.Is(err, store.ErrNotFound):
		ae = errNotFound
	default:
		hlog.FromRequest(r).Error().Err(err).Msg("admin request failed")
		ae = errorf(http.StatusInternalServerError, "internal", "internal error; quote request id %s to your administrator", reqlog.ID(r))
	}
	if ae.Status < 500 {
		hlog.FromRequest(r).Info().Int("status", ae.Status).Str("code", ae.Code).Str("detail", ae.Message).Msg("admin request refused")
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scimbridge-admin"`)
	}
	body := map[string]any{"code": ae.Code, "message": ae.Message}
	for k, v := range ae.extra {
		body[k] = v
	}
	writeJSON(w, ae.Status, map[string]any{"error": body})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decode reads a JSON body into v: at most maxBody bytes, unknown fields
// refused, nothing after the value.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return errorf(http.StatusBadRequest, "invalid_request", "could not read the request body")
	}
	if len(body) > maxBody {
		return errorf(http.StatusRequestEntityTooLarge, "too_large", "request body is larger than %d bytes", maxBody)
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "invalid_request", "request body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return errorf(http.StatusBadRequest, "invalid_request", "request body has data after the JSON value")
	}
	return nil
}

// ValidName reports whether s can name an org or a directory: 1 to 64
// letters, digits, '-' or '_' (they appear in URLs).
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// WritePanic answers a request whose handler panicked with the admin
// API's JSON error; pass it to reqlog.Wrap for the admin surface.
func WritePanic(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusInternalServerError, map[string]any{"error": map[string]string{
		"code": "internal", "message": "internal error; quote request id " + reqlog.ID(r) + " to your administrator",
	}})
}

// WriteError writes the admin API's JSON error: for refusals made before a
// request reaches the Server (IP allowlist, rate limit, overload).
func WriteError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}
