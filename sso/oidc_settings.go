package sso

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

// Limits of the OIDC settings.
const (
	maxClientIDLen     = 255
	maxClientSecretLen = 4096
	maxScopes          = 20
	maxScopeLen        = 128
	maxClaimNameLen    = 128
)

// SetOIDC sets the OpenID Connect provider of directory k and returns the
// stored settings (emitting directory.sso_updated). The issuer must be an
// https URL (http only on a loopback host) whose discovery document
// answers now and names the same issuer: discovery runs before anything is
// stored, so a wrong issuer is refused here rather than at the first
// login. The client secret is sealed under a label naming the directory;
// an empty secret keeps the stored one when issuer and client id are
// unchanged, and otherwise means a public client (PKCE, no secret).
// scopes are requested besides openid (none: email and profile);
// groupsClaim names the claim read for groups ("" reads "groups"). An
// empty issuer and client id remove the provider. Settings an
// administrator can correct are ErrInvalidSettings errors whose message
// can be shown; none of them carries the secret.
func (h *Handler) SetOIDC(ctx context.Context, k store.DirKey, issuer, clientID, clientSecret string, scopes []string, groupsClaim string) (store.SSOConfig, error) {
	issuer, clientID, groupsClaim = strings.TrimSpace(issuer), strings.TrimSpace(clientID), strings.TrimSpace(groupsClaim)
	if issuer == "" && clientID == "" && clientSecret == "" {
		cfg, err := h.sso.UpdateSSOConfig(ctx, k, true, func(c *store.SSOConfig) error {
			c.OIDC = store.OIDCConfig{}
			return nil
		})
		if err != nil {
			return store.SSOConfig{}, fmt.Errorf("sso: remove OIDC provider of %s: %w", k, err)
		}
		return cfg, nil
	}
	oc, err := checkOIDCSettings(issuer, clientID, clientSecret, scopes, groupsClaim)
	if err != nil {
		return store.SSOConfig{}, err
	}
	var sealed []byte
	if clientSecret != "" {
		if sealed, err = h.sealer.Seal([]byte(clientSecret), oidcSecretLabel(k)); err != nil {
			return store.SSOConfig{}, err
		}
	}
	rp, err := h.discover(ctx, oc)
	if err != nil {
		// The error can quote what the URL answered (go-oidc puts the body
		// of a failed discovery in it): the admin gets the class, the
		// server's log a clipped detail.
		h.log.Warn().Str("org", k.Org).Str("directory", k.Directory).Str("error", clip(err.Error(), 200)).Msg("sso: OpenID discovery failed")
		return store.SSOConfig{}, invalid("OpenID discovery of %q failed: the issuer must answer %s with its configuration (the server log has the detail)", clip(issuer, 200), "/.well-known/openid-configuration")
	}
	cfg, err := h.sso.UpdateSSOConfig(ctx, k, true, func(c *store.SSOConfig) error {
		old := c.OIDC
		c.OIDC = oc
		switch {
		case sealed != nil:
			c.OIDC.ClientSecretSealed = sealed
		case old.Issuer == oc.Issuer && old.ClientID == oc.ClientID:
			c.OIDC.ClientSecretSealed = old.ClientSecretSealed
		}
		return nil
	})
	if err != nil {
		return store.SSOConfig{}, fmt.Errorf("sso: set OIDC provider of %s: %w", k, err)
	}
	h.oidc.seed(k, cfg, rp, h.now())
	return cfg, nil
}

// checkOIDCSettings validates what an administrator gave.
func checkOIDCSettings(issuer, clientID, clientSecret string, scopes []string, groupsClaim string) (store.OIDCConfig, error) {
	if issuer == "" {
		return store.OIDCConfig{}, invalid("the issuer is required")
	}
	if err := checkOPURL(issuer); err != nil {
		return store.OIDCConfig{}, invalid("issuer %q: %v", clip(issuer, 200), err)
	}
	if strings.Contains(issuer, "?") {
		return store.OIDCConfig{}, invalid("issuer %q: an issuer has no query", clip(issuer, 200))
	}
	if clientID == "" {
		return store.OIDCConfig{}, invalid("the client id is required")
	}
	if len(clientID) > maxClientIDLen || !printableASCII(clientID) {
		return store.OIDCConfig{}, invalid("the client id must be at most %d printable characters", maxClientIDLen)
	}
	if len(clientSecret) > maxClientSecretLen || !printableASCII(clientSecret) {
		return store.OIDCConfig{}, invalid("the client secret must be at most %d printable characters", maxClientSecretLen)
	}
	if len(scopes) > maxScopes {
		return store.OIDCConfig{}, invalid("at most %d scopes", maxScopes)
	}
	var clean []string
	for _, s := range scopes {
		s = strings.TrimSpace(s)
		if s == "" || s == "openid" {
			continue // openid is always requested
		}
		if len(s) > maxScopeLen || !scopeToken(s) {
			return store.OIDCConfig{}, invalid("scope %q is not a scope token (RFC 6749 3.3)", clip(s, 50))
		}
		clean = append(clean, s)
	}
	if len(groupsClaim) > maxClaimNameLen || !printableASCII(groupsClaim) || strings.ContainsAny(groupsClaim, " \"") {
		return store.OIDCConfig{}, invalid("the groups claim must be a claim name of at most %d characters", maxClaimNameLen)
	}
	return store.OIDCConfig{Issuer: issuer, ClientID: clientID, Scopes: clean, GroupsClaim: groupsClaim}, nil
}

// printable reports whether s has only printable ASCII (space included).
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// scopeToken reports whether s is an RFC 6749 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func scopeToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return s != ""
}

// seed caches the provider that SetOIDC discovered for the settings it
// stored, so the first login does not run discovery again.
func (s *oidcState) seed(k store.DirKey, cfg store.SSOConfig, rp *oidcRP, now time.Time) {
	e := s.entry(k, cfg)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rp == nil {
		e.rp, e.err = rp, nil
		e.fetched = now
	}
}

// OIDCInfo is what the admin API shows of a directory's OpenID Connect
// settings. It never holds the client secret, only whether one is set.
type OIDCInfo struct {
	Configured      bool     `json:"configured"`
	Issuer          string   `json:"issuer,omitempty"`
	ClientID        string   `json:"client_id,omitempty"`
	ClientSecretSet bool     `json:"client_secret_set"`
	Scopes          []string `json:"scopes"` // as requested, openid first
	GroupsClaim     string   `json:"groups_claim"`
	// RedirectURI is what the OP must have registered for the client;
	// LoginURL starts a login (it accepts return_to).
	RedirectURI string `json:"redirect_uri"`
	LoginURL    string `json:"login_url"`
}

// OIDCInfo returns the OpenID Connect settings of directory k (cfg is its
// store.SSOConfig) as the admin API shows them.
func (h *Handler) OIDCInfo(k store.DirKey, cfg store.SSOConfig) OIDCInfo {
	oc := cfg.OIDC
	claim := oc.GroupsClaim
	if claim == "" {
		claim = DefaultGroupsClaim
	}
	return OIDCInfo{
		Configured: oc.Issuer != "" && oc.ClientID != "",
		Issuer:     oc.Issuer, ClientID: oc.ClientID, ClientSecretSet: len(oc.ClientSecretSealed) > 0,
		Scopes: oidcScopes(oc.Scopes), GroupsClaim: claim,
		RedirectURI: h.DirURL(k, "oidc/callback"), LoginURL: h.DirURL(k, "oidc/login"),
	}
}
