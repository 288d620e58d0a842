package admin

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog/hlog"

	"github.com/scimbridge/scimbridge/internal/bearer"
	"github.com/scimbridge/scimbridge/store"
)

// Token management. Three kinds of token, three scopes, one set of
// handlers (list, create, revoke, rotate):
//
//	SCIM tokens of a directory  /orgs/{org}/directories/{dir}/tokens  (directories.go)
//	admin tokens of an org      /orgs/{org}/tokens
//	super tokens                /super/tokens                          (super token only)
//
// plus the org-less routes of a super token: GET and POST /orgs. A token
// id is found only inside the scope of the URL: an id of another
// directory, kind or org is 404 like one that does not exist. The secret
// is in the response of create and rotate only; listings show its prefix.

// Limits of rotation.
const (
	// DefaultRotateOverlap is how long a rotated token keeps working when
	// the request names no overlap: time to put the new secret in the IdP.
	DefaultRotateOverlap = 24 * time.Hour
	// MaxRotateOverlap caps the overlap.
	MaxRotateOverlap = 30 * 24 * time.Hour
)

// superPrefix is where the super token's own routes live; org-less, so
// that authenticate's {org} scoping never applies to them.
const superPrefix = "/admin/v1/super"

// registerTokens mounts the admin-token, super-token and org routes
// (called from New).
func (s *Server) registerTokens(org string) {
	s.handle("GET "+org+"/tokens", scoped(s.listScoped, adminScope))
	s.handle("POST "+org+"/tokens", scoped(s.createScoped, adminScope))
	s.handle("DELETE "+org+"/tokens/{token}", scoped(s.revokeScoped, adminScope))
	s.handle("POST "+org+"/tokens/{token}/rotate", scoped(s.rotateScoped, adminScope))

	s.handleSuper("GET /admin/v1/orgs", s.listOrgs)
	s.handleSuper("POST /admin/v1/orgs", s.createOrg)
	s.handleSuper("GET "+superPrefix+"/tokens", scoped(s.listScoped, superScope))
	s.handleSuper("POST "+superPrefix+"/tokens", scoped(s.createScoped, superScope))
	s.handleSuper("DELETE "+superPrefix+"/tokens/{token}", scoped(s.revokeScoped, superScope))
	s.handleSuper("POST "+superPrefix+"/tokens/{token}/rotate", scoped(s.rotateScoped, superScope))
}

// handleSuper is handle for the routes of super tokens only.
func (s *Server) handleSuper(pattern string, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authenticateSuper(w, r)
		if err == nil {
			err = h(c)
		}
		if err != nil {
			fail(w, r, err)
		}
	})
}

// authenticateSuper accepts only a valid super token. An org's admin token
// gets 404, as these routes do not exist for it (they span every org); no
// token, an unknown, expired or SCIM token gets 401.
func (s *Server) authenticateSuper(w http.ResponseWriter, r *http.Request) (*request, error) {
	unauthorized := errorf(http.StatusUnauthorized, "unauthorized", "a valid super token is required")
	tok, ok, err := bearer.Lookup(r, s.store)
	if err != nil {
		return nil, err
	}
	if !ok || tok.Expired(s.cfg.Now()) {
		return nil, unauthorized
	}
	switch tok.Kind {
	case store.TokenSuper:
	case store.TokenAdmin:
		return nil, errNotFound
	default:
		return nil, unauthorized
	}
	hlog.FromRequest(r).UpdateContext(func(c zerologContext) zerologContext {
		return c.Str("token_id", tok.ID)
	})
	r = r.WithContext(store.WithActor(r.Context(), store.Actor{Type: store.ActorToken, ID: tok.ID, Name: tok.Name}))
	return &request{w: w, r: r, token: tok}, nil
}

// tokenScope is the tokens one route manages.
type tokenScope struct {
	kind store.TokenKind
	org  string // "" for super tokens
	dir  string // SCIM tokens only
}

func (sc tokenScope) holds(t store.Token) bool {
	return t.Kind == sc.kind && t.Org == sc.org && t.Directory == sc.dir
}

func adminScope(c *request) tokenScope { return tokenScope{kind: store.TokenAdmin, org: c.org} }
func superScope(*request) tokenScope   { return tokenScope{kind: store.TokenSuper} }

// scoped adapts a scoped handler to a route whose scope depends only on
// the request.
func scoped(h func(c *request, sc tokenScope) error, scope func(c *request) tokenScope) handlerFunc {
	return func(c *request) error { return h(c, scope(c)) }
}

func (s *Server) scopedTokens(c *request, sc tokenScope) ([]store.Token, error) {
	all, err := s.store.Tokens(c.r.Context(), sc.org)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, t := range all {
		if sc.holds(t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// findScoped returns the token {token} of the URL when it is in sc, and
// 404 otherwise.
func (s *Server) findScoped(c *request, sc tokenScope) (store.Token, error) {
	ts, err := s.scopedTokens(c, sc)
	if err != nil {
		return store.Token{}, err
	}
	id := c.r.PathValue("token")
	for _, t := range ts {
		if t.ID == id {
			return t, nil
		}
	}
	return store.Token{}, errNotFound
}

// listScoped answers GET: name, prefix, created, last_used, expires and
// replaced_by of every token of the scope, oldest first; never a secret
// or hash.
func (s *Server) listScoped(c *request, sc tokenScope) error {
	ts, err := s.scopedTokens(c, sc)
	if err != nil {
		return err
	}
	out := make([]tokenJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, toTokenJSON(t))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

// parseExpires reads the "expires" of a request: an RFC 3339 time that
// must be after now.
func parseExpires(s string, now time.Time) (time.Time, error) {
	exp, err := time.Parse(time.RFC3339, s)
	if err != nil || !exp.After(now) {
		return time.Time{}, errorf(http.StatusBadRequest, "invalid_request", "expires must be a future RFC 3339 time")
	}
	return exp.UTC(), nil
}

// newSecret makes the secret, hash, prefix and id of a new token.
func newSecret() (secret string, t store.Token, err error) {
	secret, hash, prefix, err := store.NewTokenSecret()
	if err != nil {
		return "", store.Token{}, err
	}
	id, err := store.NewID()
	if err != nil {
		return "", store.Token{}, err
	}
	return secret, store.Token{ID: id, Hash: hash, Prefix: prefix}, nil
}

// createScoped answers POST {"name", "expires"}: a new token of the scope,
// its secret in the response only.
func (s *Server) createScoped(c *request, sc tokenScope) error {
	var in struct {
		Name    string `json:"name"`
		Expires string `json:"expires"` // RFC 3339 time, or empty for never
	}
	if err := decode(c.r, &in); err != nil {
		return err
	}
	now := s.cfg.Now()
	var exp time.Time
	if in.Expires != "" {
		var err error
		if exp, err = parseExpires(in.Expires, now); err != nil {
			return err
		}
	}
	secret, t, err := newSecret()
	if err != nil {
		return err
	}
	t.Kind, t.Org, t.Directory, t.Name, t.Created, t.Expires = sc.kind, sc.org, sc.dir, in.Name, now.UTC(), exp
	if err := s.store.CreateToken(c.r.Context(), t); err != nil {
		return err
	}
	j := toTokenJSON(t)
	j.Token = secret
	writeJSON(c.w, http.StatusCreated, j)
	return nil
}

// revokeScoped answers DELETE: the token stops working at once. The last
// valid super token cannot be revoked online (nothing could then make
// another without stopping the server).
func (s *Server) revokeScoped(c *request, sc tokenScope) error {
	t, err := s.findScoped(c, sc)
	if err != nil {
		return err
	}
	if sc.kind == store.TokenSuper {
		ts, err := s.scopedTokens(c, sc)
		if err != nil {
			return err
		}
		others := 0
		for _, o := range ts {
			if o.ID != t.ID && !o.Expired(s.cfg.Now()) {
				others++
			}
		}
		if others == 0 {
			return errorf(http.StatusConflict, "last_super_token",
				"this is the last valid super token; create or rotate to another one first (offline: scimbridge token create --super)")
		}
	}
	if err := s.store.DeleteToken(c.r.Context(), t.ID); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// parseOverlap reads the "overlap" of a rotation: a Go duration ("36h",
// "0s") or whole days ("7d"), from 0 to MaxRotateOverlap; empty is
// DefaultRotateOverlap.
func parseOverlap(s string) (time.Duration, error) {
	bad := errorf(http.StatusBadRequest, "invalid_request",
		"overlap must be a duration from 0s to %dd, like 24h or 7d", int(MaxRotateOverlap/(24*time.Hour)))
	if s == "" {
		return DefaultRotateOverlap, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > int(MaxRotateOverlap/(24*time.Hour)) {
			return 0, bad
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, bad
		}
	}
	if d < 0 || d > MaxRotateOverlap {
		return 0, bad
	}
	return d, nil
}

// rotateJSON is the answer to a rotation: the new token with its secret,
// and the old one as it is now (its expiry shortened to the overlap).
type rotateJSON struct {
	tokenJSON
	Replaces tokenJSON `json:"replaces"`
}

// rotateScoped answers POST .../{token}/rotate {"overlap", "expires"}: a
// new token with the old one's kind, scope and name, whose secret is in
// the response only; the old one keeps working for the overlap (default
// DefaultRotateOverlap), never longer than it would have. The new token
// expires at "expires" (RFC 3339), never with "never", and by default
// after the old one's lifetime (Expires - Created) from now, or never if
// the old one did not expire. A token rotates once: rotating it again is
// 409, rotate its replacement instead.
func (s *Server) rotateScoped(c *request, sc tokenScope) error {
	var in struct {
		Overlap string `json:"overlap"`
		Expires string `json:"expires"`
	}
	// The body is optional: none, or only white space, takes the defaults.
	body, err := io.ReadAll(io.LimitReader(c.r.Body, maxBody+1))
	if err != nil {
		return errorf(http.StatusBadRequest, "invalid_request", "could not read the request body")
	}
	if len(bytes.TrimSpace(body)) > 0 {
		c.r.Body = io.NopCloser(bytes.NewReader(body))
		if err := decode(c.r, &in); err != nil {
			return err
		}
	}
	overlap, err := parseOverlap(in.Overlap)
	if err != nil {
		return err
	}
	old, err := s.findScoped(c, sc)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	var exp time.Time
	switch in.Expires {
	case "":
		if !old.Expires.IsZero() {
			exp = now.UTC().Add(old.Expires.Sub(old.Created))
		}
	case "never":
	default:
		if exp, err = parseExpires(in.Expires, now); err != nil {
			return err
		}
	}
	secret, nt, err := newSecret()
	if err != nil {
		return err
	}
	nt.Created, nt.Expires = now.UTC(), exp
	id := old.ID
	old, err = s.store.RotateToken(c.r.Context(), id, nt, overlap)
	var ce *store.ConflictError
	if errors.As(err, &ce) && ce.Field == "replaced_by" {
		return errorf(http.StatusConflict, "already_rotated", "token %s was already rotated (replaced by %s); rotate its replacement instead", id, ce.Value)
	}
	if err != nil {
		return err
	}
	nt.Kind, nt.Org, nt.Directory, nt.Name = old.Kind, old.Org, old.Directory, old.Name
	j := rotateJSON{tokenJSON: toTokenJSON(nt), Replaces: toTokenJSON(old)}
	j.Token = secret
	writeJSON(c.w, http.StatusCreated, j)
	return nil
}

type orgJSON struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// listOrgs answers GET /admin/v1/orgs (super token): every org by name.
func (s *Server) listOrgs(c *request) error {
	orgs, err := s.store.Orgs(c.r.Context())
	if err != nil {
		return err
	}
	out := make([]orgJSON, 0, len(orgs))
	for _, o := range orgs {
		out = append(out, orgJSON{Name: o.Name, Created: o.Created})
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"orgs": out})
	return nil
}

// createOrg answers POST /admin/v1/orgs {"name"} (super token): a new
// empty org (no directory, no token: make its admin token with POST
// /orgs/{org}/tokens); 409 when the name is taken.
func (s *Server) createOrg(c *request) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := decode(c.r, &in); err != nil {
		return err
	}
	if !ValidName(in.Name) {
		return errorf(http.StatusBadRequest, "invalid_request", "name must be 1 to 64 letters, digits, '-' or '_'")
	}
	o, err := s.store.CreateOrg(c.r.Context(), in.Name)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusCreated, orgJSON{Name: o.Name, Created: o.Created})
	return nil
}
