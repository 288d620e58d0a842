package admin

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/sso"
	"github.com/scimbridge/scimbridge/store"
)

// Single sign-on settings of a directory, and the sessions of a person.
//
//	GET    {org}/directories/{dir}/sso                 the settings, the SP's URLs and certificate
//	PATCH  {org}/directories/{dir}/sso                 jit, return_urls, lifetimes, clock skew, SAML options
//	PUT    {org}/directories/{dir}/sso/saml/metadata   IdP metadata: XML body, or {"url": ..., "refresh": "24h"}
//	POST   {org}/directories/{dir}/sso/saml/rotate     new SP key; {"overlap": "168h"} keeps the old cert published
//	PUT    {org}/directories/{dir}/sso/oidc            issuer, client_id, client_secret, scopes, groups_claim
//	GET    {org}/directories/{dir}/users/{id}/sessions the person's live sessions
//	DELETE {org}/directories/{dir}/users/{id}/sessions end them all
func (s *Server) registerSSO(org string) {
	d := org + "/directories/{dir}"
	s.handle("GET "+d+"/sso", s.getSSO)
	s.handle("PATCH "+d+"/sso", s.patchSSO)
	s.handle("PUT "+d+"/sso/saml/metadata", s.putSAMLMetadata)
	s.handle("POST "+d+"/sso/saml/rotate", s.rotateSAMLKey)
	s.handle("PUT "+d+"/sso/oidc", s.putOIDC)
	s.handle("GET "+d+"/users/{id}/sessions", s.listSessions)
	s.handle("DELETE "+d+"/users/{id}/sessions", s.revokeSessions)
}

// ssoHandler returns the SSO handler, or 404 when the server runs without
// single sign-on.
func (s *Server) ssoDir(c *request) (*sso.Handler, store.DirKey, error) {
	if s.cfg.SSO == nil {
		return nil, store.DirKey{}, errorf(http.StatusNotFound, "not_found", "single sign-on is not enabled on this server")
	}
	d, err := s.directory(c)
	if err != nil {
		return nil, store.DirKey{}, err
	}
	return s.cfg.SSO, d.Key(), nil
}

// ssoError turns a refused setting into 400.
func ssoError(err error) error {
	if errors.Is(err, sso.ErrInvalidSettings) {
		return errorf(http.StatusBadRequest, "invalid_request", "%s", strings.TrimPrefix(err.Error(), sso.ErrInvalidSettings.Error()+": "))
	}
	return err
}

func durationString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func (s *Server) ssoJSON(h *sso.Handler, k store.DirKey, cfg store.SSOConfig) map[string]any {
	idp := map[string]any{
		"configured":          len(cfg.SAML.IDPMetadata) > 0,
		"metadata_url":        cfg.SAML.IDPMetadataURL,
		"metadata_refresh":    durationString(cfg.SAML.MetadataRefresh),
		"metadata_fetched":    cfg.SAML.MetadataFetched,
		"metadata_error":      cfg.SAML.MetadataError,
		"allow_idp_initiated": cfg.SAML.AllowIDPInitiated,
	}
	if cfg.SAML.MetadataFetched.IsZero() {
		delete(idp, "metadata_fetched")
	}
	return map[string]any{
		"version": cfg.Version,
		"saml": map[string]any{
			"sp":                        h.SPInfo(k, cfg),
			"idp":                       idp,
			"attributes":                cfg.SAML.Attributes,
			"allow_idp_initiated":       cfg.SAML.AllowIDPInitiated,
			"allow_unsigned_assertions": cfg.SAML.AllowUnsignedAssertions,
		},
		"oidc":             h.OIDCInfo(k, cfg),
		"jit":              cfg.JIT,
		"return_urls":      nonNil(cfg.ReturnURLs),
		"session_idle":     durationOr(cfg.SessionIdle, sso.DefaultSessionIdle),
		"session_absolute": durationOr(cfg.SessionAbsolute, sso.DefaultSessionAbsolute),
		"clock_skew":       durationOr(cfg.ClockSkew, sso.DefaultClockSkew),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func durationOr(d, def time.Duration) string {
	if d <= 0 {
		d = def
	}
	return d.String()
}

func (s *Server) getSSO(c *request) error {
	h, k, err := s.ssoDir(c)
	if err != nil {
		return err
	}
	cfg, err := h.EnsureSP(c.r.Context(), k)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, s.ssoJSON(h, k, cfg))
	return nil
}

// parseDuration reads an optional duration setting within [min, max].
func parseDuration(field string, v *string, min, max time.Duration) (time.Duration, bool, error) {
	if v == nil {
		return 0, false, nil
	}
	if *v == "" {
		return 0, true, nil // back to the default
	}
	d, err := time.ParseDuration(*v)
	if err != nil || d < min || d > max {
		return 0, false, errorf(http.StatusBadRequest, "invalid_request", "%s must be a duration between %s and %s, like \"8h\"", field, min, max)
	}
	return d, true, nil
}

// validReturnURL accepts absolute https URLs (http only for loopback
// hosts, for development) without credentials, query or fragment.
func validReturnURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		return h == "localhost" || h == "127.0.0.1" || h == "::1"
	}
	return false
}

func (s *Server) patchSSO(c *request) error {
	h, k, err := s.ssoDir(c)
	if err != nil {
		return err
	}
	var in struct {
		JIT             *bool     `json:"jit"`
		ReturnURLs      *[]string `json:"return_urls"`
		SessionIdle     *string   `json:"session_idle"`
		SessionAbsolute *string   `json:"session_absolute"`
		ClockSkew       *string   `json:"clock_skew"`
		SAML            *struct {
			Attributes              *store.SAMLAttributes `json:"attributes"`
			AllowIDPInitiated       *bool                 `json:"allow_idp_initiated"`
			AllowUnsignedAssertions *bool                 `json:"allow_unsigned_assertions"`
		} `json:"saml"`
	}
	if err := decode(c.r, &in); err != nil {
		return err
	}
	idle, setIdle, err := parseDuration("session_idle", in.SessionIdle, time.Minute, 30*24*time.Hour)
	if err != nil {
		return err
	}
	absolute, setAbs, err := parseDuration("session_absolute", in.SessionAbsolute, time.Minute, 90*24*time.Hour)
	if err != nil {
		return err
	}
	skew, setSkew, err := parseDuration("clock_skew", in.ClockSkew, 0, 10*time.Minute)
	if err != nil {
		return err
	}
	if in.ReturnURLs != nil {
		if len(*in.ReturnURLs) > 50 {
			return errorf(http.StatusBadRequest, "invalid_request", "at most 50 return_urls")
		}
		for _, u := range *in.ReturnURLs {
			if !validReturnURL(u) {
				return errorf(http.StatusBadRequest, "invalid_request", "return_urls: %q is not an absolute https URL without query or fragment", u)
			}
		}
	}
	if _, err := h.EnsureSP(c.r.Context(), k); err != nil {
		return err
	}
	cfg, err := s.store.(store.SSO).UpdateSSOConfig(c.r.Context(), k, true, func(cfg *store.SSOConfig) error {
		if in.JIT != nil {
			cfg.JIT = *in.JIT
		}
		if in.ReturnURLs != nil {
			cfg.ReturnURLs = *in.ReturnURLs
		}
		if setIdle {
			cfg.SessionIdle = idle
		}
		if setAbs {
			cfg.SessionAbsolute = absolute
		}
		if setSkew {
			cfg.ClockSkew = skew
		}
		if in.SAML != nil {
			if in.SAML.Attributes != nil {
				cfg.SAML.Attributes = *in.SAML.Attributes
			}
			if in.SAML.AllowIDPInitiated != nil {
				cfg.SAML.AllowIDPInitiated = *in.SAML.AllowIDPInitiated
			}
			if in.SAML.AllowUnsignedAssertions != nil {
				cfg.SAML.AllowUnsignedAssertions = *in.SAML.AllowUnsignedAssertions
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, s.ssoJSON(h, k, cfg))
	return nil
}

// putSAMLMetadata sets the IdP: the metadata XML itself (Content-Type
// application/xml or text/xml), or a JSON object naming a URL to fetch and
// refresh.
func (s *Server) putSAMLMetadata(c *request) error {
	h, k, err := s.ssoDir(c)
	if err != nil {
		return err
	}
	var xml []byte
	var in struct {
		URL     string `json:"url"`
		Refresh string `json:"refresh"`
	}
	ct := strings.ToLower(strings.TrimSpace(strings.Split(c.r.Header.Get("Content-Type"), ";")[0]))
	switch ct {
	case "application/xml", "text/xml", "application/samlmetadata+xml":
		body, err := io.ReadAll(io.LimitReader(c.r.Body, maxBody+1))
		if err != nil {
			return errorf(http.StatusBadRequest, "invalid_request", "could not read the request body")
		}
		if len(body) > maxBody {
			return errorf(http.StatusRequestEntityTooLarge, "too_large", "metadata is larger than %d bytes", maxBody)
		}
		xml = body
	default:
		if err := decode(c.r, &in); err != nil {
			return err
		}
		if in.URL == "" {
			return errorf(http.StatusBadRequest, "invalid_request", "send the metadata XML (Content-Type application/xml) or {\"url\": ...}")
		}
	}
	refresh, _, err := parseDuration("refresh", &in.Refresh, 5*time.Minute, 30*24*time.Hour)
	if err != nil {
		return err
	}
	cfg, err := h.SetIDPMetadata(c.r.Context(), k, xml, in.URL, refresh)
	if err != nil {
		return ssoError(err)
	}
	writeJSON(c.w, http.StatusOK, s.ssoJSON(h, k, cfg))
	return nil
}

func (s *Server) rotateSAMLKey(c *request) error {
	h, k, err := s.ssoDir(c)
	if err != nil {
		return err
	}
	var in struct {
		Overlap string `json:"overlap"`
	}
	if c.r.ContentLength != 0 {
		if err := decode(c.r, &in); err != nil {
			return err
		}
	}
	overlap, set, err := parseDuration("overlap", &in.Overlap, 0, 90*24*time.Hour)
	if err != nil {
		return err
	}
	if !set || in.Overlap == "" {
		overlap = 7 * 24 * time.Hour
	}
	cfg, err := h.RotateSPKey(c.r.Context(), k, overlap)
	if err != nil {
		return ssoError(err)
	}
	writeJSON(c.w, http.StatusOK, s.ssoJSON(h, k, cfg))
	return nil
}

func (s *Server) putOIDC(c *request) error {
	h, k, err := s.ssoDir(c)
	if err != nil {
		return err
	}
	var in struct {
		Issuer       string   `json:"issuer"`
		ClientID     string   `json:"client_id"`
		ClientSecret string   `json:"client_secret"`
		Scopes       []string `json:"scopes"`
		GroupsClaim  string   `json:"groups_claim"`
	}
	if err := decode(c.r, &in); err != nil {
		return err
	}
	cfg, err := h.SetOIDC(c.r.Context(), k, in.Issuer, in.ClientID, in.ClientSecret, in.Scopes, in.GroupsClaim)
	if err != nil {
		return ssoError(err)
	}
	writeJSON(c.w, http.StatusOK, s.ssoJSON(h, k, cfg))
	return nil
}

type sessionJSON struct {
	ID       string    `json:"id"`
	Method   string    `json:"method"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
	Expires  time.Time `json:"expires"`
}

func (s *Server) sessionUser(c *request) (store.SSO, store.DirKey, string, error) {
	ss, ok := s.store.(store.SSO)
	if !ok {
		return nil, store.DirKey{}, "", errorf(http.StatusNotFound, "not_found", "single sign-on is not enabled on this server")
	}
	d, err := s.directory(c)
	if err != nil {
		return nil, store.DirKey{}, "", err
	}
	id := c.r.PathValue("id")
	if _, err := s.store.User(c.r.Context(), d.Key(), id); err != nil {
		return nil, store.DirKey{}, "", err
	}
	return ss, d.Key(), id, nil
}

func (s *Server) listSessions(c *request) error {
	ss, k, id, err := s.sessionUser(c)
	if err != nil {
		return err
	}
	list, err := ss.UserSessions(c.r.Context(), k, id)
	if err != nil {
		return err
	}
	out := make([]sessionJSON, 0, len(list))
	for _, x := range list {
		out = append(out, sessionJSON{ID: x.ID, Method: x.Method, Created: x.Created, LastSeen: x.LastSeen, Expires: x.Expires})
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"sessions": out})
	return nil
}

func (s *Server) revokeSessions(c *request) error {
	ss, k, id, err := s.sessionUser(c)
	if err != nil {
		return err
	}
	n, err := ss.RevokeUserSessions(c.r.Context(), k, id)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"revoked": n})
	return nil
}
