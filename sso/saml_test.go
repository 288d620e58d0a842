package sso

import (
	"context"
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/scimbridge/scimbridge/internal/reqlog"
	"github.com/scimbridge/scimbridge/store"
)

// The SAML service provider against crewjam's samlidp (see
// saml_idp_test.go): sign-in end to end, and every check of the ACS with a
// response that was tampered with, re-signed, replayed or misdirected.

const entraAdmins = "3f2a9c1e-5b7d-4c11-9e0a-8d2f6b1c4a77" // org_admin by externalId in sessionRules

var entraDir = store.DirKey{Org: "acme", Directory: "entra"}

func TestSAMLMetadataBeforeIdP(t *testing.T) {
	hs := newHarness(t)
	ctx := context.Background()
	k := entraDir

	resp, body := browserGet(t, http.DefaultClient, hs.h.DirURL(k, "saml/metadata"))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/samlmetadata+xml" {
		t.Fatalf("GET metadata = %d %q; want 200 SAML metadata", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var ed saml.EntityDescriptor
	if err := xml.Unmarshal([]byte(body), &ed); err != nil {
		t.Fatalf("SP metadata does not parse: %v", err)
	}
	if ed.EntityID != hs.h.DirURL(k, "saml/metadata") || len(ed.SPSSODescriptors) != 1 {
		t.Fatalf("entityID = %q with %d SP descriptors; want the metadata URL and one", ed.EntityID, len(ed.SPSSODescriptors))
	}
	sp := ed.SPSSODescriptors[0]
	if len(sp.AssertionConsumerServices) != 1 || sp.AssertionConsumerServices[0].Location != hs.h.DirURL(k, "saml/acs") ||
		sp.AssertionConsumerServices[0].Binding != saml.HTTPPostBinding {
		t.Fatalf("ACS = %+v; want one HTTP-POST endpoint at saml/acs", sp.AssertionConsumerServices)
	}
	if len(sp.KeyDescriptors) != 1 || sp.KeyDescriptors[0].Use != "signing" {
		t.Fatalf("key descriptors = %+v; want one signing key and no encryption key", sp.KeyDescriptors)
	}
	if sp.WantAssertionsSigned == nil || !*sp.WantAssertionsSigned || sp.AuthnRequestsSigned == nil || !*sp.AuthnRequestsSigned {
		t.Fatal("metadata must say WantAssertionsSigned and AuthnRequestsSigned")
	}

	cfg, err := hs.db.SSOConfig(ctx, k)
	if err != nil || !hasSPKey(cfg) {
		t.Fatalf("SSOConfig = %v, key stored %v; want the generated key", err, hasSPKey(cfg))
	}
	if _, err := hs.sealer.Open(cfg.SAML.SPKeySealed, spKeyLabel(k)); err != nil {
		t.Fatalf("the SP key does not open under its label: %v", err)
	}
	if _, err := hs.sealer.Open(cfg.SAML.SPKeySealed, spKeyLabel(hs.dir)); err == nil {
		t.Fatal("the SP key opens under another directory's label")
	}
	info := hs.h.SPInfo(k, cfg)
	published := sp.KeyDescriptors[0].KeyInfo.X509Data.X509Certificates[0].Data
	if want := certFingerprint(cfg.SAML.SPCert); info.CertSHA256 != want || !strings.Contains(body, published) {
		t.Fatalf("SPInfo fingerprint = %q; want %q of the published certificate", info.CertSHA256, want)
	}
	if d := time.Until(info.CertNotAfter); d < 9*365*24*time.Hour {
		t.Fatalf("certificate expires in %v; want about %v", d, SPCertValidity)
	}
	if info.EntityID != ed.EntityID || info.ACSURL != hs.h.DirURL(k, "saml/acs") || info.LoginURL != hs.h.DirURL(k, "saml/login") {
		t.Fatalf("SPInfo = %+v", info)
	}

	// The key is made once.
	_, body2 := browserGet(t, http.DefaultClient, hs.h.DirURL(k, "saml/metadata"))
	if !strings.Contains(body2, published) {
		t.Fatal("a second metadata read published another certificate")
	}
	var wg sync.WaitGroup
	certs := make([][]byte, 8)
	for i := range certs {
		wg.Go(func() {
			c, err := hs.h.EnsureSP(ctx, hs.dir)
			if err != nil {
				t.Errorf("EnsureSP: %v", err)
			}
			certs[i] = c.SAML.SPCert
		})
	}
	wg.Wait()
	for _, c := range certs[1:] {
		if !slices.Equal(c, certs[0]) {
			t.Fatal("concurrent EnsureSP calls returned different keys")
		}
	}

	if resp, _ := browserGet(t, http.DefaultClient, hs.srv.URL+"/sso/acme/nope/saml/metadata"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("metadata of an unknown directory = %d; want 404", resp.StatusCode)
	}
	// Without an IdP, logins are refused.
	b := hs.browser()
	resp, _ = browserGet(t, b, hs.h.DirURL(k, "saml/login"))
	wantSAMLRefused(t, hs, b, resp, http.StatusNotFound, ReasonNotConfigured)
	resp = deliver(t, b, samlPost{ACS: hs.h.DirURL(k, "saml/acs"), Response: "eA=="})
	wantSAMLRefused(t, hs, b, resp, http.StatusNotFound, ReasonNotConfigured)
}

func TestSAMLSignIn(t *testing.T) {
	hs, idp := newSAMLHarness(t)
	alice := hs.addUser(hs.dir, "alice@example.com", true)
	eng := hs.addGroup(hs.dir, "workspace_eng", "00gENG")
	admins := hs.addGroup(hs.dir, "Entra admins", entraAdmins)

	t.Run("okta", func(t *testing.T) {
		// Okta's attribute names; group claim values by name, and one by
		// Entra object id (the externalId of a SCIM group).
		b := hs.browser()
		idpURL := samlStart(t, hs, b, hs.dir, "/app/home?tab=1")
		q, _ := url.Parse(idpURL)
		for _, p := range []string{"SAMLRequest", "RelayState", "SigAlg", "Signature"} {
			if q.Query().Get(p) == "" {
				t.Fatalf("AuthnRequest redirect %s has no %s", idpURL, p)
			}
		}
		if q.Query().Get("SigAlg") != dsig.RSASHA256SignatureMethod {
			t.Fatalf("SigAlg = %q; want RSA-SHA256", q.Query().Get("SigAlg"))
		}
		p := idp.authenticate(t, b, idpURL, "alice")
		if p.ACS != hs.h.DirURL(hs.dir, "saml/acs") {
			t.Fatalf("IdP posts to %q; want our ACS", p.ACS)
		}
		v := wantSAMLSession(t, hs, b, deliver(t, b, p), hs.srv.URL+"/app/home?tab=1")
		if v.User.ID != alice.ID || v.Session.Method != MethodSAML || v.GroupsSource != GroupsFromClaim {
			t.Fatalf("session = %+v; want alice by SAML with the claim's groups", v)
		}
		want := []GroupView{
			{ID: eng.ID, ExternalID: "00gENG", DisplayName: "workspace_eng"},
			{ID: admins.ID, ExternalID: entraAdmins, DisplayName: "Entra admins"},
		}
		if diff := cmp.Diff(want, v.Groups); diff != "" {
			t.Fatalf("session groups (-want +got):\n%s", diff)
		}
		if got, want := workspaces(v), []string{"eng:member", "org:org_admin"}; !slices.Equal(got, want) {
			t.Fatalf("access = %v; want %v", got, want)
		}
	})

	t.Run("entra", func(t *testing.T) {
		// Entra's claim URIs; the groups claim carries object ids, one of
		// a group the SCIM job never pushed.
		idp.setAttrs(func(s *saml.Session) []saml.Attribute {
			return []saml.Attribute{
				samlAttr("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", s.UserEmail),
				samlAttr("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", s.UserGivenName),
				samlAttr("http://schemas.microsoft.com/ws/2008/06/identity/claims/groups", entraAdmins, "c09e4b2a-1d3f-4e8b-a6c5-77f0e2d9b310"),
			}
		})
		defer idp.setAttrs(oktaAttrs)
		b := hs.browser()
		v := wantSAMLSession(t, hs, b, deliver(t, b, idp.signIn(t, hs, b)), hs.srv.URL+"/sso/session")
		if got, want := workspaces(v), []string{"org:org_admin"}; !slices.Equal(got, want) || len(v.Groups) != 2 {
			t.Fatalf("access = %v with groups %+v; want %v", got, v.Groups, want)
		}
	})

	t.Run("overage", func(t *testing.T) {
		// Entra's groups.link instead of the groups: the SCIM memberships
		// count, never "no groups".
		sales := hs.addGroup(hs.dir, "workspace_sales", "", alice.ID)
		idp.setAttrs(func(s *saml.Session) []saml.Attribute {
			return []saml.Attribute{samlAttr(EntraGroupsLink, "https://graph.windows.net/tenant/users/x/getMemberObjects")}
		})
		defer idp.setAttrs(oktaAttrs)
		b := hs.browser()
		v := wantSAMLSession(t, hs, b, deliver(t, b, idp.signIn(t, hs, b)), hs.srv.URL+"/sso/session")
		if v.GroupsSource != GroupsFromSCIM || len(v.Groups) != 1 || v.Groups[0].ID != sales.ID {
			t.Fatalf("session groups = %s %+v; want the SCIM membership", v.GroupsSource, v.Groups)
		}
		if got, want := workspaces(v), []string{"sales:member"}; !slices.Equal(got, want) {
			t.Fatalf("access = %v; want %v", got, want)
		}
	})

	if n := len(hs.events("acme", store.EventSSOLoginSucceeded)); n != 3 {
		t.Fatalf("%d sso.login_succeeded events; want 3", n)
	}
}

func TestSAMLJustInTime(t *testing.T) {
	hs, idp := newSAMLHarness(t)
	idp.putUser("bob", "bob@example.com", "Bob", "Builder")

	b := hs.browser()
	wantSAMLRefused(t, hs, b, deliver(t, b, idp.authenticate(t, b, samlStart(t, hs, b, hs.dir, ""), "bob")),
		http.StatusForbidden, ReasonNotProvisioned)

	hs.configure(hs.dir, func(c *store.SSOConfig) { c.JIT = true })
	b = hs.browser()
	v := wantSAMLSession(t, hs, b, deliver(t, b, idp.authenticate(t, b, samlStart(t, hs, b, hs.dir, ""), "bob")), hs.srv.URL+"/sso/session")
	if v.User.UserName != "bob@example.com" || v.User.DisplayName != "Bob Builder" || !slices.Equal(v.User.Emails, []string{"bob@example.com"}) {
		t.Fatalf("JIT user = %+v", v.User)
	}
	// The IdP's SCIM job then finds exactly that person, and a blind
	// create of the same userName is a conflict, not a duplicate.
	status, list := hs.scimGet(hs.dir, "/Users?filter="+url.QueryEscape(`userName eq "bob@example.com"`))
	if status != http.StatusOK || list["totalResults"] != float64(1) {
		t.Fatalf("SCIM probe = %d %v; want the JIT user", status, list)
	}
	if id := list["Resources"].([]any)[0].(map[string]any)["id"]; id != v.User.ID {
		t.Fatalf("SCIM probe found %v; want %s", id, v.User.ID)
	}
	if code := hs.scimCreateUser(store.DirKey{Org: "acme", Directory: "okta"}, "bob@example.com"); code != http.StatusConflict {
		t.Fatalf("SCIM POST of the JIT user = %d; want 409", code)
	}
}

func TestSAMLInactive(t *testing.T) {
	hs, idp := newSAMLHarness(t)
	alice := hs.addUser(hs.dir, "alice@example.com", true)
	hs.deactivate(hs.dir, alice.ID)
	b := hs.browser()
	wantSAMLRefused(t, hs, b, deliver(t, b, idp.signIn(t, hs, b)), http.StatusForbidden, ReasonInactive)
}

// TestSAMLRefusals changes one thing in a genuine response each, mostly
// re-signing it with the IdP's key, so that what is refused is the change.
// The controls show that a re-signed response is otherwise accepted.
func TestSAMLRefusals(t *testing.T) {
	hs, idp := newSAMLHarness(t)
	hs.addUser(hs.dir, "alice@example.com", true)
	hs.addUser(hs.dir, "admin@example.com", true)
	idp.putUser("mallory", "alice@example.com.attacker.test", "Mallory", "M")
	keys := samlKeys(t)
	other := hs.h.DirURL(entraDir, "saml/acs")
	at := func(d time.Duration) string { return xmlTimeString(hs.clock.Now().Add(d)) }

	for _, tc := range []struct {
		name   string
		user   string // default alice
		change func(t *testing.T, resp, a *etree.Element)
		status int    // 0: accepted
		reason string // of the refusal
	}{
		{name: "control: re-signed unchanged", change: func(t *testing.T, resp, a *etree.Element) { resign(t, resp, a) }},
		{name: "NameID edited after signing", status: 403, reason: ReasonInvalidResponse, change: func(t *testing.T, resp, a *etree.Element) {
			child(t, a, "Subject/NameID").SetText("admin@example.com")
		}},
		{name: "re-signed with an untrusted key", status: 403, reason: ReasonInvalidResponse, change: func(t *testing.T, resp, a *etree.Element) {
			child(t, a, "Subject/NameID").SetText("admin@example.com")
			signXML(t, a, keys.evilKey, keys.evilCert, dsig.RSASHA256SignatureMethod)
			signXML(t, resp, keys.evilKey, keys.evilCert, dsig.RSASHA256SignatureMethod)
		}},
		{name: "no signature at all", status: 403, reason: ReasonInvalidResponse, change: func(t *testing.T, resp, a *etree.Element) {
			removeSignature(a)
			removeSignature(resp)
		}},
		{name: "wrong audience", status: 403, reason: ReasonInvalidResponse, change: func(t *testing.T, resp, a *etree.Element) {
			child(t, a, "Conditions/AudienceRestriction/Audience").SetText(hs.h.DirURL(entraDir, "saml/metadata"))
			resign(t, resp, a)
		}},
		{name: "wrong recipient", status: 403, reason: ReasonInvalidResponse, change: func(t *testing.T, resp, a *etree.Element) {
			child(t, a, "Subject/SubjectConfirmation/SubjectConfirmationData").CreateAttr("Recipient", other)
			resign(t, resp, a)
		}},
		{name: "wrong destination", status: 403, reason: ReasonInvalidResponse, change: func(t *testing.T, resp, a *etree.Element) {
			resp.CreateAttr("Destination", other)
			resign(t, resp, nil)
		}},
		{name: "wrong issuer", status: 403, reason: ReasonInvalidResponse, change: func(t *testing.T, resp, a *etree.Element) {
			child(t, a, "Issuer").SetText("https://evil.example/idp")
			resign(t, resp, a)
		}},
		{name: "expired", status: 403, reason: ReasonInvalidResponse, change: func(t *testing.T, resp, a *etree.Element) {
			child(t, a, "Conditions").CreateAttr("NotOnOrAfter", at(-10*time.Minute))
			child(t, a, "Subject/SubjectConfirmation/SubjectConfirmationData").CreateAttr("NotOnOrAfter", at(-10*time.Minute))
			resign(t, resp, a)
		}},
		{name: "control: NotBefore within the skew", change: func(t *testing.T, resp, a *etree.Element) {
			child(t, a, "Conditions").CreateAttr("NotBefore", at(60*time.Second))
			resign(t, resp, a)
		}},
		// crewjam alone would accept this (its skew is 180 s); the
		// directory's is 90 s.
		{name: "NotBefore beyond the skew", status: 403, reason: ReasonInvalidResponse, change: func(t *testing.T, resp, a *etree.Element) {
			child(t, a, "Conditions").CreateAttr("NotBefore", at(120*time.Second))
			resign(t, resp, a)
		}},
		{name: "SHA-1 signatures", status: 403, reason: ReasonInvalidResponse, change: func(t *testing.T, resp, a *etree.Element) {
			signXML(t, a, keys.idpKey, keys.idpCert, dsig.RSASHA1SignatureMethod)
			signXML(t, resp, keys.idpKey, keys.idpCert, dsig.RSASHA1SignatureMethod)
		}},
		{name: "signed response, unsigned assertion", status: 403, reason: ReasonUnsignedAssert, change: func(t *testing.T, resp, a *etree.Element) {
			removeSignature(a)
			resign(t, resp, nil)
		}},
		{name: "no AuthnStatement", status: 403, reason: ReasonInvalidResponse, change: func(t *testing.T, resp, a *etree.Element) {
			a.RemoveChild(child(t, a, "AuthnStatement"))
			resign(t, resp, a)
		}},
		{name: "encrypted assertion", status: 403, reason: ReasonInvalidResponse, change: func(t *testing.T, resp, a *etree.Element) {
			enc := etree.NewElement("saml:EncryptedAssertion")
			enc.CreateAttr("xmlns:saml", "urn:oasis:names:tc:SAML:2.0:assertion")
			resp.InsertChildAt(a.Index(), enc)
			resp.RemoveChild(a)
			resign(t, resp, nil)
		}},
		// A second assertion in a response the IdP signed: crewjam would
		// return the first; we refuse both.
		{name: "two assertions in a signed response", status: 403, reason: ReasonInvalidResponse, change: func(t *testing.T, resp, a *etree.Element) {
			evil := a.Copy()
			evil.CreateAttr("ID", "_evil")
			removeSignature(evil)
			child(t, evil, "Subject/NameID").SetText("admin@example.com")
			resp.InsertChildAt(a.Index(), evil)
			resign(t, resp, nil)
		}},
		// The IdP signed NameID alice@example.com.attacker.test; a comment
		// after the victim's address leaves the signature valid. The full
		// NameID is read, so mallory does not become alice.
		{name: "comment in NameID", user: "mallory", status: 403, reason: ReasonNotProvisioned, change: func(t *testing.T, resp, a *etree.Element) {
			n := child(t, a, "Subject/NameID")
			n.SetText("alice@example.com")
			n.CreateComment("")
			n.CreateText(".attacker.test")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user := tc.user
			if user == "" {
				user = "alice"
			}
			b := hs.browser()
			p := idp.authenticate(t, b, samlStart(t, hs, b, hs.dir, ""), user)
			p = tamper(t, p, func(resp, a *etree.Element) { tc.change(t, resp, a) })
			resp := deliver(t, b, p)
			if tc.status == 0 {
				wantSAMLSession(t, hs, b, resp, hs.srv.URL+"/sso/session")
				return
			}
			wantSAMLRefused(t, hs, b, resp, tc.status, tc.reason)
		})
	}
}

func TestSAMLUnsignedAssertionAllowed(t *testing.T) {
	hs, idp := newSAMLHarness(t)
	hs.addUser(hs.dir, "alice@example.com", true)
	hs.configure(hs.dir, func(c *store.SSOConfig) { c.SAML.AllowUnsignedAssertions = true })
	b := hs.browser()
	p := tamper(t, idp.signIn(t, hs, b), func(resp, a *etree.Element) {
		removeSignature(a)
		resign(t, resp, nil)
	})
	wantSAMLSession(t, hs, b, deliver(t, b, p), hs.srv.URL+"/sso/session")

	// Allowing an unsigned assertion does not allow an unsigned response.
	b = hs.browser()
	p = tamper(t, idp.signIn(t, hs, b), func(resp, a *etree.Element) {
		removeSignature(a)
		removeSignature(resp)
	})
	wantSAMLRefused(t, hs, b, deliver(t, b, p), http.StatusForbidden, ReasonInvalidResponse)
}

// TestSAMLSignatureWrapping: an attacker holding a genuine response adds an
// assertion of their choosing without being able to sign it.
func TestSAMLSignatureWrapping(t *testing.T) {
	hs, idp := newSAMLHarness(t)
	hs.addUser(hs.dir, "alice@example.com", true)
	hs.addUser(hs.dir, "admin@example.com", true)
	evilOf := func(t *testing.T, a *etree.Element) *etree.Element {
		evil := a.Copy()
		evil.CreateAttr("ID", "_evil")
		removeSignature(evil)
		child(t, evil, "Subject/NameID").SetText("admin@example.com")
		return evil
	}
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, doc *etree.Document)
	}{
		{"evil assertion before the signed one", func(t *testing.T, doc *etree.Document) {
			resp := doc.Root()
			a := resp.SelectElement("Assertion")
			removeSignature(resp)
			resp.InsertChildAt(a.Index(), evilOf(t, a))
		}},
		{"evil assertion after the signed one", func(t *testing.T, doc *etree.Document) {
			resp := doc.Root()
			a := resp.SelectElement("Assertion")
			removeSignature(resp)
			resp.AddChild(evilOf(t, a))
		}},
		{"signed response hidden in Extensions of an evil one", func(t *testing.T, doc *etree.Document) {
			orig := doc.Root()
			evilResp := orig.Copy()
			removeSignature(evilResp)
			a := evilResp.SelectElement("Assertion")
			evilResp.InsertChildAt(a.Index(), evilOf(t, a))
			evilResp.RemoveChild(a)
			evilResp.CreateAttr("ID", "_evilresp")
			ext := etree.NewElement("samlp:Extensions")
			ext.AddChild(orig.Copy())
			evilResp.InsertChildAt(child(t, evilResp, "Issuer").Index()+1, ext)
			doc.SetRoot(evilResp)
		}},
		{"evil assertion with the signature, original in Advice", func(t *testing.T, doc *etree.Document) {
			resp := doc.Root()
			removeSignature(resp)
			a := resp.SelectElement("Assertion")
			evil := evilOf(t, a)
			evil.InsertChildAt(child(t, evil, "Issuer").Index()+1, child(t, a, "Signature").Copy())
			advice := etree.NewElement("saml:Advice")
			advice.AddChild(a.Copy())
			evil.AddChild(advice)
			resp.InsertChildAt(a.Index(), evil)
			resp.RemoveChild(a)
		}},
		{"original assertion nested in the evil one", func(t *testing.T, doc *etree.Document) {
			resp := doc.Root()
			removeSignature(resp)
			a := resp.SelectElement("Assertion")
			evil := evilOf(t, a)
			child(t, evil, "Subject").AddChild(a.Copy())
			resp.InsertChildAt(a.Index(), evil)
			resp.RemoveChild(a)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := hs.browser()
			p := idp.signIn(t, hs, b)
			doc := decodeResponse(t, p)
			tc.change(t, doc)
			p.Response = encodeResponse(t, doc)
			wantSAMLRefused(t, hs, b, deliver(t, b, p), http.StatusForbidden, ReasonInvalidResponse)
		})
	}
}

func TestSAMLReplayAndRequestBinding(t *testing.T) {
	hs, idp := newSAMLHarness(t)
	hs.addUser(hs.dir, "alice@example.com", true)

	b := hs.browser()
	p := idp.signIn(t, hs, b)
	wantSAMLSession(t, hs, b, deliver(t, b, p), hs.srv.URL+"/sso/session")

	t.Run("same browser", func(t *testing.T) {
		// A new browser cookie jar would still hold the session: check
		// the refusal on the response alone.
		resp := deliver(t, b, p)
		if resp.StatusCode != http.StatusForbidden || hs.lastFailure("acme") != ReasonStateMismatch {
			t.Fatalf("replay = %d %q; want 403 %q", resp.StatusCode, hs.lastFailure("acme"), ReasonStateMismatch)
		}
		for _, c := range resp.Cookies() {
			if c.Name == SessionCookie {
				t.Fatal("a replay set a session cookie")
			}
		}
	})
	t.Run("other browser", func(t *testing.T) {
		b2 := hs.browser()
		wantSAMLRefused(t, hs, b2, deliver(t, b2, p), http.StatusForbidden, ReasonStateMismatch)
	})
	t.Run("other browser with its own login state", func(t *testing.T) {
		b3 := hs.browser()
		u, _ := url.Parse(samlStart(t, hs, b3, hs.dir, ""))
		p3 := p
		p3.RelayState = u.Query().Get("RelayState")
		wantSAMLRefused(t, hs, b3, deliver(t, b3, p3), http.StatusForbidden, ReasonInvalidResponse)
	})
	t.Run("InResponseTo of another pending login", func(t *testing.T) {
		b4 := hs.browser()
		first := samlStart(t, hs, b4, hs.dir, "")
		second, _ := url.Parse(samlStart(t, hs, b4, hs.dir, ""))
		p4 := idp.authenticate(t, b4, first, "alice")
		p4.RelayState = second.Query().Get("RelayState")
		wantSAMLRefused(t, hs, b4, deliver(t, b4, p4), http.StatusForbidden, ReasonInvalidResponse)
	})
	t.Run("unknown RelayState", func(t *testing.T) {
		b5 := hs.browser()
		p5 := idp.signIn(t, hs, b5)
		p5.RelayState = "bm90LWEtc3RhdGU"
		wantSAMLRefused(t, hs, b5, deliver(t, b5, p5), http.StatusForbidden, ReasonStateMismatch)
	})
}

// TestSAMLClockSkew moves our clock against the IdP's (the real one) after
// the IdP answered.
func TestSAMLClockSkew(t *testing.T) {
	hs, idp := newSAMLHarness(t)
	hs.addUser(hs.dir, "alice@example.com", true)
	for _, tc := range []struct {
		name   string
		skew   time.Duration // 0: the default, 90 s
		move   time.Duration // our clock, after the IdP answered
		reason string        // "" accepted
	}{
		{"IdP 60 s ahead", 0, -60 * time.Second, ""},
		// crewjam alone would accept up to 180 s.
		{"IdP 120 s ahead", 0, -120 * time.Second, ReasonInvalidResponse},
		// crewjam alone refuses a response older than 90 s.
		{"IdP 150 s behind", 0, 150 * time.Second, ""},
		{"response 5 min old", 0, 5 * time.Minute, ReasonInvalidResponse},
		// Beyond crewjam's own skew: the directory's is honoured.
		{"IdP 4 min ahead, skew 5 min", 5 * time.Minute, -4 * time.Minute, ""},
		{"IdP 4 min behind, skew 5 min", 5 * time.Minute, 4 * time.Minute, ""},
		{"IdP 6 min ahead, skew 5 min", 5 * time.Minute, -6 * time.Minute, ReasonInvalidResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs.configure(hs.dir, func(c *store.SSOConfig) { c.ClockSkew = tc.skew })
			b := hs.browser()
			p := idp.signIn(t, hs, b)
			hs.clock.Advance(tc.move)
			defer hs.clock.Advance(-tc.move)
			resp := deliver(t, b, p)
			if tc.reason == "" {
				wantSAMLSession(t, hs, b, resp, hs.srv.URL+"/sso/session")
				return
			}
			wantSAMLRefused(t, hs, b, resp, http.StatusForbidden, tc.reason)
		})
	}
}

func TestSAMLIdPInitiated(t *testing.T) {
	hs, idp := newSAMLHarness(t)
	hs.addUser(hs.dir, "alice@example.com", true)
	idp.shortcut(hs, "app", hs.dir, "/app/welcome")

	b := hs.browser()
	wantSAMLRefused(t, hs, b, deliver(t, b, idp.idpInitiated(t, b, "app", "alice")), http.StatusForbidden, ReasonStateMismatch)

	hs.configure(hs.dir, func(c *store.SSOConfig) {
		c.SAML.AllowIDPInitiated = true
		c.ReturnURLs = []string{"https://app.example.com/portal"}
	})
	b = hs.browser()
	p := idp.idpInitiated(t, b, "app", "alice")
	wantSAMLSession(t, hs, b, deliver(t, b, p), hs.srv.URL+"/app/welcome")

	t.Run("replay", func(t *testing.T) {
		for _, b := range []*http.Client{b, hs.browser()} {
			resp := deliver(t, b, p)
			if resp.StatusCode != http.StatusForbidden || hs.lastFailure("acme") != ReasonReplay {
				t.Fatalf("replayed unsolicited response = %d %q; want 403 %q", resp.StatusCode, hs.lastFailure("acme"), ReasonReplay)
			}
		}
		b2 := hs.browser()
		wantSAMLRefused(t, hs, b2, deliver(t, b2, p), http.StatusForbidden, ReasonReplay)
	})
	t.Run("allowed return URL", func(t *testing.T) {
		idp.shortcut(hs, "portal", hs.dir, "https://app.example.com/portal/home")
		b := hs.browser()
		wantSAMLSession(t, hs, b, deliver(t, b, idp.idpInitiated(t, b, "portal", "alice")), "https://app.example.com/portal/home")
	})
	for i, relay := range []string{"https://evil.example/phish", "//evil.example/x", "https://app.example.com.evil.example/portal", "/\\evil.example"} {
		t.Run("open redirect "+relay, func(t *testing.T) {
			name := "evil" + string(rune('a'+i))
			idp.shortcut(hs, name, hs.dir, relay)
			b := hs.browser()
			wantSAMLRefused(t, hs, b, deliver(t, b, idp.idpInitiated(t, b, name, "alice")), http.StatusBadRequest, ReasonBadRequest)
		})
	}
	// A RelayState refused before parsing consumed nothing: the same
	// response with an acceptable RelayState still signs in.
	t.Run("refusal consumes nothing", func(t *testing.T) {
		idp.shortcut(hs, "evil", hs.dir, "https://evil.example/")
		b := hs.browser()
		p := idp.idpInitiated(t, b, "evil", "alice")
		wantSAMLRefused(t, hs, b, deliver(t, b, p), http.StatusBadRequest, ReasonBadRequest)
		p.RelayState = "" // the directory's first return URL
		wantSAMLSession(t, hs, b, deliver(t, b, p), "https://app.example.com/portal")
	})
}

func TestSAMLCrossTenant(t *testing.T) {
	hs, idp := newSAMLHarness(t)
	hs.addUser(hs.dir, "alice@example.com", true)
	hs.addUser(entraDir, "alice@example.com", true)
	seedSPKey(hs, entraDir)
	if _, err := hs.h.SetIDPMetadata(context.Background(), entraDir, idp.metadata(), "", 0); err != nil {
		t.Fatal(err)
	}
	idp.registerSP(hs, entraDir)

	// alice's response for acme/okta, posted to acme/entra with a login
	// state of acme/entra from the same browser.
	b := hs.browser()
	p := idp.signIn(t, hs, b)
	u, _ := url.Parse(samlStart(t, hs, b, entraDir, ""))
	misdirected := samlPost{ACS: hs.h.DirURL(entraDir, "saml/acs"), Response: p.Response, RelayState: u.Query().Get("RelayState")}
	wantSAMLRefused(t, hs, b, deliver(t, b, misdirected), http.StatusForbidden, ReasonInvalidResponse)

	// Also when acme/entra takes unsolicited responses.
	hs.configure(entraDir, func(c *store.SSOConfig) { c.SAML.AllowIDPInitiated = true })
	misdirected.RelayState = ""
	wantSAMLRefused(t, hs, b, deliver(t, b, misdirected), http.StatusForbidden, ReasonInvalidResponse)

	// The response is still good where it belongs.
	v := wantSAMLSession(t, hs, b, deliver(t, b, p), hs.srv.URL+"/sso/session")
	if v.Directory != "okta" {
		t.Fatalf("session directory = %q; want okta", v.Directory)
	}
}

func TestSAMLBadRequests(t *testing.T) {
	hs, _ := newSAMLHarness(t)
	acs := hs.h.DirURL(hs.dir, "saml/acs")
	b := hs.browser()

	resp, err := b.PostForm(acs, url.Values{"SAMLResponse": {strings.Repeat("A", DefaultMaxBodyBytes+1024)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantSAMLRefused(t, hs, b, resp, http.StatusRequestEntityTooLarge, ReasonBadRequest)

	wantSAMLRefused(t, hs, b, deliver(t, b, samlPost{ACS: acs}), http.StatusBadRequest, ReasonBadRequest)

	// The HTTP-Artifact binding is not offered, in the body or the query.
	for u, form := range map[string]url.Values{
		acs:                     {"SAMLart": {"AAQAAL"}},
		acs + "?SAMLart=AAQAAL": {"SAMLResponse": {"eA=="}},
	} {
		resp, err = b.PostForm(u, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		wantSAMLRefused(t, hs, b, resp, http.StatusBadRequest, ReasonBadRequest)
	}

	resp, _ = browserGet(t, b, hs.h.DirURL(hs.dir, "saml/login")+"?return_to="+url.QueryEscape("https://evil.example/"))
	wantSAMLRefused(t, hs, b, resp, http.StatusBadRequest, ReasonBadRequest)
}

// TestSAMLRefusalLog checks that a refused login logs its reason and
// class, and nothing of the response.
func TestSAMLRefusalLog(t *testing.T) {
	hs, idp := newSAMLHarness(t)
	hs.addUser(hs.dir, "alice@example.com", true)
	var logs captureLog
	log := zerolog.New(&logs)
	h, err := New(Config{Store: hs.db, PublicURL: hs.srv.URL, Sealer: hs.sealer, Log: log, Now: hs.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reqlog.Wrap(log, h, nil))
	defer srv.Close()

	b := hs.browser()
	p := tamper(t, idp.signIn(t, hs, b), func(resp, a *etree.Element) {
		child(t, a, "Subject/NameID").SetText("admin@example.com")
	})
	p.ACS = srv.URL + "/sso/acme/okta/saml/acs" // same public URL, our logger
	wantSAMLRefused(t, hs, b, deliver(t, b, p), http.StatusForbidden, ReasonInvalidResponse)

	out := logs.String()
	if !strings.Contains(out, `"reason":"invalid_response"`) || !strings.Contains(out, `"error":"invalid or missing signature"`) {
		t.Fatalf("log = %s; want the reason and the class", out)
	}
	for _, secret := range []string{p.Response[:40], p.Response[len(p.Response)-40:], "alice@example.com", "admin@example.com", "Assertion", "NameID", "urn:oasis"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %q:\n%s", secret, out)
		}
	}
}

func TestSAMLMetadataURL(t *testing.T) {
	hs := newHarness(t)
	idp := startIdP(t)
	ctx := context.Background()
	seedSPKey(hs, hs.dir)
	cfg, err := hs.h.SetIDPMetadata(ctx, hs.dir, nil, idp.url+"/metadata", time.Minute)
	if err != nil {
		t.Fatalf("SetIDPMetadata(URL): %v", err)
	}
	if cfg.SAML.IDPMetadataURL != idp.url+"/metadata" || len(cfg.SAML.IDPMetadata) == 0 || cfg.SAML.MetadataRefresh != time.Minute ||
		time.Since(cfg.SAML.MetadataFetched) > time.Minute {
		t.Fatalf("SAML settings = %+v", cfg.SAML)
	}
	if info := hs.h.SPInfo(hs.dir, cfg); info.IDPEntityID != idp.url+"/metadata" ||
		!slices.Equal(info.IDPCertsSHA256, []string{certFingerprint(samlKeys(t).idpCert.Raw)}) {
		t.Fatalf("SPInfo IdP = %q %v", info.IDPEntityID, info.IDPCertsSHA256)
	}
	idp.registerSP(hs, hs.dir)
	idp.putUser("alice", "alice@example.com", "Alice", "L")
	hs.addUser(hs.dir, "alice@example.com", true)
	signIn := func() {
		t.Helper()
		b := hs.browser()
		wantSAMLSession(t, hs, b, deliver(t, b, idp.signIn(t, hs, b)), hs.srv.URL+"/sso/session")
	}
	signIn()
	read := func() store.SSOConfig {
		t.Helper()
		c, err := hs.db.SSOConfig(ctx, hs.dir)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// Not due yet: nothing happens.
	hs.h.RefreshMetadata(ctx)
	if c := read(); c.Version != cfg.Version {
		t.Fatalf("a refresh before it was due changed the settings (version %d -> %d)", cfg.Version, c.Version)
	}

	// Due, and the IdP is down: the error is recorded, the metadata kept.
	idp.failMetadata.Store(true)
	hs.clock.Advance(2 * time.Minute)
	updates := len(hs.events("acme", store.EventSSOConfigUpdated))
	hs.h.RefreshMetadata(ctx)
	c := read()
	if c.SAML.MetadataError == "" || !slices.Equal(c.SAML.IDPMetadata, cfg.SAML.IDPMetadata) || !c.SAML.MetadataFetched.Equal(cfg.SAML.MetadataFetched) {
		t.Fatalf("after a failed refresh: error %q, metadata kept %v, fetched %v; want an error and the old metadata",
			c.SAML.MetadataError, slices.Equal(c.SAML.IDPMetadata, cfg.SAML.IDPMetadata), c.SAML.MetadataFetched)
	}
	if n := len(hs.events("acme", store.EventSSOConfigUpdated)); n != updates {
		t.Fatalf("a failed refresh emitted %d directory.sso_updated", n-updates)
	}
	hs.clock.Advance(-2 * time.Minute)
	signIn() // the kept metadata still works
	hs.clock.Advance(2 * time.Minute)

	// Back up: fetched again, error cleared.
	idp.failMetadata.Store(false)
	hs.h.RefreshMetadata(ctx)
	c = read()
	if c.SAML.MetadataError != "" || !c.SAML.MetadataFetched.After(cfg.SAML.MetadataFetched) {
		t.Fatalf("after a good refresh: error %q, fetched %v (was %v)", c.SAML.MetadataError, c.SAML.MetadataFetched, cfg.SAML.MetadataFetched)
	}
}

func TestSAMLSetIDPMetadataRefusals(t *testing.T) {
	hs := newHarness(t)
	idp := startIdP(t)
	ctx := context.Background()
	seedSPKey(hs, hs.dir)
	good := idp.metadata()
	edit := func(fn func(root *etree.Element)) []byte {
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(good); err != nil {
			t.Fatal(err)
		}
		fn(doc.Root())
		b, _ := doc.WriteToBytes()
		return b
	}
	_, spMetadata := browserGet(t, http.DefaultClient, hs.h.DirURL(hs.dir, "saml/metadata"))
	idp.failMetadata.Store(true)
	for _, tc := range []struct {
		name string
		xml  []byte
		url  string
		want error
	}{
		{"not XML", []byte("hello"), "", ErrInvalidMetadata},
		{"SP metadata", []byte(spMetadata), "", ErrInvalidMetadata},
		{"no signing certificate", edit(func(root *etree.Element) {
			for _, kd := range root.FindElements("//KeyDescriptor") {
				kd.Parent().RemoveChild(kd)
			}
		}), "", ErrInvalidMetadata},
		{"no HTTP-Redirect SSO", edit(func(root *etree.Element) {
			for _, s := range root.FindElements("//SingleSignOnService") {
				if s.SelectAttrValue("Binding", "") == saml.HTTPRedirectBinding {
					s.Parent().RemoveChild(s)
				}
			}
		}), "", ErrInvalidMetadata},
		{"both", good, idp.url + "/metadata", ErrInvalidMetadata},
		{"plain http", nil, "http://idp.example.com/metadata", ErrInvalidMetadata},
		{"credentials in the URL", nil, "https://u:p@idp.example.com/metadata", ErrInvalidMetadata},
		{"IdP down", nil, idp.url + "/metadata", ErrMetadataFetch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := hs.h.SetIDPMetadata(ctx, hs.dir, tc.xml, tc.url, 0)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidSettings) {
				t.Fatalf("SetIDPMetadata = %v; want %v (an ErrInvalidSettings)", err, tc.want)
			}
		})
	}
	if c, _ := hs.db.SSOConfig(ctx, hs.dir); len(c.SAML.IDPMetadata) != 0 {
		t.Fatal("refused metadata was stored")
	}
	if _, err := hs.h.SetIDPMetadata(ctx, store.DirKey{Org: "acme", Directory: "nope"}, good, "", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetIDPMetadata of an unknown directory = %v; want ErrNotFound", err)
	}
}

func TestSAMLRotateSPKey(t *testing.T) {
	hs, idp := newSAMLHarness(t)
	hs.addUser(hs.dir, "alice@example.com", true)
	ctx := context.Background()
	before, _ := hs.db.SSOConfig(ctx, hs.dir)
	oldFP := hs.h.SPInfo(hs.dir, before).CertSHA256

	cfg, err := hs.h.RotateSPKey(ctx, hs.dir, time.Hour)
	if err != nil {
		t.Fatalf("RotateSPKey: %v", err)
	}
	info := hs.h.SPInfo(hs.dir, cfg)
	if info.CertSHA256 == oldFP || info.PreviousCert != oldFP {
		t.Fatalf("after rotation cert %s previous %s; want a new cert and %s as previous", info.CertSHA256, info.PreviousCert, oldFP)
	}
	signingCerts := func() []string {
		t.Helper()
		_, body := browserGet(t, http.DefaultClient, hs.h.DirURL(hs.dir, "saml/metadata"))
		var ed saml.EntityDescriptor
		if err := xml.Unmarshal([]byte(body), &ed); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, kd := range ed.SPSSODescriptors[0].KeyDescriptors {
			if kd.Use != "signing" {
				t.Fatalf("metadata has a %q key", kd.Use)
			}
			out = append(out, kd.KeyInfo.X509Data.X509Certificates[0].Data)
		}
		return out
	}
	if n := len(signingCerts()); n != 2 {
		t.Fatalf("metadata during the overlap has %d certificates; want 2", n)
	}

	// The new key signs the AuthnRequests: the IdP, once it has the new
	// metadata, accepts them.
	idp.registerSP(hs, hs.dir)
	b := hs.browser()
	wantSAMLSession(t, hs, b, deliver(t, b, idp.signIn(t, hs, b)), hs.srv.URL+"/sso/session")

	hs.clock.Advance(2 * time.Hour)
	if n := len(signingCerts()); n != 1 {
		t.Fatalf("metadata after the overlap has %d certificates; want 1", n)
	}
	if info := hs.h.SPInfo(hs.dir, cfg); info.PreviousCert != "" {
		t.Fatalf("SPInfo after the overlap shows previous %s", info.PreviousCert)
	}
}

func TestSAMLIdentity(t *testing.T) {
	nameID := func(format, v string) *saml.Subject {
		return &saml.Subject{NameID: &saml.NameID{Format: format, Value: v}}
	}
	with := func(s *saml.Subject, attrs ...saml.Attribute) *saml.Assertion {
		return &saml.Assertion{Subject: s, AttributeStatements: []saml.AttributeStatement{{Attributes: attrs}}}
	}
	const unspecified, email = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	for _, tc := range []struct {
		name  string
		names store.SAMLAttributes
		a     *saml.Assertion
		want  Identity
		err   bool
	}{
		{name: "okta names, username NameID", a: with(nameID(unspecified, "alice"),
			samlAttr("email", "alice@example.com"), samlAttr("firstName", "Alice"), samlAttr("lastName", "L"), samlAttr("groups", "Everyone", "workspace_eng")),
			want: Identity{UserName: "alice", Subject: "alice", Email: "alice@example.com", GivenName: "Alice", FamilyName: "L",
				Groups: []string{"Everyone", "workspace_eng"}, GroupsPresent: true}},
		{name: "entra URIs, email NameID", a: with(nameID(email, "alice@example.com"),
			samlAttr("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", "other@example.com"),
			samlAttr("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", "Alice"),
			samlAttr("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname", "L"),
			samlAttr("http://schemas.microsoft.com/identity/claims/displayname", "Alice L."),
			samlAttr("http://schemas.microsoft.com/ws/2008/06/identity/claims/groups", entraAdmins)),
			want: Identity{UserName: "alice@example.com", Subject: "alice@example.com", Email: "alice@example.com", EmailVerified: true,
				GivenName: "Alice", FamilyName: "L", DisplayName: "Alice L.", Groups: []string{entraAdmins}, GroupsPresent: true}},
		{name: "entra overage", a: with(nameID(email, "a@example.com"), samlAttr(EntraGroupsLink, "https://graph")),
			want: Identity{UserName: "a@example.com", Subject: "a@example.com", Email: "a@example.com", EmailVerified: true, GroupsOverflow: true}},
		{name: "empty groups attribute is no groups", a: with(nameID(unspecified, "a"), samlAttr("groups")),
			want: Identity{UserName: "a", Subject: "a", Groups: []string{}, GroupsPresent: true}},
		{name: "configured names replace the defaults", names: store.SAMLAttributes{Email: "mail", Groups: "memberOf"},
			a:    with(nameID(unspecified, "a"), samlAttr("email", "x@example.com"), samlAttr("groups", "g1"), samlAttr("memberOf", "g2")),
			want: Identity{UserName: "a", Subject: "a", Groups: []string{"g2"}, GroupsPresent: true}},
		{name: "FriendlyName is not a name", a: with(nameID(unspecified, "a"),
			saml.Attribute{Name: "urn:oid:1", FriendlyName: "groups", Values: []saml.AttributeValue{{Value: "g"}}}),
			want: Identity{UserName: "a", Subject: "a"}},
		{name: "transient NameID", a: with(nameID("urn:oasis:names:tc:SAML:2.0:nameid-format:transient", "_x")), err: true},
		{name: "no NameID", a: with(&saml.Subject{}), err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := samlIdentity(tc.names, "https://idp", tc.a)
			if tc.err {
				if err == nil {
					t.Fatalf("samlIdentity = %+v; want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Method, tc.want.Issuer = MethodSAML, "https://idp"
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("samlIdentity (-want +got):\n%s", diff)
			}
		})
	}
}
