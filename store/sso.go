package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Single sign-on: the per-directory settings, the pending logins, the
// assertion replay cache and the sessions that package sso keeps. Sessions
// live here, beside the users, so that a deactivation or deletion revokes
// them in its own transaction (see UpdateUser and DeleteUser of the
// backend).

// SSO event types.
const (
	EventSSOLoginSucceeded = "sso.login_succeeded"
	EventSSOLoginFailed    = "sso.login_failed"
	EventSSOLogout         = "sso.logout"
	EventSSOConfigUpdated  = "directory.sso_updated"
)

// ResourceSession is the resource type of sso.* events: its id is the
// session id (empty for a failed login, which has no session).
const ResourceSession = "session"

// ErrReplay means an assertion or login state was already used.
var ErrReplay = errors.New("store: already used")

// SSOConfig is a directory's single sign-on settings. The zero value (no
// SAML IdP, no OIDC provider) refuses every login but still serves the SP
// metadata once SPKey is set.
type SSOConfig struct {
	Org       string `json:"org"`
	Directory string `json:"directory"`

	SAML SAMLConfig `json:"saml"`
	OIDC OIDCConfig `json:"oidc"`

	// JIT provisions a person who signs in and is not yet provisioned by
	// SCIM. Off by default: such a login is refused.
	JIT bool `json:"jit,omitempty"`
	// ReturnURLs are the absolute URLs (scheme, host and path prefix) a
	// login may return to besides local paths of this server.
	ReturnURLs []string `json:"return_urls,omitempty"`
	// SessionIdle and SessionAbsolute bound a session's life; zero means
	// the package defaults.
	SessionIdle     time.Duration `json:"session_idle,omitempty"`
	SessionAbsolute time.Duration `json:"session_absolute,omitempty"`
	// ClockSkew is tolerated on assertion and token times; zero means the
	// package default.
	ClockSkew time.Duration `json:"clock_skew,omitempty"`

	Version  uint64    `json:"version"`
	Modified time.Time `json:"modified"`
}

// Key returns the directory the settings belong to.
func (c SSOConfig) Key() DirKey { return DirKey{Org: c.Org, Directory: c.Directory} }

// SAMLConfig is the SAML service provider of one directory and the IdP it
// trusts. Key material is sealed by the caller before it is stored: the
// store keeps opaque bytes.
type SAMLConfig struct {
	// SPKeySealed is the SP's private key (PKCS#8 DER), sealed; SPCert the
	// matching self-signed certificate (DER). PreviousSPCert is the
	// certificate before the last rotation, still published in the SP
	// metadata until PreviousUntil so IdPs can follow.
	SPKeySealed    []byte    `json:"sp_key_sealed,omitempty"`
	SPCert         []byte    `json:"sp_cert,omitempty"`
	PreviousSPCert []byte    `json:"previous_sp_cert,omitempty"`
	PreviousUntil  time.Time `json:"previous_until,omitzero"`

	// IDPMetadata is the IdP's metadata XML (uploaded, or last fetched
	// from IDPMetadataURL). MetadataRefresh is how often the URL is
	// fetched again (zero: the package default); MetadataFetched when it
	// last succeeded.
	IDPMetadata     []byte        `json:"idp_metadata,omitempty"`
	IDPMetadataURL  string        `json:"idp_metadata_url,omitempty"`
	MetadataRefresh time.Duration `json:"metadata_refresh,omitempty"`
	MetadataFetched time.Time     `json:"metadata_fetched,omitzero"`
	MetadataError   string        `json:"metadata_error,omitempty"`

	// Attributes names the SAML attributes read, by role; empty fields
	// take the package defaults (which also accept Entra's and Okta's
	// claim URIs).
	Attributes SAMLAttributes `json:"attributes,omitzero"`

	// AllowIDPInitiated accepts unsolicited responses (off by default);
	// AllowUnsignedAssertions accepts a signed response that wraps an
	// unsigned assertion (off by default).
	AllowIDPInitiated       bool `json:"allow_idp_initiated,omitempty"`
	AllowUnsignedAssertions bool `json:"allow_unsigned_assertions,omitempty"`
}

// SAMLAttributes names the SAML attributes read for each field.
type SAMLAttributes struct {
	Email      string `json:"email,omitempty"`
	GivenName  string `json:"given_name,omitempty"`
	FamilyName string `json:"family_name,omitempty"`
	Groups     string `json:"groups,omitempty"`
}

// OIDCConfig is the OpenID Connect provider of one directory.
type OIDCConfig struct {
	Issuer             string   `json:"issuer,omitempty"`
	ClientID           string   `json:"client_id,omitempty"`
	ClientSecretSealed []byte   `json:"client_secret_sealed,omitempty"`
	Scopes             []string `json:"scopes,omitempty"`       // besides openid; empty: email profile
	GroupsClaim        string   `json:"groups_claim,omitempty"` // empty: "groups"
}

// LoginState is a login in progress: created when the browser is sent to
// the IdP, taken (once) when it comes back. It binds the answer to the
// browser that started the login (BrowserHash, the hash of a cookie) and to
// the directory and provider that started it.
type LoginState struct {
	ID          string    `json:"id"` // the state / RelayState value
	Org         string    `json:"org"`
	Directory   string    `json:"directory"`
	Method      string    `json:"method"` // "saml" or "oidc"
	BrowserHash []byte    `json:"browser_hash"`
	RequestID   string    `json:"request_id,omitempty"` // SAML AuthnRequest ID
	Issuer      string    `json:"issuer,omitempty"`     // OIDC issuer the login started with
	Nonce       string    `json:"nonce,omitempty"`
	Verifier    string    `json:"verifier,omitempty"` // PKCE code verifier
	ReturnTo    string    `json:"return_to,omitempty"`
	Expires     time.Time `json:"expires"`
}

// Session is a signed-in person. Only the hash of the cookie's secret is
// stored.
type Session struct {
	ID        string `json:"id"` // random, public (events, listings)
	Hash      []byte `json:"hash"`
	Org       string `json:"org"`
	Directory string `json:"directory"`
	UserID    string `json:"user_id"`
	UserName  string `json:"user_name"`
	Method    string `json:"method"` // "saml" or "oidc"
	// Groups are the groups the login established (from the IdP's claim,
	// or the SCIM memberships when the claim was missing), as the rules
	// see them; GroupsSource says which ("claim" or "scim").
	Groups       json.RawMessage `json:"groups,omitempty"`
	GroupsSource string          `json:"groups_source,omitempty"`
	Created      time.Time       `json:"created"`
	LastSeen     time.Time       `json:"last_seen"`
	IdleTimeout  time.Duration   `json:"idle_timeout"`
	Expires      time.Time       `json:"expires"` // absolute end
}

// Live reports whether the session may be used at now.
func (s Session) Live(now time.Time) bool {
	return now.Before(s.Expires) && now.Before(s.LastSeen.Add(s.IdleTimeout))
}

// SSOEvent is what an sso.* event carries; it never holds an assertion, a
// token or a cookie.
type SSOEvent struct {
	Type      string          // EventSSOLoginSucceeded, …
	Directory string          // may be empty when the directory is unknown
	SessionID string          // empty for failures
	Data      json.RawMessage // JSON object
}

// SSO is the optional capability of a backend to keep single sign-on
// state. Callers type-assert a Store to it.
type SSO interface {
	// SSOConfig reads a directory's settings; a directory without any
	// has the zero SSOConfig (with Org and Directory set), an unknown
	// directory is ErrNotFound.
	SSOConfig(ctx context.Context, dir DirKey) (SSOConfig, error)
	// UpdateSSOConfig reads the settings, calls fn and stores what it
	// left (Org, Directory, Version and Modified are the store's), in one
	// transaction, emitting directory.sso_updated with data (no secret)
	// when emit is true. fn must be pure CPU work; its error aborts.
	UpdateSSOConfig(ctx context.Context, dir DirKey, emit bool, fn func(c *SSOConfig) error) (SSOConfig, error)

	// PutLoginState stores a pending login; TakeLoginState reads and
	// deletes it in one transaction (ErrNotFound when absent or
	// expired), so a state is used at most once.
	PutLoginState(ctx context.Context, s LoginState) error
	TakeLoginState(ctx context.Context, id string) (LoginState, error)
	// ConsumeOnce records key (an assertion id, a nonce) until expires;
	// ErrReplay if it is already recorded and not expired.
	ConsumeOnce(ctx context.Context, key string, expires time.Time) error

	// CreateSession stores s and appends ev (sso.login_succeeded) in the
	// same transaction. It fails with ErrNotFound when the user no longer
	// exists and with ErrInactive when it is not active, so a login that
	// raced a deactivation never yields a session.
	CreateSession(ctx context.Context, s Session, ev SSOEvent) error
	// SessionByHash finds a session by the hash of its secret; expired
	// sessions are ErrNotFound.
	SessionByHash(ctx context.Context, hash []byte) (Session, error)
	// TouchSession moves LastSeen to now.
	TouchSession(ctx context.Context, hash []byte, now time.Time) error
	// DeleteSession ends a session and appends ev (sso.logout) when
	// ev.Type is set.
	DeleteSession(ctx context.Context, hash []byte, ev SSOEvent) error
	// UserSessions lists the live sessions of one user.
	UserSessions(ctx context.Context, dir DirKey, userID string) ([]Session, error)
	// RevokeUserSessions deletes every session of one user, returning how
	// many there were.
	RevokeUserSessions(ctx context.Context, dir DirKey, userID string) (int, error)
	// PruneSSO deletes expired sessions, login states and replay keys.
	PruneSSO(ctx context.Context, now time.Time) (int, error)

	// AppendSSOEvent appends an event that goes with no other change (a
	// failed login) to org's outbox.
	AppendSSOEvent(ctx context.Context, org string, ev SSOEvent) error
}

// ErrInactive means the user exists but is not active.
var ErrInactive = errors.New("store: user is not active")
