package admin_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/xml"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc/oidctest"
	"github.com/crewjam/saml"

	"github.com/scimbridge/scimbridge/store"
)

// idpMetadata returns the metadata XML of a SAML IdP with a fresh key.
func idpMetadata(t *testing.T, entityID string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	mu, _ := url.Parse(entityID)
	su, _ := url.Parse(strings.TrimSuffix(entityID, "/metadata") + "/sso")
	idp := saml.IdentityProvider{Key: key, Certificate: cert, MetadataURL: *mu, SSOURL: *su}
	b, err := xml.Marshal(idp.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (e *env) putXML(path, body string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest("PUT", e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.tokens["admin:acme"])
	req.Header.Set("Content-Type", "application/xml")
	return e.send(req)
}

func TestSSOSettings(t *testing.T) {
	e := newEnv(t)
	adm := e.tokens["admin:acme"]
	base := "/admin/v1/orgs/acme/directories/okta/sso"

	status, got := e.do("GET", base, adm, "")
	if status != http.StatusOK {
		t.Fatalf("GET sso = %d %v", status, got)
	}
	raw, _ := json.Marshal(got)
	for _, want := range []string{
		"https://scim.example.com/sso/acme/okta/saml/metadata",
		"https://scim.example.com/sso/acme/okta/saml/acs",
		"https://scim.example.com/sso/acme/okta/oidc/callback",
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("GET sso does not name %s: %s", want, raw)
		}
	}
	// The SP metadata is served before any IdP is configured.
	resp, err := http.Get(e.srv.URL + "/sso/acme/okta/saml/metadata")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SP metadata = %d", resp.StatusCode)
	}

	// Other orgs see nothing; bad input is 400 and changes nothing.
	if status, _ := e.do("GET", base, e.tokens["admin:other"], ""); status != http.StatusNotFound {
		t.Fatalf("GET sso with another org's token = %d; want 404", status)
	}
	for _, body := range []string{
		`{"return_urls": ["http://evil.example.com/"]}`,
		`{"return_urls": ["https://app.example.com/?next=x"]}`,
		`{"session_idle": "forever"}`,
		`{"clock_skew": "1h"}`,
		`{"jit": "yes"}`,
		`{"unknown": 1}`,
	} {
		if status, out := e.do("PATCH", base, adm, body); status != http.StatusBadRequest {
			t.Errorf("PATCH %s = %d %v; want 400", body, status, out)
		}
	}
	before, _ := e.st.(store.SSO).SSOConfig(context.Background(), store.DirKey{Org: "acme", Directory: "okta"})
	status, got = e.do("PATCH", base, adm, `{"jit": true, "return_urls": ["https://ai.example.com/app"], "session_idle": "4h", "saml": {"attributes": {"groups": "memberOf"}}}`)
	if status != http.StatusOK || got["jit"] != true || got["session_idle"] != "4h0m0s" {
		t.Fatalf("PATCH sso = %d %v", status, got)
	}
	after, _ := e.st.(store.SSO).SSOConfig(context.Background(), store.DirKey{Org: "acme", Directory: "okta"})
	if after.Version != before.Version+1 || after.SAML.Attributes.Groups != "memberOf" || after.SessionIdle != 4*time.Hour {
		t.Fatalf("stored config = %+v", after)
	}

	// IdP metadata: garbage is 400; real metadata is kept.
	if status, out := e.putXML(base+"/saml/metadata", "<not-metadata/>"); status != http.StatusBadRequest {
		t.Fatalf("PUT garbage metadata = %d %v; want 400", status, out)
	}
	status, got = e.putXML(base+"/saml/metadata", idpMetadata(t, "https://idp.example.com/metadata"))
	if status != http.StatusOK {
		t.Fatalf("PUT metadata = %d %v", status, got)
	}
	if idp := got["saml"].(map[string]any)["idp"].(map[string]any); idp["configured"] != true {
		t.Fatalf("idp = %v; want configured", idp)
	}

	// OIDC: the secret is sealed, never shown, never in an event.
	const secret = "very-secret-client-secret-123"
	if status, _ := e.do("PUT", base+"/oidc", adm, `{"issuer": "http://idp.example.com", "client_id": "c", "client_secret": "s"}`); status != http.StatusBadRequest {
		t.Fatalf("PUT oidc with an http issuer = %d; want 400", status)
	}
	if status, _ := e.do("PUT", base+"/oidc", adm, `{"issuer": "https://idp.invalid", "client_id": "c", "client_secret": "s"}`); status != http.StatusBadRequest {
		t.Fatalf("PUT oidc with an issuer that does not answer = %d; want 400", status)
	}
	op := &oidctest.Server{}
	opSrv := httptest.NewServer(op)
	t.Cleanup(opSrv.Close)
	op.SetIssuer(opSrv.URL)
	status, got = e.do("PUT", base+"/oidc", adm, `{"issuer": "`+opSrv.URL+`", "client_id": "client-1", "client_secret": "`+secret+`"}`)
	if status != http.StatusOK {
		t.Fatalf("PUT oidc = %d %v", status, got)
	}
	raw, _ = json.Marshal(got)
	if strings.Contains(string(raw), secret) || !strings.Contains(string(raw), "client-1") {
		t.Fatalf("PUT oidc answer shows the secret or lacks the client id: %s", raw)
	}
	cfg, _ := e.st.(store.SSO).SSOConfig(context.Background(), store.DirKey{Org: "acme", Directory: "okta"})
	if len(cfg.OIDC.ClientSecretSealed) == 0 || strings.Contains(string(cfg.OIDC.ClientSecretSealed), secret) {
		t.Fatal("the client secret is not sealed in the store")
	}
	page, _ := e.st.Events(context.Background(), "acme", store.EventQuery{Limit: 1000})
	updates := 0
	for _, ev := range page.Events {
		if strings.Contains(string(ev.Data), secret) {
			t.Fatalf("event %s carries the client secret", ev.Type)
		}
		if ev.Type == store.EventSSOConfigUpdated {
			updates++
		}
	}
	if updates < 3 {
		t.Fatalf("%d directory.sso_updated events; want one per change (3)", updates)
	}

	// Key rotation keeps the old certificate published for the overlap.
	before, _ = e.st.(store.SSO).SSOConfig(context.Background(), store.DirKey{Org: "acme", Directory: "okta"})
	if status, out := e.do("POST", base+"/saml/rotate", adm, `{"overlap": "24h"}`); status != http.StatusOK {
		t.Fatalf("rotate = %d %v", status, out)
	}
	after, _ = e.st.(store.SSO).SSOConfig(context.Background(), store.DirKey{Org: "acme", Directory: "okta"})
	if string(after.SAML.SPCert) == string(before.SAML.SPCert) || string(after.SAML.PreviousSPCert) != string(before.SAML.SPCert) {
		t.Fatal("rotation did not replace the certificate and keep the old one")
	}
}

func TestSSOSessionsOfAPerson(t *testing.T) {
	e := newEnv(t)
	adm := e.tokens["admin:acme"]
	k := store.DirKey{Org: "acme", Directory: "okta"}
	u, err := e.st.CreateUser(context.Background(), k, store.User{UserName: "alice", Active: true, Attributes: []byte(`{"userName":"alice"}`)})
	if err != nil {
		t.Fatal(err)
	}
	ss := e.st.(store.SSO)
	now := time.Now().UTC()
	for _, h := range []string{"a", "b"} {
		id, _ := store.NewID()
		if err := ss.CreateSession(context.Background(), store.Session{ID: id, Hash: []byte(h + strings.Repeat("x", 31)), Org: "acme", Directory: "okta",
			UserID: u.ID, UserName: "alice", Method: "saml", Created: now, LastSeen: now, IdleTimeout: time.Hour, Expires: now.Add(time.Hour)}, store.SSOEvent{}); err != nil {
			t.Fatal(err)
		}
	}
	path := "/admin/v1/orgs/acme/directories/okta/users/" + u.ID + "/sessions"
	status, got := e.do("GET", path, adm, "")
	if list, _ := got["sessions"].([]any); status != http.StatusOK || len(list) != 2 {
		t.Fatalf("GET sessions = %d %v; want 2", status, got)
	}
	if status, _ := e.do("GET", path, e.tokens["admin:other"], ""); status != http.StatusNotFound {
		t.Fatalf("GET sessions with another org's token = %d; want 404", status)
	}
	if status, got := e.do("DELETE", path, adm, ""); status != http.StatusOK || got["revoked"] != float64(2) {
		t.Fatalf("DELETE sessions = %d %v", status, got)
	}
	if list, _ := ss.UserSessions(context.Background(), k, u.ID); len(list) != 0 {
		t.Fatalf("%d sessions left", len(list))
	}
	if status, _ := e.do("GET", "/admin/v1/orgs/acme/directories/okta/users/nope/sessions", adm, ""); status != http.StatusNotFound {
		t.Fatalf("sessions of an unknown user = %d; want 404", status)
	}
}
