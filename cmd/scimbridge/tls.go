package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// certReloader serves the certificate of a cert and key file pair and
// loads them again when either file changes (checked at most every
// checkEvery, on a handshake), so a renewed certificate is picked up
// without a restart. A pair that fails to load keeps the previous one in
// service and is logged.
type certReloader struct {
	certFile, keyFile string
	log               zerolog.Logger
	checkEvery        time.Duration

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]time.Time // modification times of the loaded pair
	checked time.Time
}

func newCertReloader(certFile, keyFile string, log zerolog.Logger) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, log: log, checkEvery: certCheckEvery}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certReloader) mtimes() ([2]time.Time, error) {
	var out [2]time.Time
	for i, f := range []string{c.certFile, c.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return out, err
		}
		out[i] = st.ModTime()
	}
	return out, nil
}

// load reads the pair; the caller holds mu or is the constructor.
func (c *certReloader) load() error {
	stamp, err := c.mtimes()
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: load %s and %s: %w", c.certFile, c.keyFile, err)
	}
	c.cert, c.stamp = &cert, stamp
	return nil
}

// GetCertificate is the tls.Config hook.
func (c *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.checked) >= c.checkEvery {
		c.checked = now
		if stamp, err := c.mtimes(); err == nil && stamp != c.stamp {
			if err := c.load(); err != nil {
				c.log.Error().Err(err).Msg("tls: keeping the previous certificate")
				c.stamp = stamp // do not retry a broken pair on every handshake
			} else {
				c.log.Info().Str("cert_file", c.certFile).Msg("tls: certificate reloaded")
			}
		}
	}
	return c.cert, nil
}

// tlsConfig returns the server's TLS settings: TLS 1.2 at least, the
// certificate from the reloader.
func tlsConfig(r *certReloader) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}

// checkPlainHTTP refuses plain HTTP on an address other than loopback
// unless allowed (behind a proxy that terminates TLS).
func checkPlainHTTP(addr net.Addr, allow bool) error {
	if allow {
		return nil
	}
	tcp, ok := addr.(*net.TCPAddr)
	if ok && tcp.IP.IsLoopback() {
		return nil
	}
	return errors.New("refusing to serve plain HTTP on " + addr.String() + ": set tls.cert_file and tls.key_file, " +
		"or listen on loopback, or set insecure_http=true behind a proxy that terminates TLS")
}

// certCheckEvery is how often the certificate files are looked at (tests
// shorten it).
var certCheckEvery = 10 * time.Second
