package events

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimbridge/scimbridge/store"
)

func TestInternalAddresses(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "127.8.9.10": true, "::1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true,
		"169.254.169.254": true, "fe80::1": true, "fc00::1": true, "fd12::1": true, "0.0.0.0": true, "::": true,
		"100.64.0.1": true, "224.0.0.1": true, "ff02::1": true, "255.255.255.255": true, "240.0.0.1": true,
		"::ffff:127.0.0.1": true, "::ffff:10.0.0.1": true, "64:ff9b::7f00:1": true, "2002:a00:1::": true, "fec0::1": true,
		"8.8.8.8": false, "1.1.1.1": false, "2606:4700:4700::1111": false, "::ffff:8.8.8.8": false, "64:ff9b::808:808": false,
	} {
		if got, _ := internal(netip.MustParseAddr(addr)); got != want {
			t.Errorf("internal(%s) = %v; want %v", addr, got, want)
		}
	}
}

// TestGuardRefusesAtDial dials a real listener on loopback through names
// and forms of internal addresses; the guard must refuse every one at
// connect time, and let it through only when allowed.
func TestGuardRefusesAtDial(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	client := newClient(Config{ConnectTimeout: 200 * time.Millisecond}.withDefaults())
	for _, target := range []string{
		"http://127.0.0.1:" + port,
		"http://localhost:" + port, // a DNS name resolving to 127.0.0.1
		"http://[::ffff:127.0.0.1]:" + port,
		"http://[::1]:" + port,
		"http://10.0.0.1:" + port,
		"http://169.254.169.254/latest/meta-data/",
		"http://0.0.0.0:" + port,
	} {
		_, err := client.Get(target)
		if errors.Is(err, ErrBlockedAddress) {
			continue
		}
		if strings.Contains(target, "[::1]") && err != nil && strings.Contains(err.Error(), "address family") {
			continue // no IPv6 here: refused before the guard could be asked
		}
		t.Errorf("GET %s = %v; want ErrBlockedAddress", target, err)
	}
	if hits != 0 {
		t.Errorf("the loopback server was reached %d times", hits)
	}
	// The same client with the switch on gets through: the test is not vacuous.
	open := newClient(Config{AllowPrivateNetworks: true}.withDefaults())
	if res, err := open.Get("http://localhost:" + port); err != nil {
		t.Errorf("GET with AllowPrivateNetworks = %v", err)
	} else {
		res.Body.Close()
	}
}

// TestNoRedirects: a 302 to an internal address is a failed delivery,
// and the target is never asked.
func TestNoRedirects(t *testing.T) {
	reached := false
	internalSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }))
	defer internalSrv.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internalSrv.URL, http.StatusFound)
	}))
	defer redirect.Close()
	st := openStore(t)
	d := New(st, testConfig(), testLogger(t))
	err := d.send(t.Context(), store.Subscription{ID: "s", Kind: store.SubscriptionWebhook, URL: redirect.URL, Secret: []byte("k")},
		[]store.Event{{ID: "e", Seq: 1, Type: store.EventUserCreated}})
	if err == nil || !strings.Contains(err.Error(), "redirects are not followed") || reached {
		t.Errorf("send() to a redirect = %v (target reached: %v); want a failure without following", err, reached)
	}
}

func TestValidateURL(t *testing.T) {
	prod, dev := Config{}, Config{AllowInsecureHTTP: true}
	for _, c := range []struct {
		url  string
		cfg  Config
		want string // "" for valid, else part of the error
	}{
		{"https://hooks.example.com/scim?x=1", prod, ""},
		{"https://hooks.example.com:8443/", prod, ""},
		{"https://8.8.8.8/", prod, ""},
		{"http://hooks.example.com/", prod, "https"},
		{"http://hooks.example.com/", dev, "loopback"},
		{"http://127.0.0.1:8080/", dev, ""},
		{"http://localhost:8080/", dev, ""},
		{"http://[::1]:8080/", dev, ""},
		{"http://10.0.0.1/", dev, "internal"},
		{"http://127.0.0.1/", prod, "internal"},
		{"https://127.0.0.1/", prod, "internal"},
		{"https://[::1]/", prod, "internal"},
		{"https://[::ffff:127.0.0.1]/", prod, "internal"},
		{"https://10.1.2.3/", prod, "internal"},
		{"https://169.254.169.254/", prod, "internal"},
		{"https://2130706433/", prod, "internal"},
		{"https://0x7f.1/", prod, "internal"},
		{"https://017700000001/", prod, "internal"},
		{"https://1.2.3.4.5/", prod, "not a valid"},
		{"https://999/", prod, "internal"}, // 0.0.3.231
		{"https://localhost/", prod, "local machine"},
		{"https://foo.localhost/", prod, "local machine"},
		{"https://user:pw@hooks.example.com/", prod, "user name"},
		{"https://hooks.example.com/#frag", prod, "fragment"},
		{"file:///etc/passwd", prod, "host"},
		{"gopher://hooks.example.com/", prod, "scheme"},
		{"ftp://hooks.example.com/", dev, "scheme"},
		{"hooks.example.com/x", prod, "absolute"},
		{"https:opaque", prod, "absolute"},
		{"https://hooks.example.com:99999/", prod, "port"},
		{"https://%zz/", prod, "parse"},
		{"", prod, "empty"},
		{"https://h.example.com/" + strings.Repeat("a", MaxURLLength), prod, "longer"},
	} {
		_, err := ValidateURL(c.url, c.cfg)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("ValidateURL(%q) = %v; want ok", c.url, err)
		case c.want != "" && (err == nil || !errors.Is(err, ErrInvalidURL) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("ValidateURL(%q) = %v; want an error about %q", c.url, err, c.want)
		}
	}
}

func TestSignVerify(t *testing.T) {
	secret, prefix, err := NewSecret()
	if err != nil || !strings.HasPrefix(secret, SecretPrefix) || !strings.HasPrefix(secret, prefix) || len(secret) < 40 {
		t.Fatalf("NewSecret() = %q, %q, %v", secret, prefix, err)
	}
	body := []byte(`{"events":[]}`)
	now := time.Unix(1_700_000_000, 0)
	h := Sign([]byte(secret), now, body)
	if !strings.HasPrefix(h, "t=1700000000,v1=") || len(h) != len("t=1700000000,v1=")+64 {
		t.Errorf("Sign() = %q", h)
	}
	if err := Verify([]byte(secret), h, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("Verify(own signature) = %v", err)
	}
	if err := Verify([]byte(secret), "t=1,v1=00,"+h[strings.Index(h, "v1="):], body, time.Unix(1, 0), time.Minute); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify(signature of another timestamp) = %v; want ErrBadSignature", err)
	}
	if err := Verify([]byte(secret), h, []byte(`{"events":[{}]}`), now, 5*time.Minute); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify(tampered body) = %v; want ErrBadSignature", err)
	}
	if err := Verify([]byte("whsec_other"), h, body, now, 5*time.Minute); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify(other secret) = %v; want ErrBadSignature", err)
	}
	if err := Verify([]byte(secret), h, body, now.Add(6*time.Minute), 5*time.Minute); !errors.Is(err, ErrStale) {
		t.Errorf("Verify(6 minutes later) = %v; want ErrStale", err)
	}
	if err := Verify([]byte(secret), "garbage", body, now, time.Minute); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify(garbage) = %v; want ErrBadSignature", err)
	}
	// Two signatures (a rotation): either secret verifies.
	two := h + ",v1=" + Sign([]byte("whsec_new"), now, body)[len("t=1700000000,v1="):]
	if err := Verify([]byte("whsec_new"), two, body, now, time.Minute); err != nil {
		t.Errorf("Verify(second of two signatures) = %v", err)
	}
}

func TestSplunkURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://splunk.example.com:8088":                     "https://splunk.example.com:8088/services/collector",
		"https://splunk.example.com:8088/":                    "https://splunk.example.com:8088/services/collector",
		"https://splunk.example.com/services/collector":       "https://splunk.example.com/services/collector",
		"https://splunk.example.com/services/collector/event": "https://splunk.example.com/services/collector/event",
		"https://splunk.example.com/proxy/?channel=abc":       "https://splunk.example.com/proxy/services/collector?channel=abc",
	} {
		u, _ := url.Parse(in)
		if got := splunkURL(u).String(); got != want {
			t.Errorf("splunkURL(%s) = %s; want %s", in, got, want)
		}
	}
}
