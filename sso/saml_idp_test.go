package sso

// The SAML test rig: crewjam's samlidp, in-process behind httptest, as
// the IdP of our directories, a browser that walks the redirect and
// auto-post hops, and the tools to tamper with and re-sign its responses
// (etree + goxmldsig with the IdP's key, as an attacker who holds a
// response, or the IdP itself, could).

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlidp"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"github.com/scimbridge/scimbridge/store"
)

// samlKeySet holds the keys of the SAML tests. They are generated once per
// test binary: RSA key generation is the slow part of these tests.
type samlKeySet struct {
	// idp signs the IdP's responses; evil is another key with a
	// certificate of the same subject, which no directory trusts.
	idpKey, evilKey   *rsa.PrivateKey
	idpCert, evilCert *x509.Certificate
	// sp is the SP key seeded into test directories (seedSPKey) so that
	// each test does not generate one.
	spKey  *rsa.PrivateKey
	spCert *x509.Certificate
}

var (
	samlKeysOnce sync.Once
	samlTestKeys samlKeySet
)

func samlKeys(t *testing.T) *samlKeySet {
	t.Helper()
	samlKeysOnce.Do(func() {
		gen := func(cn string) (*rsa.PrivateKey, *x509.Certificate) {
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			tmpl := &x509.Certificate{
				SerialNumber: big.NewInt(time.Now().UnixNano()),
				Subject:      pkix.Name{CommonName: cn},
				NotBefore:    time.Now().Add(-time.Hour),
				NotAfter:     time.Now().Add(365 * 24 * time.Hour),
				KeyUsage:     x509.KeyUsageDigitalSignature,
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
			if err != nil {
				panic(err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				panic(err)
			}
			return key, cert
		}
		samlTestKeys.idpKey, samlTestKeys.idpCert = gen("test-idp")
		samlTestKeys.evilKey, samlTestKeys.evilCert = gen("test-idp")
		samlTestKeys.spKey, samlTestKeys.spCert = gen("test-sp")
	})
	return &samlTestKeys
}

// seedSPKey gives directory k the pre-generated SP key, sealed as EnsureSP
// would seal its own.
func seedSPKey(hs *harness, k store.DirKey) {
	hs.t.Helper()
	keys := samlKeys(hs.t)
	der, err := x509.MarshalPKCS8PrivateKey(keys.spKey)
	if err != nil {
		hs.t.Fatal(err)
	}
	sealed, err := hs.sealer.Seal(der, spKeyLabel(k))
	if err != nil {
		hs.t.Fatal(err)
	}
	hs.configure(k, func(c *store.SSOConfig) { c.SAML.SPKeySealed, c.SAML.SPCert = sealed, keys.spCert.Raw })
}

// testIdP is a samlidp server.
type testIdP struct {
	t   *testing.T
	url string
	s   *samlidp.Server
	// failMetadata makes GET /metadata answer 500.
	failMetadata atomic.Bool

	mu sync.Mutex
	// attrs returns the attributes added to every assertion for the
	// session's user, as an Okta or Entra app would be configured to send.
	attrs func(s *saml.Session) []saml.Attribute
}

// oktaAttrs are the attribute statements of an Okta app: plain names,
// group names.
func oktaAttrs(s *saml.Session) []saml.Attribute {
	return []saml.Attribute{
		samlAttr("email", s.UserEmail),
		samlAttr("firstName", s.UserGivenName),
		samlAttr("lastName", s.UserSurname),
		samlAttr("groups", s.Groups...),
	}
}

func samlAttr(name string, values ...string) saml.Attribute {
	a := saml.Attribute{Name: name, NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"}
	for _, v := range values {
		a.Values = append(a.Values, saml.AttributeValue{Type: "xs:string", Value: v})
	}
	return a
}

// attrMaker is samlidp's assertion maker plus the test's attributes.
type attrMaker struct{ idp *testIdP }

func (m attrMaker) MakeAssertion(req *saml.IdpAuthnRequest, s *saml.Session) error {
	if err := (saml.DefaultAssertionMaker{}).MakeAssertion(req, s); err != nil {
		return err
	}
	m.idp.mu.Lock()
	attrs := m.idp.attrs
	m.idp.mu.Unlock()
	if attrs == nil {
		return nil
	}
	a := req.Assertion
	if len(a.AttributeStatements) == 0 {
		a.AttributeStatements = []saml.AttributeStatement{{}}
	}
	a.AttributeStatements[0].Attributes = append(a.AttributeStatements[0].Attributes, attrs(s)...)
	return nil
}

func startIdP(t *testing.T) *testIdP {
	t.Helper()
	keys := samlKeys(t)
	idp := &testIdP{t: t, attrs: oktaAttrs}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metadata" && idp.failMetadata.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	s, err := samlidp.New(samlidp.Options{
		URL: *u, Key: keys.idpKey, Certificate: keys.idpCert,
		Store: &samlidp.MemoryStore{}, Logger: log.New(testLogWriter{t}, "samlidp: ", 0),
	})
	if err != nil {
		t.Fatalf("samlidp.New: %v", err)
	}
	s.IDP.AssertionMaker = attrMaker{idp}
	handler = s
	idp.url, idp.s = srv.URL, s
	return idp
}

func (idp *testIdP) setAttrs(fn func(s *saml.Session) []saml.Attribute) {
	idp.mu.Lock()
	idp.attrs = fn
	idp.mu.Unlock()
}

func (idp *testIdP) do(method, path string, body []byte) (int, []byte) {
	idp.t.Helper()
	req, _ := http.NewRequest(method, idp.url+path, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		idp.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (idp *testIdP) metadata() []byte {
	idp.t.Helper()
	status, b := idp.do("GET", "/metadata", nil)
	if status != http.StatusOK {
		idp.t.Fatalf("GET IdP metadata = %d", status)
	}
	return b
}

// Every IdP user's password is testPassword, stored as this bcrypt hash of
// cost 4: samlidp hashes plaintext passwords at the default cost, which the
// race detector makes take seconds per login.
const (
	testPassword     = "test-password"
	testPasswordHash = "$2a$04$skQVHG/55kil3w56LmkFFeMNVSEqPQ1iOZPGKrDkGh2wDSBxRlxTW"
)

// putUser creates a user at the IdP; its NameID is its email.
func (idp *testIdP) putUser(name, email, given, family string, groups ...string) {
	idp.t.Helper()
	b, _ := json.Marshal(samlidp.User{Name: name, HashedPassword: []byte(testPasswordHash), Email: email, GivenName: given, Surname: family, Groups: groups})
	if status, body := idp.do("PUT", "/users/"+name, b); status/100 != 2 {
		idp.t.Fatalf("PUT /users/%s = %d %s", name, status, body)
	}
}

// registerSP tells the IdP about directory k: our SP metadata, as an admin
// would upload it.
func (idp *testIdP) registerSP(hs *harness, k store.DirKey) {
	idp.t.Helper()
	resp, body := browserGet(idp.t, http.DefaultClient, hs.h.DirURL(k, "saml/metadata"))
	if resp.StatusCode != http.StatusOK {
		idp.t.Fatalf("GET SP metadata = %d", resp.StatusCode)
	}
	if status, b := idp.do("PUT", "/services/"+url.PathEscape(k.String()), []byte(body)); status/100 != 2 {
		idp.t.Fatalf("PUT /services = %d %s", status, b)
	}
}

// shortcut registers an IdP-initiated login to directory k with relayState.
func (idp *testIdP) shortcut(hs *harness, name string, k store.DirKey, relayState string) {
	idp.t.Helper()
	b, _ := json.Marshal(samlidp.Shortcut{Name: name, ServiceProviderID: hs.h.DirURL(k, "saml/metadata"), RelayState: &relayState})
	if status, body := idp.do("PUT", "/shortcuts/"+name, b); status/100 != 2 {
		idp.t.Fatalf("PUT /shortcuts = %d %s", status, body)
	}
}

// newSAMLHarness is the harness with a samlidp as the IdP of acme/okta
// (configured through SetIDPMetadata), the session rules published, and
// alice at the IdP and in SCIM.
func newSAMLHarness(t *testing.T) (*harness, *testIdP) {
	t.Helper()
	hs := newHarness(t)
	idp := startIdP(t)
	seedSPKey(hs, hs.dir)
	if _, err := hs.h.SetIDPMetadata(context.Background(), hs.dir, idp.metadata(), "", 0); err != nil {
		t.Fatalf("SetIDPMetadata: %v", err)
	}
	idp.registerSP(hs, hs.dir)
	idp.putUser("alice", "alice@example.com", "Alice", "Liddell", "workspace_eng", "3f2a9c1e-5b7d-4c11-9e0a-8d2f6b1c4a77")
	hs.publish("acme", sessionRules)
	return hs, idp
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	formField  = regexp.MustCompile(`name="([A-Za-z]+)" (?:placeholder="[^"]*" )?value="([^"]*)"`)
)

// samlForm is an HTML form of the IdP: its action and hidden fields.
type samlForm struct {
	Action string
	Fields url.Values
}

func parseForm(t *testing.T, page string) samlForm {
	t.Helper()
	m := formAction.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form in IdP page: %.300s", page)
	}
	f := samlForm{Action: html.UnescapeString(m[1]), Fields: url.Values{}}
	for _, m := range formField.FindAllStringSubmatch(page, -1) {
		f.Fields.Set(m[1], html.UnescapeString(m[2]))
	}
	return f
}

// samlPost is the IdP's answer, ready for the browser to post to our ACS.
type samlPost struct {
	ACS        string
	Response   string // base64, as in the form
	RelayState string
}

// samlStart starts a login of directory k in b (return_to if not empty)
// and returns the IdP URL we redirected to.
func samlStart(t *testing.T, hs *harness, b *http.Client, k store.DirKey, returnTo string) string {
	t.Helper()
	u := hs.h.DirURL(k, "saml/login")
	if returnTo != "" {
		u += "?return_to=" + url.QueryEscape(returnTo)
	}
	resp, body := browserGet(t, b, u)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET saml/login = %d %.200s; want 302", resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

// authenticate takes b through the IdP from the redirect idpURL and
// returns the response the IdP's auto-post form carries. When the IdP has
// no session for b it logs user in at /login first and follows idpURL
// again: samlidp's login form posts the SAMLRequest back without the
// HTTP-Redirect signature (SigAlg, Signature), so the signed AuthnRequest
// must reach it by the redirect itself.
func (idp *testIdP) authenticate(t *testing.T, b *http.Client, idpURL, user string) samlPost {
	t.Helper()
	resp, page := browserGet(t, b, idpURL)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET IdP /sso = %d %.300s", resp.StatusCode, page)
	}
	f := parseForm(t, page)
	if f.Fields.Get("SAMLResponse") == "" {
		idp.login(t, b, user)
		resp, page = browserGet(t, b, idpURL)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET IdP /sso = %d %.300s", resp.StatusCode, page)
		}
		f = parseForm(t, page)
		if f.Fields.Get("SAMLResponse") == "" {
			t.Fatalf("IdP did not answer a SAMLResponse: %.300s", page)
		}
	}
	return samlPost{ACS: f.Action, Response: f.Fields.Get("SAMLResponse"), RelayState: f.Fields.Get("RelayState")}
}

// login opens an IdP session for user in b.
func (idp *testIdP) login(t *testing.T, b *http.Client, user string) {
	t.Helper()
	resp, err := b.PostForm(idp.url+"/login", url.Values{"user": {user}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("IdP login of %s = %d", user, resp.StatusCode)
	}
}

// signIn starts a login of acme/okta in b and returns alice's response,
// not yet posted.
func (idp *testIdP) signIn(t *testing.T, hs *harness, b *http.Client) samlPost {
	t.Helper()
	return idp.authenticate(t, b, samlStart(t, hs, b, hs.dir, ""), "alice")
}

// idpInitiated logs b in at the IdP (if needed) and returns the
// unsolicited response of shortcut name.
func (idp *testIdP) idpInitiated(t *testing.T, b *http.Client, name, user string) samlPost {
	t.Helper()
	idp.login(t, b, user)
	resp, page := browserGet(t, b, idp.url+"/login/"+name)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET IdP /login/%s = %d %.300s", name, resp.StatusCode, page)
	}
	f := parseForm(t, page)
	return samlPost{ACS: f.Action, Response: f.Fields.Get("SAMLResponse"), RelayState: f.Fields.Get("RelayState")}
}

// deliver posts p to its ACS with b (as the IdP's auto-post form does).
func deliver(t *testing.T, b *http.Client, p samlPost) *http.Response {
	t.Helper()
	resp, err := b.PostForm(p.ACS, url.Values{"SAMLResponse": {p.Response}, "RelayState": {p.RelayState}})
	if err != nil {
		t.Fatalf("POST ACS: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// wantSAMLSession checks that resp ended a login with a redirect to
// location and that b now has a session.
func wantSAMLSession(t *testing.T, hs *harness, b *http.Client, resp *http.Response, location string) SessionView {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != location {
		t.Fatalf("ACS = %d to %q (last failure %q); want 303 to %q",
			resp.StatusCode, resp.Header.Get("Location"), hs.lastFailure("acme"), location)
	}
	status, v := hs.session(b)
	if status != http.StatusOK {
		t.Fatalf("GET /sso/session = %d after sign-in; want 200", status)
	}
	return v
}

// wantSAMLRefused checks a refused login: its status, no session cookie
// set, GET /sso/session 401 for b, and the reason of the last
// sso.login_failed.
func wantSAMLRefused(t *testing.T, hs *harness, b *http.Client, resp *http.Response, status int, reason string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("ACS status = %d; want %d (reason %q)", resp.StatusCode, status, hs.lastFailure("acme"))
	}
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie && c.MaxAge >= 0 {
			t.Errorf("a refused login set the session cookie")
		}
	}
	if s, _ := hs.session(b); s != http.StatusUnauthorized {
		t.Errorf("GET /sso/session = %d after a refused login; want 401", s)
	}
	if got := hs.lastFailure("acme"); got != reason {
		t.Errorf("sso.login_failed reason = %q; want %q", got, reason)
	}
}

// Tampering.

func decodeResponse(t *testing.T, p samlPost) *etree.Document {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(p.Response)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	return doc
}

func encodeResponse(t *testing.T, doc *etree.Document) string {
	t.Helper()
	raw, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// tamper returns p with its response changed by fn (which gets the
// Response and its Assertion elements).
func tamper(t *testing.T, p samlPost, fn func(resp, assertion *etree.Element)) samlPost {
	t.Helper()
	doc := decodeResponse(t, p)
	a := doc.Root().SelectElement("Assertion")
	if a == nil {
		t.Fatal("no Assertion in the response")
	}
	fn(doc.Root(), a)
	p.Response = encodeResponse(t, doc)
	return p
}

func child(t *testing.T, el *etree.Element, path string) *etree.Element {
	t.Helper()
	c := el.FindElement(path)
	if c == nil {
		t.Fatalf("no %s in %s", path, el.Tag)
	}
	return c
}

// removeSignature removes el's own ds:Signature.
func removeSignature(el *etree.Element) {
	for _, c := range el.ChildElements() {
		if c.Tag == "Signature" {
			el.RemoveChild(c)
		}
	}
}

// signXML (re)signs el in place with key and cert (enveloped, exclusive
// c14n, method), placing the Signature right after the Issuer as SAML's
// schema wants.
func signXML(t *testing.T, el *etree.Element, key *rsa.PrivateKey, cert *x509.Certificate, method string) {
	t.Helper()
	removeSignature(el)
	ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}))
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(method); err != nil {
		t.Fatal(err)
	}
	nsctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		t.Fatal(err)
	}
	detached, err := etreeutils.NSDetatch(nsctx, el)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := ctx.ConstructSignature(detached, true)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	at := 0
	if iss := el.SelectElement("Issuer"); iss != nil {
		at = iss.Index() + 1
	}
	el.InsertChildAt(at, sig)
}

// resign signs the assertion (unless nil) and then the response with the
// IdP's key, SHA-256.
func resign(t *testing.T, resp, assertion *etree.Element) {
	t.Helper()
	keys := samlKeys(t)
	if assertion != nil {
		signXML(t, assertion, keys.idpKey, keys.idpCert, dsig.RSASHA256SignatureMethod)
	}
	signXML(t, resp, keys.idpKey, keys.idpCert, dsig.RSASHA256SignatureMethod)
}

func xmlTimeString(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.999Z07:00") }

// testLogWriter routes samlidp's log to the test's.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// captureLog is a concurrency-safe log sink.
type captureLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *captureLog) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *captureLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}
