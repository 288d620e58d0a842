package scim

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/rs/zerolog"
	"github.com/rs/zerolog/hlog"

	"github.com/scimbridge/scimbridge/internal/bearer"
	"github.com/scimbridge/scimbridge/internal/reqlog"
	"github.com/scimbridge/scimbridge/scim/filter"
	"github.com/scimbridge/scimbridge/scim/resource"
	"github.com/scimbridge/scimbridge/store"
)

const contentType = "application/scim+json"

// PathPrefix is where the SCIM API is mounted. A directory's base URL is
// PathPrefix + "{org}/{directory}".
const PathPrefix = "/scim/v2/"

// Defaults of the limits in Config.
const (
	DefaultMaxBodyBytes       = 4 << 20
	DefaultMaxPageSize        = 1000
	DefaultMaxPatchOperations = 1000
	// memberChunk is how many members are read per store call when a group
	// is streamed; memory per streamed group is bounded by it.
	memberChunk = 1000
)

// Config holds the SCIM server's settings. Zero values take the defaults.
type Config struct {
	// BaseURL is the external URL of the server (scheme, host, optional
	// path prefix, no trailing slash), used for Location and meta.location.
	// Empty: derived from each request's Host.
	BaseURL string
	// MaxBodyBytes caps request bodies (413 above it).
	MaxBodyBytes int64
	// MaxPageSize caps count on listings; a larger count is clamped to it.
	// It is also the page size when count is not given, and is advertised
	// as filter.maxResults.
	MaxPageSize int
	// MaxPatchOperations caps the operations of one PATCH request.
	MaxPatchOperations int
	// Filter caps filter length, nesting and terms.
	Filter filter.Limits
	// Now is the clock (tests inject one).
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxPageSize <= 0 {
		c.MaxPageSize = DefaultMaxPageSize
	}
	if c.MaxPatchOperations <= 0 {
		c.MaxPatchOperations = DefaultMaxPatchOperations
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	return c
}

// Server serves the SCIM API of every directory in the store.
type Server struct {
	store store.Store
	cfg   Config
}

// New returns a SCIM server over st.
func New(st store.Store, cfg Config) *Server {
	return &Server{store: st, cfg: cfg.withDefaults()}
}

// idPattern is the form of every id scimbridge assigns (a UUID, lower
// case). Anything else in an id position is answered 404 without a store
// lookup.
var idPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// call is one authenticated request, resolved to its directory.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	dir  store.Directory
	base string // the directory's SCIM base URL
	prof profile
}

// ServeHTTP routes a request under PathPrefix. Each path segment is
// unescaped exactly once: "/Users/a%2Fb" is the id "a/b" (and so 404), and
// "%2525" is "%25", never "%".
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.EscapedPath()
	if !strings.HasPrefix(raw, PathPrefix) {
		writeError(w, notFound("no such endpoint"))
		return
	}
	parts := strings.Split(strings.TrimPrefix(raw, PathPrefix), "/")
	for i, p := range parts {
		u, err := url.PathUnescape(p)
		if err != nil {
			fail(w, r, notFound("no such endpoint"))
			return
		}
		parts[i] = u
	}
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		fail(w, r, notFound("no such endpoint; the SCIM base URL is "+PathPrefix+"{org}/{directory}"))
		return
	}
	c, err := s.authenticate(w, r, store.DirKey{Org: parts[0], Directory: parts[1]})
	if err != nil {
		fail(w, r, err)
		return
	}
	s.route(c, parts[2:])
}

func notFound(detail string) scimerrors.ScimError {
	return scimerrors.ScimError{Status: http.StatusNotFound, Detail: detail}
}

func methodNotAllowed(c *call, allow ...string) {
	c.w.Header().Set("Allow", strings.Join(allow, ", "))
	fail(c.w, c.r, scimerrors.ScimError{
		Status: http.StatusMethodNotAllowed,
		Detail: c.r.Method + " is not allowed here; allowed: " + strings.Join(allow, ", "),
	})
}

func (s *Server) route(c *call, rest []string) {
	m := c.r.Method
	if len(rest) == 0 || (len(rest) == 1 && rest[0] == "") {
		fail(c.w, c.r, notFound("no such endpoint; use /Users, /Groups or a discovery endpoint"))
		return
	}
	var t *resource.Type
	switch rest[0] {
	case "Users":
		t = resource.User()
	case "Groups":
		t = resource.Group()
	case ".search":
		if len(rest) != 1 {
			break
		}
		if m != http.MethodPost {
			methodNotAllowed(c, http.MethodPost)
			return
		}
		s.search(c, nil)
		return
	case "ServiceProviderConfig", "ResourceTypes", "Schemas":
		if m != http.MethodGet && m != http.MethodHead {
			methodNotAllowed(c, http.MethodGet)
			return
		}
		s.discovery(c, rest)
		return
	case "Me":
		fail(c.w, c.r, scimerrors.ScimError{Status: http.StatusNotImplemented, Detail: "/Me is not supported"})
		return
	case "Bulk":
		fail(c.w, c.r, scimerrors.ScimError{Status: http.StatusNotImplemented, Detail: "bulk operations are not supported (see /ServiceProviderConfig)"})
		return
	}
	if t == nil {
		fail(c.w, c.r, notFound("no such endpoint"))
		return
	}
	switch {
	case len(rest) == 1:
		switch m {
		case http.MethodGet, http.MethodHead: // net/http sends no body for HEAD
			s.list(c, t)
		case http.MethodPost:
			s.create(c, t)
		default:
			methodNotAllowed(c, http.MethodGet, http.MethodPost)
		}
	case len(rest) == 2 && rest[1] == ".search":
		if m != http.MethodPost {
			methodNotAllowed(c, http.MethodPost)
			return
		}
		s.search(c, t)
	case len(rest) == 2:
		id := rest[1]
		if !idPattern.MatchString(id) {
			fail(c.w, c.r, notFound("resource not found"))
			return
		}
		switch m {
		case http.MethodGet, http.MethodHead:
			s.get(c, t, id)
		case http.MethodPut:
			s.replace(c, t, id)
		case http.MethodPatch:
			s.patch(c, t, id)
		case http.MethodDelete:
			s.delete(c, t, id)
		default:
			methodNotAllowed(c, http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete)
		}
	default:
		fail(c.w, c.r, notFound("no such endpoint"))
	}
}

// authenticate checks the bearer token: it must exist, be a SCIM token of
// exactly this directory, and not be expired. Every failure is the same
// 401, so that a token of another directory learns nothing about this one.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, key store.DirKey) (*call, error) {
	unauthorized := scimerrors.ScimError{
		Status: http.StatusUnauthorized,
		Detail: "a valid bearer token for this directory is required",
	}
	tok, ok, err := bearer.Lookup(r, s.store)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, unauthorized
	}
	if tok.Kind != store.TokenSCIM || tok.Org != key.Org || tok.Directory != key.Directory || tok.Expired(s.cfg.Now()) {
		hlog.FromRequest(r).Info().Str("token_id", tok.ID).Msg("token refused for this directory")
		return nil, unauthorized
	}
	dir, err := s.store.Directory(r.Context(), key)
	if err != nil {
		if isNotFound(err) {
			return nil, unauthorized
		}
		return nil, err
	}
	hlog.FromRequest(r).UpdateContext(func(c zerolog.Context) zerolog.Context {
		return c.Str("org", key.Org).Str("directory", key.Directory).Str("token_id", tok.ID)
	})
	r = r.WithContext(store.WithActor(r.Context(), store.Actor{Type: store.ActorToken, ID: tok.ID, Name: tok.Name}))
	return &call{
		w:    w,
		r:    r,
		dir:  dir,
		base: s.baseURL(r) + PathPrefix + url.PathEscape(key.Org) + "/" + url.PathEscape(key.Directory),
		prof: profileOf(dir.Profile),
	}, nil
}

// Profiles a directory can have: the IdP that feeds it.
const (
	ProfileGeneric = "generic"
	ProfileOkta    = "okta"
	ProfileEntra   = "entra"
	ProfileGoogle  = "google"
)

// Profiles lists the valid directory profiles.
var Profiles = []string{ProfileGeneric, ProfileOkta, ProfileEntra, ProfileGoogle}

// profile is how requests of a directory are read. Leniency that cannot
// change the meaning of a request that follows the RFC applies to every
// profile: "True"/"False" strings for booleans, a one-element array or a
// bare id for a single-valued complex attribute (manager), unqualified
// extension attribute names, capitalised PATCH ops, remove with a value
// list. A profile switches only where the IdP and the RFC disagree on the
// meaning of the same request: for entra, a replace through a value
// filter that matches nothing creates the element instead of failing with
// noTarget.
type profile struct {
	values         resource.Options
	replaceUpserts bool
}

func profileOf(name string) profile {
	return profile{
		values:         resource.Options{StringBooleans: true},
		replaceUpserts: name == ProfileEntra,
	}
}

func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.BaseURL != "" {
		return s.cfg.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// WritePanic answers a request whose handler panicked with a SCIM 500
// error; pass it to reqlog.Wrap for the SCIM surface.
func WritePanic(w http.ResponseWriter, r *http.Request) {
	writeError(w, scimerrors.ScimError{
		Status: http.StatusInternalServerError,
		Detail: "internal error; quote request id " + reqlog.ID(r) + " to your administrator",
	})
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
