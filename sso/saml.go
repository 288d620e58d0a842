package sso

// The SAML 2.0 service provider, one per directory, on crewjam/saml.
//
// Decisions, and what the library does or does not do for us:
//
//   - Per directory: entity id = the directory's metadata URL, ACS = its
//     /saml/acs, both from the configured public URL. An assertion for
//     another directory (or another SP) fails the audience, recipient and
//     destination checks.
//   - Signatures: the library verifies the Response signature and every
//     Assertion signature that is present, and reads the data from what
//     the signatures cover. It accepts a signed Response that wraps an
//     unsigned Assertion; we refuse it (ReasonUnsignedAssert) unless the
//     directory sets AllowUnsignedAssertions, by checking the received
//     document after the library accepted it. A response must hold exactly
//     one assertion (the library would take the first valid one of a
//     signed response). SHA-1 signatures are refused (RejectSHA1Signatures).
//   - Encryption: the SP metadata advertises no encryption key, so IdPs
//     send assertions in clear (over TLS). An EncryptedAssertion is
//     refused before anything is decrypted: we could not check its own
//     signature from outside, and decrypting attacker-supplied ciphertext
//     is an oracle we do not need. The SP key only signs AuthnRequests.
//   - Time: crewjam's MaxClockSkew (180 s) and MaxIssueDelay (90 s) are
//     process-wide variables, so they cannot carry a per-directory skew.
//     Our own checks (checkSAMLTimes) are the authority, with the
//     directory's skew S: NotBefore <= now+S, now < NotOnOrAfter+S
//     (Conditions and the bearer confirmation), IssueInstant (Response and
//     Assertion) within [now-MaxIssueDelay-S, now+S], so an IdP clock up to
//     S behind is accepted where the library alone allows 90 s in all. To
//     keep the library's time checks from deciding instead, each response
//     is parsed with a ServiceProvider copy whose Clock is set to a moment,
//     within S of now, at which the library's own windows hold
//     (samlLibraryTime); when there is none it is parsed at now and the
//     library refuses. The only other thing that clock decides is the
//     validity period of the IdP certificate, which is thus also judged
//     with up to S of tolerance.
//   - Replay: SP-initiated logins are single use through the login state
//     (RelayState) and InResponseTo; every accepted assertion is also
//     recorded in the store (ConsumeOnce, shared by every instance on the
//     database) until it expires, which is what stops an IdP-initiated
//     response from being used twice.
//   - IdP-initiated logins are refused unless AllowIDPInitiated. A
//     RelayState shaped like our login-state ids (base64url) is always
//     taken as one, and must be a live state of this browser. Any other
//     RelayState (or none) makes the response unsolicited: when allowed,
//     the RelayState is where the browser goes and must be a local path
//     ("/…") or under one of the directory's ReturnURLs (returnURL), else
//     the login is refused before the response is parsed, so nothing is
//     consumed; empty means the default landing page.
//   - Errors: the library's error becomes ReasonInvalidResponse (a
//     non-success SAML status ReasonIdPError), and the log gets its class
//     only ("audience mismatch"), never the document or the library's
//     message. The HTTP-Artifact binding is refused (not advertised).

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/scimbridge/scimbridge/store"
)

// XML namespaces read by the ACS checks.
const (
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"
	samlBearer  = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
)

// Attribute names read when SAMLConfig.Attributes leaves a role empty, in
// order of preference: ours, then Entra's claim URIs and Okta's usual
// names.
var (
	defaultEmailAttrs = []string{
		"email",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
	}
	defaultGivenNameAttrs = []string{
		"given_name", "firstName",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
	}
	defaultFamilyNameAttrs = []string{
		"family_name", "lastName",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
	}
	defaultGroupsAttrs = []string{
		"groups",
		"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
	}
	displayNameAttrs = []string{"http://schemas.microsoft.com/identity/claims/displayname"}
)

// EntraGroupsLink is the attribute Entra sends instead of the groups
// claim when the user is in more groups than a SAML token may carry.
const EntraGroupsLink = "http://schemas.microsoft.com/claims/groups.link"

// samlState holds the per-directory service providers, built from a
// directory's settings and cached by directory and settings version.
type samlState struct {
	mu  sync.Mutex
	sps map[store.DirKey]*samlSP
}

// samlSP is the service provider of one version of a directory's settings.
// sp is a template: each request works on a copy with its own Clock.
type samlSP struct {
	version  uint64
	sp       saml.ServiceProvider
	acs      string // sp.AcsURL.String()
	prevCert *x509.Certificate
	prevTill time.Time
	idpErr   error // why sp.IDPMetadata is nil, when the stored metadata is unusable
}

// at returns a copy of the service provider whose clock reads t.
func (s *samlSP) at(t time.Time) *saml.ServiceProvider {
	sp := s.sp
	sp.Clock = dsig.NewFakeClockAt(t)
	return &sp
}

// provider returns the service provider of d, generating the SP key if the
// directory has none yet. d.Cfg is updated to the settings it was built
// from.
func (h *Handler) provider(ctx context.Context, d *dirContext) (*samlSP, error) {
	k := d.Key()
	if !hasSPKey(d.Cfg) {
		cfg, err := h.EnsureSP(ctx, k)
		if err != nil {
			return nil, err
		}
		d.Cfg = cfg
	}
	h.saml.mu.Lock()
	s, ok := h.saml.sps[k]
	h.saml.mu.Unlock()
	if ok && s.version == d.Cfg.Version {
		return s, nil
	}
	s, err := h.buildSP(k, d.Cfg)
	if err != nil {
		return nil, err
	}
	h.saml.mu.Lock()
	if h.saml.sps == nil {
		h.saml.sps = map[store.DirKey]*samlSP{}
	}
	if cur, ok := h.saml.sps[k]; !ok || cur.version < s.version {
		h.saml.sps[k] = s
	}
	h.saml.mu.Unlock()
	return s, nil
}

func (h *Handler) buildSP(k store.DirKey, cfg store.SSOConfig) (*samlSP, error) {
	der, err := h.sealer.Open(cfg.SAML.SPKeySealed, spKeyLabel(k))
	if err != nil {
		return nil, fmt.Errorf("sso: SP key of %s: %w", k, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("sso: SP key of %s: %w", k, err)
	}
	key, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("sso: SP key of %s is a %T", k, parsed)
	}
	cert, err := x509.ParseCertificate(cfg.SAML.SPCert)
	if err != nil {
		return nil, fmt.Errorf("sso: SP certificate of %s: %w", k, err)
	}
	metadataURL, err := url.Parse(h.DirURL(k, "saml/metadata"))
	if err != nil {
		return nil, err
	}
	acsURL, err := url.Parse(h.DirURL(k, "saml/acs"))
	if err != nil {
		return nil, err
	}
	s := &samlSP{version: cfg.Version, acs: acsURL.String()}
	s.sp = saml.ServiceProvider{
		EntityID:    metadataURL.String(),
		Key:         key,
		Certificate: cert,
		MetadataURL: *metadataURL,
		AcsURL:      *acsURL,
		// Let the IdP send the NameID it is configured for (Entra: UPN,
		// Okta: the app's username); the transient default is useless
		// for linking.
		AuthnNameIDFormat:                saml.UnspecifiedNameIDFormat,
		SignatureMethod:                  dsig.RSASHA256SignatureMethod,
		AssertionConsumerServiceBindings: []string{saml.HTTPPostBinding},
		AllowIDPInitiated:                cfg.SAML.AllowIDPInitiated,
		RejectSHA1Signatures:             true,
		LimitRelayStateLength:            true,
	}
	if len(cfg.SAML.PreviousSPCert) > 0 {
		if c, err := x509.ParseCertificate(cfg.SAML.PreviousSPCert); err == nil {
			s.prevCert, s.prevTill = c, cfg.SAML.PreviousUntil
		}
	}
	if len(cfg.SAML.IDPMetadata) > 0 {
		idp, err := parseIDPMetadata(cfg.SAML.IDPMetadata)
		if err != nil {
			s.idpErr = err
		} else {
			s.sp.IDPMetadata = idp.ed
		}
	}
	return s, nil
}

// samlMetadata serves the SP metadata, generating the SP key on first use,
// whether or not an IdP is configured.
func (h *Handler) samlMetadata(w http.ResponseWriter, r *http.Request, d *dirContext) {
	s, err := h.provider(r.Context(), d)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	now := h.now()
	ed := s.at(now).Metadata()
	for i := range ed.SPSSODescriptors {
		desc := &ed.SPSSODescriptors[i]
		kds := desc.KeyDescriptors[:0]
		for _, kd := range desc.KeyDescriptors {
			if kd.Use != "encryption" { // assertions come in clear: see the top of this file
				kds = append(kds, kd)
			}
		}
		if s.prevCert != nil && now.Before(s.prevTill) {
			kd := saml.KeyDescriptor{Use: "signing"}
			kd.KeyInfo.X509Data.X509Certificates = []saml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(s.prevCert.Raw)}}
			kds = append(kds, kd)
		}
		desc.KeyDescriptors = kds
	}
	b, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		h.internal(w, r, fmt.Errorf("sso: marshal SP metadata: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(append([]byte(xml.Header), b...))
}

// configuredProvider returns the directory's service provider when it
// knows its IdP; otherwise it answers the request and returns false.
func (h *Handler) configuredProvider(w http.ResponseWriter, r *http.Request, d *dirContext) (*samlSP, bool) {
	s, err := h.provider(r.Context(), d)
	if err != nil {
		h.internal(w, r, err)
		return nil, false
	}
	if s.sp.IDPMetadata == nil {
		h.fail(w, r, d, MethodSAML, ReasonNotConfigured, http.StatusNotFound, s.idpErr)
		return nil, false
	}
	return s, true
}

// samlLogin starts an SP-initiated login: it stores a login state bound to
// the browser, with the AuthnRequest's id, and redirects to the IdP with
// the state's id as RelayState (HTTP-Redirect binding, signed query).
func (h *Handler) samlLogin(w http.ResponseWriter, r *http.Request, d *dirContext) {
	s, ok := h.configuredProvider(w, r, d)
	if !ok {
		return
	}
	st, err := h.newLoginState(w, r, d, MethodSAML)
	if err != nil {
		h.fail(w, r, d, MethodSAML, ReasonBadRequest, http.StatusBadRequest, err)
		return
	}
	sp := s.at(h.now())
	req, err := sp.MakeAuthenticationRequest(sp.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		h.internal(w, r, fmt.Errorf("sso: AuthnRequest: %w", err))
		return
	}
	st.RequestID = req.ID
	if err := h.sso.PutLoginState(r.Context(), st); err != nil {
		h.internal(w, r, fmt.Errorf("sso: store login state: %w", err))
		return
	}
	u, err := req.Redirect(st.ID, sp)
	if err != nil {
		h.internal(w, r, fmt.Errorf("sso: AuthnRequest redirect: %w", err))
		return
	}
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// samlStateID matches our login-state ids (base64url); any other RelayState
// is a return URL of an IdP-initiated login.
var samlStateID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// samlACS consumes a SAML response: decode, validate (library, then our
// checks), map to an Identity, and complete the login.
func (h *Handler) samlACS(w http.ResponseWriter, r *http.Request, d *dirContext) {
	r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
	if err := r.ParseForm(); err != nil {
		status := http.StatusBadRequest
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			status = http.StatusRequestEntityTooLarge
			err = fmt.Errorf("body larger than %d bytes", h.maxBody)
		}
		h.fail(w, r, d, MethodSAML, ReasonBadRequest, status, err)
		return
	}
	if r.Form.Has("SAMLart") { // the library reads it from the query string too
		h.fail(w, r, d, MethodSAML, ReasonBadRequest, http.StatusBadRequest, errors.New("the HTTP-Artifact binding is not supported"))
		return
	}
	encoded := r.PostForm.Get("SAMLResponse")
	if encoded == "" {
		h.fail(w, r, d, MethodSAML, ReasonBadRequest, http.StatusBadRequest, errors.New("no SAMLResponse"))
		return
	}
	s, ok := h.configuredProvider(w, r, d)
	if !ok {
		return
	}

	// Which login this answers, decided before the response is parsed so
	// that a refused RelayState consumes nothing.
	var err error
	var requestIDs []string
	var returnTo string
	relay := r.PostForm.Get("RelayState")
	switch {
	case relay != "" && samlStateID.MatchString(relay):
		st, reason, err := h.takeLoginState(r, d, relay, MethodSAML)
		if reason == ReasonInternal {
			h.internal(w, r, err)
			return
		}
		if reason != "" {
			h.fail(w, r, d, MethodSAML, reason, http.StatusForbidden, err)
			return
		}
		requestIDs, returnTo = []string{st.RequestID}, st.ReturnTo
	case !d.Cfg.SAML.AllowIDPInitiated:
		h.fail(w, r, d, MethodSAML, ReasonStateMismatch, http.StatusForbidden,
			errors.New("unsolicited response (no login state) and IdP-initiated login is off"))
		return
	default:
		returnTo, err = h.returnURL(d, relay)
		if err != nil {
			h.fail(w, r, d, MethodSAML, ReasonBadRequest, http.StatusBadRequest, fmt.Errorf("IdP-initiated RelayState: %w", err))
			return
		}
	}

	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		h.fail(w, r, d, MethodSAML, ReasonInvalidResponse, http.StatusForbidden, errors.New("malformed message: SAMLResponse is not base64"))
		return
	}
	shape, err := readSAMLShape(raw, s.acs)
	if err != nil {
		h.fail(w, r, d, MethodSAML, ReasonInvalidResponse, http.StatusForbidden, err)
		return
	}
	now, skew := h.now(), h.skew(d)
	sp := s.at(samlLibraryTime(shape, now, skew))
	assertion, err := sp.ParseResponse(r, requestIDs)
	if err != nil {
		var bad saml.ErrBadStatus
		if errors.As(err, &bad) {
			h.fail(w, r, d, MethodSAML, ReasonIdPError, http.StatusForbidden, fmt.Errorf("IdP status %s", clip(bad.Status, 200)))
			return
		}
		class := samlErrorClass(err)
		if class == "" {
			class = "invalid response"
			if shape.unsigned() {
				class = "no signature on the response or its assertion"
			}
		}
		h.fail(w, r, d, MethodSAML, ReasonInvalidResponse, http.StatusForbidden, errors.New(class))
		return
	}
	a, err := shape.accepted(assertion.ID)
	if err != nil {
		h.fail(w, r, d, MethodSAML, ReasonInvalidResponse, http.StatusForbidden, err)
		return
	}
	if !d.Cfg.SAML.AllowUnsignedAssertions && !signedItself(a) {
		h.fail(w, r, d, MethodSAML, ReasonUnsignedAssert, http.StatusForbidden,
			errors.New("the assertion is not signed itself (only the response is)"))
		return
	}
	until, err := checkSAMLTimes(assertion, shape.responseIssued, s.acs, requestIDs, d.Cfg.SAML.AllowIDPInitiated, now, skew)
	if err != nil {
		h.fail(w, r, d, MethodSAML, ReasonInvalidResponse, http.StatusForbidden, err)
		return
	}
	id, err := samlIdentity(d.Cfg.SAML.Attributes, sp.IDPMetadata.EntityID, assertion)
	if err != nil {
		h.fail(w, r, d, MethodSAML, ReasonNoIdentity, http.StatusForbidden, err)
		return
	}
	// The key names the directory: the same assertion id from another
	// directory's IdP is another assertion.
	err = h.sso.ConsumeOnce(r.Context(), "saml:"+d.Key().String()+":"+assertion.ID, until)
	if errors.Is(err, store.ErrReplay) {
		h.fail(w, r, d, MethodSAML, ReasonReplay, http.StatusForbidden, errors.New("assertion already used"))
		return
	}
	if err != nil {
		h.internal(w, r, fmt.Errorf("sso: record assertion: %w", err))
		return
	}
	h.complete(w, r, d, id, returnTo)
}

// errorClass names the class of a library error for the log: never its
// message, which may quote the response.
func samlErrorClass(err error) string {
	for _, c := range []struct {
		err   error
		class string
	}{
		{saml.ErrAudienceMismatch, "audience mismatch"},
		{saml.ErrDestinationMismatch, "destination or recipient mismatch"},
		{saml.ErrRequestIDMismatch, "InResponseTo mismatch"},
		{saml.ErrIssuerMismatch, "issuer mismatch"},
		{saml.ErrExpired, "expired"},
		{saml.ErrNotYetValid, "not yet valid"},
		{saml.ErrUntrustedCertificate, "signed by an untrusted certificate"},
		{saml.ErrCertificateNotValidNow, "IdP certificate expired or not yet valid"},
		{saml.ErrUnsupported, "unsupported algorithm or element (SHA-1 signatures are refused)"},
		{saml.ErrInvalidSignature, "invalid or missing signature"},
		{saml.ErrDecryptionFailed, "cannot decrypt"},
		{saml.ErrMissingElement, "missing element"},
		{saml.ErrMalformedMessage, "malformed message"},
		{saml.ErrAuthnContextMismatch, "authentication context mismatch"},
	} {
		if errors.Is(err, c.err) {
			return c.class
		}
	}
	return ""
}

// samlShape is what the ACS reads itself from the response as received: the
// times that place the library's clock, and the assertion whose own
// signature policy requires. It is read before the signatures are checked,
// so nothing in it is trusted on its own: it only tightens.
type samlShape struct {
	responseIssued time.Time
	responseSigned bool             // the Response has a ds:Signature child
	assertions     []*etree.Element // top-level saml:Assertion children
	// times of the first assertion
	issued, notBefore, notOnOrAfter, scdNotBefore, scdNotOnOrAfter time.Time
}

func readSAMLShape(raw []byte, acs string) (*samlShape, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, errors.New("malformed message: not XML")
	}
	root := doc.Root()
	if root == nil || root.Tag != "Response" || root.NamespaceURI() != nsProtocol {
		return nil, errors.New("malformed message: not a samlp:Response")
	}
	sh := &samlShape{responseIssued: xmlTime(root, "IssueInstant")}
	for _, el := range root.ChildElements() {
		if el.Tag == "Signature" && el.NamespaceURI() == nsDSig {
			sh.responseSigned = true
		}
		if el.NamespaceURI() != nsAssertion {
			continue
		}
		switch el.Tag {
		case "EncryptedAssertion":
			return nil, errors.New("unsupported: encrypted assertion (this SP publishes no encryption key)")
		case "Assertion":
			sh.assertions = append(sh.assertions, el)
		}
	}
	if len(sh.assertions) == 0 {
		return sh, nil
	}
	a := sh.assertions[0]
	sh.issued = xmlTime(a, "IssueInstant")
	for _, el := range a.ChildElements() {
		if el.NamespaceURI() != nsAssertion {
			continue
		}
		switch el.Tag {
		case "Conditions":
			sh.notBefore, sh.notOnOrAfter = xmlTime(el, "NotBefore"), xmlTime(el, "NotOnOrAfter")
		case "Subject":
			for _, sc := range el.ChildElements() {
				if sc.Tag != "SubjectConfirmation" || sc.SelectAttrValue("Method", "") != samlBearer {
					continue
				}
				for _, scd := range sc.ChildElements() {
					if scd.Tag == "SubjectConfirmationData" && scd.SelectAttrValue("Recipient", "") == acs && sh.scdNotOnOrAfter.IsZero() {
						sh.scdNotBefore, sh.scdNotOnOrAfter = xmlTime(scd, "NotBefore"), xmlTime(scd, "NotOnOrAfter")
					}
				}
			}
		}
	}
	return sh, nil
}

func xmlTime(el *etree.Element, name string) time.Time {
	v := el.SelectAttrValue(name, "")
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}
	}
	return t
}

// accepted returns the assertion element the library accepted (by id),
// checking that the response holds exactly that one: the library returns
// the first valid assertion of a signed response and ignores the others,
// which no IdP sends and which we refuse.
func (sh *samlShape) accepted(id string) (*etree.Element, error) {
	if len(sh.assertions) != 1 {
		return nil, fmt.Errorf("malformed message: %d assertions, want exactly one", len(sh.assertions))
	}
	if a := sh.assertions[0]; id != "" && a.SelectAttrValue("ID", "") == id {
		return a, nil
	}
	return nil, errors.New("malformed message: the assertion accepted is not the one received")
}

// signedItself reports whether assertion a, as received, carries its own
// enveloped signature. Run it only on an assertion the library accepted:
// the library verifies every assertion signature that is present, even
// inside a signed response, and requires it to reference the assertion,
// so present means valid.
func signedItself(a *etree.Element) bool {
	n := 0
	for _, el := range a.ChildElements() {
		if el.Tag == "Signature" && el.NamespaceURI() == nsDSig {
			n++
		}
	}
	return n == 1
}

// unsigned reports whether neither the response nor any of its assertions
// carries a signature.
func (sh *samlShape) unsigned() bool {
	if sh.responseSigned {
		return false
	}
	for _, a := range sh.assertions {
		if signedItself(a) {
			return false
		}
	}
	return true
}

// samlLibraryTime returns the moment at which to run the library's checks: now
// if its windows (set by MaxClockSkew and MaxIssueDelay) hold then,
// otherwise the moment closest to now, within skew, at which they all
// hold. checkTimes then judges the assertion at now with the directory's
// skew; see the top of this file.
func samlLibraryTime(sh *samlShape, now time.Time, skew time.Duration) time.Time {
	k, d := saml.MaxClockSkew, saml.MaxIssueDelay
	var lo, hi time.Time // now' must be in [lo, hi]
	later := func(t time.Time) {
		if !t.IsZero() && (lo.IsZero() || t.After(lo)) {
			lo = t
		}
	}
	earlier := func(t time.Time) {
		if !t.IsZero() && (hi.IsZero() || t.Before(hi)) {
			hi = t
		}
	}
	for _, t := range []time.Time{sh.responseIssued, sh.issued} {
		if !t.IsZero() {
			later(t.Add(-k))
			earlier(t.Add(d))
		}
	}
	for _, t := range []time.Time{sh.notBefore, sh.scdNotBefore} {
		if !t.IsZero() {
			later(t.Add(-k))
		}
	}
	for _, t := range []time.Time{sh.notOnOrAfter, sh.scdNotOnOrAfter} {
		if !t.IsZero() {
			earlier(t.Add(k - time.Millisecond)) // NotOnOrAfter is exclusive
		}
	}
	target := now
	if !lo.IsZero() && target.Before(lo) {
		target = lo
	}
	if !hi.IsZero() && target.After(hi) {
		target = hi
	}
	if (!lo.IsZero() && target.Before(lo)) || target.Sub(now) > skew || now.Sub(target) > skew {
		return now // no such moment: the library refuses, as it should
	}
	return target
}

// checkSAMLTimes judges the assertion the library accepted at now with the
// directory's skew (see the top of this file) and returns until when it is
// acceptable, which is how long the replay cache must remember it. The
// bearer confirmation it accepts must also answer one of requestIDs (or
// none, when IdP-initiated logins are allowed), as the one the library
// accepted at its own time did.
func checkSAMLTimes(a *saml.Assertion, responseIssued time.Time, acs string, requestIDs []string, unsolicited bool, now time.Time, skew time.Duration) (time.Time, error) {
	maxAge := saml.MaxIssueDelay + skew
	until := a.IssueInstant.Add(maxAge)
	for _, t := range []time.Time{a.IssueInstant, responseIssued} {
		if t.IsZero() {
			continue
		}
		if t.After(now.Add(skew)) {
			return time.Time{}, errors.New("not yet valid: issued in the future beyond the clock skew")
		}
		if now.After(t.Add(maxAge)) {
			return time.Time{}, errors.New("expired: issued too long ago")
		}
	}
	if c := a.Conditions; c != nil {
		if !c.NotBefore.IsZero() && c.NotBefore.After(now.Add(skew)) {
			return time.Time{}, errors.New("not yet valid: Conditions NotBefore beyond the clock skew")
		}
		if !c.NotOnOrAfter.IsZero() {
			if !now.Before(c.NotOnOrAfter.Add(skew)) {
				return time.Time{}, errors.New("expired: Conditions NotOnOrAfter")
			}
			until = samlEarliest(until, c.NotOnOrAfter.Add(skew))
		}
	}
	// One valid bearer confirmation for our ACS is enough (saml-core
	// §2.4.1); the latest of them bounds the assertion.
	var confirmed time.Time
	if a.Subject != nil {
		for _, sc := range a.Subject.SubjectConfirmations {
			scd := sc.SubjectConfirmationData
			if sc.Method != samlBearer || scd == nil || scd.Recipient != acs || scd.NotOnOrAfter.IsZero() {
				continue
			}
			if answers := scd.InResponseTo != "" && slices.Contains(requestIDs, scd.InResponseTo); !answers && (scd.InResponseTo != "" || !unsolicited) {
				continue
			}
			if scd.NotBefore.After(now.Add(skew)) || !now.Before(scd.NotOnOrAfter.Add(skew)) {
				continue
			}
			if end := scd.NotOnOrAfter.Add(skew); end.After(confirmed) {
				confirmed = end
			}
		}
	}
	if confirmed.IsZero() {
		return time.Time{}, errors.New("expired or not for this login: no bearer SubjectConfirmation valid now")
	}
	return samlEarliest(until, confirmed), nil
}

func samlEarliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// samlIdentity maps a validated assertion to an Identity. The NameID is
// the user name. An email is only vouched for (EmailVerified, used to link
// to a SCIM user) when it is the NameID in the emailAddress format, which
// the IdP sets from its own directory; an email attribute is carried for
// just-in-time provisioning and display only, never to link, since
// attribute mappings are editable by IdP app admins.
func samlIdentity(names store.SAMLAttributes, issuer string, a *saml.Assertion) (Identity, error) {
	if a.Subject == nil || a.Subject.NameID == nil || a.Subject.NameID.Value == "" {
		return Identity{}, errors.New("the assertion has no NameID")
	}
	nameID := a.Subject.NameID
	if nameID.Format == string(saml.TransientNameIDFormat) {
		// A fresh random value each login: it cannot identify anyone,
		// and with JIT it would create a person per login.
		return Identity{}, errors.New("the NameID is transient; configure the IdP to send a persistent, email or username NameID")
	}
	attrs := map[string][]string{}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			if _, ok := attrs[at.Name]; !ok {
				attrs[at.Name] = []string{} // present, maybe without values
			}
			for _, v := range at.Values {
				if !v.Nil {
					attrs[at.Name] = append(attrs[at.Name], v.Value)
				}
			}
		}
	}
	pick := func(configured string, defaults []string) ([]string, bool) {
		names := defaults
		if configured != "" {
			names = []string{configured}
		}
		for _, n := range names {
			if vs, ok := attrs[n]; ok {
				return vs, true
			}
		}
		return nil, false
	}
	first := func(configured string, defaults []string) string {
		if vs, _ := pick(configured, defaults); len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	id := Identity{
		Method: MethodSAML, Issuer: issuer, Subject: nameID.Value, UserName: nameID.Value,
		GivenName:   first(names.GivenName, defaultGivenNameAttrs),
		FamilyName:  first(names.FamilyName, defaultFamilyNameAttrs),
		DisplayName: first("", displayNameAttrs),
	}
	if nameID.Format == string(saml.EmailAddressNameIDFormat) {
		id.Email, id.EmailVerified = nameID.Value, true
	} else {
		id.Email = first(names.Email, defaultEmailAttrs)
	}
	id.Groups, id.GroupsPresent = pick(names.Groups, defaultGroupsAttrs)
	if _, ok := attrs[EntraGroupsLink]; ok {
		id.GroupsOverflow = true
	}
	return id, nil
}
