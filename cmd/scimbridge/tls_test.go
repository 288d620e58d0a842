package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with the given
// common name and returns it.
func writeCert(t *testing.T, certFile, keyFile, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	// Write to temporary names and rename, as a certificate manager does.
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{certFile, "CERTIFICATE", der}, {keyFile, "EC PRIVATE KEY", kb}} {
		tmp := f.path + ".tmp"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			t.Fatal(err)
		}
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}

func TestServeTLSAndReload(t *testing.T) {
	certCheckEvery = 50 * time.Millisecond
	t.Cleanup(func() { certCheckEvery = 10 * time.Second })
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeCert(t, certFile, keyFile, "first")
	out, _ := startServe(t, nil, "--data", filepath.Join(dir, "db"), "--listen", "127.0.0.1:0",
		"--cert-file", certFile, "--key-file", keyFile)
	m := regexp.MustCompile(`(https://127\.0\.0\.1:\d+)/scim/v2/default/default`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no https URL in the banner: %s", out.String())
	}
	served := func() string {
		t.Helper()
		conn, err := tls.Dial("tcp", strings.TrimPrefix(m[1], "https://"), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test reads which certificate is served
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if cn := served(); cn != "first" {
		t.Fatalf("served %q; want first", cn)
	}
	// Plain HTTP to the TLS port is refused.
	if resp, err := http.Get(strings.Replace(m[1], "https", "http", 1) + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP served on the TLS port")
		}
	}
	time.Sleep(20 * time.Millisecond) // a later modification time
	writeCert(t, certFile, keyFile, "second")
	deadline := time.Now().Add(5 * time.Second)
	for served() != "second" {
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was not picked up")
		}
		time.Sleep(60 * time.Millisecond)
	}
	// A broken pair keeps the good one in service.
	if err := os.WriteFile(certFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(120 * time.Millisecond)
	if cn := served(); cn != "second" {
		t.Fatalf("after a broken renewal served %q; want second", cn)
	}
}

func TestServeRefusesPlainHTTPOffLoopback(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr syncBuffer
	code := run(t.Context(), []string{"serve", "--data", filepath.Join(dir, "db"), "--listen", "0.0.0.0:0"},
		func(string) string { return "" }, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "refusing to serve plain HTTP") {
		t.Fatalf("serve on 0.0.0.0 without TLS = %d, %q; want refused", code, stderr.String())
	}
}
