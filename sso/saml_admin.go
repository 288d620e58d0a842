package sso

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/scimbridge/scimbridge/store"
)

// Limits and defaults of the SAML service provider's key and of the IdP
// metadata it trusts.
const (
	// SPKeyBits is the size of the RSA key generated for a directory's SP.
	SPKeyBits = 2048
	// SPCertValidity is how long the SP's self-signed certificate is valid.
	// IdPs use it as a container for the public key and rarely check its
	// dates; rotate with RotateSPKey.
	SPCertValidity = 10 * 365 * 24 * time.Hour
	// MaxMetadataBytes caps IdP metadata, uploaded or fetched.
	MaxMetadataBytes = 1 << 20
)

// Errors of the SAML administration functions. Both are ErrInvalidSettings
// (the admin API answers 400 with the message); their messages name the
// problem, never a key.
var (
	// ErrInvalidMetadata means IdP metadata (or its URL) is not usable:
	// not one IdP entity, no signing certificate, no HTTP-Redirect
	// SingleSignOnService, a URL that is neither https nor loopback http.
	ErrInvalidMetadata = fmt.Errorf("%w: IdP metadata", ErrInvalidSettings)
	// ErrMetadataFetch means the IdP metadata URL could not be fetched.
	ErrMetadataFetch = fmt.Errorf("%w: cannot fetch IdP metadata", ErrInvalidSettings)
)

// spKeyLabel binds a sealed SP key to its directory: a key sealed for one
// directory does not open as another's.
func spKeyLabel(k store.DirKey) string { return "saml-sp-key:" + k.Org + "/" + k.Directory }

func hasSPKey(c store.SSOConfig) bool {
	return len(c.SAML.SPKeySealed) > 0 && len(c.SAML.SPCert) > 0
}

// EnsureSP returns the settings of directory k with an SP key: the stored
// one, or one generated now (RSA 2048, self-signed certificate, the key
// sealed under a label that names the directory). It is safe to call
// concurrently, also from several processes on one database: a key is
// only stored when none is, and the stored one is returned.
func (h *Handler) EnsureSP(ctx context.Context, k store.DirKey) (store.SSOConfig, error) {
	cfg, err := h.sso.SSOConfig(ctx, k)
	if err != nil || hasSPKey(cfg) {
		return cfg, err
	}
	h.spKeyMu.Lock()
	defer h.spKeyMu.Unlock()
	if cfg, err = h.sso.SSOConfig(ctx, k); err != nil || hasSPKey(cfg) {
		return cfg, err
	}
	sealed, cert, err := h.newSPKey(k)
	if err != nil {
		return store.SSOConfig{}, err
	}
	if _, err := h.sso.UpdateSSOConfig(ctx, k, false, func(c *store.SSOConfig) error {
		if !hasSPKey(*c) { // another process may have won
			c.SAML.SPKeySealed, c.SAML.SPCert = sealed, cert
		}
		return nil
	}); err != nil {
		return store.SSOConfig{}, fmt.Errorf("sso: store SP key of %s: %w", k, err)
	}
	return h.sso.SSOConfig(ctx, k)
}

// RotateSPKey replaces the SP key of directory k with a new one at once.
// The old certificate stays in the SP metadata (PreviousSPCert) for
// overlap, so IdPs that poll the metadata can follow; overlap <= 0 drops
// it. The new key signs AuthnRequests from now on: an IdP that verifies
// them against a static copy of the metadata must be given the new one.
func (h *Handler) RotateSPKey(ctx context.Context, k store.DirKey, overlap time.Duration) (store.SSOConfig, error) {
	h.spKeyMu.Lock()
	defer h.spKeyMu.Unlock()
	if _, err := h.sso.SSOConfig(ctx, k); err != nil {
		return store.SSOConfig{}, err
	}
	sealed, cert, err := h.newSPKey(k)
	if err != nil {
		return store.SSOConfig{}, err
	}
	until := h.now().Add(overlap).UTC()
	cfg, err := h.sso.UpdateSSOConfig(ctx, k, true, func(c *store.SSOConfig) error {
		c.SAML.PreviousSPCert, c.SAML.PreviousUntil = nil, time.Time{}
		if overlap > 0 && len(c.SAML.SPCert) > 0 {
			c.SAML.PreviousSPCert, c.SAML.PreviousUntil = c.SAML.SPCert, until
		}
		c.SAML.SPKeySealed, c.SAML.SPCert = sealed, cert
		return nil
	})
	if err != nil {
		return store.SSOConfig{}, fmt.Errorf("sso: rotate SP key of %s: %w", k, err)
	}
	return cfg, nil
}

// newSPKey generates an SP key and its self-signed certificate; it returns
// the sealed PKCS#8 key and the certificate DER.
func (h *Handler) newSPKey(k store.DirKey) (sealed, certDER []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, SPKeyBits)
	if err != nil {
		return nil, nil, fmt.Errorf("sso: generate SP key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("sso: certificate serial: %w", err)
	}
	now := h.now().UTC()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: clip("scimbridge SAML SP "+k.String(), 60)},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(SPCertValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	certDER, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("sso: SP certificate: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("sso: marshal SP key: %w", err)
	}
	sealed, err = h.sealer.Seal(der, spKeyLabel(k))
	if err != nil {
		return nil, nil, err
	}
	return sealed, certDER, nil
}

// SAMLSPInfo is what the admin API shows of a directory's SAML service
// provider and the IdP it trusts.
type SAMLSPInfo struct {
	EntityID    string `json:"entity_id"`
	ACSURL      string `json:"acs_url"`
	MetadataURL string `json:"metadata_url"`
	LoginURL    string `json:"login_url"`
	// CertSHA256 is the SHA-256 fingerprint of the SP certificate
	// (uppercase hex pairs separated by colons, as IdP consoles show it);
	// empty until the key is generated.
	CertSHA256    string    `json:"cert_sha256,omitempty"`
	CertNotAfter  time.Time `json:"cert_not_after,omitzero"`
	PreviousCert  string    `json:"previous_cert_sha256,omitempty"`
	PreviousUntil time.Time `json:"previous_until,omitzero"`

	IDPEntityID     string    `json:"idp_entity_id,omitempty"`
	IDPMetadataURL  string    `json:"idp_metadata_url,omitempty"`
	MetadataFetched time.Time `json:"metadata_fetched,omitzero"`
	MetadataError   string    `json:"metadata_error,omitempty"`
	// IDPCertsSHA256 are the fingerprints of the IdP signing certificates
	// trusted.
	IDPCertsSHA256 []string `json:"idp_certs_sha256,omitempty"`
}

// SPInfo describes the SAML service provider of directory k with settings
// cfg (see EnsureSP to have a certificate to show).
func (h *Handler) SPInfo(k store.DirKey, cfg store.SSOConfig) SAMLSPInfo {
	info := SAMLSPInfo{
		EntityID:       h.DirURL(k, "saml/metadata"),
		ACSURL:         h.DirURL(k, "saml/acs"),
		MetadataURL:    h.DirURL(k, "saml/metadata"),
		LoginURL:       h.DirURL(k, "saml/login"),
		IDPMetadataURL: cfg.SAML.IDPMetadataURL, MetadataFetched: cfg.SAML.MetadataFetched,
		MetadataError: cfg.SAML.MetadataError,
	}
	if c, err := x509.ParseCertificate(cfg.SAML.SPCert); err == nil {
		info.CertSHA256, info.CertNotAfter = certFingerprint(c.Raw), c.NotAfter
	}
	if len(cfg.SAML.PreviousSPCert) > 0 && h.now().Before(cfg.SAML.PreviousUntil) {
		info.PreviousCert, info.PreviousUntil = certFingerprint(cfg.SAML.PreviousSPCert), cfg.SAML.PreviousUntil
	}
	if len(cfg.SAML.IDPMetadata) > 0 {
		if idp, err := parseIDPMetadata(cfg.SAML.IDPMetadata); err == nil {
			info.IDPEntityID = idp.ed.EntityID
			for _, c := range idp.certs {
				info.IDPCertsSHA256 = append(info.IDPCertsSHA256, certFingerprint(c.Raw))
			}
		}
	}
	return info
}

func certFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// SetIDPMetadata makes directory k trust the IdP that metadataXML
// describes, or, when metadataXML is empty, the one fetched now from
// metadataURL (https, or http to a loopback address) and fetched again
// every refresh (zero: DefaultMetadataRefresh) by RefreshMetadata. Both
// empty removes the IdP: SAML logins are refused until it is set again.
// Unusable metadata is ErrInvalidMetadata, a failed fetch
// ErrMetadataFetch, an unknown directory store.ErrNotFound. It also
// makes sure the SP has a key.
func (h *Handler) SetIDPMetadata(ctx context.Context, k store.DirKey, metadataXML []byte, metadataURL string, refresh time.Duration) (store.SSOConfig, error) {
	if len(metadataXML) > 0 && metadataURL != "" {
		return store.SSOConfig{}, fmt.Errorf("%w: give the metadata or its URL, not both", ErrInvalidMetadata)
	}
	if refresh < 0 {
		return store.SSOConfig{}, fmt.Errorf("%w: negative refresh interval", ErrInvalidMetadata)
	}
	if _, err := h.EnsureSP(ctx, k); err != nil {
		return store.SSOConfig{}, err
	}
	var fetched time.Time
	switch {
	case metadataURL != "":
		b, err := h.fetchMetadata(ctx, metadataURL)
		if err != nil {
			return store.SSOConfig{}, err
		}
		metadataXML, fetched = b, h.now().UTC()
	case len(metadataXML) > 0:
		if _, err := parseIDPMetadata(metadataXML); err != nil {
			return store.SSOConfig{}, err
		}
		metadataXML = bytes.Clone(metadataXML)
	}
	cfg, err := h.sso.UpdateSSOConfig(ctx, k, true, func(c *store.SSOConfig) error {
		c.SAML.IDPMetadata, c.SAML.IDPMetadataURL = metadataXML, metadataURL
		c.SAML.MetadataRefresh, c.SAML.MetadataFetched, c.SAML.MetadataError = refresh, fetched, ""
		if metadataURL == "" {
			c.SAML.MetadataRefresh = 0
		}
		return nil
	})
	if err != nil {
		return store.SSOConfig{}, fmt.Errorf("sso: set IdP metadata of %s: %w", k, err)
	}
	return cfg, nil
}

// RefreshMetadata fetches again the IdP metadata of every directory whose
// metadata URL is due (MetadataFetched older than MetadataRefresh, or
// DefaultMetadataRefresh). A failure is recorded in MetadataError and
// logged; the metadata last fetched stays in use, and the next call tries
// again. Call it periodically (every few minutes).
func (h *Handler) RefreshMetadata(ctx context.Context) {
	orgs, err := h.st.Orgs(ctx)
	if err != nil {
		h.log.Error().Err(err).Msg("sso: metadata refresh: list orgs")
		return
	}
	for _, o := range orgs {
		dirs, err := h.st.Directories(ctx, o.Name)
		if err != nil {
			h.log.Error().Err(err).Str("org", o.Name).Msg("sso: metadata refresh: list directories")
			continue
		}
		for _, d := range dirs {
			if ctx.Err() != nil {
				return
			}
			h.refreshDirectory(ctx, d.Key())
		}
	}
}

func (h *Handler) refreshDirectory(ctx context.Context, k store.DirKey) {
	cfg, err := h.sso.SSOConfig(ctx, k)
	if err != nil {
		h.log.Error().Err(err).Str("org", k.Org).Str("directory", k.Directory).Msg("sso: metadata refresh: read settings")
		return
	}
	src := cfg.SAML.IDPMetadataURL
	every := cfg.SAML.MetadataRefresh
	if every <= 0 {
		every = DefaultMetadataRefresh
	}
	if src == "" || h.now().Before(cfg.SAML.MetadataFetched.Add(every)) {
		return
	}
	b, ferr := h.fetchMetadata(ctx, src)
	changed := ferr == nil && !bytes.Equal(b, cfg.SAML.IDPMetadata)
	now := h.now().UTC()
	// A change of the trusted IdP is an event; a fetch that changes
	// nothing (or fails) is not.
	_, err = h.sso.UpdateSSOConfig(ctx, k, changed, func(c *store.SSOConfig) error {
		if c.SAML.IDPMetadataURL != src {
			return errMetadataSwitched
		}
		if ferr != nil {
			c.SAML.MetadataError = clip(ferr.Error(), 500)
			return nil
		}
		c.SAML.IDPMetadata, c.SAML.MetadataFetched, c.SAML.MetadataError = b, now, ""
		return nil
	})
	l := h.log.With().Str("org", k.Org).Str("directory", k.Directory).Logger()
	switch {
	case errors.Is(err, errMetadataSwitched):
	case err != nil:
		l.Error().Err(err).Msg("sso: metadata refresh: store")
	case ferr != nil:
		l.Warn().Err(ferr).Msg("sso: metadata refresh failed; keeping the metadata last fetched")
	case changed:
		l.Info().Msg("sso: IdP metadata changed")
	}
}

// errMetadataSwitched aborts a refresh whose URL an admin changed meanwhile.
var errMetadataSwitched = errors.New("sso: metadata URL changed during refresh")

// checkMetadataURL allows https, and http only to a loopback address (a
// metadata swap over plain http would let anyone on the path add a
// signing certificate).
func checkMetadataURL(u *url.URL) error {
	if u.User != nil || u.Host == "" {
		return fmt.Errorf("%w: metadata URL must be an absolute URL without credentials", ErrInvalidMetadata)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return fmt.Errorf("%w: metadata URL must be https (http only to a loopback address)", ErrInvalidMetadata)
}

// fetchMetadata GETs metadata from raw, checking the scheme of the URL and
// of every redirect, capping the body at MaxMetadataBytes, and validating
// it.
func (h *Handler) fetchMetadata(ctx context.Context, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: metadata URL does not parse", ErrInvalidMetadata)
	}
	if err := checkMetadataURL(u); err != nil {
		return nil, err
	}
	client := *h.client
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 5 {
			return errors.New("too many redirects")
		}
		return checkMetadataURL(req.URL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMetadataFetch, err)
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml, text/xml")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMetadataFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %s", ErrMetadataFetch, u.Redacted(), resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxMetadataBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %v", ErrMetadataFetch, u.Redacted(), err)
	}
	if len(b) > MaxMetadataBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidMetadata, MaxMetadataBytes)
	}
	if _, err := parseIDPMetadata(b); err != nil {
		return nil, err
	}
	return b, nil
}

// idpMetadata is IdP metadata checked to be usable.
type idpMetadata struct {
	ed    *saml.EntityDescriptor
	certs []*x509.Certificate
}

// parseIDPMetadata parses and checks IdP metadata: one IdP entity (an
// EntitiesDescriptor must hold exactly one), with an entity id, at least
// one signing certificate and an http(s) HTTP-Redirect SingleSignOnService
// (where logins start).
func parseIDPMetadata(b []byte) (*idpMetadata, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrInvalidMetadata)
	}
	if len(b) > MaxMetadataBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidMetadata, MaxMetadataBytes)
	}
	ed, err := samlsp.ParseMetadata(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidMetadata, err)
	}
	if ed.EntityID == "" {
		return nil, fmt.Errorf("%w: no entityID", ErrInvalidMetadata)
	}
	if len(ed.IDPSSODescriptors) == 0 {
		return nil, fmt.Errorf("%w: no IDPSSODescriptor", ErrInvalidMetadata)
	}
	m := &idpMetadata{ed: ed}
	sso := false
	for _, d := range ed.IDPSSODescriptors {
		for _, kd := range d.KeyDescriptors {
			if kd.Use != "" && kd.Use != "signing" {
				continue
			}
			for _, xc := range kd.KeyInfo.X509Data.X509Certificates {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(xc.Data), ""))
				if err != nil {
					return nil, fmt.Errorf("%w: signing certificate is not base64", ErrInvalidMetadata)
				}
				c, err := x509.ParseCertificate(der)
				if err != nil {
					return nil, fmt.Errorf("%w: signing certificate: %v", ErrInvalidMetadata, err)
				}
				m.certs = append(m.certs, c)
			}
		}
		for _, s := range d.SingleSignOnServices {
			if s.Binding != saml.HTTPRedirectBinding {
				continue
			}
			if u, err := url.Parse(s.Location); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" {
				sso = true
			}
		}
	}
	if len(m.certs) == 0 {
		return nil, fmt.Errorf("%w: no signing certificate", ErrInvalidMetadata)
	}
	if !sso {
		return nil, fmt.Errorf("%w: no http(s) SingleSignOnService with the HTTP-Redirect binding", ErrInvalidMetadata)
	}
	return m, nil
}
